"""The editorial workflow: review, four-eyes approval of the exact rendering, test copies,
schedules, and the checks that keep tick from ever sending something stale (issue #7).

draft -> review (`issue review --by`) -> approved (`issue approve --by`, another person) ->
scheduled (`issue schedule --at`) -> sending -> sent; cancelled. An edit of the issue file or of
an item in it after approval returns the issue to draft, with the reason. What was approved is
frozen in the store (`approved_variants`) and is exactly what `issue send`, tick and the web
archive use.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import os
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.dates import nl_date, nl_time
from newsletter.errors import Busy, ContentError, HeaderError, NewsletterError
from newsletter.headers import check_address
from newsletter.issues.build import build_issue
from newsletter.issues.files import Issue, issue_files, load_issue
from newsletter.mail.messages import Recipient, make_skeleton
from newsletter.outbound import ledger
from newsletter.outbound.delivery import SendOptions, SendReport, TransportFactory
from newsletter.outbound.send import mailing_id_for, send_issue
from newsletter.outbound.transports import Envelope, send_one
from newsletter.people import privacy
from newsletter.people.segments import parse_segment, recipients
from newsletter.people.subscribers import current_holders
from newsletter.preflight import runner as preflight
from newsletter.render.issue import (
    HOLDER_ROLES,
    WEB,
    RenderedIssue,
    Variant,
    environment,
    issue_web_url,
    render_variant,
    variant_keys,
)
from newsletter.sources.catalog import item_to_row, row_to_item
from newsletter.store import audit, dumps, loads, transaction

STATES = ("draft", "review", "approved", "scheduled", "sending", "sent", "cancelled")
APPROVED = ("approved", "scheduled")  # approved and not yet sending
# A mailing's status decides the state once sending has begun.
FROM_MAILING = {
    "sending": "sending",
    "paused": "sending",
    "sent": "sent",
    "sent-with-failures": "sent",
    "cancelled": "cancelled",
}
TEST_PREFIX = "[TEST] "


class WorkflowError(NewsletterError):
    """A workflow step that is not allowed now (exit 2; nothing changed)."""


def _mailing_exists(db: Database, month: str) -> bool:
    return db.table("mailings").count_where("id = ?", [mailing_id_for(month)]) > 0


def _row(db: Database, month: str) -> dict[str, Any]:
    """The issue's workflow row; a month without one is a draft."""
    found = next(iter(db.table("issue_workflow").rows_where("month = ?", [month])), None)
    return dict(found) if found else {"month": month, "state": "draft"}


def state_of(db: Database, month: str) -> str:
    """draft ... cancelled; once a mailing exists its status decides (sending, sent, cancelled)."""
    mailing = next(iter(db.table("mailings").rows_where("id = ?", [mailing_id_for(month)])), None)
    if mailing is not None and mailing["status"] in FROM_MAILING:
        return FROM_MAILING[str(mailing["status"])]
    state = str(_row(db, month)["state"])
    # A start interrupted before the mailing existed (an older version wrote "sending" first):
    # nothing was sent, so the issue is still approved and `issue send` starts it.
    return "approved" if state == "sending" and mailing is None else state


def _save(
    db: Database, month: str, actor: str, action: str, changes: dict[str, Any], **detail: Any
) -> None:
    """Change the row and write the audit event in one transaction: both land or neither."""
    row = _row(db, month) | changes | {"updated_at": clock.utc_iso()}
    if "state" in changes:
        detail = {"state": changes["state"], **detail}
    with transaction(db):
        db.table("issue_workflow").upsert(row, pk="month")
        audit.record(db, actor, action, mailing_id_for(month), **detail)


def _comparable(name: str) -> str:
    """A name as four-eyes compares it: NFKC (look-alike forms folded), casefolded, single
    spaces."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _same_person(a: str | None, b: str | None) -> bool:
    return bool(a and b) and _comparable(str(a)) == _comparable(str(b))


def _name(value: str, option: str = "--by") -> str:
    """An actor's name for the audit log: no control or invisible (format) characters, which
    would make one person look like two; spaces collapsed, NFKC-normalised."""
    hidden = next((c for c in value if unicodedata.category(c).startswith("C")), None)
    if hidden is not None:
        raise WorkflowError(
            f"{option}: the name contains an invisible or control character "
            f"(U+{ord(hidden):04X}); type it plainly, e.g. {option} 'Sanne de Vries'"
        )
    name = " ".join(unicodedata.normalize("NFKC", value).split())
    if not name:
        raise WorkflowError(f"{option}: give a name, e.g. {option} 'Sanne de Vries'")
    return name


def actor_name(value: str, option: str = "--by") -> str:
    """The checked name of who runs a command (for the audit log); see _name."""
    return _name(value, option)


def default_actor() -> str:
    """Who runs a command without --by: the user behind sudo, else the login user."""
    try:
        user = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):  # no login name for this uid (a bare container)
        user = ""
    return user or "cli"


def _when(instant: str | datetime | None) -> str:
    if instant is None:
        return "(time unknown)"
    value = clock.parse_instant(instant) if isinstance(instant, str) else instant
    local = value.astimezone(clock.AMSTERDAM)
    return f"{nl_date(local)} {nl_time(local)}"


# -- the content check: has anything changed since approval? --------------------------------


def rendered_hash(rendered: RenderedIssue, settings: Settings) -> str:
    """sha256 over the subject and the HTML and text of every standard variant (web included)."""
    digest = hashlib.sha256(rendered.issue.subject.encode())
    for key in variant_keys(settings):
        variant = rendered.variant(key)
        for part in (key, variant.html, variant.text):
            digest.update(b"\0" + part.encode())
    return digest.hexdigest()


def issue_snapshot(issue: Issue) -> str:
    """The issue with its items as JSON: what was approved, independent of later edits."""
    fields = {k: v for k, v in vars(issue).items() if k != "sections"}
    sections = {key: [item_to_row(i) for i in items] for key, items in issue.sections.items()}
    return dumps(fields | {"date": issue.date.isoformat(), "sections": sections})


def issue_from_snapshot(text: str) -> Issue:
    data = loads(text, {})
    sections = {key: [row_to_item(r) for r in rows] for key, rows in data.pop("sections").items()}
    return Issue(**(data | {"date": date.fromisoformat(data["date"]), "sections": sections}))


def _item_hashes(issue: Issue) -> dict[str, str]:
    return {item.id: item.content_hash() for item in issue.items}


def change_reason(row: dict[str, Any], issue: Issue | None, error: str = "") -> str:
    """Why the issue is no longer what was approved, in words; "" when it still is."""
    if issue is None:
        return f"the issue no longer loads ({error})"
    if issue.content_hash() == row.get("approved_content_hash"):
        return ""
    before: dict[str, str] = loads(row.get("approved_items"), {})
    now = _item_hashes(issue)
    changed = [i for i in now if i in before and before[i] != now[i]]
    added = [i for i in now if i not in before]
    removed = [i for i in before if i not in now]
    parts = []
    if changed:
        parts.append(f"item {', '.join(changed)} changed")
    if added:
        parts.append(f"item {', '.join(added)} added")
    if removed:
        parts.append(f"item {', '.join(removed)} removed")
    return (
        "; ".join(parts) or "the issue file changed (subject, preheader, date, intro or audience)"
    )


def check_approval(db: Database, settings: Settings, month: str, actor: str) -> str:
    """For an approved or scheduled issue: revoke the approval (back to draft) if the issue file
    or an item in it changed since; returns the reason, "" when nothing changed."""
    row = _row(db, month)
    if row["state"] not in APPROVED or state_of(db, month) not in APPROVED:
        return ""
    try:
        issue: Issue | None = load_issue(db, settings, month)
        error = ""
    except ContentError as exc:
        issue, error = None, str(exc)
    reason = change_reason(row, issue, error)
    if reason:
        revoke(db, month, actor, reason)
    return reason


def revoke(db: Database, month: str, actor: str, reason: str) -> None:
    """Back to draft; the frozen version is dropped (who approved it stays in the log)."""
    with transaction(db):
        db.table("approved_variants").delete_where("month = ?", [month])
        db.table("approved_calendar").delete_where("month = ?", [month])
        _save(
            db,
            month,
            actor,
            "revoke",
            {
                "state": "draft",
                "revoked_reason": reason,
                "scheduled_for": None,
                "schedule_missed_at": None,
                "approved_hash": None,
                "approved_issue": None,
            },
            reason=reason,
        )


def check_all(db: Database, settings: Settings, actor: str) -> list[tuple[str, str]]:
    """check_approval for every approved or scheduled issue: [(month, reason)] of the revoked."""
    months = [
        r["month"]
        for r in db.query(
            "select month from issue_workflow where state in ('approved', 'scheduled') "
            "order by month"
        )
    ]
    revoked = [(m, check_approval(db, settings, m, actor)) for m in months]
    return [(m, reason) for m, reason in revoked if reason]


# -- review and approval -------------------------------------------------------------------


def review(db: Database, settings: Settings, month: str, by: str) -> str:
    """Submit the issue for review; `by` is its editor, who may not approve it (four-eyes)."""
    by = _name(by)
    state = state_of(db, month)
    if state not in ("draft", "review"):
        raise WorkflowError(
            f"issue {month} is {state}; only a draft can be submitted for review"
            + (" (edit the issue file to return it to draft)" if state in APPROVED else "")
        )
    built = build_issue(db, settings, month)  # an issue that does not build is no candidate
    issue = built.rendered.issue
    _save(
        db,
        month,
        by,
        "review",
        {
            "state": "review",
            "editor": by,
            "reviewed_at": clock.utc_iso(),
            "reviewed_hash": issue.content_hash(),
        },
    )
    return (
        f"Issue {month}: in review, submitted by {by}; preview in {_shown(settings, month)}; "
        f"a colleague approves with 'newsletter issue approve {month} --by NAME'"
    )


def _shown(settings: Settings, month: str) -> str:
    return f"{settings.shown(settings.build_dir / 'issues' / month)}/"


def approve(db: Database, settings: Settings, month: str, by: str) -> str:
    """Approve exactly what renders now and freeze it; refused for the editor under four-eyes."""
    by = _name(by)
    check_approval(db, settings, month, by)
    row, state = _row(db, month), state_of(db, month)
    if state in APPROVED:
        raise WorkflowError(
            f"issue {month} is already {state}: {row.get('approved_by')} approved it on "
            f"{_when(row['approved_at'])}; nothing changed"
        )
    if state != "review":
        raise WorkflowError(
            f"issue {month} is {state}, not in review; "
            + (
                f"submit it first with 'newsletter issue review {month} --by NAME'"
                if state == "draft"
                else "there is nothing left to approve"
            )
        )
    if settings.workflow.four_eyes and _same_person(by, row.get("editor")):
        with transaction(db):
            audit.record(
                db,
                by,
                "approve-refused",
                mailing_id_for(month),
                reason="four-eyes: the editor cannot approve",
            )
        raise WorkflowError(
            f"issue {month}: {by} submitted it for review and cannot also approve it "
            "([workflow] four_eyes); ask a colleague to run "
            f"'newsletter issue approve {month} --by NAME'"
        )
    built = build_issue(db, settings, month)
    rendered = built.rendered
    issue = rendered.issue
    if issue.content_hash() != row.get("reviewed_hash"):
        reason = f"changed after {row.get('editor')} submitted it for review"
        revoke(db, month, by, reason)
        raise WorkflowError(
            f"issue {month} {reason}; it is a draft again: submit it again with "
            f"'newsletter issue review {month} --by NAME'"
        )
    # Errors of the preflight checks block an approval as they block a send.
    # (With errors in the fast checks, the slow tools are not started: it is refused anyway.)
    preflight.refuse_if_blocked(
        preflight.check_built(settings, built, fail_fast=True), "the issue was not approved"
    )
    digest = rendered_hash(rendered, settings)
    frozen = _freeze_variants(db, settings, rendered)
    with transaction(db):  # the frozen version and the state change land together
        db.table("approved_variants").delete_where("month = ?", [month])
        db.table("approved_variants").insert_all(
            {"month": month, "variant": v.key, "html": v.html, "text": v.text} for v in frozen
        )
        db.table("approved_calendar").delete_where("month = ?", [month])
        db.table("approved_calendar").insert_all(
            {"month": month, "item_id": item_id, "ics": data}
            for item_id, data in rendered.calendar.items()
        )
        _save(
            db,
            month,
            by,
            "approve",
            {
                "state": "approved",
                "approved_by": by,
                "approved_at": clock.utc_iso(),
                "approved_hash": digest,
                "approved_content_hash": issue.content_hash(),
                "approved_items": dumps(_item_hashes(issue)),
                "approved_subject": issue.subject,
                "approved_issue": issue_snapshot(issue),
                "revoked_reason": None,
                "scheduled_for": None,
                "schedule_missed_at": None,
            },
            version=digest[:12],
            editor=row.get("editor"),
        )
    return (
        f"Issue {month}: approved by {by} (submitted by {row.get('editor')}); "
        f"version {digest[:12]} frozen, {len(frozen)} variants"
    )


def _freeze_variants(db: Database, settings: Settings, rendered: RenderedIssue) -> list[Variant]:
    """The standard variants, and those the current audience's theme choices need."""
    issue = rendered.issue
    keys = list(variant_keys(settings))
    for person in recipients(db, parse_segment(issue.audience, settings), issue.date):
        key = rendered.variant_key(person.province, person.themes)
        if key not in keys:
            keys.append(key)
    return [rendered.variant(key) for key in keys]


def frozen_variants(db: Database, month: str) -> dict[str, Variant]:
    return {
        str(r["variant"]): Variant(str(r["variant"]), str(r["html"]), str(r["text"]))
        for r in db.table("approved_variants").rows_where("month = ?", [month])
    }


def approved_web_html(db: Database, month: str) -> str | None:
    """The frozen web version of an approved issue, for the archive; None if there is none."""
    if "approved_variants" not in db.table_names():
        return None
    row = next(
        iter(db.table("approved_variants").rows_where("month = ? and variant = ?", [month, WEB])),
        None,
    )
    return str(row["html"]) if row else None


def approved_ics(db: Database, month: str, item_id: str) -> bytes | None:
    """A frozen .ics file of an approved issue, for the archive; None if there is none."""
    if "approved_calendar" not in db.table_names():
        return None
    row = db.execute(
        "select ics from approved_calendar where month = ? and item_id = ?", [month, item_id]
    ).fetchone()
    return bytes(row[0]) if row else None


def _frozen_rendered(db: Database, settings: Settings, issue: Issue) -> RenderedIssue:
    """The approved version as a RenderedIssue. A variant not frozen (a reader chose themes
    after approval) is rendered from the approved issue's snapshot, not from the files."""
    env = environment(settings)
    holders = current_holders(db, HOLDER_ROLES, issue.date)
    return RenderedIssue(
        issue,
        frozen_variants(db, issue.month),
        issue_web_url(settings, issue.month),
        {},
        render=lambda key: render_variant(env, settings, issue, key, holders),
        bac=frozenset(k for k, t in settings.themes.items() if t.bac),
    )


# -- sending ----------------------------------------------------------------------------------


def rendered_for_send(db: Database, settings: Settings, month: str, actor: str) -> RenderedIssue:
    """What `issue send` and tick may send: the frozen approved version; the live build only
    when [workflow] require_approval is off or a send begun without approval is continued."""
    state = state_of(db, month)
    row = _row(db, month)
    if state in APPROVED:
        reason = check_approval(db, settings, month, actor)
        if reason:
            raise WorkflowError(
                f"issue {month} is not sent: its approval was revoked ({reason}); it is a "
                f"draft again: 'newsletter issue review {month} --by NAME', then approval"
            )
        built = build_issue(db, settings, month)
        if rendered_hash(built.rendered, settings) != row.get("approved_hash"):
            reason = (
                "the rendering changed since approval (templates, or the people in a "
                "province block)"
            )
            revoke(db, month, actor, reason)
            raise WorkflowError(
                f"issue {month} is not sent: {reason}; it is a draft again: check the preview, "
                f"then 'newsletter issue review {month} --by NAME' and approval"
            )
        # No state is written here: "sending" is recorded once the mailing exists (after_send,
        # called by send_issue's on_queued), so a start that fails before that (Busy, a
        # preflight refusal, a crash) leaves the issue approved or scheduled, never stranded.
        return _frozen_rendered(db, settings, issue_from_snapshot(row["approved_issue"]))
    if state in ("sending", "sent", "cancelled") and row.get("approved_issue"):
        # Begun: the approved version goes on to the end, whatever was edited since.
        return _frozen_rendered(db, settings, issue_from_snapshot(row["approved_issue"]))
    started = _mailing_exists(db, month)
    if settings.workflow.require_approval and not started:
        raise WorkflowError(
            f"issue {month} is {state}, not approved; run 'newsletter issue review {month} "
            f"--by NAME', then a colleague 'newsletter issue approve {month} --by NAME' "
            "([workflow] require_approval)"
        )
    return build_issue(db, settings, month).rendered


def after_send(db: Database, month: str, actor: str) -> None:
    """Record sending, sent or cancelled once the mailing says so (it exists: the send began);
    a schedule is done with then."""
    if not _mailing_exists(db, month):
        return
    state = state_of(db, month)
    if _row(db, month)["state"] != state and state in ("sending", "sent", "cancelled"):
        _save(
            db,
            month,
            actor,
            "state",
            {"state": state, "scheduled_for": None, "schedule_missed_at": None},
        )


# -- test copies -------------------------------------------------------------------------------


def allowed_test_address(settings: Settings, address: str) -> bool:
    allowed = settings.workflow.test_recipients or (f"@{settings.sender_domain}",)
    address = address.strip().lower()
    return any(
        address.endswith(entry) if entry.startswith("@") else address == entry for entry in allowed
    )


@dataclass(frozen=True)
class TestCopy:
    to: list[str]
    variant: str
    subject: str
    frozen: bool

    def summary(self, month: str) -> str:
        version = "the approved version" if self.frozen else "the current build (not approved)"
        return (
            f"Issue {month}: test copy '{self.subject}' of {version}, variant {self.variant}, "
            f"sent to {', '.join(self.to)}"
        )


def send_test(
    db: Database,
    settings: Settings,
    month: str,
    to: list[str],
    as_email: str | None,
    transport: str,
    actor: str,
) -> TestCopy:
    """A copy marked [TEST] to staff addresses, as one subscriber would see it; no ledger row.

    Each address is written to the audit log as it goes (test-send, or test-send-failed with
    the error), so a copy that fails partway still shows who got one."""
    actor = _name(actor)
    for address in to:
        try:
            check_address(address, "--to")
        except HeaderError as exc:
            raise WorkflowError(f"{exc}; give one address per --to") from None
    refused = [a for a in to if not allowed_test_address(settings, a)]
    if refused:
        allowed = ", ".join(settings.workflow.test_recipients or (f"@{settings.sender_domain}",))
        raise WorkflowError(
            f"--to {refused[0]}: test copies go to staff only ({allowed}); add the address to "
            "[workflow] test_recipients in newsletter.toml if it is staff"
        )
    person = _reader(db, as_email) if as_email else None
    check_approval(db, settings, month, actor)
    snapshot = _row(db, month).get("approved_issue")
    frozen = state_of(db, month) in (*APPROVED, "sending", "sent") and bool(snapshot)
    rendered = (
        _frozen_rendered(db, settings, issue_from_snapshot(str(snapshot)))
        if frozen
        else build_issue(db, settings, month).rendered
    )
    key = rendered.variant_key(
        person["province"] if person else None, loads(person["themes"], []) if person else ()
    )
    subject = TEST_PREFIX + rendered.issue.subject
    # No List-Unsubscribe (nor -Post): a colleague's "unsubscribe" button would mail
    # "afmelden" to the list from a staff address.
    skeleton = make_skeleton(settings, subject, rendered.variant(key), list_unsubscribe=False)
    name = str(person["name"]) if person else "Testlezer"
    base = settings.base_url
    for address in to:
        message_id = f"<test.{month}.{secrets.token_hex(8)}@{settings.sender_domain}>"
        data = skeleton.build(
            Recipient(
                email=address,
                name=name,
                salutation=str(person["salutation"] or f"Beste {name}")
                if person
                else "Beste lezer",
                # A test copy never carries a real reader's links: these show the "invalid
                # link" page, so a colleague's click unsubscribes nobody.
                unsubscribe_url=f"{base}/afmelden/testexemplaar",
                preferences_url=f"{base}/voorkeuren/testexemplaar",
                message_id=message_id,
            )
        )
        version = "approved" if frozen else "draft"
        try:
            send_one(
                transport,
                settings.project,
                Envelope(settings.sender_address, address, message_id),
                data,
            )
        except Exception as exc:
            with transaction(db):
                audit.record(
                    db,
                    actor,
                    "test-send-failed",
                    mailing_id_for(month),
                    to=address,
                    variant=key,
                    version=version,
                    error=f"{type(exc).__name__}: {exc}",
                )
            raise
        with transaction(db):
            audit.record(
                db,
                actor,
                "test-send",
                mailing_id_for(month),
                to=address,
                variant=key,
                version=version,
            )
    return TestCopy(list(to), key, subject, frozen)


def _reader(db: Database, email: str) -> dict[str, Any]:
    found = next(
        iter(db.table("subscribers").rows_where("lower(email) = ?", [email.strip().lower()])),
        None,
    )
    if found is None:
        raise WorkflowError(
            f"--as {email}: no such subscriber; 'newsletter subscribers list' shows who there is"
        )
    return dict(found)


# -- schedules -------------------------------------------------------------------------------


def schedule(db: Database, settings: Settings, month: str, at: str, actor: str) -> str:
    """Send an approved issue at a moment (naive times are Europe/Amsterdam); tick starts it."""
    actor = _name(actor)
    when = clock.parse_instant(at, what="--at")
    now = clock.now()
    if when <= now:
        raise WorkflowError(
            f"--at {at}: that is in the past (it is now {_when(now)}); give a later moment, "
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
    return f"Issue {month}: scheduled for {_when(when)}; tick sends it then, if still approved"


def unschedule(db: Database, month: str, actor: str) -> str:
    """Take a scheduled issue off its schedule, or clear the note of a missed one; the state
    stays what it is otherwise (an unschedule never approves anything)."""
    actor = _name(actor)
    row, state = _row(db, month), state_of(db, month)
    missed = state == "approved" and row["state"] == "approved" and row.get("schedule_missed_at")
    if state != "scheduled" and not missed:
        raise WorkflowError(f"issue {month} is {state}, not scheduled")
    changes: dict[str, Any] = {"scheduled_for": None, "schedule_missed_at": None}
    if state == "scheduled":
        changes["state"] = "approved"
    _save(db, month, actor, "unschedule", changes)
    return f"Issue {month}: no longer scheduled; still approved"


@dataclass
class ScheduledRun:
    lines: list[str]
    failed: bool = False

    def line(self) -> str:
        return "; ".join(self.lines) or "nothing due"


def run_scheduled(
    db: Database, settings: Settings, now: datetime, factory: TransportFactory
) -> ScheduledRun:
    """tick's job: start each due schedule that is still approved; hold back a missed one."""
    run = ScheduledRun([])
    for month, reason in check_all(db, settings, "tick"):
        run.lines.append(f"issue {month}: approval revoked, {reason}")
    window = timedelta(minutes=settings.workflow.missed_window_minutes)
    due = list(
        db.query(
            "select month, scheduled_for from issue_workflow where state = 'scheduled' "
            "and scheduled_for <= ? order by scheduled_for",
            [clock.utc_iso(now)],
        )
    )
    for row in due:
        month, at = row["month"], clock.parse_instant(row["scheduled_for"])
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
                at=row["scheduled_for"],
            )
            run.lines.append(
                f"issue {month}: NOT sent, its schedule ({_when(at)}) was missed by "
                f"{_late(now - at)}; send it by hand with 'newsletter issue send {month}'"
            )
            continue
        try:
            rendered = rendered_for_send(db, settings, month, "tick")
            # The same check as `issue send` (approval ran it on this very version; a tool
            # or a template that changed since is caught here, before anyone gets it).
            preflight.refuse_if_blocked(
                preflight.check_rendered(settings, rendered, fail_fast=True)
            )
            report: SendReport = send_issue(
                db,
                settings,
                rendered,
                factory,
                SendOptions.from_settings(settings, in_doubt="skip"),
                on_queued=functools.partial(after_send, db, month, "tick"),
            )
        except Busy:
            run.lines.append(f"issue {month} is being sent by another process")
            continue
        except NewsletterError as exc:
            run.lines.append(str(exc))
            run.failed = True
            continue
        after_send(db, month, "tick")
        run.lines.append(report.summary())
        run.failed = run.failed or bool(report.failed or report.relay_down)
    return run


def _late(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours >= 48:
        return f"{hours / 24:.0f} days"
    if hours >= 1:
        return f"{hours:.0f} hours"
    minutes = delta.total_seconds() / 60
    return f"{minutes:.0f} minute{'s' if round(minutes) != 1 else ''}"


# -- status --------------------------------------------------------------------------------------


def config_problems(settings: Settings) -> list[str]:
    """What in newsletter.toml or the environment is wrong for a real instance."""
    problems = []
    if settings.demo:
        problems.append(
            "config: demo = true: links are signed with the published demo key; never in a "
            "real instance"
        )
    elif not settings.secret_keys:
        problems.append("config: NEWSLETTER_SECRET_KEY is not set; no mail can be sent")
    if not settings.demo and settings.transport.startswith(("outbox:", "memory:")):
        problems.append(
            f'config: [delivery] transport = "{settings.transport}" writes files, sends '
            "nothing; set an smtp:// relay for real mail"
        )
    for url, variable in [(settings.transport, "NEWSLETTER_SMTP_PASSWORD")] + [
        (source, "NEWSLETTER_IMAP_PASSWORD") for source in settings.inbox.sources
    ]:
        if urlsplit(url).username and not os.environ.get(variable):
            problems.append(f"config: {url.split('@')[-1]} needs a password; set {variable}")
    if settings.delivery.dkim_selector and not os.environ.get("NEWSLETTER_DKIM_KEY_FILE"):
        problems.append("config: [dkim] is set but NEWSLETTER_DKIM_KEY_FILE is not")
    if not settings.workflow.require_approval:
        problems.append("config: [workflow] require_approval = false: issues go out unapproved")
    elif not settings.workflow.four_eyes:
        problems.append("config: [workflow] four_eyes = false: an editor may approve their own")
    return problems


def stale_tick(db: Database, now: datetime) -> str:
    """A warning when cron has not run tick for 15 minutes (it should every 5)."""
    last = db.execute("select max(at) from events where action = 'tick'").fetchone()[0]
    if last is None:
        return ""  # status already says: never ran
    late = now - clock.parse_instant(last)
    if late < timedelta(minutes=15):
        return ""
    return (
        f"tick: no tick for {_late(late)}; is the crontab or the systemd timer of cron/ "
        "installed and running? (see the README)"
    )


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

    problems: list[str]  # a stale tick and configuration problems, each a sentence
    revoked: list[tuple[str, str]]  # (month, reason): approvals this look revoked
    issues: list[IssueGlance]
    next_scheduled: tuple[str, str] | None  # (when, month)


def workflow_status(db: Database, settings: Settings) -> WorkflowStatus:
    """Issue states, the next schedule, missed schedules and configuration problems."""
    problems = [line for line in [stale_tick(db, clock.now())] if line]
    problems += config_problems(settings)
    revoked = list(check_all(db, settings, "status"))
    this_month = clock.today().isoformat()[:7]  # older issue files are history, not work
    months = {p.stem for p in issue_files(settings) if p.stem >= this_month}
    months |= {r["month"] for r in db.query("select month from issue_workflow")}
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
                row.get("revoked_reason"),
                row.get("editor"),
                row.get("approved_by"),
                row.get("scheduled_for"),
                interrupted=row["state"] == "sending" and state == "approved",
                missed=bool(row.get("schedule_missed_at")) and state == "approved",
            )
        )
        if state == "scheduled":
            upcoming.append((row["scheduled_for"], month))
    return WorkflowStatus(problems, revoked, issues, min(upcoming) if upcoming else None)


def _erase_frozen(db: Database, settings: Settings, subject: privacy.Subject) -> int:
    """`forget`: a frozen (approved) version naming the person (a province block) goes. An
    issue not sent yet is a draft again, to be approved anew without them; of a sent one only
    the web version (which names nobody) is kept, for the archive."""
    if not subject.email:
        return 0
    like = f"%{subject.email}%"
    rows = list(
        db.query(
            "select distinct month from approved_variants where html like ? or text like ?",
            [like, like],
        )
    )
    for row in rows:
        month = str(row["month"])
        mailing = db.execute(
            "select status from mailings where id = ?", [mailing_id_for(month)]
        ).fetchone()
        if mailing is None:
            revoke(db, month, "forget", "a person named in it was forgotten")
        else:
            db.execute(
                "delete from approved_variants where month = ? and variant != ? "
                "and (html like ? or text like ?)",
                [month, WEB, like, like],
            )
    return len(rows)


privacy.register("approved versions", _erase_frozen)
