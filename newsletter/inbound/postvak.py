"""The Postvak: the contact mailbox as a shared inbox (issue #15), for the console and the CLI.

Every change names the staff account that made it (`by`: staff:<email>) and is in the audit
log under the subject conversation:<N>. Notes are internal and never sent. A follow-up date
("opvolgen op") brings a conversation back: tick (`due_follow_ups`) reopens a waiting or
closed one on that day and puts it at the top of the list. A reply answers a given state of
the thread (`Draft.version`); when a newer message or a colleague's answer came in after the
draft was made, `send_reply` holds it (replies.ReplyHeld) and nothing is sent. Who else has a
conversation open is a presence row that counts for PRESENCE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.dates import nl_date
from newsletter.errors import NewsletterError
from newsletter.inbound import threads
from newsletter.inbound.replies import Draft, deliver_reply, draft_reply
from newsletter.outbound.delivery import TransportFactory, send_summary
from newsletter.store import audit, transaction
from newsletter.store import conversations as store
from newsletter.store import onboarding as onboarding_rows
from newsletter.store import postvak as rows
from newsletter.store import subscribers as people
from newsletter.store.conversations import Conversation, Message, Summary
from newsletter.store.postvak import Filters, MailingGot, Note, Present, SavedReply

PRESENCE = timedelta(minutes=2)
PLACEHOLDERS = ("aanhef", "naam", "provincie", "volgende_av")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
NOTE_MAX = 5000

__all__ = ["PLACEHOLDERS", "Filters", "MailingGot", "Note", "Present", "SavedReply"]


def _subject(conversation_id: int) -> str:
    return f"conversation:{conversation_id}"


@dataclass(frozen=True)
class Page:
    rows: list[Conversation]
    total: int
    number: int
    pages: int


def list_page(db: Database, filters: Filters, number: int, per_page: int = 25) -> Page:
    """One page of the list; a follow-up that came due first, then the most recently changed."""
    number = max(1, number)
    found, total = rows.page(db, filters, per_page, (number - 1) * per_page)
    return Page(found, total, number, max(1, -(-total // per_page)))


@dataclass(frozen=True)
class View:
    """A conversation as an adviser opens it."""

    conversation: Conversation
    thread: list[Message]
    notes: list[Note]
    others: list[Present]  # colleagues who have it open too
    version: int
    reply_states: dict[str, str]  # Message-ID of a reply -> the ledger's state


def signed_out(db: Database, email: str) -> None:
    """A colleague signed out: colleagues no longer see them on any conversation."""
    rows.clear_presence(db, email)


def open_view(db: Database, conversation_id: int, email: str, name: str) -> View:
    """The conversation with its thread and notes; marks `email` as looking at it."""
    conversation = threads.get(db, conversation_id)
    rows.mark_present(db, conversation_id, email, name)
    messages = threads.thread(db, conversation_id)
    ours = [m.message_id for m in messages if m.direction == "out" and m.message_id]
    return View(
        conversation,
        messages,
        rows.notes(db, conversation_id),
        rows.present_since(db, conversation_id, clock.now() - PRESENCE, email),
        rows.version(db, conversation_id),
        rows.reply_states(db, ours),
    )


# -- handling -----------------------------------------------------------------------------------


def assign(db: Database, conversation_id: int, name: str, by: str) -> Conversation:
    """Give it to a colleague (by name); logged."""
    with transaction(db):
        row = threads.assign(db, conversation_id, name)
        audit.record(db, by, "assign", _subject(conversation_id), to=row.assignee)
    return row


def close(db: Database, conversation_id: int, by: str) -> tuple[Conversation, bool]:
    """Close it (a new message from the correspondent reopens it); logged when it changed."""
    with transaction(db):
        row, changed = threads.close(db, conversation_id)
        if changed:
            store.update(db, conversation_id, follow_up_reached=None)
            audit.record(db, by, "close", _subject(conversation_id))
    return row, changed


def reopen(db: Database, conversation_id: int, by: str) -> tuple[Conversation, bool]:
    """Open a closed or waiting conversation again; logged when it changed."""
    before = threads.get(db, conversation_id)
    if before.status in threads.OPEN_STATUSES:
        return before, False
    with transaction(db):
        store.update(db, conversation_id, status="open", updated_at=clock.utc_iso())
        audit.record(db, by, "reopen", _subject(conversation_id))
    return threads.get(db, conversation_id), True


def add_note(db: Database, conversation_id: int, text: str, by: str) -> Note:
    """An internal note (never sent); logged."""
    threads.get(db, conversation_id)
    text = text.strip()
    if not text:
        raise NewsletterError("the note is empty")
    if len(text) > NOTE_MAX:
        raise NewsletterError(f"the note is longer than {NOTE_MAX} characters")
    with transaction(db):
        note_id = rows.add_note(db, conversation_id, by, text)
        audit.record(db, by, "note", _subject(conversation_id), note=note_id)
    return next(n for n in rows.notes(db, conversation_id) if n.id == note_id)


def set_follow_up(db: Database, conversation_id: int, day: date | None, by: str) -> Conversation:
    """Set ("opvolgen op") or clear the follow-up date; logged."""
    threads.get(db, conversation_id)
    if day is not None and day < clock.local_now().date():
        raise NewsletterError(f"the follow-up date {day.isoformat()} has passed")
    with transaction(db):
        store.update(
            db,
            conversation_id,
            follow_up_on=day.isoformat() if day else None,
            follow_up_reached=None,
            updated_at=clock.utc_iso(),
        )
        audit.record(
            db,
            by,
            "follow-up",
            _subject(conversation_id),
            on=day.isoformat() if day else None,
        )
    return threads.get(db, conversation_id)


def due_follow_ups(db: Database, now: datetime) -> list[int]:
    """Tick: conversations whose follow-up date has come are reopened and go to the top."""
    today = now.astimezone(clock.AMSTERDAM).date().isoformat()
    done = []
    for row in rows.due_follow_ups(db, today):
        with transaction(db):
            status = "open" if row.status in {"waiting", "closed"} else row.status
            stamp = clock.utc_iso(now)
            store.update(db, row.id, status=status, follow_up_reached=stamp, updated_at=stamp)
            audit.record(db, "tick", "follow-up due", _subject(row.id), on=row.follow_up_on)
        done.append(row.id)
    return done


# -- saved replies ------------------------------------------------------------------------------


def _unknown_placeholders(body: str) -> list[str]:
    return sorted({p for p in _PLACEHOLDER.findall(body) if p not in PLACEHOLDERS})


def save_saved_reply(
    db: Database, reply_id: int | None, title: str, body: str, by: str
) -> SavedReply:
    """Add or change a saved reply (Markdown with {aanhef} {naam} {provincie} {volgende_av})."""
    title = " ".join(title.split())
    if not title:
        raise NewsletterError("the title is empty")
    if len(title) > 100:
        raise NewsletterError("the title is longer than 100 characters")
    if not body.strip():
        raise NewsletterError("the text is empty")
    unknown = _unknown_placeholders(body)
    if unknown:
        raise NewsletterError(
            f"unknown placeholder {', '.join('{' + u + '}' for u in unknown)}; use "
            + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
        )
    other = rows.saved_reply_titled(db, title)
    if other is not None and other.id != reply_id:
        raise NewsletterError(f"a saved reply titled '{title}' exists")
    if reply_id is not None and rows.saved_reply(db, reply_id) is None:
        raise NewsletterError(f"no saved reply {reply_id}")
    with transaction(db):
        saved = rows.save_reply(db, reply_id, title, body.strip() + "\n", by)
        audit.record(db, by, "saved reply", f"saved-reply:{saved}", title=title)
    found = rows.saved_reply(db, saved)
    assert found is not None
    return found


def delete_saved_reply(db: Database, reply_id: int, by: str) -> None:
    with transaction(db):
        if not rows.delete_saved_reply(db, reply_id):
            raise NewsletterError(f"no saved reply {reply_id}")
        audit.record(db, by, "saved reply deleted", f"saved-reply:{reply_id}")


saved_replies = rows.saved_replies


def placeholder_values(
    db: Database, settings: Settings, conversation: Conversation
) -> dict[str, str]:
    """What {aanhef}, {naam}, {provincie} and {volgende_av} become for this correspondent."""
    person = people.get(db, conversation.subscriber_id)
    name = (person.name if person else None) or conversation.correspondent_name or ""
    salutation = ((person.salutation or "") if person else "").strip()
    if salutation:  # the import made it: "Geachte heer De Jong"
        greeting = salutation
    elif name:
        greeting = f"Beste {name}"
    else:
        greeting = "Geachte heer, mevrouw"
    province = settings.provinces.get(person.province or "", "") if person else ""
    meeting = rows.next_meeting(db, clock.local_now().isoformat())
    return {
        "aanhef": greeting,
        "naam": name,
        "provincie": province,
        "volgende_av": nl_date(datetime.fromisoformat(meeting)) if meeting else "(nog niet bekend)",
    }


def fill(db: Database, settings: Settings, conversation_id: int, reply_id: int) -> str:
    """A saved reply's Markdown with this conversation's placeholders filled in."""
    saved = rows.saved_reply(db, reply_id)
    if saved is None:
        raise NewsletterError(f"no saved reply {reply_id}")
    values = placeholder_values(db, settings, threads.get(db, conversation_id))
    return _PLACEHOLDER.sub(lambda m: values.get(m[1], m[0]), saved.body)


def preview(
    db: Database, settings: Settings, conversation_id: int, markdown: str, by: str, version: int
) -> Draft:
    """The reply exactly as it will be sent, answering the thread as it was at `version`."""
    draft = draft_reply(db, settings, conversation_id, markdown, by)
    return Draft(**{**draft.__dict__, "version": version})


# -- the sender's side panel --------------------------------------------------------------------


@dataclass(frozen=True)
class Sender:
    """Who wrote: what the product knows about them."""

    email: str
    name: str
    subscriber: people.Subscriber | None
    province: str  # its name
    mandates: list[people.Mandate]
    mailings: list[MailingGot]
    away_until: date | None
    earlier: list[Summary]
    onboarding: list[tuple[str, str, str, str, int, int]]  # seq, start, status, why, sent, skipped


def sender(db: Database, settings: Settings, conversation: Conversation) -> Sender:
    person = people.get(db, conversation.subscriber_id)
    if person is None:
        person = people.find_by_email(db, conversation.correspondent_email)
    earlier_ids = [
        i
        for i in store.of_person(
            db, conversation.correspondent_email, person.id if person else None
        )
        if i != conversation.id
    ]
    progress = []
    if person is not None:
        for sequence, starts, status, why in rows.enrolments_of(db, person.id):
            steps = onboarding_rows.step_decisions(db, person.id, sequence)
            sent = sum(1 for s in steps if s.delivery_status == "sent")
            skipped = sum(1 for s in steps if s.status == "skipped")
            progress.append((sequence, starts, status, why, sent, skipped))
    return Sender(
        conversation.correspondent_email,
        (person.name if person else "") or conversation.correspondent_name or "",
        person,
        settings.provinces.get(person.province or "", person.province or "") if person else "",
        people.mandates_of(db, person.id, "start") if person else [],
        rows.mailings_got(db, person.id) if person else [],
        onboarding_rows.away_until(db, person.id, clock.local_now().date()) if person else None,
        store.summaries(db, earlier_ids),
        progress,
    )


# -- tick ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TickDone:
    follow_ups: list[int]
    replies: list[str]  # one line per reply mailing tried again
    failed: bool

    def summary(self) -> str:
        line = f"follow-ups due: {len(self.follow_ups)}"
        if self.follow_ups:
            line += " (" + ", ".join(f"conversation {n}" for n in self.follow_ups) + ")"
        return line + "; replies retried: " + ("; ".join(self.replies) or "none")


def run_due(db: Database, settings: Settings, now: datetime, factory: TransportFactory) -> TickDone:
    """What tick does: follow-up dates that came, and replies the relay did not take yet
    (a message the relay may already have is left for staff: never sent twice)."""
    reached = due_follow_ups(db, now)
    lines, failed = [], False
    for mailing_id in rows.open_reply_mailings(db):
        try:
            report = deliver_reply(db, settings, mailing_id, factory)
        except NewsletterError as exc:
            lines.append(f"{mailing_id}: {exc}")
            failed = True
            continue
        lines.append(send_summary(report))
        failed = failed or bool(report.failed or report.relay_down)
    return TickDone(reached, lines, failed)
