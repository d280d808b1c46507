"""Conversations as staff handle them: look one up with its thread, list, assign, theme, close.

Statuses: new (nobody took it yet), open (being handled, or the correspondent wrote again),
waiting (we answered, the ball is with them), closed.
"""

from __future__ import annotations

import re
from typing import Any

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.store import audit, transaction
from newsletter.store import conversations as store
from newsletter.store.conversations import Conversation, Message

STATUSES = ("new", "open", "waiting", "closed")
OPEN_STATUSES = ("new", "open")  # a question that waits for us
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def get(db: Database, conversation_id: int) -> Conversation:
    """One conversation, or NewsletterError (exit 2) naming the unknown number."""
    conversation = store.get(db, conversation_id)
    if conversation is None:
        raise NewsletterError(
            f"no conversation {conversation_id}; 'newsletter inbox list' shows them"
        )
    return conversation


def thread(db: Database, conversation_id: int) -> list[Message]:
    """Its messages, oldest first."""
    return store.messages(db, conversation_id)


def list_conversations(
    db: Database, status: str | None = None, theme: str | None = None
) -> list[Conversation]:
    return store.list_conversations(db, status, theme)


def _update(db: Database, conversation_id: int, **values: Any) -> None:
    get(db, conversation_id)
    store.update(db, conversation_id, **values, updated_at=clock.utc_iso())


def one_line(value: str, what: str) -> str:
    """A name given on the command line: one line of text, at most 200 characters."""
    value = value.strip()
    if not value:
        raise NewsletterError(f"{what} is empty")
    if _CONTROL.search(value):
        raise NewsletterError(f"{what} must be one line of text")
    return value[:200]


def assign(db: Database, conversation_id: int, name: str) -> Conversation:
    """Give it to someone; a new conversation becomes open."""
    conversation = get(db, conversation_id)
    status = "open" if conversation.status == "new" else conversation.status
    _update(db, conversation_id, assignee=one_line(name, "--to"), status=status)
    return get(db, conversation_id)


def set_theme(db: Database, settings: Settings, conversation_id: int, theme: str) -> Conversation:
    get(db, conversation_id)
    if theme not in settings.themes:
        raise NewsletterError(
            f"theme '{theme}' is not in [themes]; use one of {', '.join(settings.themes)}"
        )
    _update(db, conversation_id, theme=theme, theme_guessed=0, theme_evidence="set by staff")
    return get(db, conversation_id)


def close(db: Database, conversation_id: int, by: str | None = None) -> tuple[Conversation, bool]:
    """(conversation, whether it was open before); `by` (staff:<email>) is logged."""
    before = get(db, conversation_id)
    if before.status == "closed":
        return before, False
    with transaction(db):
        _update(db, conversation_id, status="closed")
        if by:
            audit.record(db, by, "inbox-close", f"conversation:{conversation_id}")
    return get(db, conversation_id), True
