"""Conversations: the real questions that reach the contact mailbox, for staff to answer.

A message the classifier calls a `message` becomes a conversation message with `add_inbound`
(idempotent: one inbound id is added once). Threading follows In-Reply-To and References,
matched against every conversation message we hold, our own replies included, so a follow-up
joins its conversation; anything else starts a new conversation (status `new`). A follow-up to
a `waiting` or `closed` conversation reopens it (`open`). What processing marked the message
with for staff (`staff_note` in its outcome: "afmelding niet bevestigd" for an unsubscribe
request nothing proves, "reactie op afmeldbevestiging") becomes the conversation's `note`.

The theme is guessed from subject and body (themes.py); the words that decided it are stored as
evidence and shown by `inbox show`. Staff change it with `inbox theme N THEME`. Handling a
conversation (list, assign, close) is threads.py, what we send is replies.py, what staff see is
inbox_views.py; the names are importable from here as well.

`add_inbound_from_processing` and `catch_up` are the hooks processing calls, and
`erase_conversations` / `collect_conversations` the privacy holder.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.inbound import mailbox
from newsletter.inbound.inbox_views import (
    AGE_BUCKETS,
    age_days,
    age_text,
    as_json_row,
    report,
)
from newsletter.inbound.received import Parsed, body_text, parse
from newsletter.inbound.replies import (
    Sent,
    acknowledge,
    acknowledgement_refusal,
    quote,
    reply,
    reply_subject,
)
from newsletter.inbound.themes import KEYWORDS, fallback_theme, guess_theme
from newsletter.inbound.threads import (
    OPEN_STATUSES,
    STATUSES,
    assign,
    close,
    get,
    list_conversations,
    set_theme,
    thread,
)
from newsletter.outbound.transports import outbox_folder
from newsletter.outbound.transports.base import safe_filename
from newsletter.people import privacy
from newsletter.store import conversations as store
from newsletter.store import inbound
from newsletter.store import postvak as postvak_rows
from newsletter.store.db import loads, transaction

__all__ = [
    "AGE_BUCKETS",
    "KEYWORDS",
    "OPEN_STATUSES",
    "STATUSES",
    "Added",
    "Parsed",
    "Sent",
    "acknowledge",
    "acknowledgement_refusal",
    "add_inbound",
    "add_inbound_from_processing",
    "age_days",
    "age_text",
    "as_json_row",
    "assign",
    "body_text",
    "catch_up",
    "close",
    "collect_conversations",
    "erase_conversations",
    "fallback_theme",
    "get",
    "guess_theme",
    "list_conversations",
    "parse",
    "quote",
    "reply",
    "reply_subject",
    "report",
    "set_theme",
    "thread",
]


@dataclass(frozen=True)
class Added:
    """What add_inbound did with one inbound message."""

    conversation_id: int
    message_row: int  # conversation_messages.id
    created: bool  # False: this inbound id was added before, nothing changed
    new_conversation: bool = False
    reopened: bool = False
    acknowledgement: str = ""  # "sent", or why none was sent ("" when acknowledge is off)


def add_inbound(db: Database, settings: Settings, inbound_id: int) -> Added:
    """Add one stored inbound message to its conversation, or start one; idempotent.

    For processing: call it for messages classified as `message`. Raises NewsletterError when
    no inbound row has that id. Sends the acknowledgement when `[inbox] acknowledge` is on.
    """
    before = store.added_from(db, inbound_id)
    if before:
        return Added(before[1], before[0], created=False)
    row = inbound.header(db, inbound_id)
    if row is None:
        raise NewsletterError(f"no inbound message {inbound_id}")
    raw = mailbox.raw_message(db, inbound_id)
    if raw is not None:
        found = parse(raw)
    else:  # purged or oversize: what the inbound row knows
        found = Parsed(
            row.message_id, [], [], row.from_address or "", "", "", row.subject or "", "", None, ""
        )
    received_at = row.received_at or clock.utc_iso()
    note = staff_note(db, inbound_id)
    now = clock.utc_iso()
    reopened = False
    try:
        with transaction(db):
            thread_id = store.thread_of(db, [*found.in_reply_to, *reversed(found.references)])
            if thread_id is None:
                theme, evidence = guess_theme(settings, found.subject, found.body)
                subscriber = inbound.subscriber_by_email(db, found.from_address)
                conversation_id = store.start(
                    db,
                    store.NewConversation(
                        subject=found.subject,
                        theme=theme,
                        theme_evidence=evidence,
                        correspondent_email=found.from_address,
                        correspondent_name=found.from_name,
                        subscriber_id=subscriber.id if subscriber else None,
                        created_at=received_at,
                        updated_at=now,
                        note=note,
                    ),
                )
            else:
                conversation_id = thread_id
                status = get(db, thread_id).status
                reopened = status in {"waiting", "closed"}
                changes: dict[str, Any] = {"status": "open" if reopened else status}
                if note:
                    changes["note"] = note
                store.update(db, thread_id, **changes, updated_at=now)
            message_row = store.add_message(
                db,
                conversation_id,
                store.NewMessage(
                    inbound_id=inbound_id,
                    direction="in",
                    kind="question",
                    message_id=found.message_id,
                    in_reply_to=" ".join(found.in_reply_to) or None,
                    references_chain=" ".join(found.references) or None,
                    from_address=found.from_address,
                    from_name=found.from_name,
                    to_address=found.to,
                    subject=found.subject,
                    body_text=found.body,
                    received_at=received_at,
                    sent_at=clock.utc_iso(found.date) if found.date else None,
                ),
            )
    except store.AlreadyAdded:  # another process added this inbound id a moment ago
        again = store.added_from(db, inbound_id)
        if again is None:
            raise
        return Added(again[1], again[0], created=False)
    ack = ""
    if thread_id is None and settings.inbox.acknowledge:
        try:
            ack = acknowledge(db, settings, conversation_id, found)
        except NewsletterError as exc:  # the question is stored; only the courtesy failed
            ack = f"not sent: {exc}"
    return Added(conversation_id, message_row, True, thread_id is None, reopened, ack)


def staff_note(db: Database, inbound_id: int) -> str | None:
    """What processing marked the message with for staff ("afmelding niet bevestigd" ...)."""
    outcome = inbound.outcome(db, inbound_id)
    if not outcome:
        return None
    try:
        value = loads(outcome).get("staff_note")
    except (ValueError, AttributeError):
        return None
    return str(value) if value else None


# -- privacy ---------------------------------------------------------------------------------


def _outbox_folder(settings: Settings) -> Path | None:
    return outbox_folder(settings.transport, settings.project)


def erase_conversations(db: Database, settings: Settings, subject: privacy.Subject) -> int:
    """`subscribers forget`: the person's conversations with every message in them, their
    messages in other conversations, and the outbox copies of what we sent them."""
    messages = store.messages_of_person(db, subject.email, subject.subscriber_id)
    folder = _outbox_folder(settings)
    for _, message_id in messages:
        if folder is not None and message_id:
            (folder / f"{safe_filename(message_id)}.eml").unlink(missing_ok=True)
    own = store.of_person(db, subject.email, subject.subscriber_id)
    postvak_rows.erase_replies(db, [i for _, i in messages if i], own)
    removed = store.delete_messages(db, [m for m, _ in messages])
    # Counted in conversations; only messages in others' conversations: counted in messages.
    return store.delete_conversations(db, own) or removed


def collect_conversations(
    db: Database, settings: Settings, subject: privacy.Subject
) -> list[dict[str, Any]]:
    """`subscribers show`: the person's conversations with how many messages each holds."""
    ids = store.of_person(db, subject.email, subject.subscriber_id)
    return [asdict(row) for row in store.summaries(db, ids)]


# -- the hooks processing calls --------------------------------------------------------------


def add_inbound_from_processing(db: Database, settings: Settings, inbound_id: int) -> None:
    """The processing hook: a question becomes (part of) a conversation."""
    add_inbound(db, settings, inbound_id)


def catch_up(db: Database, settings: Settings) -> list[str]:
    """Questions processed earlier whose conversation was never made (the hook failed then).

    Rows that `subscribers forget` emptied are left alone: nothing of theirs comes back.
    """
    problems = []
    for inbound_id in store.questions_without_conversation(db):
        try:
            add_inbound(db, settings, inbound_id)
        except NewsletterError as exc:
            problems.append(f"inbound {inbound_id}: {exc}")
    return problems


# Every fetched message that is a question for staff becomes (part of) a conversation.
