"""Schedules (tick starts a due one that is still approved) and the workflow's status lines."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.dates import nl_moment
from newsletter.editorial.approval import (
    APPROVED,
    WorkflowError,
    _mailing_exists,
    _name,
    _row,
    _save,
    after_send,
    check_all,
    check_approval,
    state_of,
)
from newsletter.errors import Busy, NewsletterError
from newsletter.issues.files import issue_files
from newsletter.outbound import ledger
from newsletter.outbound.delivery import SendReport, TransportFactory
from newsletter.outbound.send import send_issue
from newsletter.staff import identity, permissions
from newsletter.store import audit
from newsletter.store import workflow as rows
from newsletter.store.mailings import issue_mailing_id as mailing_id_for


@dataclass(frozen=True)
class Schedule:
    """An issue's schedule after schedule (when tick starts it) or unschedule (None)."""

    month: str
    at: datetime | None


def schedule(db: Database, settings: Settings, month: str, at: str, actor: str) -> Schedule:
    """Send an approved issue at a moment (naive times are Europe/Amsterdam); tick starts it."""
    actor = _name(actor)
    when = clock.parse_instant(at, what="--at")
    now = clock.now()
    if when <= now:
        raise WorkflowError(
            f"--at {at}: that is in the past (it is now {nl_moment(now)}); give a later moment, "
            "e.g. --at 2027-01-04T09:00"
        )
    reason = check_approval(db, settings, month, actor)
    state = state_of(db, month)
    if state not in APPROVED:
        why = f" (approval revoked: {reason})" if reason else ""
        raise WorkflowError(
            f"issue {month} is {state}{why}; only an approved issue can be scheduled: "
            f"'newsletter issue review {month} --by NAME', then a colleague approves"
        )
    _save(
        db,
        month,
        actor,
        "schedule",
        {"state": "scheduled", "scheduled_for": clock.utc_iso(when), "schedule_missed_at": None},
        at=clock.utc_iso(when),
    )
    return Schedule(month, when)


def unschedule(db: Database, month: str, actor: str) -> Schedule:
    """Take a scheduled issue off its schedule, or clear the note of a missed one; the state
    stays what it is otherwise (an unschedule never approves anything)."""
    actor = _name(actor)
    row, state = _row(db, month), state_of(db, month)
    missed = state == "approved" and row.state == "approved" and row.schedule_missed_at
    if state != "scheduled" and not missed:
        raise WorkflowError(f"issue {month} is {state}, not scheduled")
    changes: dict[str, Any] = {"scheduled_for": None, "schedule_missed_at": None}
    if state == "scheduled":
        changes["state"] = "approved"
    _save(db, month, actor, "unschedule", changes)
    return Schedule(month, None)


@dataclass(frozen=True)
class ScheduledStart:
    """What tick did with one issue: its approval revoked, a missed schedule held back, a
    start refused (busy, an error) or a send (its report)."""

    month: str
    outcome: str  # "revoked", "missed", "busy", "error" or "sent"
    reason: str = ""  # revoked: what changed; error: the error
    scheduled_for: datetime | None = None  # missed: the moment it was due
    late: timedelta | None = None  # missed: by how much
    report: SendReport | None = None  # sent


@dataclass
class ScheduledRun:
    """tick's scheduled job: one entry per issue it acted on; failed when a start went wrong."""

    starts: list[ScheduledStart] = field(default_factory=list)
    failed: bool = False


def run_scheduled(
    db: Database, settings: Settings, now: datetime, factory: TransportFactory
) -> ScheduledRun:
    """tick's job: start each due schedule that is still approved; hold back a missed one."""
    run = ScheduledRun()
    for month, reason in check_all(db, settings, "tick"):
        run.starts.append(ScheduledStart(month, "revoked", reason))
    window = timedelta(minutes=settings.workflow.missed_window_minutes)
    for month, scheduled_for in rows.due_schedules(db, clock.utc_iso(now)):
        at = clock.parse_instant(scheduled_for)
        if _mailing_exists(db, month):
            # Begun (the state write after the mailing was made did not land): the mailing
            # decides now, and tick's deliveries job finishes it.
            after_send(db, month, "tick")
            continue
        if now - at > window:
            _save(
                db,
                month,
                "tick",
                "schedule-missed",
                {"state": "approved", "schedule_missed_at": clock.utc_iso(now)},
                at=scheduled_for,
            )
            run.starts.append(ScheduledStart(month, "missed", scheduled_for=at, late=now - at))
            continue
        try:
            # The same use case as `issue send`, done by the account that scheduled it (its
            # role checked now, as the CLI and the console check it): the frozen version,
            # through the preflight gate (approval passed this very version; a tool or a
            # template that changed since is checked again here, before anyone gets it).
            report = send_issue(
                db,
                settings,
                month,
                factory,
                by=scheduled_by(db, month),
                in_doubt="skip",
            ).delivery
        except Busy:
            run.starts.append(ScheduledStart(month, "busy"))
            continue
        except NewsletterError as exc:
            run.starts.append(ScheduledStart(month, "error", str(exc)))
            run.failed = True
            continue
        run.starts.append(ScheduledStart(month, "sent", report=report))
        run.failed = run.failed or bool(report.failed or report.relay_down)
    return run


def scheduled_by(db: Database, month: str) -> str:
    """Who a scheduled send is done by: the account that scheduled it (staff:<email>), when
    it may still send; "tick" for a schedule no account made (an older one). A WorkflowError
    when the account is gone, disabled or no longer has the role: nothing is sent."""
    event = audit.last_event(db, "schedule", mailing_id_for(month))
    if event is None or not event.actor.startswith(identity.PREFIX):
        return "tick"
    account = identity.find(db, event.actor)
    if account is None or not account.active:
        raise WorkflowError(
            f"issue {month} was scheduled by {event.actor}, which is no longer an active staff "
            f"account; a colleague schedules it again: 'newsletter issue schedule {month} --at ISO'"
        )
    permissions.require(account, "send")
    return event.actor


def late_text(delta: timedelta) -> str:
    """How late, as staff say it: 3 days, 5 hours, 1 minute."""
    hours = delta.total_seconds() / 3600
    if hours >= 48:
        return f"{hours / 24:.0f} days"
    if hours >= 1:
        return f"{hours:.0f} hours"
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} minute{'s' if round(minutes) != 1 else ''}"


# -- status ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something wrong with the instance, as data: the CLI words it in English, the console
    in Dutch. `what` names the setting, variable, transport or address; `late` the delay."""

    code: str  # demo, no-secret, files-transport, password, dkim-key, unapproved, own-approval,
    # stale-tick
    what: str = ""
    late: timedelta | None = None


def config_problems(settings: Settings) -> list[Problem]:
    """What in newsletter.toml or the environment is wrong for a real instance."""
    problems = []
    if settings.demo:
        problems.append(Problem("demo"))
    elif not settings.secret_keys:
        problems.append(Problem("no-secret", "NEWSLETTER_SECRET_KEY"))
    if not settings.demo and settings.transport.startswith(("outbox:", "memory:")):
        problems.append(Problem("files-transport", settings.transport))
    for url, variable in [(settings.transport, "NEWSLETTER_SMTP_PASSWORD")] + [
        (source, "NEWSLETTER_IMAP_PASSWORD") for source in settings.inbox.sources
    ]:
        if urlsplit(url).username and not os.environ.get(variable):
            problems.append(Problem("password", f"{url.split('@')[-1]} {variable}"))
    if settings.delivery.dkim_selector and not os.environ.get("NEWSLETTER_DKIM_KEY_FILE"):
        problems.append(Problem("dkim-key", "NEWSLETTER_DKIM_KEY_FILE"))
    if not settings.workflow.require_approval:
        problems.append(Problem("unapproved", "[workflow] require_approval"))
    elif not settings.workflow.four_eyes:
        problems.append(Problem("own-approval", "[workflow] four_eyes"))
    return problems


def stale_tick(db: Database, now: datetime) -> Problem | None:
    """A warning when cron has not run tick for 15 minutes (it should every 5)."""
    last = rows.latest_event_at(db, "tick")
    if last is None:
        return None  # status already says: never ran
    late = now - clock.parse_instant(last)
    if late < timedelta(minutes=15):
        return None
    return Problem("stale-tick", late=late)


@dataclass(frozen=True)
class IssueGlance:
    """An issue not sent yet: its state and what staff need to know about it."""

    month: str
    state: str  # draft, review, approved, scheduled or sending
    revoked_reason: str | None
    editor: str | None
    approved_by: str | None
    scheduled_for: str | None
    interrupted: bool  # a send begun but no mailing made
    missed: bool  # held back: its schedule was missed


@dataclass(frozen=True)
class WorkflowStatus:
    """Issue states, the next schedule, approvals just revoked and configuration problems."""

    problems: list[Problem]  # a stale tick and configuration problems
    revoked: list[tuple[str, str]]  # (month, reason): approvals this look revoked
    issues: list[IssueGlance]
    next_scheduled: tuple[str, str] | None  # (when, month)


def workflow_status(db: Database, settings: Settings) -> WorkflowStatus:
    """Issue states, the next schedule, missed schedules and configuration problems."""
    stale = stale_tick(db, clock.now())
    problems = ([stale] if stale else []) + config_problems(settings)
    revoked = list(check_all(db, settings, "status"))
    this_month = clock.today().isoformat()[:7]  # older issue files are history, not work
    months = {p.stem for p in issue_files(settings) if p.stem >= this_month}
    months |= rows.all_months(db)
    issues, upcoming = [], []
    for month in sorted(months):
        state = state_of(db, month)
        if state in ("sent", "cancelled") or ledger.count(db, mailing_id_for(month), "sent"):
            continue
        row = _row(db, month)
        issues.append(
            IssueGlance(
                month,
                state,
                row.revoked_reason,
                identity.shown(db, row.editor),  # the accounts' names, as people read them
                identity.shown(db, row.approved_by),
                row.scheduled_for,
                interrupted=row.state == "sending" and state == "approved",
                missed=bool(row.schedule_missed_at) and state == "approved",
            )
        )
        if state == "scheduled":
            upcoming.append((str(row.scheduled_for), month))
    return WorkflowStatus(problems, revoked, issues, min(upcoming) if upcoming else None)
