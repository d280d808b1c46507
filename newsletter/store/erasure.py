"""One person's rows in the ledger, bounces and audit log, for the AVG duties: find, list, erase.

Also the scrub that follows an erasure, so erased rows do not linger in free pages or the WAL,
and the pending file erasures: what `forget` still has to clear from files after its commit.
Look-ups by address normalise it with newsletter.addresses.normalise_email here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from newsletter.addresses import normalise_email
from newsletter.store.db import dumps, loads


@dataclass(frozen=True)
class DeliveryRef:
    """A delivery to a person: its id and the Message-ID it went out with (if it did)."""

    id: int
    message_id: str | None


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values)) or "null"


def _rows(db: Database, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
    return [dict(row) for row in db.query(sql, list(args))]


def deliveries_to(db: Database, address: str, subscriber_id: int | None) -> list[DeliveryRef]:
    """Every delivery to this address or to this subscriber, by id."""
    rows = db.execute(
        "select id, message_id from deliveries where email = ? or subscriber_id = ? order by id",
        [normalise_email(address), subscriber_id],
    ).fetchall()
    return [DeliveryRef(row[0], row[1]) for row in rows]


def delivery_records(db: Database, delivery_ids: Sequence[int]) -> list[dict[str, Any]]:
    """These deliveries as a person's record shows them, with their mailing's subject."""
    return _rows(
        db,
        f"""select d.mailing_id, m.subject, d.email, d.variant, d.status, d.attempts,
            d.queued_at, d.first_attempt_at, d.sending_at, d.sent_at, d.next_attempt_at,
            d.message_id, d.envelope_from, d.last_reply
        from deliveries d left join mailings m on m.id = d.mailing_id
        where d.id in ({_marks(delivery_ids)}) order by d.id""",
        delivery_ids,
    )


def delete_deliveries(db: Database, delivery_ids: Sequence[int]) -> int:
    cursor = db.execute(
        f"delete from deliveries where id in ({_marks(delivery_ids)})", list(delivery_ids)
    )
    return int(cursor.rowcount)


def bounce_records(
    db: Database, subscriber_id: int | None, delivery_ids: Sequence[int]
) -> list[dict[str, Any]]:
    """The bounces of a subscriber or of these deliveries, by id."""
    return _rows(
        db,
        "select mailing_id, delivery_id, source, kind, reply, created_at, undone_at, "
        f"undone_by, undo_reason from bounces "
        f"where subscriber_id = ? or delivery_id in ({_marks(delivery_ids)}) order by id",
        [subscriber_id, *delivery_ids],
    )


def delete_bounces(db: Database, subscriber_id: int | None, delivery_ids: Sequence[int]) -> int:
    cursor = db.execute(
        f"delete from bounces where subscriber_id = ? or delivery_id in ({_marks(delivery_ids)})",
        [subscriber_id, *delivery_ids],
    )
    return int(cursor.rowcount)


def event_records(db: Database, subscriber_id: int | None) -> list[dict[str, Any]]:
    """The audit events about a subscriber, by id."""
    return _rows(
        db,
        "select at, actor, action, detail from events where subject = ? order by id",
        [f"subscriber:{subscriber_id}"],
    )


def delete_events(db: Database, subscriber_id: int | None, address: str) -> int:
    """Delete the events about a subscriber, and those elsewhere that name their address."""
    cursor = db.execute("delete from events where subject = ?", [f"subscriber:{subscriber_id}"])
    # Events about something else that name the person's address (a test copy sent to them).
    named = db.execute(
        "delete from events where detail is not null and json_valid(detail) "
        "and json_extract(detail, '$.to') = ?",
        [normalise_email(address)],
    )
    return int(cursor.rowcount) + int(named.rowcount)


def secure_delete(db: Database) -> None:
    """From now on deleted cells are overwritten with zeros (for this connection)."""
    db.execute("PRAGMA secure_delete = ON")


def scrub(db: Database) -> bool:
    """Empty the WAL, so no old copy of an erased row stays in it; False when another holds it.

    The deleted cells and freed pages were already zeroed (secure_delete), so the file is not
    vacuumed: a VACUUM holds the write lock for as long as it rewrites the whole store.
    """
    try:
        busy = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
    except sqlite3.OperationalError:
        return False
    return not busy


# -- pending file erasures ------------------------------------------------------------------


@dataclass(frozen=True)
class PendingErasure:
    """Files still to be cleared of a forgotten person; the row goes once they are."""

    id: int
    created_at: str
    needles: tuple[str, ...]  # the address and the name, as the files may hold them
    own_files: tuple[str, ...]  # their own outbox messages, relative to the instance folder


def add_pending(
    db: Database, needles: Sequence[str], own_files: Sequence[str], created_at: str
) -> int:
    """Record the file work of a forget (call it inside the transaction that erases the rows)."""
    detail = dumps({"needles": list(needles), "own_files": list(own_files)})
    cursor = db.execute(
        "insert into pending_erasures (created_at, detail) values (?, ?)", [created_at, detail]
    )
    return int(cursor.lastrowid or 0)


def pending(db: Database) -> list[PendingErasure]:
    """Every file erasure not finished yet, oldest first."""
    found = []
    for row in db.query("select id, created_at, detail from pending_erasures order by id"):
        detail = loads(row["detail"], {})
        found.append(
            PendingErasure(
                int(row["id"]),
                str(row["created_at"]),
                tuple(detail.get("needles", ())),
                tuple(detail.get("own_files", ())),
            )
        )
    return found


def finish_pending(db: Database, pending_id: int) -> None:
    """The files are clear: the record (which names the person) goes."""
    db.execute("delete from pending_erasures where id = ?", [pending_id])
