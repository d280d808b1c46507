"""The contact mailbox's repository: inbound messages, their verdicts, and the bounces they record.

Tables: `inbound` (one row per received message, exactly once), `inbox_state` (where each source
was read up to), and on behalf of processing the `bounces` a verdict records, the `deliveries` a
report is tied to and the subscriber status a bounce policy changes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from newsletter.addresses import normalise_email
from newsletter.clock import utc_iso
from newsletter.store.db import transaction

STATUSES = ("new", "processed", "quarantined")
ERASED = "erased by subscribers forget"


@dataclass(frozen=True)
class NewMessage:
    """One received message as `store_message` commits it (raw None: oversize, not kept)."""

    source: str
    source_uid: str
    uidvalidity: int
    message_id: str | None
    from_address: str
    subject: str
    received_at: str  # UTC ISO
    fetched_at: str  # UTC ISO
    size_bytes: int
    raw: bytes | None
    raw_purge_after: str | None
    status: str
    reason: str | None


@dataclass(frozen=True)
class SourceState:
    """How far one mailbox source was read (IMAP: its UIDVALIDITY and the last UID stored)."""

    source: str
    uidvalidity: int
    last_uid: int


@dataclass(frozen=True)
class InboundHeader:
    """What the `inbound` row knows of a message without its bytes."""

    id: int
    message_id: str | None
    from_address: str | None
    subject: str | None
    received_at: str | None


@dataclass(frozen=True)
class InboundSummary:
    """One message from a person, as `subscribers show` lists it."""

    id: int
    source: str
    received_at: str | None
    subject: str | None
    status: str
    reason: str | None


@dataclass(frozen=True)
class DeliveryRef:
    """The delivery a report is about."""

    id: int
    subscriber_id: int
    mailing_id: str
    email: str


@dataclass(frozen=True)
class SubscriberRef:
    """The subscriber an inbound message comes from."""

    id: int
    email: str
    name: str | None
    status: str


@dataclass(frozen=True)
class Bounce:
    """One `bounces` row recorded from an inbound report (DSN or ARF)."""

    subscriber_id: int
    delivery_id: int
    mailing_id: str
    source: str  # dsn, arf
    kind: str  # hard, soft, policy, delayed, complaint
    reply: str
    created_at: str
    inbound_id: int
    tied_by: str


# -- storing what a source hands over ----------------------------------------------------------


def stored_from_source(db: Database, source: str, uidvalidity: int, uid: str) -> int | None:
    """The id of the message this source stored under this UID before, if any."""
    row = db.execute(
        "select id from inbound where source = ? and uidvalidity = ? and source_uid = ?",
        [source, uidvalidity, uid],
    ).fetchone()
    return int(row[0]) if row else None


def stored_with_message_id(db: Database, message_id: str) -> int | None:
    """The id of the message stored with this Message-ID, if any."""
    row = db.execute("select id from inbound where message_id = ?", [message_id]).fetchone()
    return int(row[0]) if row else None


def add_message(db: Database, message: NewMessage) -> int | None:
    """Commit one message; None when a unique index says it was stored a moment ago."""
    row = {
        "source": message.source,
        "source_uid": message.source_uid,
        "uidvalidity": message.uidvalidity,
        "message_id": message.message_id,
        "from_address": message.from_address,
        "subject": message.subject,
        "received_at": message.received_at,
        "fetched_at": message.fetched_at,
        "size_bytes": message.size_bytes,
        "raw": message.raw,
        "raw_purge_after": message.raw_purge_after,
        "status": message.status,
        "reason": message.reason,
    }
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    try:
        with transaction(db):
            cursor = db.execute(
                f"insert into inbound ({columns}) values ({marks})", list(row.values())
            )
    except sqlite3.IntegrityError:  # another fetch stored it a moment ago
        return None
    return cursor.lastrowid


def source_state(db: Database, source: str) -> SourceState | None:
    row = db.execute(
        "select uidvalidity, last_uid from inbox_state where source = ?", [source]
    ).fetchone()
    return SourceState(source, int(row[0]), int(row[1])) if row else None


def save_source_state(
    db: Database, source: str, uidvalidity: int, last_uid: int, now: datetime
) -> None:
    with transaction(db):
        db.table("inbox_state").upsert(
            {
                "source": source,
                "uidvalidity": uidvalidity,
                "last_uid": last_uid,
                "fetched_at": utc_iso(now),
            },
            pk="source",
        )


def purge_raw(db: Database, now: datetime) -> int:
    """Clear the raw bytes of messages past their retention; returns how many were cleared."""
    with transaction(db):
        cursor = db.execute(
            "update inbound set raw = null, raw_purged_at = ? "
            "where raw is not null and raw_purge_after <= ?",
            [utc_iso(now), utc_iso(now)],
        )
    return cursor.rowcount


# -- reading ----------------------------------------------------------------------------------


def new_message_ids(db: Database) -> list[int]:
    """Every `inbound` id still waiting for classification (status `new`), oldest first."""
    return [r[0] for r in db.execute("select id from inbound where status = 'new' order by id")]


def raw_message(db: Database, inbound_id: int) -> bytes | None:
    """The message as received, or None when it was purged or never kept (oversize)."""
    row = db.execute("select raw from inbound where id = ?", [inbound_id]).fetchone()
    return bytes(row[0]) if row and row[0] is not None else None


def header(db: Database, inbound_id: int) -> InboundHeader | None:
    row = db.execute(
        "select id, message_id, from_address, subject, received_at from inbound where id = ?",
        [inbound_id],
    ).fetchone()
    return InboundHeader(int(row[0]), row[1], row[2], row[3], row[4]) if row else None


def outcome(db: Database, inbound_id: int) -> str | None:
    """What processing did with the message (JSON), or None before it was processed."""
    row = db.execute("select outcome from inbound where id = ?", [inbound_id]).fetchone()
    return str(row[0]) if row and row[0] is not None else None


def messages_for_staff(db: Database) -> list[int]:
    """Every processed message of kind `message` (questions, forwards ...), oldest first."""
    return [
        r[0]
        for r in db.execute(
            "select id from inbound where status = 'processed' and kind = 'message' order by id"
        )
    ]


# -- processing -------------------------------------------------------------------------------


def set_status(db: Database, inbound_id: int, status: str, reason: str = "") -> None:
    """Mark a message processed or quarantined (the classifier's side of the hook)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    with transaction(db):
        db.execute(
            "update inbound set status = ?, reason = ? where id = ?",
            [status, reason or None, inbound_id],
        )


def quarantine_new(db: Database, inbound_id: int, reason: str) -> None:
    """Quarantine a message still `new` (its processing failed), so it is not tried again."""
    with transaction(db):
        db.execute(
            "update inbound set status = 'quarantined', reason = ? where id = ? and status = 'new'",
            [reason, inbound_id],
        )


def claim(db: Database, inbound_id: int, now: datetime) -> bool:
    """Mark a `new` message processed; False when another process got there first."""
    cursor = db.execute(
        "update inbound set status = 'processed', processed_at = ? where id = ? and status = 'new'",
        [utc_iso(now), inbound_id],
    )
    return bool(cursor.rowcount)


def save_verdict(
    db: Database,
    inbound_id: int,
    kind: str,
    verdict: str,
    outcome: str,
    subscriber_id: int | None,
    delivery_id: int | None,
    return_date: str | None,
    reason: str | None,
) -> None:
    """The kind, the verdict and the outcome (both JSON) and what they are about."""
    db.execute(
        "update inbound set kind = ?, verdict = ?, outcome = ?, subscriber_id = ?, "
        "delivery_id = ?, return_date = ?, reason = ? where id = ?",
        [kind, verdict, outcome, subscriber_id, delivery_id, return_date, reason, inbound_id],
    )


def set_reason(db: Database, inbound_id: int, reason: str) -> None:
    db.execute("update inbound set reason = ? where id = ?", [reason, inbound_id])


def _delivery(db: Database, where: str, args: list[object]) -> DeliveryRef | None:
    row = db.execute(
        f"select id, subscriber_id, mailing_id, email from deliveries where {where} "
        "order by id desc limit 1",
        args,
    ).fetchone()
    return DeliveryRef(row[0], row[1], row[2], row[3]) if row else None


def delivery_by_id(db: Database, delivery_id: int) -> DeliveryRef | None:
    return _delivery(db, "id = ?", [delivery_id])


def delivery_by_message_id(db: Database, message_id: str) -> DeliveryRef | None:
    return _delivery(db, "message_id = ?", [message_id])


def latest_delivery_to(db: Database, email: str, since: datetime) -> DeliveryRef | None:
    """The latest delivery to this address queued, sending or sent since `since`."""
    return _delivery(
        db,
        "email = ? and coalesce(sent_at, sending_at, queued_at) >= ?",
        [normalise_email(email), utc_iso(since)],
    )


def subscriber_by_email(db: Database, email: str) -> SubscriberRef | None:
    row = db.execute(
        "select id, email, name, status from subscribers where email = ?", [normalise_email(email)]
    ).fetchone()
    return SubscriberRef(int(row[0]), row[1], row[2], row[3]) if row else None


def record_bounce(db: Database, bounce: Bounce) -> None:
    db.table("bounces").insert(
        {
            "subscriber_id": bounce.subscriber_id,
            "delivery_id": bounce.delivery_id,
            "mailing_id": bounce.mailing_id,
            "source": bounce.source,
            "kind": bounce.kind,
            "reply": bounce.reply,
            "created_at": bounce.created_at,
            "inbound_id": bounce.inbound_id,
            "tied_by": bounce.tied_by,
        }
    )


def hard_bounce_count(db: Database, subscriber_id: int) -> int:
    """How many of our deliveries to this subscriber bounced hard (not undone by staff)."""
    return int(
        db.execute(
            "select count(distinct delivery_id) from bounces "
            "where subscriber_id = ? and kind = 'hard' and undone_at is null",
            [subscriber_id],
        ).fetchone()[0]
    )


def last_mailings(db: Database, subscriber_id: int, count: int) -> list[str]:
    """The last `count` mailings delivered to this subscriber, newest first."""
    return [
        r[0]
        for r in db.execute(
            "select mailing_id from deliveries where subscriber_id = ? "
            "group by mailing_id order by max(id) desc limit ?",
            [subscriber_id, count],
        )
    ]


def bounced_mailings(db: Database, subscriber_id: int) -> set[str]:
    """The mailings in which this subscriber bounced (hard or soft; not undone by staff)."""
    return {
        r[0]
        for r in db.execute(
            "select distinct mailing_id from bounces where subscriber_id = ? "
            "and kind in ('hard', 'soft') and undone_at is null",
            [subscriber_id],
        )
    }


def mark_bounced(db: Database, subscriber_id: int, now: datetime) -> bool:
    """Active, paused or pending becomes `bounced`; True when the status changed."""
    cursor = db.execute(
        "update subscribers set status = 'bounced', updated_at = ? "
        "where id = ? and status in ('active', 'paused', 'pending')",
        [utc_iso(now), subscriber_id],
    )
    return bool(cursor.rowcount)


# -- privacy ----------------------------------------------------------------------------------


def erase_messages_of(db: Database, email: str, now: datetime) -> int:
    """Messages from the address, and any that name it (a bounce, a forward), lose sender,
    subject and bytes; the row stays so the mail is never read again."""
    email = normalise_email(email)
    cursor = db.execute(
        "update inbound set from_address = null, subject = null, raw = null, "
        "raw_purged_at = ?, reason = ? "
        "where from_address = ? or (raw is not null and instr(lower(cast(raw as text)), ?) > 0)",
        [utc_iso(now), ERASED, email, email],
    )
    return int(cursor.rowcount)


def messages_from(db: Database, email: str) -> list[InboundSummary]:
    """Every message from the address, oldest first."""
    rows = db.execute(
        "select id, source, received_at, subject, status, reason from inbound "
        "where from_address = ? order by id",
        [normalise_email(email)],
    ).fetchall()
    return [InboundSummary(*row) for row in rows]


def erase_verdicts_about(
    db: Database, subscriber_id: int | None, delivery_ids: tuple[int, ...], email: str
) -> int:
    """Verdicts and outcomes about the subscriber, their deliveries or naming the address."""
    ids = [subscriber_id or -1, *delivery_ids]
    marks = ",".join("?" * len(ids))
    cursor = db.execute(
        "update inbound set verdict = null, outcome = null, return_date = null, "
        f"subscriber_id = null, delivery_id = null, reason = '{ERASED}' "
        f"where subscriber_id = ? or delivery_id in ({marks}) "
        "or instr(lower(coalesce(verdict, '') || coalesce(outcome, '') || "
        "coalesce(reason, '')), ?) > 0",
        [subscriber_id or -1, *ids, normalise_email(email)],
    )
    return int(cursor.rowcount)
