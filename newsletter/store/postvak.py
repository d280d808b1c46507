"""The Postvak repository (issue #15): the filtered list of conversations, internal notes, saved
replies, who is looking at a conversation, follow-up dates, and what the sender's side panel
reads about a person (the mailings they got and what became of each, the next AV meeting)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlite_utils import Database

from newsletter.clock import utc_iso
from newsletter.store.conversations import Conversation, Message, _conversation
from newsletter.store.db import transaction


@dataclass(frozen=True)
class Filters:
    """What the Postvak list shows: every field empty shows everything."""

    status: str = ""  # new, open, waiting, closed
    theme: str = ""
    assignee: str = ""  # a name: "aan mij"
    unassigned: bool = False  # "aan niemand"
    search: str = ""  # in sender, subject and the text of every message


@dataclass(frozen=True)
class Note:
    id: int
    conversation_id: int
    author: str  # staff:<email>
    text: str
    created_at: str


@dataclass(frozen=True)
class SavedReply:
    id: int
    title: str
    body: str
    updated_by: str
    updated_at: str


@dataclass(frozen=True)
class Present:
    """A colleague who had the conversation open a moment ago."""

    email: str
    name: str
    seen_at: str


@dataclass(frozen=True)
class MailingGot:
    """One mailing a person got (or should have): the ledger's state and any bounce."""

    mailing_id: str
    kind: str
    subject: str
    status: str  # the delivery's: sent, failed, deferred, in-doubt, queued, skipped ...
    sent_at: str | None
    bounce: str | None  # hard, soft, policy; None: no bounce recorded
    bounce_reply: str | None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def page(db: Database, filters: Filters, limit: int, offset: int) -> tuple[list[Conversation], int]:
    """One page of conversations and how many match: a follow-up that came due first, then
    the most recently changed."""
    where, args = [], []
    if filters.status:
        where.append("c.status = ?")
        args.append(filters.status)
    if filters.theme:
        where.append("c.theme = ?")
        args.append(filters.theme)
    if filters.assignee:
        where.append("c.assignee = ?")
        args.append(filters.assignee)
    if filters.unassigned:
        where.append("(c.assignee is null or c.assignee = '')")
    if filters.search:
        like = _like(filters.search)
        where.append(
            "(c.correspondent_email like ? escape '\\' or c.correspondent_name like ? escape '\\' "
            "or c.subject like ? escape '\\' or exists (select 1 from conversation_messages m "
            "where m.conversation_id = c.id and m.body_text like ? escape '\\'))"
        )
        args += [like, like, like, like]
    clause = (" where " + " and ".join(where)) if where else ""
    total = int(db.execute(f"select count(*) from conversations c{clause}", args).fetchone()[0])
    rows = db.query(
        f"select c.* from conversations c{clause} order by "
        "(c.follow_up_reached is not null and c.status != 'closed') desc, c.updated_at desc, "
        "c.id desc limit ? offset ?",
        [*args, limit, offset],
    )
    return [_conversation(row) for row in rows], total


def version(db: Database, conversation_id: int) -> int:
    """The state of the thread: the newest message's row id (0 when none)."""
    row = db.execute(
        "select coalesce(max(id), 0) from conversation_messages where conversation_id = ?",
        [conversation_id],
    ).fetchone()
    return int(row[0])


# -- notes ------------------------------------------------------------------------------------


def add_note(db: Database, conversation_id: int, author: str, text: str) -> int:
    cursor = db.execute(
        "insert into conversation_notes (conversation_id, author, text, created_at) "
        "values (?, ?, ?, ?)",
        [conversation_id, author, text, utc_iso()],
    )
    return int(cursor.lastrowid or 0)


def notes(db: Database, conversation_id: int) -> list[Note]:
    return [
        Note(**row)
        for row in db.query(
            "select * from conversation_notes where conversation_id = ? order by id",
            [conversation_id],
        )
    ]


def delete_notes(db: Database, conversation_ids: list[int]) -> int:
    marks = ",".join("?" * len(conversation_ids)) or "null"
    cursor = db.execute(
        f"delete from conversation_notes where conversation_id in ({marks})", conversation_ids
    )
    return int(cursor.rowcount)


# -- saved replies ----------------------------------------------------------------------------


def saved_replies(db: Database) -> list[SavedReply]:
    return [SavedReply(**row) for row in db.query("select * from saved_replies order by title")]


def saved_reply(db: Database, reply_id: int) -> SavedReply | None:
    rows = list(db.query("select * from saved_replies where id = ?", [reply_id]))
    return SavedReply(**rows[0]) if rows else None


def saved_reply_titled(db: Database, title: str) -> SavedReply | None:
    rows = list(db.query("select * from saved_replies where title = ?", [title]))
    return SavedReply(**rows[0]) if rows else None


def save_reply(db: Database, reply_id: int | None, title: str, body: str, by: str) -> int:
    """Insert (reply_id None) or change a saved reply; returns its id."""
    now = utc_iso()
    with transaction(db):
        if reply_id is None:
            cursor = db.execute(
                "insert into saved_replies (title, body, updated_by, updated_at) "
                "values (?, ?, ?, ?)",
                [title, body, by, now],
            )
            return int(cursor.lastrowid or 0)
        db.execute(
            "update saved_replies set title = ?, body = ?, updated_by = ?, updated_at = ? "
            "where id = ?",
            [title, body, by, now, reply_id],
        )
        return reply_id


def delete_saved_reply(db: Database, reply_id: int) -> int:
    return int(db.execute("delete from saved_replies where id = ?", [reply_id]).rowcount)


# -- presence ---------------------------------------------------------------------------------


def mark_present(db: Database, conversation_id: int, email: str, name: str) -> None:
    with transaction(db):
        db.execute(
            "insert into conversation_presence (conversation_id, staff_email, staff_name, "
            "seen_at) values (?, ?, ?, ?) on conflict (conversation_id, staff_email) "
            "do update set seen_at = excluded.seen_at, staff_name = excluded.staff_name",
            [conversation_id, email, name, utc_iso()],
        )


def clear_presence(db: Database, email: str) -> int:
    """A colleague signed out: they have no conversation open any more."""
    with transaction(db):
        cursor = db.execute("delete from conversation_presence where staff_email = ?", [email])
    return int(cursor.rowcount)


def present_since(
    db: Database, conversation_id: int, since: datetime, other_than: str
) -> list[Present]:
    """Who else had it open after `since` (newest first)."""
    return [
        Present(str(r[0]), str(r[1]), str(r[2]))
        for r in db.execute(
            "select staff_email, staff_name, seen_at from conversation_presence "
            "where conversation_id = ? and seen_at > ? and staff_email != ? "
            "order by seen_at desc",
            [conversation_id, utc_iso(since), other_than],
        ).fetchall()
    ]


# -- follow-up --------------------------------------------------------------------------------


def due_follow_ups(db: Database, today: str) -> list[Conversation]:
    """Conversations whose follow-up date has come and that tick has not brought back yet."""
    return [
        _conversation(row)
        for row in db.query(
            "select * from conversations where follow_up_on is not null and follow_up_on <= ? "
            "and follow_up_reached is null order by follow_up_on, id",
            [today],
        )
    ]


# -- the sender's side panel ------------------------------------------------------------------


def mailings_got(db: Database, subscriber_id: int, limit: int = 5) -> list[MailingGot]:
    """The newest mailings queued for this subscriber, with the delivery's state and bounce."""
    rows = db.execute(
        "select d.mailing_id, m.kind, m.subject, d.status, d.sent_at, "
        "(select b.kind from bounces b where b.delivery_id = d.id order by b.id desc limit 1), "
        "(select b.reply from bounces b where b.delivery_id = d.id order by b.id desc limit 1) "
        "from deliveries d join mailings m on m.id = d.mailing_id "
        "where d.subscriber_id = ? and m.kind != 'reply' order by d.id desc limit ?",
        [subscriber_id, limit],
    ).fetchall()
    return [MailingGot(*row) for row in rows]


def next_meeting(db: Database, after: str) -> str | None:
    """The start (ISO) of the first AV meeting after `after` (ISO), or None."""
    row = db.execute(
        "select min(starts_at) from items where kind = 'av_meeting' and starts_at > ?", [after]
    ).fetchone()
    return str(row[0]) if row and row[0] else None


# -- replies in the delivery ledger -------------------------------------------------------------


def reply_states(db: Database, message_ids: list[str]) -> dict[str, str]:
    """The ledger's state of each of our replies (by Message-ID)."""
    marks = ",".join("?" * len(message_ids)) or "null"
    rows = db.execute(
        f"select message_id, status from deliveries where message_id in ({marks})", message_ids
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def open_reply_mailings(db: Database) -> list[str]:
    """Reply mailings with a delivery still to make (deferred, queued, left in doubt)."""
    rows = db.execute(
        "select distinct m.id from mailings m join deliveries d on d.mailing_id = m.id "
        "where m.kind = 'reply' and d.status in ('queued', 'deferred', 'sending', 'in-doubt') "
        "order by m.id"
    ).fetchall()
    return [str(r[0]) for r in rows]


def sent_message(db: Database, message_id: str) -> Message | None:
    """One of our own conversation messages, by its Message-ID."""
    rows = list(
        db.query(
            "select * from conversation_messages where message_id = ? and direction = 'out' "
            "order by id desc limit 1",
            [message_id],
        )
    )
    return Message(**rows[0]) if rows else None


def erase_replies(db: Database, message_ids: list[str], conversation_ids: list[int]) -> int:
    """`subscribers forget`: the ledger rows of our replies to them, and the notes and presence
    rows of their conversations."""
    marks = ",".join("?" * len(message_ids)) or "null"
    removed = int(
        db.execute(f"delete from deliveries where message_id in ({marks})", message_ids).rowcount
    )
    delete_notes(db, conversation_ids)
    places = ",".join("?" * len(conversation_ids)) or "null"
    db.execute(
        f"delete from conversation_presence where conversation_id in ({places})", conversation_ids
    )
    return removed


def enrolments_of(db: Database, subscriber_id: int) -> list[tuple[str, str, str, str]]:
    """(sequence, starts_on, status, stopped_reason) of a person's onboarding enrolments."""
    rows = db.execute(
        "select sequence, starts_on, status, coalesce(stopped_reason, '') "
        "from onboarding_enrolments where subscriber_id = ? order by id",
        [subscriber_id],
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]
