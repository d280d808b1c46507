"""The editorial workflow's rows: issue states, frozen (approved) versions, schedules, passes.

Tables: issue_workflow (one row per issue month), approved_variants and approved_calendar (the
frozen rendering that is sent and archived), preflight_passes (versions that passed the check).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields

from sqlite_utils import Database

from newsletter.addresses import normalise_email
from newsletter.store.db import transaction


@dataclass(frozen=True)
class IssueWorkflow:
    """An issue's workflow row; a month without one is a draft."""

    month: str
    state: str = "draft"
    editor: str | None = None
    reviewed_at: str | None = None
    reviewed_hash: str | None = None
    approved_by: str | None = None
    approved_at: str | None = None
    approved_hash: str | None = None
    approved_content_hash: str | None = None
    approved_items: str | None = None  # JSON {item id: content hash}
    approved_subject: str | None = None
    approved_issue: str | None = None  # JSON snapshot of the approved issue
    scheduled_for: str | None = None
    schedule_missed_at: str | None = None
    revoked_reason: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class FrozenVariant:
    month: str
    variant: str
    html: str
    text: str


@dataclass(frozen=True)
class PreflightPass:
    key: str
    month: str
    checked_at: str
    summary: str
    names: str  # JSON list
    warnings: str  # JSON list of findings


@dataclass(frozen=True)
class Reader:
    """A subscriber as a test copy renders them."""

    id: int
    email: str
    name: str
    salutation: str | None
    province: str | None
    themes: str | None  # JSON list


_COLUMNS = {f.name for f in fields(IssueWorkflow)}


# -- issue rows --------------------------------------------------------------------------------


def issue_row(db: Database, month: str) -> IssueWorkflow:
    found = next(iter(db.table("issue_workflow").rows_where("month = ?", [month])), None)
    if found is None:
        return IssueWorkflow(month)
    return IssueWorkflow(**{k: v for k, v in dict(found).items() if k in _COLUMNS})


def upsert_issue(db: Database, row: IssueWorkflow) -> None:
    """Write the row (inside the caller's transaction, with its audit event)."""
    db.table("issue_workflow").upsert(vars(row), pk="month")


def months_in(db: Database, *states: str) -> list[str]:
    """Months whose row is in one of these states, in order."""
    marks = ",".join("?" * len(states))
    return [
        str(r["month"])
        for r in db.query(
            f"select month from issue_workflow where state in ({marks}) order by month", states
        )
    ]


def all_months(db: Database) -> set[str]:
    return {str(r["month"]) for r in db.query("select month from issue_workflow")}


def due_schedules(db: Database, now: str) -> list[tuple[str, str]]:
    """(month, scheduled_for) of scheduled issues due at `now` (UTC ISO), earliest first."""
    return [
        (str(r["month"]), str(r["scheduled_for"]))
        for r in db.query(
            "select month, scheduled_for from issue_workflow where state = 'scheduled' "
            "and scheduled_for <= ? order by scheduled_for",
            [now],
        )
    ]


# -- the frozen version ------------------------------------------------------------------------


def drop_frozen(db: Database, month: str) -> None:
    """Forget the frozen version (inside the caller's transaction)."""
    db.table("approved_variants").delete_where("month = ?", [month])
    db.table("approved_calendar").delete_where("month = ?", [month])


def freeze(
    db: Database,
    month: str,
    variants: Iterable[tuple[str, str, str]],
    calendar: Mapping[str, bytes],
) -> None:
    """Replace the frozen version: (key, html, text) per variant and item id -> .ics (inside
    the caller's transaction, so it lands with the state change)."""
    drop_frozen(db, month)
    db.table("approved_variants").insert_all(
        {"month": month, "variant": key, "html": html, "text": text} for key, html, text in variants
    )
    db.table("approved_calendar").insert_all(
        {"month": month, "item_id": item_id, "ics": data} for item_id, data in calendar.items()
    )


def frozen_variants(db: Database, month: str) -> list[FrozenVariant]:
    return [
        FrozenVariant(month, str(r["variant"]), str(r["html"]), str(r["text"]))
        for r in db.table("approved_variants").rows_where("month = ?", [month])
    ]


def frozen_variant(db: Database, month: str, variant: str) -> FrozenVariant | None:
    """One frozen variant; None if there is none (or no workflow tables yet)."""
    if "approved_variants" not in db.table_names():
        return None
    row = next(
        iter(
            db.table("approved_variants").rows_where("month = ? and variant = ?", [month, variant])
        ),
        None,
    )
    return FrozenVariant(month, variant, str(row["html"]), str(row["text"])) if row else None


def frozen_ics(db: Database, month: str, item_id: str) -> bytes | None:
    if "approved_calendar" not in db.table_names():
        return None
    row = db.execute(
        "select ics from approved_calendar where month = ? and item_id = ?", [month, item_id]
    ).fetchone()
    return bytes(row[0]) if row else None


def months_naming(db: Database, text: str) -> list[str]:
    """Months whose frozen version contains `text` (an address) in a variant."""
    like = f"%{text}%"
    return [
        str(r["month"])
        for r in db.query(
            "select distinct month from approved_variants where html like ? or text like ?",
            [like, like],
        )
    ]


def drop_variants_naming(db: Database, month: str, text: str, keep: str) -> None:
    """Delete the month's frozen variants containing `text`, except variant `keep`."""
    like = f"%{text}%"
    with transaction(db):
        db.execute(
            "delete from approved_variants where month = ? and variant != ? "
            "and (html like ? or text like ?)",
            [month, keep, like, like],
        )


# -- preflight passes --------------------------------------------------------------------------


def preflight_pass(db: Database, key: str) -> PreflightPass | None:
    row = next(iter(db.table("preflight_passes").rows_where("key = ?", [key])), None)
    return PreflightPass(**dict(row)) if row else None


def record_pass(db: Database, passed: PreflightPass) -> None:
    """Remember a passing check (committed: a crash after it costs nothing but a re-check)."""
    with transaction(db):
        db.table("preflight_passes").upsert(vars(passed), pk="key")


# -- test copies and status --------------------------------------------------------------------


def reader(db: Database, email: str) -> Reader | None:
    """The subscriber with this address (normalised here), to render a test copy as."""
    row = next(
        iter(db.table("subscribers").rows_where("lower(email) = ?", [normalise_email(email)])),
        None,
    )
    if row is None:
        return None
    return Reader(
        row["id"], row["email"], row["name"], row["salutation"], row["province"], row["themes"]
    )


def latest_event_at(db: Database, action: str) -> str | None:
    """The latest moment (by time, not by id) an event with this action was recorded."""
    value = db.execute("select max(at) from events where action = ?", [action]).fetchone()[0]
    return str(value) if value is not None else None


def open_questions(db: Database) -> int | None:
    """Open conversations in the inbox (None before the inbox tables exist)."""
    if "conversations" not in db.table_names():
        return None
    return int(
        db.execute("select count(*) from conversations where status in ('new', 'open')").fetchone()[
            0
        ]
    )


def quarantined(db: Database) -> int:
    if "inbound" not in db.table_names():
        return 0
    return int(
        db.execute("select count(*) from inbound where status = 'quarantined'").fetchone()[0]
    )


def has_table(db: Database, name: str) -> bool:
    return name in db.table_names()
