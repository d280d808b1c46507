"""Review, four-eyes approval of the exact rendering, and the frozen version that is sent.

draft -> review (`issue review --by`) -> approved (`issue approve --by`, another person) ->
scheduled (schedules.py) -> sending -> sent; cancelled. An edit of the issue file or of an item
in it after approval returns the issue to draft, with the reason. What was approved is frozen in
the store (approved_variants) and is exactly what `issue send`, tick and the web archive use.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import unicodedata
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

from markupsafe import escape
from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.dates import nl_moment
from newsletter.editorial import gate
from newsletter.errors import ContentError, NewsletterError
from newsletter.issues.build import build_issue
from newsletter.issues.files import Issue, load_issue
from newsletter.people import privacy
from newsletter.people.erase_files import needles_for
from newsletter.people.segments import parse_segment, recipients
from newsletter.people.subscribers import current_holders
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
from newsletter.staff import identity, permissions
from newsletter.staff.accounts import actor
from newsletter.store import audit, dumps, loads, mailings, transaction
from newsletter.store import workflow as rows
from newsletter.store.mailings import issue_mailing_id as mailing_id_for
from newsletter.store.staff import StaffRow
from newsletter.store.workflow import IssueWorkflow

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
    return mailings.get_mailing(db, mailing_id_for(month)) is not None


def _row(db: Database, month: str) -> IssueWorkflow:
    """The issue's workflow row; a month without one is a draft."""
    return rows.issue_row(db, month)


def state_of(db: Database, month: str) -> str:
    """draft ... cancelled; once a mailing exists its status decides (sending, sent, cancelled)."""
    mailing = mailings.get_mailing(db, mailing_id_for(month))
    if mailing is not None and mailing.status in FROM_MAILING:
        return FROM_MAILING[mailing.status]
    state = _row(db, month).state
    # A start interrupted before the mailing existed (an older version wrote "sending" first):
    # nothing was sent, so the issue is still approved and `issue send` starts it.
    return "approved" if state == "sending" and mailing is None else state


def _save(
    db: Database, month: str, actor: str, action: str, changes: dict[str, Any], **detail: Any
) -> None:
    """Change the row and write the audit event in one transaction: both land or neither."""
    row = replace(_row(db, month), **changes, updated_at=clock.utc_iso())
    if "state" in changes:
        detail = {"state": changes["state"], **detail}
    with transaction(db):
        rows.upsert_issue(db, row)
        audit.record(db, actor, action, mailing_id_for(month), **detail)


def _account(db: Database, by: str, action: str) -> StaffRow:
    """The active staff account `by` names (staff:<email>, an e-mail or a unique name), with
    the role staff.permissions gives this action; a typed name alone is nobody (issue #14)."""
    return permissions.require(identity.account_for(db, _name(by)), action)


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


def change_reason(row: IssueWorkflow, issue: Issue | None, error: str = "") -> str:
    """Why the issue is no longer what was approved, in words; "" when it still is."""
    if issue is None:
        return f"the issue no longer loads ({error})"
    if issue.content_hash() == row.approved_content_hash:
        return ""
    before: dict[str, str] = loads(row.approved_items, {})
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
    if row.state not in APPROVED or state_of(db, month) not in APPROVED:
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
        rows.drop_frozen(db, month)
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
    months = rows.months_in(db, "approved", "scheduled")
    revoked = [(m, check_approval(db, settings, m, actor)) for m in months]
    return [(m, reason) for m, reason in revoked if reason]


# -- review and approval -------------------------------------------------------------------


@dataclass(frozen=True)
class Reviewed:
    """An issue submitted for review: by whom, and the folder of its preview."""

    month: str
    editor: str
    preview: Path  # build/issues/MONTH: one HTML file per variant


@dataclass(frozen=True)
class Approved:
    """An approval: who approved, who submitted it, the frozen version and its variants."""

    month: str
    approved_by: str
    editor: str | None
    version: str  # the rendered hash of what was frozen (and is what is sent)
    variants: int


def review(db: Database, settings: Settings, month: str, by: str) -> Reviewed:
    """Submit the issue for review; `by` names the staff account of its editor (a redacteur),
    who may not approve it (four-eyes)."""
    account = _account(db, by, "review")
    editor = actor(account)
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
        editor,
        "review",
        {
            "state": "review",
            "editor": editor,
            "reviewed_at": clock.utc_iso(),
            "reviewed_hash": issue.content_hash(),
        },
    )
    return Reviewed(month, account.name, settings.build_dir / "issues" / month)


def approve(db: Database, settings: Settings, month: str, by: str) -> Approved:
    """Approve exactly what renders now and freeze it; `by` names the staff account (an
    eindredacteur); refused for the account that submitted it under four-eyes."""
    account = _account(db, by, "approve")
    by = actor(account)
    check_approval(db, settings, month, by)
    row, state = _row(db, month), state_of(db, month)
    if state in APPROVED:
        approver = identity.shown(db, row.approved_by)
        raise WorkflowError(
            f"issue {month} is already {state}: {approver} approved it on "
            f"{nl_moment(row.approved_at)}; nothing changed"
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
    if settings.workflow.four_eyes and identity.same_account(db, by, row.editor):
        with transaction(db):
            audit.record(
                db,
                by,
                "approve-refused",
                mailing_id_for(month),
                reason="four-eyes: the editor cannot approve",
            )
        raise WorkflowError(
            f"issue {month}: {account.name} ({account.email}) submitted it for review and cannot "
            "also approve it "
            "([workflow] four_eyes); ask a colleague to run "
            f"'newsletter issue approve {month} --by NAME'"
        )
    built = build_issue(db, settings, month)
    rendered = built.rendered
    issue = rendered.issue
    if issue.content_hash() != row.reviewed_hash:
        reason = f"changed after {identity.shown(db, row.editor)} submitted it for review"
        revoke(db, month, by, reason)
        raise WorkflowError(
            f"issue {month} {reason}; it is a draft again: submit it again with "
            f"'newsletter issue review {month} --by NAME'"
        )
    digest = rendered_hash(rendered, settings)
    frozen = _freeze_variants(db, settings, rendered)
    # Errors of the preflight checks block an approval as they block a send. What is checked
    # is exactly what is frozen (every variant), so the send of this version finds it passed.
    gate.check(db, settings, rendered, "the issue was not approved")
    with transaction(db):  # the frozen version and the state change land together
        rows.freeze(db, month, ((v.key, v.html, v.text) for v in frozen), rendered.calendar)
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
            editor=row.editor,
        )
    editor = identity.shown(db, row.editor)
    return Approved(month, account.name, editor, digest, len(frozen))


def _freeze_variants(db: Database, settings: Settings, rendered: RenderedIssue) -> list[Variant]:
    """The standard variants, and those the current audience's theme choices need."""
    issue = rendered.issue
    keys = list(variant_keys(settings))
    for person in recipients(db, parse_segment(issue.audience, settings), issue.date):
        key = rendered.variant_key(person.province, person.themes, roles=person.roles)
        if key not in keys:
            keys.append(key)
    return [rendered.variant(key) for key in keys]


def frozen_variants(db: Database, month: str) -> dict[str, Variant]:
    return {v.variant: Variant(v.variant, v.html, v.text) for v in rows.frozen_variants(db, month)}


def approved_web_html(db: Database, month: str) -> str | None:
    """The frozen web version of an approved issue, for the archive; None if there is none."""
    frozen = rows.frozen_variant(db, month, WEB)
    return frozen.html if frozen else None


def approved_ics(db: Database, month: str, item_id: str) -> bytes | None:
    """A frozen .ics file of an approved issue, for the archive; None if there is none."""
    return rows.frozen_ics(db, month, item_id)


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
        holders=tuple(holders),  # an AV member's own variant renders from the snapshot
    )


# -- what is sent ----------------------------------------------------------------------------------


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
        if rendered_hash(built.rendered, settings) != row.approved_hash:
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
        return _frozen_rendered(db, settings, issue_from_snapshot(str(row.approved_issue)))
    if state in ("sending", "sent", "cancelled") and row.approved_issue:
        # Begun: the approved version goes on to the end, whatever was edited since.
        return _frozen_rendered(db, settings, issue_from_snapshot(row.approved_issue))
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
    if _row(db, month).state != state and state in ("sending", "sent", "cancelled"):
        _save(
            db,
            month,
            actor,
            "state",
            {"state": state, "scheduled_for": None, "schedule_missed_at": None},
        )


def erase_frozen(db: Database, settings: Settings, subject: privacy.Subject) -> int:
    """`forget`: a frozen (approved) version naming the person (a province block) goes. An
    issue not sent yet is a draft again, to be approved anew without them; of a sent one only
    the web version (which names nobody) is kept, for the archive."""
    if not subject.email:
        return 0
    # By address and by full name, also as the HTML escapes it.
    forms = {f for n in needles_for(subject.email, subject.name) for f in (n, str(escape(n)))}
    months = sorted({month for text in forms for month in rows.months_naming(db, text)})
    for month in months:
        if not _mailing_exists(db, month):
            revoke(db, month, "forget", "a person named in it was forgotten")
        else:
            for text in forms:
                rows.drop_variants_naming(db, month, text, keep=WEB)
    return len(months)
