"""Reading a report's parts: headers, decoded text, DSN fields, the returned message."""

from __future__ import annotations

import email
import email.header
import email.message
import email.utils
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from newsletter.headers import decode_text
from newsletter.inbound.classify.verdict import MAX_PARTS, TEXT_LIMIT

ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]{2,}")
STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
REPLY = re.compile(r"(?<![\d.\-])([245][0-5]\d)(?:[ ,;:-]|$)")
# A Message-ID field in a returned header block or a quoted text: also indented or quoted with
# "> ", Original-Message-ID, unbracketed, or cut off before its ">" (a truncated report).
MID = re.compile(
    r"^[ \t>]*(?:original-)?message-id:[ \t]*(?:\r?\n[ \t]+)?(<?[^<>\s]{1,990}>?)", re.I | re.M
)
_BRACKETED_ID = re.compile(r"<([^<>\s]{1,990})>")
_ID_TOKEN = re.compile(r"[^<>\s()\"\x00-\x1f\x7f]{1,990}")


def message_id_in(value: str) -> str:
    """The Message-ID in a header value as <id>: bracketed or not, cut off before its ">" or not;
    "" when there is none (empty, only a comment, spaces inside)."""
    value = (value or "").strip()
    found = _BRACKETED_ID.search(value)
    if found:
        return f"<{found.group(1)}>"
    token = _ID_TOKEN.fullmatch(value.removeprefix("<").removesuffix(">").strip())
    return f"<{token.group(0)}>" if token else ""


def _text(value: Any) -> str:
    """A header value as text, whatever its encoding; never raises."""
    return decode_text(value)


def _header(message: Message, name: str) -> str:
    try:
        return _text(message.get(name))
    except Exception:
        return ""


def _address(value: str) -> str:
    try:
        found = email.utils.parseaddr(value)[1]
    except Exception:
        found = ""
    if "@" not in found:
        match = ADDRESS.search(value)
        found = match.group(0) if match else ""
    return found.strip().strip("<>").lower()


def _payload_text(part: Message, limit: int = TEXT_LIMIT) -> str:
    """The decoded text of a leaf part, at most limit characters; never raises."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        if isinstance(raw, list):
            return "\n".join(_message_text(p) for p in raw if isinstance(p, Message))[:limit]
        return str(raw or "")[:limit]
    if not isinstance(payload, bytes):
        return str(payload)[:limit]
    payload = payload[: limit * 4]
    try:
        charset = part.get_content_charset() or "utf-8"
    except Exception:  # a malformed charset parameter
        charset = "utf-8"
    try:
        return payload.decode(charset)[:limit]
    except (LookupError, UnicodeDecodeError):
        try:
            return payload.decode("utf-8")[:limit]
        except UnicodeDecodeError:
            return payload.decode("cp1252", "replace")[:limit]


def _message_text(message: Message) -> str:
    """A message/rfc822 part rendered back as its header block (enough to find a Message-ID)."""
    try:
        return "".join(f"{k}: {_text(v)}\n" for k, v in message.items())
    except Exception:
        return ""


def _walk(message: Message) -> Iterator[Message]:
    try:
        for count, part in enumerate(message.walk()):
            if count >= MAX_PARTS:
                return
            yield part
    except Exception:
        return


def _ctype(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def _fields(block: str) -> dict[str, str]:
    """RFC 822-style fields of one block of a delivery-status or feedback-report part."""
    fields: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and name:
            fields[name] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", key.strip()):
            name = key.strip().lower()
            fields[name] = (fields.get(name, "") + " " + value.strip()).strip()
        else:
            name = ""
    return fields


def _strip_type(value: str) -> str:
    """'rfc822; a@b' -> 'a@b'; 'smtp; 550 ...' -> '550 ...'."""
    kind, sep, rest = value.partition(";")
    if sep and re.fullmatch(r"\s*[A-Za-z0-9-]+\s*", kind):
        return rest.strip()
    return value.strip()


@dataclass
class _Parsed:
    message: Message
    report_type: str = ""
    dsn: list[str] = field(default_factory=list)  # message/delivery-status payloads
    feedback: list[str] = field(default_factory=list)  # message/feedback-report payloads
    texts: list[str] = field(default_factory=list)  # text/plain (or html as text) of the report
    returned: list[str] = field(default_factory=list)  # returned header blocks


def _dsn_in_text(text: str) -> str:
    """Delivery-status fields in plain text (broken MIME, or a DSN pasted into a text part)."""
    starts = [m.start() for m in re.finditer(r"^(Final|Original)-Recipient:", text, re.I | re.M)]
    if not starts or not re.search(r"^(Action|Status):", text, re.I | re.M):
        return ""
    start = text.rfind("\n\n", 0, starts[0]) + 1
    end = re.compile(r"^--|^Content-Type:", re.I | re.M).search(text, starts[-1])
    return text[start : end.start() if end else starts[-1] + 2000]


def _parse(message: Message, body: str = "") -> _Parsed:
    parsed = _Parsed(message)
    try:
        parsed.report_type = (message.get_param("report-type") or "").__str__().lower()
    except Exception:
        parsed.report_type = ""
    html: list[str] = []
    inside_returned: set[int] = set()
    for part in _walk(message):
        if id(part) in inside_returned:
            continue
        ctype = _ctype(part)
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            parsed.dsn.append(_payload_text(part))
            _skip_children(part, inside_returned)
        elif ctype == "message/feedback-report":
            parsed.feedback.append(_payload_text(part))
            _skip_children(part, inside_returned)
        elif ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            inners = inner if isinstance(inner, list) else []
            for sub in inners:
                if isinstance(sub, Message):
                    parsed.returned.append(_message_text(sub))
                    for nested in _walk(sub):
                        inside_returned.add(id(nested))
            if not inners:
                parsed.returned.append(_payload_text(part, 64 * 1024))
        elif ctype in ("text/rfc822-headers", "text/global-headers"):
            parsed.returned.append(_payload_text(part, 64 * 1024))
        elif ctype == "text/plain" or (ctype.startswith("text/") and ctype != "text/html"):
            if not part.get_filename():
                parsed.texts.append(_payload_text(part))
        elif ctype == "text/html" and not part.get_filename():
            html.append(_payload_text(part))
    if not parsed.texts and html:
        for chunk in html:
            chunk = re.sub(r"(?is)<(script|style).*?</\1>", " ", chunk)
            chunk = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>", "\n", chunk)
            chunk = re.sub(r"<[^>]+>", " ", chunk)
            chunk = chunk.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">")
            chunk = chunk.replace("&amp;", "&")
            parsed.texts.append(chunk)
    if not parsed.dsn:
        # Broken MIME (a wrong boundary, a truncated report): look for the fields in the text.
        for text in [*parsed.texts, body]:
            found = _dsn_in_text(text)
            if found:
                parsed.dsn.append(found)
                at = text.find(found)
                if not "".join(parsed.texts).strip():
                    parsed.texts.append(text[:at])
                # The returned message follows the fields (its Message-ID ties the report to us).
                parsed.returned.append(text[at:][: 64 * 1024])
                break
    return parsed


def _skip_children(part: Message, skip: set[int]) -> None:
    for child in _walk(part):
        if child is not part:
            skip.add(id(child))


RETURNED_START = re.compile(
    r"^(-+ ?(original message|this is a copy|below this line|the header of the original|"
    r"original message headers|returned message|message header follows|headers? of the message)|"
    r"original message headers:|------ This is a copy|"
    r"\s*--- ?(below|the original|original)|.*original message (header|follow)|"
    r"-{3,}.*(undelivered|original|returned) message)",
    re.I | re.M,
)


def _split_returned(text: str) -> tuple[str, str]:
    """The report's own text and the returned message quoted below it."""
    match = RETURNED_START.search(text)
    if match:
        return text[: match.start()], text[match.start() :]
    header_block = re.search(
        r"^(Received|Return-Path|Message-ID|DKIM-Signature): ", text, re.I | re.M
    )
    if header_block:
        return text[: header_block.start()], text[header_block.start() :]
    return text, ""
