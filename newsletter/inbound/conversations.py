"""Conversations: the real questions that reach the contact mailbox, for staff to answer.

A message the classifier calls a `message` becomes a conversation message with `add_inbound`
(idempotent: one inbound id is added once). Threading follows In-Reply-To and References,
matched against every conversation message we hold, our own replies included, so a follow-up
joins its conversation; anything else starts a new conversation (status `new`). A follow-up to
a `waiting` or `closed` conversation reopens it (`open`).

Statuses: new (nobody took it yet), open (being handled, or the correspondent wrote again),
waiting (we answered, the ball is with them), closed.

The theme is guessed from subject and body with a keyword score per theme (KEYWORDS; a word
in the subject counts twice); the words that decided it are stored as evidence and shown by
`inbox show`. Staff change it with `inbox theme N THEME`.

Replies (`inbox reply N --file answer.md`) go out from the contact mailbox with In-Reply-To,
References and the previous message quoted, and are stored as outgoing messages.

Every value taken from received mail is cleaned of control characters when stored, and
checked again (check_header_value: CR, LF, NUL, encoded-words; CVE-2024-6923) before it
goes into a header; Message-IDs we do not recognise as `<local@domain>` are dropped.

The optional acknowledgement (`[inbox] acknowledge = true`) follows RFC 3834: one Dutch
message with `Auto-Submitted: auto-replied` and a null envelope sender for a new
conversation from an outside correspondent, never to auto-submitted, list, bulk or junk mail,
never to our own addresses or to mailer daemons, at most once per address per 7 days.
"""

from __future__ import annotations

import html
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from newsletter import clock, store
from newsletter.config import Settings
from newsletter.dates import nl_date, nl_time
from newsletter.errors import HeaderError, NewsletterError
from newsletter.headers import check_address, check_header_value, decode_text, is_message_id
from newsletter.inbound import mailbox, processing
from newsletter.outbound.transports import Envelope, outbox_folder, send_one
from newsletter.outbound.transports.base import safe_filename
from newsletter.people import privacy
from newsletter.sanitize import clean_html, html_to_text, markdown_to_html

STATUSES = ("new", "open", "waiting", "closed")
OPEN_STATUSES = ("new", "open")  # a question that waits for us
DEFAULT_THEME = "algemeen"
ACK_INTERVAL = timedelta(days=7)
BODY_LIMIT = 200_000  # characters of body text kept per message
MAX_REFERENCES = 20  # References keeps the first id and the most recent ones
AGE_BUCKETS = (("0-2 dagen", 0, 2), ("3-7 dagen", 3, 7), ("ouder", 8, None))

# Theme -> (pattern, label). Patterns are case-insensitive unless they start with (?-i).
KEYWORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "landelijk-gebied": (
        (r"stikstof\w*", "stikstof"),
        (r"natuur\w*", "natuur"),
        (r"natura[ -]?2000", "natura 2000"),
        (r"landbouw\w*", "landbouw"),
        (r"boer(en)?", "boeren"),
        (r"platteland\w*", "platteland"),
        (r"landelijk(e)? gebied\w*", "landelijk gebied"),
        (r"mest\w*", "mest"),
        (r"(?-i:NPLG)", "NPLG"),
    ),
    "wonen-bereikbaarheid": (
        (r"(?-i:OV)", "OV"),
        (r"openbaar vervoer", "openbaar vervoer"),
        (r"woningbouw\w*", "woningbouw"),
        (r"woning(en)?", "woning"),
        (r"wonen", "wonen"),
        (r"bereikbaar\w*", "bereikbaarheid"),
        (r"mobiliteit\w*", "mobiliteit"),
        (r"spoor\w*", "spoor"),
        (r"(trein|bus)(sen|dienst\w*)?", "trein/bus"),
        (r"infrastructuur", "infrastructuur"),
    ),
    "klimaat-leefomgeving": (
        (r"klimaat\w*", "klimaat"),
        (r"energie\w*", "energie"),
        (r"omgevingswet", "omgevingswet"),
        (r"leefomgeving", "leefomgeving"),
        (r"netcongestie", "netcongestie"),
        (r"wind(molen|park)\w*", "wind"),
        (r"circulai\w*", "circulair"),
        (r"milieu\w*", "milieu"),
    ),
    "ondernemen-cultuur": (
        (r"ondernem\w*", "ondernemen"),
        (r"economi\w*", "economie"),
        (r"innovatie\w*", "innovatie"),
        (r"cultu(ur|rele)\w*", "cultuur"),
        (r"erfgoed", "erfgoed"),
        (r"(?-i:MKB|mkb)", "mkb"),
        (r"toerisme", "toerisme"),
    ),
    "financien-openbaar-bestuur": (
        (r"begroting\w*", "begroting"),
        (r"jaarrekening\w*", "jaarrekening"),
        (r"financi[eë]n|financieel", "financiën"),
        (r"provinciefonds", "provinciefonds"),
        (r"opcenten", "opcenten"),
        (r"voorjaarsnota|kadernota|kaderbrief", "voorjaarsnota"),
        (r"openbaar bestuur", "openbaar bestuur"),
        (r"integriteit", "integriteit"),
    ),
    "werkgeverszaken": (
        (r"(?-i:cao|CAO|Cao)", "cao"),
        (r"werkgever\w*", "werkgever"),
        (r"arbeidsvoorwaarden", "arbeidsvoorwaarden"),
        (r"personeel\w*", "personeel"),
        (r"pensioen\w*", "pensioen"),
        (r"salaris\w*", "salaris"),
    ),
    "digitalisering": (
        (r"digita\w*", "digitaal"),
        (r"cyber\w*", "cyber"),
        (r"(?-i:ICT|ict)", "ict"),
        (r"informatiebeveiliging", "informatiebeveiliging"),
        (r"(?-i:AI)|kunstmatige intelligentie", "AI"),
        (r"algoritme\w*", "algoritme"),
    ),
}
_COMPILED = {
    theme: tuple((re.compile(rf"(?<!\w)(?:{p})(?!\w)", re.I), label) for p, label in words)
    for theme, words in KEYWORDS.items()
}

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MSGID_FIND = re.compile(r"<[^<>\s]{1,500}>")
_RE_PREFIX = re.compile(r"^\s*((re|antw|aw|sv|fw|fwd|doorst)\s*(\[\d+\])?\s*:\s*)+", re.I)
_NO_REPLY = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|noreply\W.*|bounces?|"
    r"listserv|majordomo|owner-.*|.*-request|.*-owner)$",
    re.I,
)


@dataclass(frozen=True)
class Added:
    """What add_inbound did with one inbound message."""

    conversation_id: int
    message_row: int  # conversation_messages.id
    created: bool  # False: this inbound id was added before, nothing changed
    new_conversation: bool = False
    reopened: bool = False
    acknowledgement: str = ""  # "sent", or why none was sent ("" when acknowledge is off)


# -- reading received mail ------------------------------------------------------------------


def _decode(value: Any) -> str:
    return decode_text(value)


def _get(message: Message, name: str) -> str:
    try:
        return _decode(message.get(name))
    except Exception:
        return ""


def _message_ids(text: str) -> list[str]:
    """The well-formed Message-IDs in a header, in order, each once."""
    found: list[str] = []
    for candidate in _MSGID_FIND.findall(text or ""):
        if _safe_id(candidate) and candidate not in found:
            found.append(candidate)
    return found


_safe_id = is_message_id


def _part_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "") if not part.is_multipart() else ""
    try:
        charset = part.get_content_charset() or "utf-8"
    except Exception:
        charset = "utf-8"
    try:
        return payload.decode(charset)
    except (LookupError, UnicodeDecodeError):
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return payload.decode("cp1252", "replace")


def body_text(message: Message) -> str:
    """The text/plain part, else the HTML part as text; attachments are skipped."""
    plain = html_part = None
    try:
        parts = list(message.walk())[:200]
    except Exception:
        parts = []
    for part in parts:
        if part.is_multipart():
            continue
        disposition = str(part.get("Content-Disposition", "")).lower()
        if disposition.startswith("attachment"):
            continue
        ctype = part.get_content_type().lower()
        if ctype == "text/plain" and plain is None:
            plain = _part_text(part)
        elif ctype == "text/html" and html_part is None:
            html_part = _part_text(part)
    if plain is not None and plain.strip():
        text = plain
    elif html_part is not None:
        text = html_to_text(clean_html(html_part))
    else:
        text = plain or ""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text.strip()[:BODY_LIMIT]


@dataclass(frozen=True)
class Parsed:
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    from_address: str
    from_name: str
    to: str
    subject: str
    body: str
    date: datetime | None
    auto_reason: str  # why this message must never get an automatic answer, or ""


def parse(raw: bytes) -> Parsed:
    """What a conversation needs from one message; never raises on bad input."""
    message = BytesParser(policy=policy.compat32).parsebytes(raw)
    name, address = parseaddr(_get(message, "From"))
    date = None
    try:
        date = parsedate_to_datetime(_get(message, "Date"))
        if date.tzinfo is None:
            date = date.replace(tzinfo=clock.AMSTERDAM)
    except (TypeError, ValueError, IndexError):
        date = None
    ids = _message_ids(_get(message, "Message-ID"))
    to = ", ".join(a for _, a in getaddresses([_get(message, "To")]) if a)
    return Parsed(
        message_id=ids[0] if ids else None,
        in_reply_to=_message_ids(_get(message, "In-Reply-To")),
        references=_message_ids(_get(message, "References")),
        from_address=address.strip().lower()[:320],
        from_name=name.strip()[:200],
        to=to[:1000],
        subject=_get(message, "Subject")[:500],
        body=body_text(message),
        date=date,
        auto_reason=_never_answer(message),
    )


def _never_answer(message: Message) -> str:
    """RFC 3834 section 2: the signs that a message must not get an automatic response."""
    auto = _get(message, "Auto-Submitted").lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    for name in ("List-Id", "List-Unsubscribe", "List-Post", "List-Help"):
        if _get(message, name):
            return f"{name}: a mailing list"
    precedence = _get(message, "Precedence").lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"Precedence: {precedence}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response", "X-Vacation"):
        if _get(message, name):
            return f"{name}: an auto-reply"
    suppress = _get(message, "X-Auto-Response-Suppress").lower()
    if "all" in suppress or "autoreply" in suppress or "oof" in suppress:
        return f"X-Auto-Response-Suppress: {suppress}"
    if _get(message, "Return-Path").replace(" ", "") == "<>":
        return "Return-Path: <> (a delivery report)"
    return ""


# -- themes ---------------------------------------------------------------------------------


def guess_theme(settings: Settings, subject: str, body: str) -> tuple[str, str]:
    """(theme, evidence): the configured theme whose words occur most (subject counts twice)."""
    best, best_score, best_words = fallback_theme(settings), 0, ""
    for theme, patterns in _COMPILED.items():
        if theme not in settings.themes:
            continue
        score, words = 0, []
        for pattern, label in patterns:
            hits = 2 * len(pattern.findall(subject)) + len(pattern.findall(body))
            if hits:
                score += hits
                words.append(f"{label} {hits}")
        if score > best_score:
            best, best_score, best_words = theme, score, ", ".join(words)
    return best, best_words or "geen trefwoorden"


def fallback_theme(settings: Settings) -> str:
    if DEFAULT_THEME in settings.themes or not settings.themes:
        return DEFAULT_THEME
    return next(iter(settings.themes))


# -- the store ------------------------------------------------------------------------------


def _now_iso(now: datetime | None = None) -> str:
    return clock.utc_iso(now or clock.now())


def _find_thread(db: Database, ids: list[str]) -> int | None:
    """The conversation holding one of these Message-IDs (the In-Reply-To first)."""
    for message_id in ids:
        row = db.execute(
            "select conversation_id from conversation_messages where message_id = ? "
            "order by id desc limit 1",
            [message_id],
        ).fetchone()
        if row:
            return int(row[0])
    return None


def _subscriber_id(db: Database, email: str) -> int | None:
    row = db.execute("select id from subscribers where email = ?", [email]).fetchone()
    return int(row[0]) if row else None


def add_inbound(db: Database, settings: Settings, inbound_id: int) -> Added:
    """Add one stored inbound message to its conversation, or start one; idempotent.

    For processing: call it for messages classified as `message`. Raises NewsletterError when
    no inbound row has that id. Sends the acknowledgement when `[inbox] acknowledge` is on.
    """
    before = db.execute(
        "select id, conversation_id from conversation_messages where inbound_id = ?",
        [inbound_id],
    ).fetchone()
    if before:
        return Added(int(before[1]), int(before[0]), created=False)
    row = db.execute(
        "select id, message_id, from_address, subject, received_at from inbound where id = ?",
        [inbound_id],
    ).fetchone()
    if row is None:
        raise NewsletterError(f"no inbound message {inbound_id}")
    raw = mailbox.raw_message(db, inbound_id)
    if raw is not None:
        found = parse(raw)
    else:  # purged or oversize: what the inbound row knows
        found = Parsed(row[1], [], [], row[2] or "", "", "", row[3] or "", "", None, "")
    received_at = row[4] or _now_iso()
    now = _now_iso()
    reopened = False
    try:
        with store.transaction(db):
            thread = _find_thread(db, [*found.in_reply_to, *reversed(found.references)])
            if thread is None:
                theme, evidence = guess_theme(settings, found.subject, found.body)
                cursor = db.execute(
                    "insert into conversations (subject, status, theme, theme_guessed, "
                    "theme_evidence, correspondent_email, correspondent_name, subscriber_id, "
                    "created_at, updated_at) values (?, 'new', ?, 1, ?, ?, ?, ?, ?, ?)",
                    [
                        found.subject,
                        theme,
                        evidence,
                        found.from_address,
                        found.from_name,
                        _subscriber_id(db, found.from_address),
                        received_at,
                        now,
                    ],
                )
                conversation_id = int(cursor.lastrowid or 0)
            else:
                conversation_id = thread
                status = db.execute(
                    "select status from conversations where id = ?", [thread]
                ).fetchone()[0]
                reopened = status in {"waiting", "closed"}
                db.execute(
                    "update conversations set status = ?, updated_at = ? where id = ?",
                    ["open" if reopened else status, now, thread],
                )
            cursor = db.execute(
                "insert into conversation_messages (conversation_id, inbound_id, direction, "
                "kind, message_id, in_reply_to, references_chain, from_address, from_name, "
                "to_address, subject, body_text, received_at, sent_at) "
                "values (?, ?, 'in', 'question', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    conversation_id,
                    inbound_id,
                    found.message_id,
                    " ".join(found.in_reply_to) or None,
                    " ".join(found.references) or None,
                    found.from_address,
                    found.from_name,
                    found.to,
                    found.subject,
                    found.body,
                    received_at,
                    clock.utc_iso(found.date) if found.date else None,
                ],
            )
            message_row = int(cursor.lastrowid or 0)
    except sqlite3.IntegrityError:  # another process added this inbound id a moment ago
        again = db.execute(
            "select id, conversation_id from conversation_messages where inbound_id = ?",
            [inbound_id],
        ).fetchone()
        if again is None:
            raise
        return Added(int(again[1]), int(again[0]), created=False)
    ack = ""
    if thread is None and settings.inbox.acknowledge:
        try:
            ack = acknowledge(db, settings, conversation_id, found)
        except NewsletterError as exc:  # the question is stored; only the courtesy failed
            ack = f"not sent: {exc}"
    return Added(conversation_id, message_row, True, thread is None, reopened, ack)


def get(db: Database, conversation_id: int) -> dict[str, Any]:
    """One conversation, or NewsletterError (exit 2) naming the unknown number."""
    rows = list(db.query("select * from conversations where id = ?", [conversation_id]))
    if not rows:
        raise NewsletterError(
            f"no conversation {conversation_id}; 'newsletter inbox list' shows them"
        )
    return rows[0]


def thread(db: Database, conversation_id: int) -> list[dict[str, Any]]:
    """Its messages, oldest first."""
    return list(
        db.query(
            "select * from conversation_messages where conversation_id = ? "
            "order by coalesce(received_at, sent_at), id",
            [conversation_id],
        )
    )


def list_conversations(
    db: Database, status: str | None = None, theme: str | None = None
) -> list[dict[str, Any]]:
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
    return list(db.query(sql + " order by id", args))


def _update(db: Database, conversation_id: int, **values: Any) -> None:
    get(db, conversation_id)
    values["updated_at"] = _now_iso()
    sets = ", ".join(f"{k} = ?" for k in values)
    with store.transaction(db):
        db.execute(
            f"update conversations set {sets} where id = ?", [*values.values(), conversation_id]
        )


def _one_line(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise NewsletterError(f"{what} is empty")
    if _CONTROL.search(value):
        raise NewsletterError(f"{what} must be one line of text")
    return value[:200]


def assign(db: Database, conversation_id: int, name: str) -> dict[str, Any]:
    """Give it to someone; a new conversation becomes open."""
    conversation = get(db, conversation_id)
    status = "open" if conversation["status"] == "new" else conversation["status"]
    _update(db, conversation_id, assignee=_one_line(name, "--to"), status=status)
    return get(db, conversation_id)


def set_theme(db: Database, settings: Settings, conversation_id: int, theme: str) -> dict:
    get(db, conversation_id)
    if theme not in settings.themes:
        raise NewsletterError(
            f"theme '{theme}' is not in [themes]; use one of {', '.join(settings.themes)}"
        )
    _update(db, conversation_id, theme=theme, theme_guessed=0, theme_evidence="set by staff")
    return get(db, conversation_id)


def close(db: Database, conversation_id: int) -> tuple[dict[str, Any], bool]:
    """(conversation, whether it was open before)."""
    before = get(db, conversation_id)
    if before["status"] == "closed":
        return before, False
    _update(db, conversation_id, status="closed")
    return get(db, conversation_id), True


# -- outgoing mail ----------------------------------------------------------------------------


def _new_message_id(settings: Settings, conversation_id: int) -> str:
    return f"<gesprek-{conversation_id}.{secrets.token_hex(8)}@{settings.sender_domain}>"


def _safe_text(value: str, field: str) -> str:
    """Text from received mail made fit for a header, then checked by the project's gate."""
    value = _CONTROL.sub(" ", value or "").replace("=?", "= ?").strip()
    return check_header_value(value[:400], field)


def reply_subject(subject: str) -> str:
    """ "Re: " once, whatever prefixes (Re:, RE:, Antw:, AW:) the subject had."""
    rest = _RE_PREFIX.sub("", subject or "").strip()
    return f"Re: {rest}" if rest else "Re: uw bericht"


def _recipient(conversation: dict[str, Any]) -> tuple[str, str]:
    address = conversation["correspondent_email"] or ""
    try:
        check_address(address, "the correspondent's address")
    except HeaderError as exc:
        raise NewsletterError(f"conversation {conversation['id']}: cannot answer: {exc}") from None
    try:
        name = _safe_text(conversation["correspondent_name"] or "", "the correspondent's name")
    except HeaderError:
        name = ""
    return address, name


def _chain(messages: list[dict[str, Any]], replied: dict[str, Any] | None) -> tuple[str, str]:
    """(In-Reply-To, References) for a reply to `replied` in this thread."""
    if replied is None:
        return "", ""
    refs = [i for i in (replied.get("references_chain") or "").split() if _safe_id(i)]
    if not refs and replied.get("in_reply_to"):
        refs = [i for i in replied["in_reply_to"].split() if _safe_id(i)][:1]
    parent = replied["message_id"] if _safe_id(replied.get("message_id")) else ""
    if parent and parent not in refs:
        refs.append(parent)
    if len(refs) > MAX_REFERENCES:
        refs = refs[:1] + refs[-(MAX_REFERENCES - 1) :]
    return parent, " ".join(refs)


def quote(message: dict[str, Any]) -> tuple[str, str]:
    """The attribution line and the quoted text of a message ("> " before every line)."""
    when_text = message.get("sent_at") or message.get("received_at") or ""
    try:
        when = datetime.fromisoformat(when_text)
        moment = f"{nl_date(when)} om {nl_time(when).removesuffix(' uur')}"
    except ValueError:
        moment = "een eerder moment"
    who = message.get("from_name") or ""
    address = message.get("from_address") or ""
    name = f"{who} <{address}>" if who and address else (who or address or "u")
    lines = (message.get("body_text") or "").splitlines() or [""]
    quoted = "\n".join(f"> {line}".rstrip() for line in lines)
    return f"Op {moment} schreef {name}:", quoted


def _build(
    settings: Settings,
    to: tuple[str, str],
    subject: str,
    message_id: str,
    in_reply_to: str,
    references: str,
    text: str,
    html_body: str | None,
    auto: bool = False,
) -> bytes:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = settings.sender  # checked by load_settings
    message["Reply-To"] = settings.reply_to
    address, name = to
    local, _, domain = address.rpartition("@")
    message["To"] = Address(display_name=name, username=local, domain=domain)
    message["Subject"] = check_header_value(subject, "subject")
    message["Date"] = format_datetime(clock.local_now())
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = check_header_value(in_reply_to, "In-Reply-To")
    if references:
        message["References"] = check_header_value(references, "References")
    if auto:
        message["Auto-Submitted"] = "auto-replied"
        message["X-Auto-Response-Suppress"] = "All"
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    if html_body is not None:
        message.add_alternative(html_body, subtype="html", charset="utf-8", cte="quoted-printable")
    return message.as_bytes()


def _send(settings: Settings, sender: str, recipient: str, message_id: str, data: bytes) -> None:
    envelope = Envelope(sender=sender, recipient=recipient, message_id=message_id)
    send_one(settings.transport, settings.project, envelope, data)


def _store_outgoing(
    db: Database,
    conversation_id: int,
    kind: str,
    message_id: str,
    in_reply_to: str,
    references: str,
    settings: Settings,
    to: str,
    subject: str,
    body: str,
    author: str,
    status: str | None,
) -> int:
    now = _now_iso()
    with store.transaction(db):
        cursor = db.execute(
            "insert into conversation_messages (conversation_id, direction, kind, message_id, "
            "in_reply_to, references_chain, from_address, from_name, to_address, subject, "
            "body_text, sent_at, author) values (?, 'out', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                conversation_id,
                kind,
                message_id,
                in_reply_to or None,
                references or None,
                settings.sender_address,
                settings.name,
                to,
                subject,
                body,
                now,
                author,
            ],
        )
        if status:
            db.execute(
                "update conversations set status = ?, updated_at = ? where id = ?",
                [status, now, conversation_id],
            )
        else:
            db.execute(
                "update conversations set updated_at = ? where id = ?", [now, conversation_id]
            )
    return int(cursor.lastrowid or 0)


@dataclass(frozen=True)
class Sent:
    conversation_id: int
    message_id: str
    to: str
    subject: str


def reply(
    db: Database, settings: Settings, conversation_id: int, markdown: str, author: str
) -> Sent:
    """Answer the conversation: text and HTML from Markdown, the last question quoted below."""
    conversation = get(db, conversation_id)
    if not markdown.strip():
        raise NewsletterError("the answer file is empty; write the answer in Markdown")
    author = _one_line(author, "--by")
    to = _recipient(conversation)
    messages = thread(db, conversation_id)
    incoming = [m for m in messages if m["direction"] == "in"]
    replied = incoming[-1] if incoming else None
    in_reply_to, references = _chain(messages, replied)
    subject = reply_subject(_safe_text(conversation["subject"] or "", "the conversation's subject"))
    answer_html = markdown_to_html(markdown)
    answer_text = html_to_text(answer_html)
    text, html_body = answer_text, answer_html
    if replied is not None:
        attribution, quoted = quote(replied)
        text = f"{answer_text}\n\n{attribution}\n{quoted}\n"
        original = html.escape(replied.get("body_text") or "").replace("\n", "<br>\n")
        html_body = (
            f"{answer_html}\n<p>{html.escape(attribution)}</p>\n"
            f'<blockquote type="cite">{original}</blockquote>\n'
        )
    message_id = _new_message_id(settings, conversation_id)
    data = _build(settings, to, subject, message_id, in_reply_to, references, text, html_body)
    _send(settings, settings.sender_address, to[0], message_id, data)
    _store_outgoing(
        db,
        conversation_id,
        "reply",
        message_id,
        in_reply_to,
        references,
        settings,
        to[0],
        subject,
        text,
        author,
        "waiting",
    )
    return Sent(conversation_id, message_id, to[0], subject)


ACK_TEXT = """Beste {name},

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
    since = clock.utc_iso((now or clock.now()) - ACK_INTERVAL)
    before = db.execute(
        "select 1 from conversation_messages where kind = 'acknowledgement' "
        "and to_address = ? and sent_at > ? limit 1",
        [address, since],
    ).fetchone()
    if before:
        return "acknowledged within the last 7 days"
    return ""


def acknowledge(db: Database, settings: Settings, conversation_id: int, parsed: Parsed) -> str:
    """Send the acknowledgement of a new conversation when RFC 3834 allows: "sent" or why not."""
    refusal = acknowledgement_refusal(db, settings, parsed)
    if refusal:
        return refusal
    conversation = get(db, conversation_id)
    to = _recipient(conversation)
    subject = f"Ontvangen: {_RE_PREFIX.sub('', _safe_text(parsed.subject, 'subject'))}"
    subject = subject.strip() if subject.strip() != "Ontvangen:" else "Ontvangen: uw bericht"
    parent = parsed.message_id or ""
    refs = " ".join([*parsed.references[-(MAX_REFERENCES - 1) :], parent]).strip()
    text = ACK_TEXT.format(name=to[1] or "heer, mevrouw", mailbox=settings.name)
    message_id = _new_message_id(settings, conversation_id)
    data = _build(settings, to, subject, message_id, parent, refs, text, None, auto=True)
    try:
        _send(settings, "", to[0], message_id, data)  # null envelope sender (RFC 3834 3.3)
    except NewsletterError as exc:
        return f"not sent: {exc}"
    _store_outgoing(
        db,
        conversation_id,
        "acknowledgement",
        message_id,
        parent,
        refs,
        settings,
        to[0],
        subject,
        text,
        "automatisch",
        None,
    )
    return "sent"


# -- reports ---------------------------------------------------------------------------------


def age_days(created_at: str, now: datetime | None = None) -> int:
    moment = datetime.fromisoformat(created_at)
    return max(0, ((now or clock.now()) - moment).days)


def age_text(created_at: str, now: datetime | None = None) -> str:
    delta = (now or clock.now()) - datetime.fromisoformat(created_at)
    hours = max(0, int(delta.total_seconds() // 3600))
    return f"{hours}h" if hours < 48 else f"{hours // 24}d"


def report(db: Database, settings: Settings) -> dict[str, Any]:
    """Open questions (new and open) by age since they came in, and by theme."""
    rows = [r for r in list_conversations(db) if r["status"] in OPEN_STATUSES]
    by_age = {label: 0 for label, _, _ in AGE_BUCKETS}
    by_theme: dict[str, dict[str, int]] = {}
    for row in rows:
        days = age_days(row["created_at"])
        label = next(
            lab for lab, low, high in AGE_BUCKETS if days >= low and (high is None or days <= high)
        )
        by_age[label] += 1
        counts = by_theme.setdefault(row["theme"], {lab: 0 for lab, _, _ in AGE_BUCKETS})
        counts[label] += 1
    statuses = {s: 0 for s in STATUSES}
    for row in list_conversations(db):
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    return {
        "open": len(rows),
        "by_age": by_age,
        "by_theme": dict(sorted(by_theme.items())),
        "statuses": statuses,
    }


def as_json_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "theme": row["theme"],
        "theme_guessed": bool(row["theme_guessed"]),
        "assignee": row["assignee"],
        "age": age_text(row["created_at"]),
        "correspondent": row["correspondent_email"],
        "correspondent_name": row["correspondent_name"],
        "subject": row["subject"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


# -- privacy ---------------------------------------------------------------------------------


def _person_conversations(db: Database, subject: privacy.Subject) -> list[int]:
    """The conversations with this person as the correspondent."""
    rows = db.execute(
        "select id from conversations where correspondent_email = ? "
        "or (subscriber_id is not null and subscriber_id = ?)",
        [subject.email, subject.subscriber_id],
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def _person_messages(db: Database, subject: privacy.Subject) -> list[tuple[int, str | None]]:
    """(id, Message-ID, direction) of every message in their conversations, and of their
    messages (from or to them) in other people's conversations."""
    ids = _person_conversations(db, subject)
    marks = ",".join("?" * len(ids)) or "null"
    rows = db.execute(
        f"select id, message_id, direction from conversation_messages "
        f"where conversation_id in ({marks}) or from_address = ? or to_address = ?",
        [*ids, subject.email, subject.email],
    ).fetchall()
    return [(int(r[0]), r[1] if r[2] == "out" else None) for r in rows]


def _outbox_folder(settings: Settings) -> Path | None:
    return outbox_folder(settings.transport, settings.project)


def _erase_conversations(db: Database, settings: Settings, subject: privacy.Subject) -> int:
    """`subscribers forget`: the person's conversations with every message in them, their
    messages in other conversations, and the outbox copies of what we sent them."""
    messages = _person_messages(db, subject)
    folder = _outbox_folder(settings)
    for _, message_id in messages:
        if folder is not None and message_id:
            (folder / f"{safe_filename(message_id)}.eml").unlink(missing_ok=True)
    ids = [m for m, _ in messages]
    marks = ",".join("?" * len(ids)) or "null"
    removed = db.execute(f"delete from conversation_messages where id in ({marks})", ids)
    own = _person_conversations(db, subject)
    marks = ",".join("?" * len(own)) or "null"
    cursor = db.execute(f"delete from conversations where id in ({marks})", own)
    # Counted in conversations; only messages in others' conversations: counted in messages.
    return int(cursor.rowcount) or int(removed.rowcount)


def _collect_conversations(
    db: Database, settings: Settings, subject: privacy.Subject
) -> list[dict[str, Any]]:
    ids = _person_conversations(db, subject)
    marks = ",".join("?" * len(ids)) or "null"
    return list(
        db.query(
            f"select c.id, c.subject, c.status, c.theme, c.created_at, "
            f"(select count(*) from conversation_messages m where m.conversation_id = c.id) "
            f"as messages from conversations c where c.id in ({marks}) order by c.id",
            ids,
        )
    )


privacy.register("conversations", _erase_conversations, _collect_conversations)


def _from_processing(db: Database, settings: Settings, inbound_id: int) -> None:
    add_inbound(db, settings, inbound_id)


def catch_up(db: Database, settings: Settings) -> list[str]:
    """Questions processed earlier whose conversation was never made (the hook failed then).

    Rows that `subscribers forget` emptied are left alone: nothing of theirs comes back.
    """
    problems = []
    for (inbound_id,) in db.execute(
        "select i.id from inbound i where i.status = 'processed' and i.kind = 'message' "
        "and i.from_address is not null and not exists "
        "(select 1 from conversation_messages m where m.inbound_id = i.id) order by i.id"
    ).fetchall():
        try:
            add_inbound(db, settings, inbound_id)
        except NewsletterError as exc:
            problems.append(f"inbound {inbound_id}: {exc}")
    return problems


# Every fetched message that is a question for staff becomes (part of) a conversation.
processing.on_message(_from_processing)
processing.on_catch_up(catch_up)
