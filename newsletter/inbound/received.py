"""Reading a received question: ids for threading, sender, subject, body text, and whether
RFC 3834 forbids an automatic answer to it. Never raises on bad input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from newsletter import clock
from newsletter.headers import decode_text, is_message_id
from newsletter.sanitize import clean_html, html_to_text

BODY_LIMIT = 200_000  # characters of body text kept per message
_MSGID_FIND = re.compile(r"<[^<>\s]{1,500}>")


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
        if is_message_id(candidate) and candidate not in found:
            found.append(candidate)
    return found


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
