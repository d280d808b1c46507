"""The conversations repository: questions for staff, their messages in and out, assignments."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from newsletter.addresses import normalise_email
from newsletter.clock import utc_iso
from newsletter.store.db import transaction


@dataclass(frozen=True)
class Conversation:
    """One row of `conversations`."""

    id: int
    subject: str | None
    status: str  # new, open, waiting, closed
    assignee: str | None
    theme: str
    theme_guessed: bool
    theme_evidence: str | None
    correspondent_email: str
    correspondent_name: str | None
    subscriber_id: int | None
    created_at: str
    updated_at: str
    note: str | None = None  # for staff, e.g. "afmelding niet bevestigd"
    follow_up_on: str | None = None  # ISO date: "opvolgen op"
    follow_up_reached: str | None = None  # UTC: tick reached the follow-up date


@dataclass(frozen=True)
class Message:
    """One row of `conversation_messages`: a question in, or a reply or acknowledgement out."""

    id: int
    conversation_id: int
    inbound_id: int | None
    direction: str  # in, out
    kind: str  # question, reply, acknowledgement
    message_id: str | None
    in_reply_to: str | None
    references_chain: str | None
    from_address: str | None
    from_name: str | None
    to_address: str | None
    subject: str | None
    body_text: str | None
    received_at: str | None
    sent_at: str | None
    author: str | None
    body_html: str | None = None  # out: the HTML part of what we sent


@dataclass(frozen=True)
class NewConversation:
    subject: str
    theme: str
    theme_evidence: str
    correspondent_email: str
    correspondent_name: str
    subscriber_id: int | None
    created_at: str
    updated_at: str
    note: str | None = None


@dataclass(frozen=True)
class NewMessage:
    """A message to add to a conversation (id and conversation given by `add_message`)."""

    direction: str
    kind: str
    message_id: str | None
    in_reply_to: str | None
    references_chain: str | None
    from_address: str | None
    from_name: str | None
    to_address: str | None
    subject: str | None
    body_text: str | None
    received_at: str | None = None
    sent_at: str | None = None
    author: str | None = None
    inbound_id: int | None = None
    body_html: str | None = None


@dataclass(frozen=True)
class Summary:
    """A conversation as `subscribers show` lists it."""

    id: int
    subject: str | None
    status: str
    theme: str
    created_at: str
    messages: int


_MESSAGE_COLUMNS = (
    "conversation_id, inbound_id, direction, kind, message_id, in_reply_to, references_chain, "
    "from_address, from_name, to_address, subject, body_text, received_at, sent_at, author, "
    "body_html"
)


def _conversation(row: Any) -> Conversation:
    values = dict(row)
    values["theme_guessed"] = bool(values["theme_guessed"])
    return Conversation(**values)


def _marks(values: list[Any]) -> str:
    return ",".join("?" * len(values)) or "null"


# -- reading ----------------------------------------------------------------------------------


def get(db: Database, conversation_id: int) -> Conversation | None:
    rows = list(db.query("select * from conversations where id = ?", [conversation_id]))
    return _conversation(rows[0]) if rows else None


def messages(db: Database, conversation_id: int) -> list[Message]:
    """Its messages, oldest first."""
    return [
        Message(**row)
        for row in db.query(
            "select * from conversation_messages where conversation_id = ? "
            "order by coalesce(received_at, sent_at), id",
            [conversation_id],
        )
    ]


def list_conversations(
    db: Database, status: str | None = None, theme: str | None = None
) -> list[Conversation]:
    where, args = [], []
    if status:
        where.append("status = ?")
        args.append(status)
    if theme:
        where.append("theme = ?")
        args.append(theme)
    sql = "select * from conversations"
    if where:
        sql += " where " + " and ".join(where)
    return [_conversation(row) for row in db.query(sql + " order by id", args)]


def added_from(db: Database, inbound_id: int) -> tuple[int, int] | None:
    """(message row, conversation) of the inbound message when it was added before."""
    row = db.execute(
        "select id, conversation_id from conversation_messages where inbound_id = ?",
        [inbound_id],
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else None


def thread_of(db: Database, message_ids: list[str]) -> int | None:
    """The conversation holding one of these Message-IDs (the first that is found wins)."""
    for message_id in message_ids:
        row = db.execute(
            "select conversation_id from conversation_messages where message_id = ? "
            "order by id desc limit 1",
            [message_id],
        ).fetchone()
        if row:
            return int(row[0])
    return None


def sent_to(db: Database, message_id: str) -> str | None:
    """The address one of our own conversation messages (a reply, an acknowledgement) went to."""
    row = db.execute(
        "select to_address from conversation_messages where message_id = ? and direction = 'out' "
        "order by id desc limit 1",
        [message_id],
    ).fetchone()
    return str(row[0]) if row and row[0] else None


def acknowledged_since(db: Database, address: str, since: datetime) -> bool:
    """Was an acknowledgement sent to this address after `since`?"""
    row = db.execute(
        "select 1 from conversation_messages where kind = 'acknowledgement' "
        "and to_address = ? and sent_at > ? limit 1",
        [normalise_email(address), utc_iso(since)],
    ).fetchone()
    return row is not None


def questions_without_conversation(db: Database) -> list[int]:
    """Inbound questions processed but never added to a conversation (forgotten ones left out)."""
    rows = db.execute(
        "select i.id from inbound i where i.status = 'processed' and i.kind = 'message' "
        "and i.from_address is not null and not exists "
        "(select 1 from conversation_messages m where m.inbound_id = i.id) order by i.id"
    ).fetchall()
    return [int(r[0]) for r in rows]


# -- writing ----------------------------------------------------------------------------------


def start(db: Database, new: NewConversation) -> int:
    """A new conversation (status `new`, theme guessed); returns its id."""
    cursor = db.execute(
        "insert into conversations (subject, status, theme, theme_guessed, "
        "theme_evidence, correspondent_email, correspondent_name, subscriber_id, "
        "created_at, updated_at, note) values (?, 'new', ?, 1, ?, ?, ?, ?, ?, ?, ?)",
        [
            new.subject,
            new.theme,
            new.theme_evidence,
            new.correspondent_email,
            new.correspondent_name,
            new.subscriber_id,
            new.created_at,
            new.updated_at,
            new.note,
        ],
    )
    return int(cursor.lastrowid or 0)


class AlreadyAdded(Exception):
    """The inbound message was added to a conversation a moment ago, by another process."""


def add_message(db: Database, conversation_id: int, message: NewMessage) -> int:
    """Add a message; AlreadyAdded when its inbound id was added (by another process)."""
    values = [
        conversation_id,
        message.inbound_id,
        message.direction,
        message.kind,
        message.message_id,
        message.in_reply_to,
        message.references_chain,
        message.from_address,
        message.from_name,
        message.to_address,
        message.subject,
        message.body_text,
        message.received_at,
        message.sent_at,
        message.author,
        message.body_html,
    ]
    try:
        cursor = db.execute(
            f"insert into conversation_messages ({_MESSAGE_COLUMNS}) values ({_marks(values)})",
            values,
        )
    except sqlite3.IntegrityError:
        if message.inbound_id is None or added_from(db, message.inbound_id) is None:
            raise
        raise AlreadyAdded(message.inbound_id) from None
    return int(cursor.lastrowid or 0)


def update(db: Database, conversation_id: int, **values: Any) -> None:
    """Change columns of one conversation (status, assignee, theme ..., updated_at)."""
    sets = ", ".join(f"{k} = ?" for k in values)
    with transaction(db):
        db.execute(
            f"update conversations set {sets} where id = ?", [*values.values(), conversation_id]
        )


# -- privacy ----------------------------------------------------------------------------------


def of_person(db: Database, email: str, subscriber_id: int | None) -> list[int]:
    """The conversations with this person as the correspondent."""
    rows = db.execute(
        "select id from conversations where correspondent_email = ? "
        "or (subscriber_id is not null and subscriber_id = ?)",
        [normalise_email(email), subscriber_id],
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def messages_of_person(
    db: Database, email: str, subscriber_id: int | None
) -> list[tuple[int, str | None]]:
    """(id, Message-ID of what we sent, else None) of every message in their conversations,
    and of their messages (from or to them) in other people's conversations."""
    ids = of_person(db, email, subscriber_id)
    address = normalise_email(email)
    rows = db.execute(
        f"select id, message_id, direction from conversation_messages "
        f"where conversation_id in ({_marks(ids)}) or from_address = ? or to_address = ?",
        [*ids, address, address],
    ).fetchall()
    return [(int(r[0]), r[1] if r[2] == "out" else None) for r in rows]


def delete_messages(db: Database, ids: list[int]) -> int:
    cursor = db.execute(f"delete from conversation_messages where id in ({_marks(ids)})", ids)
    return int(cursor.rowcount)


def delete_conversations(db: Database, ids: list[int]) -> int:
    cursor = db.execute(f"delete from conversations where id in ({_marks(ids)})", ids)
    return int(cursor.rowcount)


def summaries(db: Database, ids: list[int]) -> list[Summary]:
    return [
        Summary(**row)
        for row in db.query(
            f"select c.id, c.subject, c.status, c.theme, c.created_at, "
            f"(select count(*) from conversation_messages m where m.conversation_id = c.id) "
            f"as messages from conversations c where c.id in ({_marks(ids)}) order by c.id",
            ids,
        )
    ]
