"""The delivery ledger: one row per (mailing, recipient) and every state change committed.

queued -> sending -> sent | deferred | failed ; sending left by a dead process -> in-doubt;
skipped (no longer subscribed when its turn came) and cancelled (the mailing was cancelled).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Delivery
from newsletter.errors import NewsletterError
from newsletter.store import audit, transaction

OPEN = ("queued", "sending", "deferred", "in-doubt")
DONE = ("sent", "failed", "skipped", "cancelled")


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


def create_mailing(
    db: Database,
    mailing_id: str,
    kind: str,
    subject: str,
    content_hash: str,
    issue_month: str | None = None,
) -> dict[str, object]:
    """The mailing row, made once; a later call returns what is there."""
    mailings = db.table("mailings")
    existing = next(iter(mailings.rows_where("id = ?", [mailing_id])), None)
    if existing is None:
        now = clock.utc_iso()
        with transaction(db):
            mailings.insert(
                {
                    "id": mailing_id,
                    "kind": kind,
                    "issue_month": issue_month,
                    "subject": subject,
                    "content_hash": content_hash,
                    "status": "sending",
                    "created_at": now,
                    "started_at": now,
                }
            )
        existing = mailings.get(mailing_id)
    return dict(existing)


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


def mark_in_doubt(db: Database, mailing_id: str) -> int:
    """Rows left `sending` by a process that died: whether they went out is unknown."""
    with transaction(db):
        cursor = db.execute(
            "update deliveries set status = 'in-doubt' where mailing_id = ? and status = 'sending'",
            [mailing_id],
        )
    return int(cursor.rowcount)


def pending(
    db: Database, mailing_id: str, include_in_doubt: bool, chunk: int = 500
) -> Iterator[dict[str, object]]:
    """What is due now, in id order and in chunks, so memory does not grow with the list."""
    statuses = "'queued', 'in-doubt'" if include_in_doubt else "'queued'"
    now = clock.utc_iso()
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
        yield from rows
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


def deferral(
    policy: Delivery, attempts: int, first_attempt_at: str | None, now: datetime
) -> tuple[str, str | None]:
    """(status, next attempt): deferred with doubling backoff, or failed past the window."""
    first = datetime.fromisoformat(first_attempt_at) if first_attempt_at else now
    if now - first >= timedelta(hours=policy.retry_window_hours):
        return "failed", None
    wait = min(policy.backoff_minutes * 2 ** max(attempts - 1, 0), policy.backoff_max_minutes)
    return "deferred", clock.utc_iso(now + timedelta(minutes=wait))


def commit(
    db: Database,
    outcomes: Iterable[Outcome],
    claims: Iterable[tuple[dict[str, object], str]] = (),
) -> set[int]:
    """Record outcomes and claim the next rows as `sending` (with their envelope sender),
    all in one transaction.

    One commit per message keeps the promise: `sending` is on disk before its SMTP transaction
    starts and `sent` right after the 250 (at the latest with the next claim, or at the end).
    Returns the ids actually claimed: a row cancelled or skipped meanwhile is not.
    """
    claimed: set[int] = set()
    stamp = clock.utc_iso()
    with transaction(db):
        for o in outcomes:
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
                if (
                    o.bounce
                    and db.execute("select 1 from deliveries where id = ?", [o.row_id]).fetchone()
                ):
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
        for claim, envelope_from in claims:
            cursor = db.execute(
                "update deliveries set status = 'sending', attempts = attempts + 1, "
                "sending_at = ?, first_attempt_at = coalesce(first_attempt_at, ?), "
                "envelope_from = ? where id = ? and status in ('queued', 'deferred', 'in-doubt')",
                [stamp, stamp, envelope_from, claim["id"]],
            )
            if cursor.rowcount:
                claimed.add(int(str(claim["id"])))
    return claimed


def mailing_status(db: Database, mailing_id: str) -> str:
    row = next(db.query("select status from mailings where id = ?", [mailing_id]), None)
    if row is None:
        raise NewsletterError(f"there is no mailing {mailing_id}; send it first")
    return str(row["status"])


def set_mailing_status(db: Database, mailing_id: str, status: str) -> None:
    values: dict[str, object] = {"status": status}
    if status in {"sent", "sent-with-failures", "cancelled"}:
        values["finished_at"] = clock.utc_iso()
    with transaction(db):
        db.table("mailings").update(mailing_id, values)
        if status == "cancelled":
            db.execute(
                "update deliveries set status = 'cancelled' where mailing_id = ? "
                "and status in ('queued', 'deferred', 'in-doubt')",
                [mailing_id],
            )


def finish_if_done(db: Database, mailing_id: str) -> str:
    """Mark the mailing sent once nothing is open; returns its status."""
    status = mailing_status(db, mailing_id)
    if status in {"paused", "cancelled"} or count(db, mailing_id, *OPEN):
        return status
    final = "sent-with-failures" if count(db, mailing_id, "failed") else "sent"
    set_mailing_status(db, mailing_id, final)
    return final


def mailing_report(db: Database, mailing_id: str) -> dict[str, object]:
    """What happened to a mailing, for `issue report`: counts, per province, slow, errors."""
    mailing = next(db.query("select * from mailings where id = ?", [mailing_id]), None)
    if mailing is None:
        raise NewsletterError(f"there is no mailing {mailing_id}; send it first")
    per_province: dict[str, dict[str, int]] = {}
    for row in db.query(
        "select variant, status, count(*) n from deliveries where mailing_id = ? "
        "group by variant, status order by variant",
        [mailing_id],
    ):
        province = str(row["variant"]).partition(":")[0]  # "GLD:a,b" is GLD less some BAC's
        counts_ = per_province.setdefault(province, {})
        counts_[row["status"]] = counts_.get(row["status"], 0) + row["n"]
    slowest = list(
        db.query(
            "select email, duration_ms, last_reply from deliveries where mailing_id = ? and "
            "duration_ms is not null order by duration_ms desc limit 5",
            [mailing_id],
        )
    )
    errors = list(
        db.query(
            "select last_reply as reply, count(*) n from deliveries where mailing_id = ? and "
            "status in ('failed', 'deferred') group by last_reply order by n desc, reply limit 10",
            [mailing_id],
        )
    )
    in_doubt = [
        r["email"]
        for r in db.query(
            "select email from deliveries where mailing_id = ? and status = 'in-doubt'",
            [mailing_id],
        )
    ]
    return {
        "mailing": mailing_id,
        "status": mailing["status"],
        "subject": mailing["subject"],
        "started_at": mailing["started_at"],
        "finished_at": mailing["finished_at"],
        "counts": counts(db, mailing_id),
        "per_province": per_province,
        "slowest": slowest,
        "errors": errors,
        "in_doubt": in_doubt,
        "next_retry": next_retry(db, mailing_id),
        **bounce_rates(db, mailing_id),
    }


COMPLAINT_WARNING = 0.001  # above 0.1 % complaints a mailing gets a warning
HARD_BOUNCE_WARNING = 0.02  # and above 2 % hard bounces


def bounce_rates(db: Database, mailing_id: str) -> dict[str, object]:
    """Bounces per kind (refused while sending, or reported back) and complaints, with warnings.

    Rates are per message sent or failed; a delivery counts once per kind however many reports.
    """
    kinds = {
        r["kind"]: r["n"]
        for r in db.query(
            "select kind, count(distinct delivery_id) n from bounces where mailing_id = ? "
            "group by kind",
            [mailing_id],
        )
    }
    complaints = kinds.pop("complaint", 0)
    tried = count(db, mailing_id, "sent", "failed")
    warnings = []
    if tried and complaints / tried > COMPLAINT_WARNING:
        warnings.append(
            f"complaints {complaints / tried:.2%} of {tried} messages (above "
            f"{COMPLAINT_WARNING:.1%}): check the list's consent and the unsubscribe link"
        )
    hard = kinds.get("hard", 0)
    if tried and hard / tried > HARD_BOUNCE_WARNING:
        warnings.append(
            f"hard bounces {hard / tried:.2%} of {tried} messages (above "
            f"{HARD_BOUNCE_WARNING:.0%}): the list needs cleaning before the next mailing"
        )
    return {"bounces": kinds, "complaints": complaints, "warnings": warnings}


def pending_count(db: Database, mailing_id: str) -> int:
    """Roughly what a send will do now: open rows, or everyone active for a new mailing."""
    if next(db.query("select 1 from mailings where id = ?", [mailing_id]), None) is None:
        return db.table("subscribers").count_where("status = 'active'")
    return count(db, mailing_id, *OPEN)


def change_mailing(db: Database, mailing_id: str, action: str, actor: str = "cli") -> str:
    """pause, resume or cancel a mailing; returns what was done, in a sentence."""
    status = mailing_status(db, mailing_id)
    allowed = {"pause": {"sending"}, "resume": {"paused"}, "cancel": {"sending", "paused"}}
    if status not in allowed[action]:
        raise NewsletterError(
            f"{mailing_id} is {status}; only a mailing that is "
            f"{' or '.join(sorted(allowed[action]))} can be {action}d"
        )
    new = {"pause": "paused", "resume": "sending", "cancel": "cancelled"}[action]
    set_mailing_status(db, mailing_id, new)
    with transaction(db):
        audit.record(db, actor, action, mailing_id)
    open_rows = count(db, mailing_id, *OPEN)
    if action == "cancel":
        dropped = count(db, mailing_id, "cancelled")
        return f"{mailing_id} cancelled; {dropped} messages will not be sent"
    if action == "pause":
        return f"{mailing_id} paused; {open_rows} messages wait for 'newsletter issue resume'"
    return f"{mailing_id} may go on; 'newsletter issue send' (or tick) sends the {open_rows} left"
