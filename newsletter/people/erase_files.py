"""Clearing a forgotten person from the instance's files: outbox copies, build output, previews.

`forget` erases the person from the store first and, in the same transaction, records what is
still to be cleared from files (a pending erasure in the store). After the commit the files are
cleared and the record deleted; a crash in between leaves the record, and the next `forget` or
`tick` finishes it. Clearing is idempotent: a file already cleared no longer names them.

- their own messages in the outbox, and any message with them in an address header: deleted;
- other readers' copies that name them (the "Uw AV-leden" block of their province): the line
  about them is taken out of each text part (decoded from quoted-printable or base64 and
  encoded again the same way), other mentions become "[verwijderd]"; a DKIM signature that no
  longer matches the body goes;
- build/ (issue variants, previews, preflight samples): text files redacted the same way; a
  screenshot of a page that named them, and any file that cannot be redacted, is deleted.

The pending record holds the address and the name (what the files are searched for) until
the files are clear; then it is deleted with its cells zeroed (secure_delete) and `forget`
scrubs the store. The address is matched in any case; the name only when it is a full name
(two words or more), so that a one-word name does not redact unrelated text.
"""

from __future__ import annotations

import base64
import email
import email.header
import os
import re
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email import quoprimime
from email.message import Message
from email.policy import compat32
from pathlib import Path

from markupsafe import escape
from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.outbound.transports import outbox_folder
from newsletter.outbound.transports.base import safe_filename
from newsletter.store import erasure, transaction

REDACTED = "[verwijderd]"
# Tests kill the process here (SIGKILL, as kill -9 does) to prove a crash loses nothing.
KILL_AT = "NEWSLETTER_TEST_KILL_AT"
ENTRY_MAX = 400  # a line this short that holds their address is about them: it goes whole
TEXT_SUFFIXES = {".html", ".htm", ".txt", ".md"}  # redacted line by line
ADDRESS_HEADERS = (
    "to", "cc", "bcc", "from", "reply-to", "sender", "delivered-to", "x-original-to",
    "subject", "in-reply-to", "references",
)  # fmt: skip

# The kinds of file work, in the words the report uses (text and --json alike).
OWN = "outbox"  # their own messages: the count of the "outbox" holder
COPIES = "outbox copies redacted"
BUILD = "build files redacted"
PREVIEWS = "previews redacted"
DELETED = "files deleted"
FILE_KINDS = (COPIES, BUILD, PREVIEWS, DELETED)


def kill_point(name: str) -> None:
    """For crash tests only: die at once (SIGKILL) when KILL_AT names this point."""
    if os.environ.get(KILL_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Cleared:
    """What the file work did, per kind (OWN and FILE_KINDS)."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys((OWN, *FILE_KINDS), 0))

    def add(self, other: Cleared) -> None:
        for kind, n in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n

    @property
    def files(self) -> dict[str, int]:
        return {kind: self.counts[kind] for kind in FILE_KINDS}


# -- what to look for ---------------------------------------------------------------------------


def needles_for(email_address: str, name: str | None) -> list[str]:
    """The address, and the name when it is a full name."""
    found = [email_address]
    if name and len(name.split()) >= 2:
        found.append(" ".join(name.split()))
    return found


def own_files(settings: Settings, message_ids: Iterable[str]) -> list[str]:
    """Their own messages in the outbox (by Message-ID), relative to the instance folder."""
    folder = outbox_folder(settings.transport, settings.project)
    if folder is None:
        return []
    return [_relative(settings, folder / f"{safe_filename(m)}.eml") for m in message_ids]


def _relative(settings: Settings, path: Path) -> str:
    try:
        return str(path.relative_to(settings.project))
    except ValueError:
        return str(path)


def pattern_for(needles: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive pattern for every needle, also as HTML escapes it."""
    forms = {form for n in needles for form in (n, str(escape(n)))}
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)), re.I)


# -- redacting text and messages ------------------------------------------------------------------


def redact_text(text: str, pattern: re.Pattern[str], address: str, by_line: bool) -> str:
    """The text without them: a short line holding their address goes, other mentions are
    replaced (by_line False: only replaced, for structured files such as JSON or .ics)."""
    if not pattern.search(text):
        return text
    if not by_line:
        return pattern.sub(REDACTED, text)
    kept: list[str] = []
    for line in text.splitlines(keepends=True):
        if len(line) <= ENTRY_MAX and address.lower() in line.lower():
            # Their entry in a list: when it was the last, the line before ends the list.
            if kept and not _ends_with_br(line) and _ends_with_br(kept[-1]):
                end = kept[-1][len(kept[-1].rstrip("\r\n")) :]
                kept[-1] = kept[-1].rstrip("\r\n")[: -len("<br>")] + end
            continue
        kept.append(pattern.sub(REDACTED, line))
    return "".join(kept)


def _ends_with_br(line: str) -> bool:
    return line.rstrip().lower().endswith("<br>")


def _header_text(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


def _names_in_headers(message: Message, pattern: re.Pattern[str]) -> bool:
    return any(
        pattern.search(_header_text(str(value)))
        for key, value in message.items()
        if key.lower() in ADDRESS_HEADERS
    )


def _part_text(part: Message) -> str | None:
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return None
    try:
        return raw.decode(part.get_content_charset() or "utf-8")
    except (LookupError, UnicodeDecodeError):
        return None


def _set_text(part: Message, text: str) -> None:
    """The part's text, encoded with the transfer encoding it had."""
    data = text.encode(part.get_content_charset() or "utf-8")
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding == "base64":
        part.set_payload(base64.encodebytes(data).decode("ascii"))
    elif encoding == "quoted-printable":
        part.set_payload(quoprimime.body_encode(data.decode("latin-1"), eol="\n"))
    else:
        part.set_payload(data.decode("latin-1") if encoding == "8bit" else text)


def message_names(data: bytes, pattern: re.Pattern[str]) -> bool:
    """Does this message name them anywhere: raw bytes, headers, or any decoded part?"""
    if pattern.search(data.decode("utf-8", "replace")):
        return True
    message = email.message_from_bytes(data, policy=compat32)
    if _names_in_headers(message, pattern):
        return True
    for part in message.walk():
        if part.is_multipart():
            continue
        raw = part.get_payload(decode=True)
        if isinstance(raw, bytes) and pattern.search(
            _part_text(part) or raw.decode("utf-8", "replace")
        ):
            return True
    return False


def redact_message(data: bytes, pattern: re.Pattern[str], address: str) -> bytes | None:
    """The message without them; None when it is to or about them (an address header)."""
    message = email.message_from_bytes(data, policy=compat32)
    if _names_in_headers(message, pattern):
        return None
    changed = False
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        text = _part_text(part)
        if text is None:
            continue
        new = redact_text(text, pattern, address, by_line=True)
        if new != text:
            _set_text(part, new)
            changed = True
    if not changed:
        return data
    del message["DKIM-Signature"]  # it signed the body as it was
    linesep = "\r\n" if b"\r\n" in data[:4096] else "\n"
    return message.as_bytes(policy=compat32.clone(linesep=linesep))


# -- the files ------------------------------------------------------------------------------------


def _write(path: Path, data: bytes) -> None:
    """Atomic, with the file's mode kept: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.erase.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, path.stat().st_mode & 0o7777)
    tmp.replace(path)


def _clear_file(path: Path, pattern: re.Pattern[str], address: str) -> str | None:
    """Clear one file of them; the kind of work done ("redacted", "deleted", "to them"), or None
    when it does not name them."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if path.suffix == ".eml":
        if not message_names(data, pattern):
            return None
        new = redact_message(data, pattern, address)
        if new is None:
            path.unlink(missing_ok=True)
            return "to them"
        check = message_names
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # binary: nothing to redact in place
            if pattern.search(data.decode("latin-1")):
                path.unlink(missing_ok=True)
                return "deleted"
            return None
        if not pattern.search(text):
            return None
        new = redact_text(text, pattern, address, path.suffix in TEXT_SUFFIXES).encode()

        def check(data: bytes, pattern: re.Pattern[str]) -> bool:
            return bool(pattern.search(data.decode("utf-8", "replace")))

    if check(new, pattern):  # could not be redacted (e.g. inside an attachment): it goes
        path.unlink(missing_ok=True)
        return "deleted"
    _write(path, new)
    return "redacted"


def _files(folder: Path | None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".tmp"))


def clear_files(settings: Settings, needles: Sequence[str], own: Sequence[str]) -> Cleared:
    """Delete their own outbox messages and clear every other file that names them."""
    cleared = Cleared()
    counts = cleared.counts
    for relative in own:
        path = settings.project / relative
        if path.is_file():
            path.unlink()
            counts[OWN] += 1
        kill_point("forget-files")
    if not needles:
        return cleared
    pattern, address = pattern_for(needles), needles[0]
    outbox = outbox_folder(settings.transport, settings.project)
    for path in _files(outbox):
        done = _clear_file(path, pattern, address)
        if done == "to them":
            counts[OWN] += 1
        elif done == "redacted":
            counts[COPIES] += 1
        elif done == "deleted":
            counts[DELETED] += 1
        if done:
            kill_point("forget-files")
    for path in _files(settings.build_dir):
        if outbox is not None and path.is_relative_to(outbox):
            continue
        done = _clear_file(path, pattern, address)
        if done is None:
            continue
        preview = "preview" in path.relative_to(settings.build_dir).parts
        if done == "redacted":
            counts[PREVIEWS if preview else BUILD] += 1
        else:
            counts[DELETED] += 1
        # A screenshot of a page that named them shows them too.
        for shot in path.parent.parent.glob(f"screenshots/{path.stem}-*.png"):
            shot.unlink(missing_ok=True)
            counts[DELETED] += 1
        kill_point("forget-files")
    return cleared


def finish_pending(db: Database, settings: Settings) -> list[tuple[int, Cleared]]:
    """Clear the files of every pending erasure, oldest first, and delete each record once its
    files are clear; what each did. Run again after a crash, it finishes what is left."""
    done = []
    erasure.secure_delete(db)  # the record names the person: its cells are zeroed
    for record in erasure.pending(db):
        cleared = clear_files(settings, record.needles, record.own_files)
        with transaction(db):
            erasure.finish_pending(db, record.id)
        done.append((record.id, cleared))
    return done
