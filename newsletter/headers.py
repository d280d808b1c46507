"""Safe header values: the one gate every value from content, feeds or imports passes through.

Python 3.11 before 3.11.10 (CVE-2024-6923) turns an encoded-word that hides CR/LF into a real
header, so besides raw CR, LF and NUL we refuse anything that looks like an encoded-word.
"""

from __future__ import annotations

import re
from email.header import Header, decode_header
from email.utils import formataddr, parseaddr

from newsletter.errors import HeaderError

_FORBIDDEN = re.compile(r"[\r\n\x00]")
_ENCODED_WORD = re.compile(r"=\?[^?]*\?[bBqQ]\?", re.ASCII)
# A plain local part, or a quoted one without escapes ("jan.de vries"@...: valid, issue #13).
_ADDRESS = re.compile(
    r'^(?:[^@\s<>()\[\],;:"]+|"[^"\\\x00-\x1f\x7f]+")@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$'
)
MAX_HEADER_VALUE = 900


def check_header_value(value: str, field: str) -> str:
    """Return value unchanged if it is safe in a header, else raise HeaderError naming field."""
    if _FORBIDDEN.search(value):
        raise HeaderError(f"{field} contains a line break or NUL; write it on one line")
    if _ENCODED_WORD.search(value):
        raise HeaderError(
            f"{field} contains an encoded-word (=?...?=); write the plain text instead"
        )
    if len(value) > MAX_HEADER_VALUE:
        raise HeaderError(
            f"{field} is {len(value)} characters long; keep it under {MAX_HEADER_VALUE}"
        )
    return value


def check_address(address: str, field: str) -> str:
    """A bare address, checked for header safety and a plausible shape."""
    check_header_value(address, field)
    if not _ADDRESS.match(address):
        raise HeaderError(f"{field} '{address}' is not an e-mail address like naam@ipo.example")
    return address


def parse_sender(value: str) -> tuple[str, str]:
    """Split "Name <address>" into its parts, refusing unsafe or malformed values."""
    check_header_value(value, "sender")
    display, address = parseaddr(value)
    check_address(address, "sender address")
    return display, address


def encode_header(value: str) -> str:
    """A header value ready to write: ASCII as is, anything else as a UTF-8 encoded-word."""
    if value.isascii():
        return value
    return Header(value, "utf-8").encode(linesep="\r\n")


def format_address(name: str, address: str) -> str:
    """ "Name <address>" with the name encoded when it is not ASCII."""
    check_header_value(name, "name")
    check_address(address, "address")
    return formataddr((name, address), charset="utf-8")


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def decode_text(value: object) -> str:
    """A received header value as one line of text, whatever its encoding; never raises.

    For reading mail that came in, never for writing: what comes out may hold anything and must
    pass check_header_value before it goes into a header of ours.
    """
    if value is None:
        return ""
    try:
        out = []
        for chunk, charset in decode_header(str(value)):
            if isinstance(chunk, bytes):
                try:
                    out.append(chunk.decode(charset or "utf-8", "replace"))
                except LookupError:
                    out.append(chunk.decode("latin-1"))
            else:
                out.append(chunk)
        text = "".join(out)
    except Exception:
        text = str(value)
    return re.sub(r"\s+", " ", _CONTROL.sub(" ", text)).strip()


def is_message_id(value: str | None) -> bool:
    """A plain <local@domain> Message-ID we may copy into In-Reply-To/References: ASCII, no
    encoded-word, nothing that could break a header (CVE-2024-6923)."""
    if not value or len(value) > 500 or "=?" in value or not value.isascii():
        return False
    local, _, domain = value[1:-1].rpartition("@")
    return (
        value.startswith("<")
        and value.endswith(">")
        and bool(local)
        and bool(re.fullmatch(r"[!#-;=?-~]+", local))
        and bool(re.fullmatch(r"[A-Za-z0-9.\-\[\]:_]+", domain))
    )
