"""Mailings and their deliveries (the ledger's rows): every query the delivery engine makes.

A mailing is one message to many (an issue, an onboarding step); a delivery is one row per
(mailing, recipient). Each writing function commits before it returns (or joins the caller's
transaction), so a state change is on disk before the next step acts on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from sqlite_utils import Database

from newsletter.store.db import transaction

OPEN = ("queued", "sending", "deferred", "in-doubt")
DONE = ("sent", "failed", "skipped", "cancelled")
FINISHED = ("sent", "sent-with-failures", "cancelled")


def issue_mailing_id(month: str) -> str:
    """The mailing of a monthly issue: issue-YYYY-MM."""
    return f"issue-{month}"


@dataclass(frozen=True)
class Mailing:
    id: str
    kind: str
    issue_month: str | None
    subject: str
    content_hash: str
    status: str
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None


@dataclass(frozen=True)
class Delivery:
    """One ledger row: one message of a mailing to one person."""

    id: int
    mailing_id: str
    subscriber_id: int
    email: str
    variant: str
    status: str
    message_id: str
    attempts: int = 0
    queued_at: str | None = None
    sending_at: str | None = None
    first_attempt_at: str | None = None
    next_attempt_at: str | None = None
    sent_at: str | None = None
    last_reply: str | None = None
    duration_ms: float | None = None
    envelope_from: str | None = None

    def as_row(self) -> dict[str, object]:
        """The row as a mapping, for message sources (build(row, person))."""
        return dict(vars(self))


@dataclass(frozen=True)
class Addressee:
    """Who a delivery goes to, as the engine needs it; status "erased" when forgotten."""

    id: int
    email: str
    name: str
    salutation: str | None
    status: str

    def as_row(self) -> dict[str, object]:
        return dict(vars(self))


@dataclass(frozen=True)
class Outcome:
    """What happened to one message; the engine commits it with the next claim."""

    row_id: int
    status: str  # sent, deferred, failed, queued (not tried: the relay was unreachable)
    reply: str
    duration_ms: float | None = None
    attempts: int = 0
    first_attempt_at: str | None = None
    subscriber_id: int = 0
    mailing_id: str = ""
    next_attempt_at: str | None = None  # for deferred
    first_attempt_before: str | None = None  # for queued: as it was before this claim
    bounce: str = ""  # failed: hard, policy (5.7.x: about the sender) or soft (gave up)


def _typed(cls: Any, row: dict[str, Any]) -> Any:
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in row.items() if k in names})


# -- mailings ----------------------------------------------------------------------------------


def get_mailing(db: Database, mailing_id: str) -> Mailing | None:
    row = next(iter(db.table("mailings").rows_where("id = ?", [mailing_id])), None)
    return _typed(Mailing, dict(row)) if row else None


def insert_mailing(db: Database, mailing: Mailing) -> None:
    """A new mailing row (committed)."""
    with transaction(db):
        db.table("mailings").insert(vars(mailing))


def set_content_hash(db: Database, mailing_id: str, content_hash: str) -> None:
    with transaction(db):
        db.table("mailings").update(mailing_id, {"content_hash": content_hash})


def set_status(db: Database, mailing_id: str, status: str, finished_at: str | None) -> None:
    """The mailing's status (finished_at with a final one); cancelling cancels what is open."""
    values: dict[str, object] = {"status": status}
    if finished_at is not None:
        values["finished_at"] = finished_at
    with transaction(db):
        db.table("mailings").update(mailing_id, values)
        if status == "cancelled":
            db.execute(
                "update deliveries set status = 'cancelled' where mailing_id = ? "
                "and status in ('queued', 'deferred', 'in-doubt')",
                [mailing_id],
            )


def issue_months_sending(db: Database) -> list[str]:
    """Months of issue mailings still going out (tick's retries), oldest first."""
    return [
        str(row["issue_month"])
        for row in db.query(
            "select issue_month from mailings where kind = 'issue' and status = 'sending' "
            "order by issue_month"
        )
    ]


def issue_mailings_under_way(db: Database) -> list[Mailing]:
    """Issue mailings sending or paused, for `newsletter status`."""
    return [
        _typed(Mailing, dict(row))
        for row in db.query(
            "select * from mailings where kind = 'issue' "
            "and status in ('sending', 'paused') order by id"
        )
    ]


# -- deliveries --------------------------------------------------------------------------------


def queue(db: Database, rows: Iterable[dict[str, object]]) -> None:
    """Insert queued rows; a recipient who already has a row keeps it (unique per mailing)."""
    with transaction(db):
        db.table("deliveries").insert_all(rows, ignore=True, batch_size=1000)


def count(db: Database, mailing_id: str, *statuses: str) -> int:
    marks = ",".join("?" * len(statuses))
    return db.table("deliveries").count_where(
        f"mailing_id = ? and status in ({marks})", [mailing_id, *statuses]
    )


def counts(db: Database, mailing_id: str) -> dict[str, int]:
    return {
        r["status"]: r["n"]
        for r in db.query(
            "select status, count(*) n from deliveries where mailing_id = ? group by status",
            [mailing_id],
        )
    }


def active_subscribers(db: Database) -> int:
    """Everyone active: roughly the size of a mailing not queued yet."""
    return db.table("subscribers").count_where("status = 'active'")


def mark_in_doubt(db: Database, mailing_id: str) -> int:
    """Rows left `sending` by a process that died: whether they went out is unknown."""
    with transaction(db):
        cursor = db.execute(
            "update deliveries set status = 'in-doubt' where mailing_id = ? and status = 'sending'",
            [mailing_id],
        )
    return int(cursor.rowcount)


def pending(
    db: Database, mailing_id: str, include_in_doubt: bool, now: str, chunk: int = 500
) -> Iterator[Delivery]:
    """What is due at `now`, in id order and in chunks, so memory does not grow with the list."""
    statuses = "'queued', 'in-doubt'" if include_in_doubt else "'queued'"
    last = 0
    while True:
        rows = list(
            db.query(
                f"""select * from deliveries where mailing_id = ? and id > ?
                and (status in ({statuses}) or (status = 'deferred' and next_attempt_at <= ?))
                order by id limit ?""",
                [mailing_id, last, now, chunk],
            )
        )
        if not rows:
            return
        yield from (_typed(Delivery, row) for row in rows)
        last = int(rows[-1]["id"])


def next_retry(db: Database, mailing_id: str) -> str | None:
    row = next(
        db.query(
            "select min(next_attempt_at) t from deliveries "
            "where mailing_id = ? and status = 'deferred'",
            [mailing_id],
        )
    )
    return row["t"]


def in_doubt_emails(db: Database, mailing_id: str) -> list[str]:
    return [
        str(r["email"])
        for r in db.query(
            "select email from deliveries where mailing_id = ? and status = 'in-doubt' order by id",
            [mailing_id],
        )
    ]


def addressee(db: Database, subscriber_id: int) -> Addressee:
    """The person a delivery goes to; one forgotten meanwhile comes back as status "erased"."""
    row = db.execute(
        "select id, email, name, salutation, status from subscribers where id = ?", [subscriber_id]
    ).fetchone()
    if row is None:
        return Addressee(subscriber_id, "", "", "", "erased")
    return Addressee(*row)


@dataclass(frozen=True)
class Committed:
    """What a commit's claims came to: the rows now `sending`, and those skipped because their
    person is no longer subscribed (id -> the reply recorded)."""

    claimed: set[int]
    skipped: dict[int, str]


def commit(
    db: Database,
    outcomes: Iterable[Outcome],
    claims: Iterable[tuple[Delivery, str]],
    stamp: str,
    subscribed_only: bool = False,
) -> Committed:
    """Record outcomes and claim the next rows as `sending` (with their envelope sender), all
    in one transaction. A row cancelled meanwhile is not claimed; with subscribed_only, nor is
    one whose person unsubscribed or was forgotten meanwhile: it is skipped, in the same
    transaction, so an unsubscribe that lands while the message before it is handed over is
    honoured."""
    claimed: set[int] = set()
    skipped: dict[int, str] = {}
    with transaction(db):
        for o in outcomes:
            _record(db, o, stamp)
        for claim, envelope_from in claims:
            if subscribed_only:
                person = db.execute(
                    "select status from subscribers where id = ?", [claim.subscriber_id]
                ).fetchone()
                status = person[0] if person else "erased"
                if status != "active":
                    reply = f"subscriber is {status}"
                    cursor = db.execute(
                        "update deliveries set status = 'skipped', last_reply = ? where id = ? "
                        "and status in ('queued', 'deferred', 'in-doubt')",
                        [reply, claim.id],
                    )
                    gone = not db.execute(
                        "select 1 from deliveries where id = ?", [claim.id]
                    ).fetchone()  # forgotten: their rows went with them
                    if cursor.rowcount or gone:
                        skipped[claim.id] = reply
                    continue
            cursor = db.execute(
                "update deliveries set status = 'sending', attempts = attempts + 1, "
                "sending_at = ?, first_attempt_at = coalesce(first_attempt_at, ?), "
                "envelope_from = ? where id = ? and status in ('queued', 'deferred', 'in-doubt')",
                [stamp, stamp, envelope_from, claim.id],
            )
            if cursor.rowcount:
                claimed.add(claim.id)
    return Committed(claimed, skipped)


def _record(db: Database, o: Outcome, stamp: str) -> None:
    if o.status == "sent":
        db.execute(
            "update deliveries set status = 'sent', last_reply = ?, sent_at = ?, "
            "duration_ms = ? where id = ?",
            [o.reply[:500], stamp, o.duration_ms, o.row_id],
        )
    elif o.status == "failed":
        db.execute(
            "update deliveries set status = 'failed', last_reply = ?, "
            "duration_ms = ?, next_attempt_at = null where id = ?",
            [o.reply[:500], o.duration_ms, o.row_id],
        )
        if o.bounce and db.execute("select 1 from deliveries where id = ?", [o.row_id]).fetchone():
            # (no row: the person was forgotten while in flight; keep nothing about them)
            db.table("bounces").insert(
                {
                    "subscriber_id": o.subscriber_id,
                    "delivery_id": o.row_id,
                    "mailing_id": o.mailing_id,
                    "source": "smtp",
                    "kind": o.bounce,
                    "reply": o.reply[:500],
                    "created_at": stamp,
                }
            )
    elif o.status == "deferred":
        db.execute(
            "update deliveries set status = 'deferred', last_reply = ?, "
            "duration_ms = ?, next_attempt_at = ? where id = ?",
            [o.reply[:500], o.duration_ms, o.next_attempt_at, o.row_id],
        )
    elif o.status == "skipped":
        db.execute(
            "update deliveries set status = 'skipped', last_reply = ? where id = ?",
            [o.reply, o.row_id],
        )
    elif o.status == "in-doubt":  # the relay may have it: the policy decides next run
        db.execute(
            "update deliveries set status = 'in-doubt', last_reply = ?, duration_ms = ? "
            "where id = ?",
            [o.reply[:500], o.duration_ms, o.row_id],
        )
    elif o.status == "queued":  # never reached the relay: as if not tried
        db.execute(
            "update deliveries set status = 'queued', attempts = attempts - 1, "
            "first_attempt_at = ?, last_reply = ? where id = ?",
            [o.first_attempt_before, o.reply[:500], o.row_id],
        )
    else:
        raise ValueError(o.status)


# -- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slow:
    email: str
    duration_ms: float
    last_reply: str | None


def per_variant_counts(db: Database, mailing_id: str) -> list[tuple[str, str, int]]:
    """(variant, status, n), by variant."""
    return [
        (str(r["variant"]), str(r["status"]), int(r["n"]))
        for r in db.query(
            "select variant, status, count(*) n from deliveries where mailing_id = ? "
            "group by variant, status order by variant",
            [mailing_id],
        )
    ]


def slowest(db: Database, mailing_id: str, limit: int = 5) -> list[Slow]:
    return [
        Slow(r["email"], r["duration_ms"], r["last_reply"])
        for r in db.query(
            "select email, duration_ms, last_reply from deliveries where mailing_id = ? and "
            "duration_ms is not null order by duration_ms desc limit ?",
            [mailing_id, limit],
        )
    ]


def error_replies(db: Database, mailing_id: str, limit: int = 10) -> list[tuple[str, int]]:
    """(reply, n) of failed and deferred messages, most frequent first."""
    return [
        (r["reply"], int(r["n"]))
        for r in db.query(
            "select last_reply as reply, count(*) n from deliveries where mailing_id = ? and "
            "status in ('failed', 'deferred') group by last_reply order by n desc, reply limit ?",
            [mailing_id, limit],
        )
    ]


# A bounce or complaint counts for a mailing when the relay refused the message while we sent
# it, or when the report is tied to our delivery by what only we can write: the signed VERP
# address or our (keyed) Message-ID. A report that merely names a reader (Final-Recipient, its
# own From) is kept as evidence and counts nowhere. Rows from before `tied_by` existed count.
TIED = "(source = 'smtp' or tied_by is null or tied_by in ('verp', 'message-id'))"


def bounce_kinds(db: Database, mailing_id: str) -> dict[str, int]:
    """Deliveries per bounce kind (complaint included) tied to us; once per delivery and kind."""
    return {
        r["kind"]: r["n"]
        for r in db.query(
            "select kind, count(distinct delivery_id) n from bounces where mailing_id = ? "
            f"and {TIED} group by kind",
            [mailing_id],
        )
    }


def untied_reports(db: Database, mailing_id: str) -> int:
    """Bounce and complaint reports naming a reader of this mailing but not tied to us."""
    row = db.execute(
        f"select count(*) from bounces where mailing_id = ? and not {TIED}", [mailing_id]
    ).fetchone()
    return int(row[0])
