"""MIME messages, built once per variant as a skeleton and completed per recipient by substitution.

Building an EmailMessage per recipient costs 6-9 ms (DESIGN.md); here the headers that are the
same for everyone, the boundary, the part headers and the quoted-printable bodies are bytes made
once; per recipient only a few short fields are encoded and joined in (tens of microseconds).
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import html
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from newsletter import clock
from newsletter.addresses import normalise_email
from newsletter.config import Settings, require_secret
from newsletter.headers import check_header_value, encode_header, format_address
from newsletter.render.issue import MARKER, Variant

CRLF = b"\r\n"
_QP = b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
TEXT_PART = b"Content-Type: text/plain; charset=utf-8\r\n" + _QP
HTML_PART = b"Content-Type: text/html; charset=utf-8\r\n" + _QP


# Bulk mail: Exchange sends no out-of-office or auto-reply back, and most other auto-responders
# stay silent on Precedence: bulk (issue #16). Every skeleton carries them.
QUIET_HEADERS = {"X-Auto-Response-Suppress": "OOF, AutoReply", "Precedence": "bulk"}

SOFT_BREAK = b"=\r\n"  # a quoted-printable line break that decodes to nothing


@dataclass(frozen=True)
class Template:
    """A body split at its markers, the literal parts already quoted-printable encoded.

    Each literal and each substituted value is encoded on its own, joined by soft line breaks,
    so per recipient only the few short values are encoded and the lines stay within 76.
    """

    parts: tuple[bytes, ...]
    fields: tuple[str, ...]
    escape: bool

    @classmethod
    def compile(cls, text: str, escape: bool) -> Template:
        pieces = MARKER.split(text)
        return cls(tuple(_qp(p) for p in pieces[0::2]), tuple(pieces[1::2]), escape)

    def fill(self, values: dict[str, str]) -> bytes:
        """The encoded body for one recipient."""
        out = [self.parts[0]]
        for name, literal in zip(self.fields, self.parts[1:], strict=True):
            value = values[name]
            out += (
                SOFT_BREAK,
                _qp(html.escape(value, quote=True) if self.escape else value),
                SOFT_BREAK,
                literal,
            )
        return b"".join(out)


@dataclass(frozen=True)
class Recipient:
    """What personalisation needs of one person."""

    email: str
    name: str
    salutation: str
    unsubscribe_url: str
    preferences_url: str
    message_id: str
    programme_url: str = ""  # onboarding steps: stop the programme only, keep the newsletter


@dataclass(frozen=True)
class Skeleton:
    """Everything of a message that is the same for every recipient of one variant."""

    head: bytes  # common headers, CRLF-terminated
    boundary: str
    html: Template
    text: Template
    mailto_unsubscribe: str
    list_unsubscribe: bool = True  # False for test copies: no unsubscribe button

    def build(self, recipient: Recipient, date: datetime | None = None) -> bytes:
        """The complete message for one recipient, as bytes ready for SMTP."""
        values = {
            "aanhef": recipient.salutation,
            "naam": recipient.name,
            "email": recipient.email,
            "afmelden_url": recipient.unsubscribe_url,
            "voorkeuren_url": recipient.preferences_url,
            "stoppen_url": recipient.programme_url,
        }
        unsubscribe = check_header_value(recipient.unsubscribe_url, "unsubscribe URL")
        personal = (
            f"To: {format_address(recipient.name, recipient.email)}\r\n"
            f"Date: {format_datetime((date or clock.now()).astimezone(clock.AMSTERDAM))}\r\n"
            f"Message-ID: {check_header_value(recipient.message_id, 'Message-ID')}\r\n"
            + (
                f"List-Unsubscribe: <{unsubscribe}>, <{self.mailto_unsubscribe}>\r\n"
                if self.list_unsubscribe
                else ""
            )
        ).encode("ascii")
        boundary = self.boundary.encode()
        return b"".join(
            [
                self.head,
                personal,
                b'Content-Type: multipart/alternative; boundary="',
                boundary,
                b'"\r\n\r\n',
                b"--",
                boundary,
                CRLF,
                TEXT_PART,
                self.text.fill(values),
                CRLF,
                b"--",
                boundary,
                CRLF,
                HTML_PART,
                self.html.fill(values),
                CRLF,
                b"--",
                boundary,
                b"--",
                CRLF,
            ]
        )


def _qp(text: str) -> bytes:
    """Quoted-printable with CRLF, lines of at most 76, and no line that starts with a dot.

    A leading dot would have to be doubled on the wire (SMTP dot-stuffing, a regular expression
    over the whole message, per recipient); written as =2E it never needs to be. (b2a_qp can
    also leave a 77-character line when whitespace ends a line: that is broken again here.)
    """
    data = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    lines = data.split(b"\n")
    if data.startswith(b".") or b"\n." in data or max(map(len, lines)) > 76:
        data = b"\n".join(_fit(line) for line in lines)
    return data.replace(b"\n", CRLF)


def _fit(line: bytes) -> bytes:
    """One encoded line made safe: =2E for a leading dot, a soft break when it is too long."""
    if line.startswith(b"."):
        line = b"=2E" + line[1:]
    if len(line) <= 76:
        return line
    cut = 75  # never inside an =XX escape
    while b"=" in line[cut - 2 : cut]:
        cut -= 1
    return line[:cut] + b"=\n" + _fit(line[cut:])


def make_skeleton(
    settings: Settings,
    subject: str,
    variant: Variant,
    extra_headers: dict[str, str] | None = None,
    *,
    list_unsubscribe: bool = True,
) -> Skeleton:
    """The per-variant skeleton; every header value passes the CR/LF/encoded-word gate.

    list_unsubscribe=False leaves out List-Unsubscribe and List-Unsubscribe-Post (test copies)."""
    check_header_value(subject, "subject")
    mailto = f"mailto:{settings.sender_address}?subject=afmelden"
    headers = {
        "From": format_address(settings.name, settings.sender_address),
        "Reply-To": settings.reply_to,
        "Subject": encode_header(subject),
        "MIME-Version": "1.0",
        "List-Id": f"{encode_header(settings.name)} <{settings.list_id}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Content-Language": "nl",
        **QUIET_HEADERS,
    }
    if not list_unsubscribe:
        del headers["List-Unsubscribe-Post"]
    for name, value in (extra_headers or {}).items():
        headers[name] = encode_header(check_header_value(value, name))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items()).encode("ascii")
    # "=_" never occurs in quoted-printable output, so the boundary cannot collide with a body.
    boundary = f"=_ipo_{secrets.token_hex(12)}"
    return Skeleton(
        head,
        boundary,
        Template.compile(variant.html, escape=True),
        Template.compile(variant.text, escape=False),
        mailto,
        list_unsubscribe,
    )


def message_id(settings: Settings, mailing_id: str, subscriber_id: int) -> str:
    """Unique per (mailing, recipient), the same on every retry (it is stored with the row),
    and keyed: a bounce or complaint quoting it proves it saw our message; nobody can make
    one up from the mailing and a subscriber number."""
    key = require_secret(settings)[-1].encode()
    digest = hmac.new(key, f"{mailing_id}/{subscriber_id}".encode(), hashlib.sha256).hexdigest()
    digest = digest[:16]
    safe = re.sub(r"[^A-Za-z0-9.-]", "-", mailing_id)
    return f"<{safe}.{subscriber_id}.{digest}@{settings.sender_domain}>"


KEYED_ID = re.compile(r"<([a-z]+)\.([0-9a-f]{16})\.([0-9a-f]{16})@([^<>@\s]+)>")


def _tag(key: str, purpose: str, nonce: str, recipient: str) -> str:
    message = f"message-id/{purpose}/{nonce}/{normalise_email(recipient)}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:16]


def keyed_message_id(settings: Settings, recipient: str, purpose: str = "bericht") -> str:
    """A fresh Message-ID for one message to recipient, keyed with the instance secret:
    <purpose.nonce.tag@domain>. Only we can make one, and `read_keyed_message_id` tells ours,
    and to whom it went, from a made-up one (a reply quoting it proves its sender saw it)."""
    if not re.fullmatch(r"[a-z]+", purpose):
        raise ValueError(f"purpose must be lowercase letters, not {purpose!r}")
    nonce = secrets.token_hex(8)
    tag = _tag(require_secret(settings)[-1], purpose, nonce, recipient)
    return f"<{purpose}.{nonce}.{tag}@{settings.sender_domain}>"


def read_keyed_message_id(settings: Settings, value: str, recipient: str) -> str | None:
    """The purpose of a Message-ID we made for recipient (any key in rotation), else None."""
    match = KEYED_ID.fullmatch(value.strip().lower())
    if not match or match[4] != settings.sender_domain.lower():
        return None
    purpose, nonce, tag = match[1], match[2], match[3]
    for key in require_secret(settings):
        if hmac.compare_digest(_tag(key, purpose, nonce, recipient), tag):
            return purpose
    return None
