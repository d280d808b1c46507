"""What we send in a conversation: staff's replies and the optional acknowledgement (RFC 3834).

Replies (`inbox reply N --file answer.md`) go out from the contact mailbox with In-Reply-To,
References and the previous message quoted, and are stored as outgoing messages.

Every value taken from received mail was cleaned of control characters when stored, and is
checked again (check_header_value: CR, LF, NUL, encoded-words; CVE-2024-6923) before it goes
into a header; Message-IDs we do not recognise as `<local@domain>` are dropped.

The optional acknowledgement (`[inbox] acknowledge = true`) follows RFC 3834: one Dutch
message with `Auto-Submitted: auto-replied` and a null envelope sender for a new
conversation from an outside correspondent, never to auto-submitted, list, bulk or junk mail,
never to our own addresses or to mailer daemons, at most once per address per 7 days.
"""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.dates import nl_date, nl_time
from newsletter.errors import HeaderError, NewsletterError
from newsletter.headers import check_address, check_header_value, is_message_id
from newsletter.inbound.received import Parsed
from newsletter.inbound.threads import get, one_line, thread
from newsletter.mail.compose import compose
from newsletter.outbound import ledger
from newsletter.outbound.delivery import (
    SendOptions,
    SendReport,
    TransportFactory,
    deliver_mailing,
)
from newsletter.outbound.transports import Envelope, send_one, transport_factory
from newsletter.sanitize import html_to_text, markdown_to_html
from newsletter.store import audit, subscribers
from newsletter.store import conversations as store
from newsletter.store import postvak as postvak_rows
from newsletter.store import staff as staff_rows
from newsletter.store.conversations import Conversation, Message, NewMessage
from newsletter.store.db import transaction

ACK_INTERVAL = timedelta(days=7)
MAX_REFERENCES = 20  # References keeps the first id and the most recent ones
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
RE_PREFIX = re.compile(r"^\s*((re|antw|aw|sv|fw|fwd|doorst)\s*(\[\d+\])?\s*:\s*)+", re.I)
_NO_REPLY = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|noreply\W.*|bounces?|"
    r"listserv|majordomo|owner-.*|.*-request|.*-owner)$",
    re.I,
)


@dataclass(frozen=True)
class Sent:
    conversation_id: int
    message_id: str
    to: str
    subject: str
    delivery: str = "sent"  # the reply mailing's status after this run (sent, sending ...)


def _new_message_id(settings: Settings, conversation_id: int) -> str:
    return f"<gesprek-{conversation_id}.{secrets.token_hex(8)}@{settings.sender_domain}>"


def _safe_text(value: str, field: str) -> str:
    """Text from received mail made fit for a header, then checked by the project's gate."""
    value = _CONTROL.sub(" ", value or "").replace("=?", "= ?").strip()
    return check_header_value(value[:400], field)


def reply_subject(subject: str) -> str:
    """ "Re: " once, whatever prefixes (Re:, RE:, Antw:, AW:) the subject had."""
    rest = RE_PREFIX.sub("", subject or "").strip()
    return f"Re: {rest}" if rest else "Re: uw bericht"


def _recipient(conversation: Conversation) -> tuple[str, str]:
    address = conversation.correspondent_email or ""
    try:
        check_address(address, "the correspondent's address")
    except HeaderError as exc:
        raise NewsletterError(f"conversation {conversation.id}: cannot answer: {exc}") from None
    try:
        name = _safe_text(conversation.correspondent_name or "", "the correspondent's name")
    except HeaderError:
        name = ""
    return address, name


def _chain(replied: Message | None) -> tuple[str, str]:
    """(In-Reply-To, References) for a reply to `replied`."""
    if replied is None:
        return "", ""
    refs = [i for i in (replied.references_chain or "").split() if is_message_id(i)]
    if not refs and replied.in_reply_to:
        refs = [i for i in replied.in_reply_to.split() if is_message_id(i)][:1]
    parent = replied.message_id if is_message_id(replied.message_id) else ""
    if parent and parent not in refs:
        refs.append(parent)
    if len(refs) > MAX_REFERENCES:
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1) :]
    return parent or "", " ".join(refs)


def quote(message: Message) -> tuple[str, str]:
    """The attribution line and the quoted text of a message ("> " before every line)."""
    when_text = message.sent_at or message.received_at or ""
    try:
        when = datetime.fromisoformat(when_text)
        moment = f"{nl_date(when)} om {nl_time(when).removesuffix(' uur')}"
    except ValueError:
        moment = "een eerder moment"
    who = message.from_name or ""
    address = message.from_address or ""
    name = f"{who} <{address}>" if who and address else (who or address or "u")
    lines = (message.body_text or "").splitlines() or [""]
    quoted = "\n".join(f"> {line}".rstrip() for line in lines)
    return f"Op {moment} schreef {name}:", quoted


def _send(settings: Settings, sender: str, recipient: str, message_id: str, data: bytes) -> None:
    envelope = Envelope(sender=sender, recipient=recipient, message_id=message_id)
    send_one(settings.transport, settings.project, envelope, data)


@dataclass(frozen=True)
class _Outgoing:
    """One message of ours in a conversation, before it is composed, sent and stored."""

    kind: str  # reply, acknowledgement
    to: tuple[str, str]  # address, name
    subject: str
    text: str
    html: str | None
    in_reply_to: str
    references: str
    author: str
    auto_submitted: str = ""


def _send_and_store(
    db: Database,
    settings: Settings,
    conversation_id: int,
    out: _Outgoing,
    envelope_sender: str,
    status: str | None,
) -> str:
    """Compose, send and then store one message of ours; returns its Message-ID."""
    message_id = _new_message_id(settings, conversation_id)
    message = compose(
        settings,
        to_address=out.to[0],
        to_name=out.to[1],
        subject=out.subject,
        text=out.text,
        html=out.html,
        message_id=message_id,
        in_reply_to=out.in_reply_to,
        references=out.references,
        auto_submitted=out.auto_submitted,
    )
    _send(settings, envelope_sender, out.to[0], message_id, message.as_bytes())
    now = clock.utc_iso()
    stored = NewMessage(
        direction="out",
        kind=out.kind,
        message_id=message_id,
        in_reply_to=out.in_reply_to or None,
        references_chain=out.references or None,
        from_address=settings.sender_address,
        from_name=settings.name,
        to_address=out.to[0],
        subject=out.subject,
        body_text=out.text,
        sent_at=now,
        author=out.author,
    )
    with transaction(db):
        store.add_message(db, conversation_id, stored)
        if status:
            store.update(db, conversation_id, status=status, updated_at=now)
        else:
            store.update(db, conversation_id, updated_at=now)
    return message_id


@dataclass(frozen=True)
class Draft:
    """A reply exactly as it will be sent: the preview shows it, `send_reply` sends it."""

    conversation_id: int
    to: str
    to_name: str
    subject: str
    text: str
    html: str
    in_reply_to: str
    references: str
    author: str  # staff:<email>
    version: int  # the thread's state it answers (store.postvak.version)


class ReplyHeld(NewsletterError):
    """The thread changed after the answer was written: nothing was sent."""


def signature(db: Database, settings: Settings, author: str) -> list[str]:
    """The closing of a reply, one line each: greeting, the account's name, the association."""
    account = staff_rows.by_email(db, author.removeprefix("staff:"))
    name = account.name if account is not None else author.removeprefix("staff:")
    return ["Met vriendelijke groet,", "", name, settings.name]


def _signature_html(lines: list[str]) -> str:
    greeting, _, *rest = lines
    return f"<p>{html.escape(greeting)}</p>\n<p>{'<br>'.join(map(html.escape, rest))}</p>"


def draft_reply(
    db: Database, settings: Settings, conversation_id: int, markdown: str, author: str
) -> Draft:
    """The answer as it will go: text and HTML from Markdown, the signature of `author` as
    separate lines, the last question quoted, threaded to it."""
    conversation = get(db, conversation_id)
    if not markdown.strip():
        raise NewsletterError("the answer is empty; write the answer in Markdown")
    author = one_line(author, "--by")
    to = _recipient(conversation)
    incoming = [m for m in thread(db, conversation_id) if m.direction == "in"]
    replied = incoming[-1] if incoming else None
    in_reply_to, references = _chain(replied)
    subject = reply_subject(_safe_text(conversation.subject or "", "the conversation's subject"))
    answer_html = markdown_to_html(markdown)
    closing = signature(db, settings, author)
    text = f"{html_to_text(answer_html).rstrip()}\n\n" + "\n".join(closing) + "\n"
    html_body = f"{answer_html}\n{_signature_html(closing)}\n"
    if replied is not None:
        attribution, quoted = quote(replied)
        text = f"{text}\n{attribution}\n{quoted}\n"
        original = html.escape(replied.body_text or "").replace("\n", "<br>\n")
        html_body = (
            f"{html_body}<p>{html.escape(attribution)}</p>\n"
            f'<blockquote type="cite">{original}</blockquote>\n'
        )
    return Draft(
        conversation_id,
        to[0],
        to[1],
        subject,
        text,
        html_body,
        in_reply_to,
        references,
        author,
        postvak_rows.version(db, conversation_id),
    )


def compose_reply(settings: Settings, message: Message, to_name: str) -> bytes:
    """The bytes of one stored reply (the ledger builds it from here, also on a retry)."""
    return compose(
        settings,
        to_address=message.to_address or "",
        to_name=to_name,
        subject=message.subject or "",
        text=message.body_text or "",
        html=message.body_html,
        message_id=message.message_id or "",
        in_reply_to=message.in_reply_to or "",
        references=message.references_chain or "",
    ).as_bytes()


class ReplyMessages:
    """The delivery engine's source for replies: the stored message, to whoever asked."""

    direct = True

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings

    def build(self, row: dict[str, object], person: dict[str, object]) -> bytes:
        message = postvak_rows.sent_message(self.db, str(row["message_id"]))
        if message is None:
            raise NewsletterError(f"the reply {row['message_id']} is no longer stored")
        _, to_name = _recipient(get(self.db, message.conversation_id))
        return compose_reply(self.settings, message, to_name)


def send_reply(
    db: Database, settings: Settings, draft: Draft, factory: TransportFactory | None = None
) -> Sent:
    """Queue the reply in the delivery ledger and deliver it (a relay outage: tick retries it).

    Held (ReplyHeld, nothing sent) when the thread changed after `draft` was made: a newer
    question or a colleague's answer came in meanwhile."""
    message_id = _new_message_id(settings, draft.conversation_id)
    mailing_id = f"reply-{draft.conversation_id}-{message_id.split('.')[1].split('@')[0]}"
    conversation = get(db, draft.conversation_id)
    now = clock.utc_iso()
    with transaction(db):
        if postvak_rows.version(db, draft.conversation_id) != draft.version:
            raise ReplyHeld(
                f"conversation {draft.conversation_id} changed after this answer was written "
                "(a newer message or answer); nothing was sent: read the thread again"
            )
        store.add_message(
            db,
            draft.conversation_id,
            NewMessage(
                direction="out",
                kind="reply",
                message_id=message_id,
                in_reply_to=draft.in_reply_to or None,
                references_chain=draft.references or None,
                from_address=settings.sender_address,
                from_name=settings.name,
                to_address=draft.to,
                subject=draft.subject,
                body_text=draft.text,
                body_html=draft.html,
                sent_at=now,
                author=draft.author,
            ),
        )
        ledger.create_mailing(db, mailing_id, "reply", draft.subject, message_id, None)
        ledger.queue(
            db,
            [
                {
                    "mailing_id": mailing_id,
                    "subscriber_id": conversation.subscriber_id or 0,
                    "email": draft.to,
                    "variant": "reply",
                    "status": "queued",
                    "message_id": message_id,
                    "attempts": 0,
                    "queued_at": now,
                }
            ],
        )
        store.update(
            db,
            draft.conversation_id,
            status="waiting",
            follow_up_reached=None,
            updated_at=now,
        )
        audit.record(
            db,
            draft.author,
            "reply",
            f"conversation:{draft.conversation_id}",
            to=draft.to,
            message_id=message_id,
        )
    factory = factory or transport_factory(settings.transport, settings.project)
    report = deliver_reply(db, settings, mailing_id, factory)
    return Sent(draft.conversation_id, message_id, draft.to, draft.subject, report.status)


def deliver_reply(
    db: Database, settings: Settings, mailing_id: str, factory: TransportFactory
) -> SendReport:
    """Deliver one reply mailing (again); a message the relay may have is never resent."""
    options = SendOptions.from_settings(settings, connections=1, in_doubt="skip")
    return deliver_mailing(db, settings, mailing_id, ReplyMessages(db, settings), factory, options)


def reply(
    db: Database, settings: Settings, conversation_id: int, markdown: str, author: str
) -> Sent:
    """Answer the conversation at once (draft and send in one go)."""
    return send_reply(db, settings, draft_reply(db, settings, conversation_id, markdown, author))


def salutation_for(db: Database, address: str, name: str) -> str:
    """The aanhef every other message to this person uses ("Geachte heer Boersma"), from
    their subscription; "Geachte heer, mevrouw" for a stranger (issue #16)."""
    person = subscribers.find_by_email(db, address)
    if person is not None and person.salutation:
        return person.salutation
    return f"Beste {name}" if name else "Geachte heer, mevrouw"


ACK_TEXT = """{salutation},

Dank voor uw bericht aan {mailbox}. Wij hebben het ontvangen en beantwoorden het zo snel
mogelijk, meestal binnen vijf werkdagen.

Dit is een automatisch bericht; u hoeft er niet op te antwoorden.

Met vriendelijke groet,
{mailbox}
"""


def acknowledgement_refusal(
    db: Database, settings: Settings, parsed: Parsed, now: datetime | None = None
) -> str:
    """Why this message gets no acknowledgement (RFC 3834), or "" when it may get one."""
    if parsed.auto_reason:
        return parsed.auto_reason
    address = parsed.from_address
    own = {settings.sender_address.lower(), settings.reply_to.lower()}
    if settings.delivery.bounce_address:
        own.add(settings.delivery.bounce_address.lower())
    local, _, domain = address.rpartition("@")
    if not local or address in own:
        return "from our own address"
    if domain == settings.sender_domain.lower():
        return "from our own domain"
    if _NO_REPLY.match(local):
        return f"{local}@ is not a person"
    try:
        check_address(address, "From")
    except HeaderError:
        return "the From address is not usable"
    if store.acknowledged_since(db, address, (now or clock.now()) - ACK_INTERVAL):
        return "acknowledged within the last 7 days"
    return ""


def acknowledge(db: Database, settings: Settings, conversation_id: int, parsed: Parsed) -> str:
    """Send the acknowledgement of a new conversation when RFC 3834 allows: "sent" or why not."""
    refusal = acknowledgement_refusal(db, settings, parsed)
    if refusal:
        return refusal
    conversation = get(db, conversation_id)
    to = _recipient(conversation)
    subject = f"Ontvangen: {RE_PREFIX.sub('', _safe_text(parsed.subject, 'subject'))}"
    subject = subject.strip() if subject.strip() != "Ontvangen:" else "Ontvangen: uw bericht"
    parent = parsed.message_id or ""
    refs = " ".join([*parsed.references[-(MAX_REFERENCES - 1) :], parent]).strip()
    text = ACK_TEXT.format(salutation=salutation_for(db, to[0], to[1]), mailbox=settings.name)
    out = _Outgoing(
        "acknowledgement", to, subject, text, None, parent, refs, "automatisch", "auto-replied"
    )
    try:
        # A null envelope sender (RFC 3834 3.3): nothing bounces back to an automatic message.
        _send_and_store(db, settings, conversation_id, out, "", None)
    except NewsletterError as exc:
        return f"not sent: {exc}"
    return "sent"
