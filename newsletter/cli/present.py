"""Text for the terminal, made from the data the library returns (--json prints that data)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path
from typing import Any

from newsletter import clock
from newsletter.config import Settings
from newsletter.content.items import Item
from newsletter.dates import nl_date, nl_moment, nl_time
from newsletter.editorial.approval import Approved, Reviewed
from newsletter.editorial.copies import TestCopy
from newsletter.editorial.schedules import Problem, Schedule, WorkflowStatus, late_text
from newsletter.editorial.status import InstanceStatus
from newsletter.inbound import conversations
from newsletter.inbound.classify import Verdict
from newsletter.issues.build import BuildResult
from newsletter.onboarding.programme import Planned
from newsletter.outbound.ledger import MailingChange
from newsletter.people import privacy
from newsletter.people.subscribers import Recipient
from newsletter.preflight.runner import PreflightReport, summary_line
from newsletter.store.audit import AuditEntry
from newsletter.store.conversations import Conversation, Message
from newsletter.store.doctor import DoctorRun


def as_data(value: Any) -> Any:
    """What a command returns, as --json prints it: dataclasses as objects, instants and dates
    in ISO 8601, paths as text (the same data the text is made from)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {str(key): as_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_data(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def format_mailing_report(report: dict[str, object]) -> str:
    """How a send went (ledger.mailing_report), as a person reads it."""
    counts_ = report["counts"]
    assert isinstance(counts_, dict)
    order = ("sent", "deferred", "failed", "in-doubt", "queued", "sending", "skipped", "cancelled")
    lines = [
        f"{report['mailing']}: {report['status']} — {report['subject']}",
        "  " + ", ".join(f"{counts_.get(s, 0)} {s}" for s in order if counts_.get(s)),
    ]
    per = report["per_province"]
    assert isinstance(per, dict)
    lines.append(
        "  per province: "
        + "; ".join(
            f"{code} " + "/".join(f"{n} {s}" for s, n in sorted(c.items()))
            for code, c in per.items()
        )
    )
    slowest = report["slowest"]
    assert isinstance(slowest, list)
    if slowest:
        lines.append(
            "  slowest replies: "
            + ", ".join(f"{r['email']} {r['duration_ms']:.0f} ms" for r in slowest)
        )
    errors = report["errors"]
    assert isinstance(errors, list)
    for row in errors:
        lines.append(f"  {row['n']:>5} × {row['reply']}")
    in_doubt = report["in_doubt"]
    assert isinstance(in_doubt, list)
    if in_doubt:
        lines.append(
            f"  in doubt (may have been sent; 'issue send --in-doubt resend' sends them "
            f"again with the same Message-ID): {', '.join(in_doubt)}"
        )
    if report["next_retry"]:
        lines.append(f"  next retry: {report['next_retry']}")
    bounces, complaints = report.get("bounces") or {}, report.get("complaints") or 0
    assert isinstance(bounces, dict)
    if bounces or complaints:
        lines.append(
            "  bounces: "
            + (", ".join(f"{n} {kind}" for kind, n in sorted(bounces.items())) or "none")
            + f"; complaints: {complaints}"
        )
    warnings = report.get("warnings") or []
    assert isinstance(warnings, list)
    lines += [f"  warning: {w}" for w in warnings]
    return "\n".join(lines)


def format_inbox_report(data: dict[str, Any]) -> str:
    """Open questions by age and theme (conversations.report), as staff read them."""
    labels = [label for label, _, _ in conversations.AGE_BUCKETS]
    lines = [
        f"Open questions: {data['open']} "
        f"({', '.join(f'{k} {v}' for k, v in data['statuses'].items())})",
        "  by age: " + ", ".join(f"{label} {data['by_age'][label]}" for label in labels),
    ]
    if data["by_theme"]:
        width = max(len(t) for t in data["by_theme"])
        lines.append(f"  {'theme':<{width}}  " + "  ".join(f"{lab:>9}" for lab in labels))
        for theme, counts in data["by_theme"].items():
            lines.append(f"  {theme:<{width}}  " + "  ".join(f"{counts[lab]:>9}" for lab in labels))
    return "\n".join(lines)


def format_conversation_line(row: Conversation) -> str:
    """One conversation as a list line: number, status, theme, age, who, subject."""
    who = row.correspondent_email or "?"
    return (
        f"{row.id:>4}  {row.status:<7}  {row.theme:<26}  "
        f"{conversations.age_text(row.created_at):>4}  {who:<36}  "
        f"{row.subject or '(geen onderwerp)'}" + (f"  [{row.note}]" if row.note else "")
    )


def format_conversation(conversation: Conversation, messages: list[Message]) -> str:
    """A whole thread as staff read it in the terminal."""
    guessed = (
        f"guessed: {conversation.theme_evidence}" if conversation.theme_guessed else "set by staff"
    )
    name = conversation.correspondent_name
    who = (
        f"{name} <{conversation.correspondent_email}>" if name else conversation.correspondent_email
    )
    lines = [
        f"Conversation {conversation.id}: {conversation.subject or '(geen onderwerp)'}",
        f"  status {conversation.status}; theme {conversation.theme} ({guessed}); "
        f"assignee {conversation.assignee or '-'}",
        f"  correspondent {who}",
    ]
    if conversation.note:
        lines.append(f"  note: {conversation.note}")
    for message in messages:
        when = (message.received_at if message.direction == "in" else message.sent_at) or ""
        if message.direction == "in":
            head = f"<- {when}  from {message.from_address}"
        else:
            by = f" by {message.author}" if message.author else ""
            head = f"-> {when}  {message.kind} to {message.to_address}{by}"
        lines += ["", head, f"   Subject: {message.subject or ''}", ""]
        lines += [f"   {line}".rstrip() for line in (message.body_text or "").splitlines()]
    return "\n".join(lines)


def format_person(record: dict[str, Any]) -> str:
    """A person's record as staff read it: every field, every mandate, delivery and bounce."""
    sub = record["subscriber"]
    lines = [f"{sub['name']} <{record['email']}>" if sub else record["email"]]
    if sub:
        for key, value in sub.items():
            if key not in {"email", "name"}:
                shown = (", ".join(value) or "all") if key == "themes" else value
                lines.append(f"  {key + ':':<15} {'-' if shown in (None, '') else shown}")
    else:
        lines.append("  no subscriber record")
    if record.get("suppression"):
        s = record["suppression"]
        lines.append(f"  {'suppressed:':<15} {s['reason']} since {s['created_at']}")
    lines.append(f"Mandates ({len(record['mandates'])}):")
    lines += [f"  {privacy.mandate_text(m)} ({m['source']})" for m in record["mandates"]]
    lines.append(f"Deliveries ({len(record['deliveries'])}):")
    for d in record["deliveries"]:
        lines.append(
            f"  {d['mailing_id']}  {d['status']} {d['sent_at'] or ''}  (queued {d['queued_at']}, "
            f"attempts {d['attempts']})"
        )
        lines.append(f"    Message-ID {d['message_id']}  to {d['email']}")
        lines.append(f"    variant {d['variant']}; last reply: {d['last_reply'] or '-'}")
    lines.append(f"Bounces ({len(record['bounces'])}):")
    lines += [
        f"  {b['created_at']}  {b['mailing_id']}  {b['kind']} ({b['source']}): {b['reply']}"
        for b in record["bounces"]
    ]
    for name, rows in record.items():
        if name in {"email", "subscriber", "suppression", "mandates", "deliveries", "bounces"}:
            continue
        lines.append(f"{name[:1].upper() + name[1:]} ({len(rows)}):")
        lines += ["  " + "  ".join(f"{k}: {v}" for k, v in row.items()) for row in rows]
    return "\n".join(lines)


def format_people(people: list[dict[str, Any]]) -> str:
    """One line per person: province, status, address, name, current roles."""
    return "\n".join(
        f"{p['province'] or '-':<4}{p['status']:<13}{p['email']:<42}{p['name']:<32}"
        f"{','.join(p['roles'])}".rstrip()
        for p in people
    )


def format_plan(items: list[Planned], start: date, now: datetime | None = None) -> list[str]:
    """The timeline as lines a communications advisor reads: date, step, reason."""
    lines = []
    for p in items:
        when = f"{nl_date(p.at, weekday=True)} {nl_time(p.at)}" if p.at else "date not known yet"
        title = f"{p.step.number}. {p.step.title}"
        if p.key != p.step.id:
            title += f" ({p.av.item.title} {nl_date(p.av.day)})" if p.av else ""
        state = ""
        if p.decision or (now and p.state not in {"planned", "waiting"}):
            state = f"  [{p.state}]"
        note = f"not sent: {p.skip}" if p.skip else p.why
        lines.append(f"{when:<36} {title}{state}\n{'':<36}   {note}")
    return lines


def format_verdict(name: str, verdict: Verdict) -> list[str]:
    """Lines for one classified file: what it is, why, and each finding (inbox classify)."""
    head = f"{name}: {verdict.kind}"
    if verdict.kind == "unsubscribe" and verdict.sender:
        head += f" from {verdict.sender}"
    lines = [f"{head} ({verdict.evidence})"]
    for finding in verdict.findings:
        codes = " ".join(c for c in (finding.status, finding.reply_code) if c) or "-"
        lines.append(
            f"  {finding.recipient or '(recipient not named)'}: {finding.bounce_class} {codes}"
            f" {finding.reason}; {finding.evidence}"
        )
    if verdict.original_message_id:
        lines.append(f"  original Message-ID: {verdict.original_message_id}")
    if verdict.envelope_to and verdict.kind in ("bounce", "complaint", "delivered"):
        lines.append(f"  report sent to: {verdict.envelope_to}")
    return lines


def format_status(status: InstanceStatus) -> list[str]:
    """One line per thing staff should know about, worst first where it matters."""
    lines = []
    if status.tick_at is None:
        lines.append("tick: never ran; install cron/ (see the README)")
    else:
        when = status.tick_at
        failed = status.tick_failed
        result = f"failed: {', '.join(failed)}" if failed else "all jobs ok"
        lines.append(f"tick: last ran {nl_date(when)} {nl_time(when)}, {result}")
    for mailing in status.mailings:
        counts = mailing.counts
        waiting = ", ".join(
            f"{counts[s]} {s}"
            for s in ("queued", "deferred", "in-doubt", "sending")
            if counts.get(s)
        )
        lines.append(f"{mailing.id}: {mailing.status}; {waiting or 'nothing waiting'}")
    if status.open_questions is not None:
        open_ = status.open_questions
        lines.append(f"inbox: {open_} open question{'s' if open_ != 1 else ''}")
    onboarding = status.onboarding
    if onboarding is not None and onboarding.error:
        lines.append(f"onboarding: cannot say ({onboarding.error})")
    elif onboarding is not None:
        due = onboarding.due
        line = (
            f"onboarding: {onboarding.active} member(s) in the programme, "
            f"{len(due)} step(s) due today"
        )
        if due:
            line += " (" + ", ".join(f"{step} for {email}" for step, email in due[:3]) + ")"
        lines.append(line)
    if status.quarantined:
        lines.append(
            f"inbox: {status.quarantined} quarantined message(s); "
            "'newsletter inbox' commands show why"
        )
    lines.append(format_doctor(status.doctor))
    return lines


def format_doctor(run: DoctorRun | None) -> str:
    """The last `newsletter doctor`: when, the counts, and the checks to fix."""
    if run is None:
        return "doctor: never ran; run 'newsletter doctor' to check DNS, relay and web"
    when = clock.parse_instant(run.at).astimezone(clock.AMSTERDAM)
    line = (
        f"doctor: last ran {nl_date(when)} {nl_time(when)}: {run.ok} ok, "
        f"{run.warnings} warning(s), {run.errors} error(s)"
    )
    if run.problems:
        line += " (" + ", ".join(f"{c['title']}: {c['result']}" for c in run.problems) + ")"
        line += "; 'newsletter doctor' says what to do"
    return line


def format_log_entry(entry: AuditEntry) -> str:
    """One audit event: when, who, what, on what, and its details."""
    when = clock.parse_instant(entry.at).astimezone(clock.AMSTERDAM)
    details = entry.details
    # A send or an import keeps its counts as data and its CLI line as `summary`: the line.
    extra = details.get("summary") or "; ".join(f"{k}={v}" for k, v in details.items())
    return (
        f"{when:%Y-%m-%d %H:%M}  {entry.actor:<20} {entry.action:<18} "
        f"{entry.subject}{'  ' + extra if extra else ''}"
    )


def format_problem(problem: Problem) -> str:
    """One problem of the instance as the `status` line staff act on."""
    if problem.code == "stale-tick":
        assert problem.late is not None
        return (
            f"tick: no tick for {late_text(problem.late)}; is the crontab or the systemd timer "
            "of cron/ installed and running? (see the README)"
        )
    if problem.code == "password":
        host, variable = problem.what.rsplit(" ", 1)
        return f"config: {host} needs a password; set {variable}"
    return (
        "config: "
        + {
            "demo": "demo = true: links are signed with the published demo key; never in a real "
            "instance",
            "no-secret": "NEWSLETTER_SECRET_KEY is not set; no mail can be sent",
            "files-transport": f'[delivery] transport = "{problem.what}" writes files, sends '
            "nothing; set an smtp:// relay for real mail",
            "dkim-key": "[dkim] is set but NEWSLETTER_DKIM_KEY_FILE is not",
            "unapproved": "[workflow] require_approval = false: issues go out unapproved",
            "own-approval": "[workflow] four_eyes = false: an editor may approve their own",
        }[problem.code]
    )


def format_workflow_status(status: WorkflowStatus) -> list[str]:
    """Problems, revoked approvals, each issue's state and the next schedule, one per line."""
    lines = [format_problem(problem) for problem in status.problems]
    for month, reason in status.revoked:
        lines.append(f"issue {month}: approval revoked, {reason}; it is a draft again")
    for issue in status.issues:
        text = {
            "draft": "draft"
            + (f" (approval revoked: {issue.revoked_reason})" if issue.revoked_reason else ""),
            "review": f"awaiting review, submitted by {issue.editor}",
            "approved": f"approved by {issue.approved_by}",
            "scheduled": f"approved by {issue.approved_by}, scheduled",
            "sending": "sending",
        }[issue.state]
        if issue.interrupted:
            text += f"; start interrupted: run 'newsletter issue send {issue.month}'"
        elif issue.missed:
            missed = issue.scheduled_for
            text += (
                f"; MISSED its schedule{' ' + nl_moment(missed) if missed else ''}, held back: "
                f"'newsletter issue send {issue.month}' sends it"
            )
        lines.append(f"issue {issue.month}: {text}")
    if status.next_scheduled:
        at, month = status.next_scheduled
        lines.append(f"next: issue {month} goes out {nl_moment(at)}")
    else:
        lines.append("next: no issue scheduled")
    return lines


def format_enrolments(rows: list[dict[str, Any]]) -> str:
    """Each enrolee on a line: steps done, the next step and its date, or why it stopped."""
    lines = [] if rows else ["Nobody is enrolled yet"]
    for row in rows:
        if row["status"] != "active":
            state = f"stopped: {row['stopped_reason']}"
        elif row["next_step"]:
            state = f"next: {row['next_step']} on {row['next_nl']}"
        else:
            state = "nothing left to send"
        lines.append(
            f"{row['email']:<34} {row['province'] or '-':<4} from {row['start']}  "
            f"{row['done']}/{row['steps']} done, {row['skipped']} skipped  {state}"
        )
    return "\n".join(lines)


def format_item_line(item: Item) -> str:
    """One item in the store: published, kind, theme, id and the start of its title."""
    return f"{item.published}  {item.kind:<15} {item.theme:<27} {item.id}  {item.title[:50]}"


def format_recipient_line(person: Recipient) -> str:
    """One person an audience reaches: province, address, name."""
    return f"{person.province or '-':<4} {person.email:<40} {person.name}"


def format_build(result: BuildResult, project: Path) -> str:
    """What `issue build` made: items, variants, calendar files and where the web version is."""
    issue = result.rendered.issue
    web = result.web_dir / "index.html"
    where = web.relative_to(project) if web.is_relative_to(project) else web
    return (
        f"Built {issue.month}: {len(issue.items)} items, {len(result.rendered.variants)} "
        f"variants, {len(result.rendered.calendar)} calendar files; web version {where}"
    )


def format_reviewed(reviewed: Reviewed, settings: Settings) -> str:
    """An issue in review: who submitted it, where its preview is, who approves next."""
    month = reviewed.month
    return (
        f"Issue {month}: in review, submitted by {reviewed.editor}; preview in "
        f"{settings.shown(reviewed.preview)}/; "
        f"a colleague approves with 'newsletter issue approve {month} --by NAME'"
    )


def format_approved(approved: Approved) -> str:
    """An approval: by whom, the editor, the frozen version (12 hex digits) and its variants."""
    return (
        f"Issue {approved.month}: approved by {approved.approved_by} (submitted by "
        f"{approved.editor}); version {approved.version[:12]} frozen, {approved.variants} variants"
    )


def format_schedule(schedule: Schedule) -> str:
    """After schedule: when tick sends it; after unschedule: that it stays approved."""
    if schedule.at is None:
        return f"Issue {schedule.month}: no longer scheduled; still approved"
    return (
        f"Issue {schedule.month}: scheduled for {nl_moment(schedule.at)}; tick sends it then, "
        "if still approved"
    )


def format_test_copy(copy: TestCopy) -> str:
    """A test copy sent: its subject, which version and variant, and to whom."""
    version = "the approved version" if copy.frozen else "the current build (not approved)"
    return (
        f"Issue {copy.month}: test copy '{copy.subject}' of {version}, variant {copy.variant}, "
        f"sent to {', '.join(copy.to)}"
    )


def format_mailing_change(change: MailingChange) -> str:
    """A pause, resume or cancel in a sentence: what happens to the messages left."""
    mailing_id = change.mailing_id
    if change.action == "cancel":
        return f"{mailing_id} cancelled; {change.cancelled} messages will not be sent"
    if change.action == "pause":
        return f"{mailing_id} paused; {change.open} messages wait for 'newsletter issue resume'"
    return f"{mailing_id} may go on; 'newsletter issue send' (or tick) sends the {change.open} left"


def format_preflight(report: PreflightReport) -> str:
    """What was checked, what each tool did, each finding (shared ones once) and the counts."""
    out = [f"Checked: {', '.join(n for n in report.names if n != 'all')}"]
    for run in report.tools:
        out.append(f"  {run.tool}: {run.note}")
        if run.install:
            out.append(f"    install: {run.install}")
    # The same finding in several variants (an item they share) is shown once, under all.
    shared: dict[tuple[str, ...], list[str]] = {}
    for f in report.findings:
        shared.setdefault((f.severity, f.check, f.where, f.message, f.fix), []).append(f.name)
    groups: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for key, names in shared.items():
        groups.setdefault(tuple(dict.fromkeys(names)), []).append(key)
    for group, keys in groups.items():
        out.append(f"{', '.join(group)}:")
        for severity, check, where, message, fix in keys:
            out.append(f"  {severity} {check}: {where}: {message}")
            out.append(f"    fix: {fix}")
    out.append(summary_line(report))
    return "\n".join(out)


def format_demo(folder: Path, lines: list[str], problems: list[str]) -> str:
    """The demo's summary: the instance folder, one line per stage, then any problem."""
    out = [f"Demo instance in {folder}", *(f"  {line}" for line in lines)]
    out += [f"  problem: {p}" for p in problems]
    return "\n".join(out)
