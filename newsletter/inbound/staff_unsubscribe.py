"""Staff unsubscribe someone at their own request ("haal mij van de lijst" to the contact
mailbox, or on the phone): the one use case of `subscribers unsubscribe` and the console's
Afmelden on a person's page.

The change itself is people.preferences.unsubscribe_on_request (a reason, the conversation it
answers, in the log); then the reader gets the same "Afgemeld" confirmation as when they
unsubscribe by mail, threaded to their last message in that conversation.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.inbound.processing import send_confirmation
from newsletter.people.preferences import Reader, unsubscribe_on_request
from newsletter.store import conversations


@dataclass(frozen=True)
class StaffUnsubscribed:
    reader: Reader
    confirmed: bool  # the confirmation went out
    note: str  # what became of the confirmation (English, for the CLI and the log)


def unsubscribe_at_request(
    db: Database,
    settings: Settings,
    email: str,
    reason: str,
    actor: str,
    request: int | None = None,
) -> StaffUnsubscribed:
    """Unsubscribe (refused without a reason, or for a conversation that is not theirs), then
    send the confirmation; a confirmation that could not go leaves the unsubscribe standing."""
    reader = unsubscribe_on_request(db, email, reason, actor, request)
    parent = ""
    if request is not None:
        asked = [m for m in conversations.messages(db, request) if m.direction == "in"]
        parent = (asked[-1].message_id or "") if asked else ""
    sent, note = send_confirmation(db, settings, reader.id, parent, actor)
    return StaffUnsubscribed(reader, sent, note)
