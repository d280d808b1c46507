"""The contact mailbox, inbound: read each source once and store every message exactly once.

Sources are URLs in `[inbox] source`:

- `maildir:DIR` (default `maildir:mailbox`, inside the instance): messages in new/ and cur/;
  each one stored is moved to the Maildir++ sub-folder `.Verwerkt` (never deleted).
- `imap://user@host[:port]/INBOX[?starttls=1]` and `imaps://user@host[:port]/INBOX` (imapclient;
  the password comes from NEWSLETTER_IMAP_PASSWORD, or with `?auth=oauth2` an [oauth2] access
  token signs in by XOAUTH2, as Microsoft 365 needs): the folder's UIDVALIDITY and the last UID
  read are kept in `inbox_state`; each message stored is moved to `Verwerkt` (created if
  missing) with MOVE, or COPY + \\Deleted + EXPUNGE on servers without it.

Exactly once: a message is committed to `inbound` before it is moved, and the unique indexes
(source + UIDVALIDITY + UID, and the Message-ID) refuse a second row, so a crash between the
two, a re-run, or a server that hands out a new UIDVALIDITY never stores a message twice.

Only a message that cannot be read at all (empty, no mail headers, one the parser gives up on,
or larger than `[inbox] max_bytes`) is stored as `quarantined` with a reason, never crashing the
fetch; an oversize one is stored without its raw bytes. Real delivery reports are often untidy
(issue #13): a cut-off returned message, a wrong MIME boundary, 8-bit header bytes or a missing
or unbracketed Message-ID are stored as `new` and classified like any other. A message without a
Message-ID of its own gets a synthetic one, the SHA-256 of its bytes (line endings aside), so a
second fetch of the same bytes is the same message and is stored once.

Classification is not done here: `FetchReport.new_ids` (and `new_message_ids(db)`) name the rows
with status `new` for the classifier, which reads `raw_message()` and calls `set_status()`.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import os
import re
import ssl
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlite_utils import Database

from newsletter import clock, oauth2
from newsletter.clock import utc_iso
from newsletter.config import Settings
from newsletter.errors import ConfigError, NewsletterError
from newsletter.inbound.classify.parts import message_id_in
from newsletter.people import privacy
from newsletter.settings import OAuth2
from newsletter.store import inbound

PASSWORD_ENV = "NEWSLETTER_IMAP_PASSWORD"
PROCESSED_FOLDER = "Verwerkt"
STATUSES = inbound.STATUSES
IMAP_TIMEOUT = 30.0
# The domain of synthetic Message-IDs (RFC 2606 .invalid: never one a real server hands out).
SYNTHETIC_DOMAIN = "no-message-id.invalid"
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_HEADER_LINE = re.compile(rb"(From |[!-9;-~]+:)")  # a header field (or an mbox From line)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass
class SourceReport:
    """What one source gave: new rows, quarantined rows, messages seen before, or an error."""

    source: str
    new_ids: list[int] = field(default_factory=list)
    quarantined_ids: list[int] = field(default_factory=list)
    already_stored: int = 0
    moved: int = 0
    error: str = ""
    config_error: bool = False  # the error is the set-up's (credentials, a setting): exit 2


@dataclass
class FetchReport:
    sources: list[SourceReport] = field(default_factory=list)

    @property
    def new_ids(self) -> list[int]:
        """The `inbound` ids stored with status `new`: what the classifier should look at."""
        return [i for s in self.sources for i in s.new_ids]

    @property
    def quarantined_ids(self) -> list[int]:
        return [i for s in self.sources for i in s.quarantined_ids]

    @property
    def already_stored(self) -> int:
        return sum(s.already_stored for s in self.sources)

    @property
    def failed(self) -> list[SourceReport]:
        return [s for s in self.sources if s.error]

    def summary(self) -> str:
        states = ", ".join(f"{s.source} {'failed' if s.error else 'ok'}" for s in self.sources)
        return (
            f"Inbox: {len(self.new_ids)} new, {len(self.quarantined_ids)} quarantined, "
            f"{self.already_stored} stored before; {states}"
        )


@dataclass(frozen=True)
class Inspection:
    message_id: str | None  # the message's own, or synthetic_message_id() when it has none
    from_address: str
    subject: str
    reason: str  # empty: fit to classify; else why it is quarantined


@dataclass(frozen=True)
class Fetched:
    """One message as a source hands it over (data is the header only when oversize)."""

    uid: str
    data: bytes
    size: int
    received_at: datetime | None
    oversize: bool


# -- storing --------------------------------------------------------------------------------


def inspect_message(data: bytes, size: int, max_bytes: int) -> Inspection:
    """Message-ID, From and Subject, and the reason to quarantine, if any. Never raises.

    Quarantined is only what cannot be read at all; untidy mail (a cut-off or badly bounded
    MIME part, 8-bit header bytes, no Message-ID) is for the classifier, which reads it
    leniently."""
    reason = ""
    if size > max_bytes:
        reason = f"too large: {size:,} bytes, [inbox] max_bytes is {max_bytes:,}; raw not kept"
    if not data.strip():
        return Inspection(None, "", "", reason or "empty message")
    if not _HEADER_LINE.match(data.lstrip()):
        reason = reason or "no mail headers: not a mail message"
    try:
        message = BytesParser(policy=policy.default).parsebytes(data, headersonly=size > max_bytes)
        assert isinstance(message, EmailMessage)
        message_id = _message_id(message) or synthetic_message_id(data)
        sender = _from_address(message)
        subject = _clean(_header(message, "Subject"))[:500]
    except Exception as exc:  # the parser met something it cannot represent
        return Inspection(
            synthetic_message_id(data),
            "",
            "",
            reason or f"cannot be parsed: {type(exc).__name__}: {exc}",
        )
    return Inspection(message_id, sender, subject, reason)


def synthetic_message_id(data: bytes) -> str:
    """A stable Message-ID for a message without one: the SHA-256 of its bytes (CRLF or LF)."""
    digest = hashlib.sha256(data.replace(b"\r\n", b"\n")).hexdigest()
    return f"<{digest}@{SYNTHETIC_DOMAIN}>"


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header the policy cannot fold into an object
        value = None
    if value is None:
        raw = message.get_all(name) if name in message else None
        return str(raw[0]) if raw else ""
    return str(value)


def _clean(text: str) -> str:
    """Printable text that the store can hold: 8-bit header bytes that are not UTF-8 (kept by
    the parser as surrogates) become U+FFFD."""
    try:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return _CONTROL.sub(" ", text).strip()


def _message_id(message: EmailMessage) -> str:
    """The message's own Message-ID as <id> (also when sent without brackets), or ""."""
    return message_id_in(_clean(_header(message, "Message-ID")))


def _from_address(message: EmailMessage) -> str:
    return _clean(parseaddr(_header(message, "From"))[1]).lower()[:320]


def store_message(
    db: Database, settings: Settings, source: str, uidvalidity: int, item: Fetched, now: datetime
) -> tuple[str, int | None]:
    """Commit one message to `inbound`: ("new"|"quarantined", id), or ("stored-before", id)."""
    before = inbound.stored_from_source(db, source, uidvalidity, item.uid)
    if before is not None:
        return "stored-before", before
    max_bytes = settings.inbox.max_bytes
    found = inspect_message(item.data, item.size, max_bytes)
    if found.message_id is not None:
        twin = inbound.stored_with_message_id(db, found.message_id)
        if twin is not None:
            return "stored-before", twin
    status = "quarantined" if found.reason else "new"
    keep = not item.oversize and item.size <= max_bytes
    purge_after = now + timedelta(days=settings.inbox.retention_days)
    row_id = inbound.add_message(
        db,
        inbound.NewMessage(
            source=source,
            source_uid=item.uid,
            uidvalidity=uidvalidity,
            message_id=found.message_id,
            from_address=found.from_address,
            subject=found.subject,
            received_at=utc_iso(item.received_at or now),
            fetched_at=utc_iso(now),
            size_bytes=item.size,
            raw=item.data if keep else None,
            raw_purge_after=utc_iso(purge_after) if keep else None,
            status=status,
            reason=found.reason or None,
        ),
    )
    if row_id is None:  # another fetch stored it a moment ago
        return "stored-before", None
    return status, row_id


def _count(report: SourceReport, outcome: str, row_id: int | None) -> None:
    if outcome == "new" and row_id is not None:
        report.new_ids.append(row_id)
    elif outcome == "quarantined" and row_id is not None:
        report.quarantined_ids.append(row_id)
    else:
        report.already_stored += 1


# The store's functions, named here where processing and the tests have always found them.
purge_raw = inbound.purge_raw
new_message_ids = inbound.new_message_ids
raw_message = inbound.raw_message
set_status = inbound.set_status


def erase_inbound(db: Database, settings: Settings, subject: privacy.Subject) -> int:
    """`subscribers forget`: the person's messages, and any that name the address (a bounce, a
    forward), lose sender, subject and bytes; the row stays so the mail is never read again."""
    return inbound.erase_messages_of(db, subject.email, clock.now())


def collect_inbound(db: Database, settings: Settings, subject: privacy.Subject) -> list[dict]:
    """`subscribers show`: the messages the person sent to the contact mailbox."""
    return [asdict(row) for row in inbound.messages_from(db, subject.email)]


# -- fetching -------------------------------------------------------------------------------


def fetch_inbox(db: Database, settings: Settings, now: datetime) -> FetchReport:
    """Read every configured source; a source that fails is named and the others go on."""
    report = FetchReport()
    for url in settings.inbox.sources:
        source = SourceReport(describe_source(url))
        report.sources.append(source)
        try:
            if url.startswith("maildir:"):
                fetch_maildir(db, settings, url, now, source)
            else:
                fetch_imap(db, settings, url, now, source)
        except NewsletterError as exc:
            source.error = str(exc)
            source.config_error = isinstance(exc, ConfigError)
        except (OSError, imaplib.IMAP4.error) as exc:  # refused, TLS, timeout, IMAP NO/BAD
            source.error = f"{source.source}: {type(exc).__name__}: {exc}"
    return report


def describe_source(url: str) -> str:
    """The source URL as shown in reports: never a password."""
    parts = urlsplit(url)
    if parts.scheme in {"imap", "imaps"} and parts.password is not None:
        return url.replace(f":{parts.password}@", "@", 1)
    return url


def maildir_folder(settings: Settings, url: str) -> Path:
    rest = url.split(":", 1)[1].removeprefix("//")
    if not rest:
        raise ConfigError(f"{settings.config_file}: [inbox] source '{url}' names no folder")
    path = Path(rest)
    return path if path.is_absolute() else settings.project / path


def fetch_maildir(
    db: Database, settings: Settings, url: str, now: datetime, report: SourceReport
) -> None:
    folder = maildir_folder(settings, url)
    done = folder / f".{PROCESSED_FOLDER}"
    for box in (folder, done):
        for part in ("new", "cur", "tmp"):
            (box / part).mkdir(parents=True, exist_ok=True)
    (done / "maildirfolder").touch()  # Maildir++: marks .Verwerkt as a sub-folder
    for part in ("new", "cur"):
        for name in sorted(os.listdir(folder / part)):
            path = folder / part / name
            if name.startswith(".") or not path.is_file():
                continue
            key = name.split(":", 1)[0]  # the flags after ':' change, the key does not
            try:
                item = _read_file(path, key, settings.inbox.max_bytes)
            except FileNotFoundError:  # another fetch moved it meanwhile
                continue
            _count(report, *store_message(db, settings, url, 0, item, now))
            flags = name if ":2," in name else f"{key}:2,"
            try:
                os.replace(path, done / "cur" / flags)
            except FileNotFoundError:  # a fetch running at the same time moved it first
                continue
            report.moved += 1
    inbound.save_source_state(db, url, 0, 0, now)


def _read_file(path: Path, key: str, max_bytes: int) -> Fetched:
    size = path.stat().st_size
    received = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    with path.open("rb") as handle:
        if size <= max_bytes:
            return Fetched(key, handle.read(), size, received, oversize=False)
        head = handle.read(min(size, 1_000_000))  # enough for the headers of any real message
    end = _HEADER_END.search(head)
    return Fetched(key, head[: end.end()] if end else head, size, received, oversize=True)


def _imap_client(settings: Settings, url: str) -> tuple[Any, str, str]:
    """A logged-in IMAPClient, the folder to read and the folder to move processed mail to."""
    from imapclient import IMAPClient

    parts = urlsplit(url)
    implicit_tls = parts.scheme == "imaps"
    port = parts.port or (993 if implicit_tls else 143)
    starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in {"1", "true", "yes"}
    user = unquote(parts.username or "")
    token_auth = parse_qs(parts.query).get("auth", [""])[0] == "oauth2"
    password = os.environ.get(PASSWORD_ENV)
    if token_auth and settings.oauth2 is None:
        raise ConfigError(f"{describe_source(url)}: auth=oauth2 needs an [oauth2] table")
    if not password and not token_auth:
        raise ConfigError(f"{describe_source(url)}: logs in as {user}; set {PASSWORD_ENV}")
    context = ssl.create_default_context(cafile=settings.inbox.ca_file or None)
    client = IMAPClient(
        parts.hostname, port=port, ssl=implicit_tls, ssl_context=context, timeout=IMAP_TIMEOUT
    )
    client.normalise_times = False  # INTERNALDATE with its zone, not naive local time
    try:
        if starttls and not implicit_tls:
            client.starttls(context)
        if token_auth and settings.oauth2 is not None:
            _oauth2_login(client, settings.oauth2, f"IMAP {parts.hostname}:{port}", user)
        else:
            client.login(user, password)
        processed = _processed_folder(client)
    except Exception:
        _logout(client)
        raise
    return client, unquote(parts.path.lstrip("/")) or "INBOX", processed


def _oauth2_login(client: Any, config: OAuth2, server: str, user: str) -> None:
    from imapclient.exceptions import LoginError

    def attempt(token: str) -> None:
        try:
            client.oauth2_login(user, token)
        except LoginError as exc:
            raise oauth2.Refused(str(exc)) from None

    oauth2.sign_in(config, attempt, server, user)


def _processed_folder(client: Any) -> str:
    prefix = ""
    try:
        personal = client.namespace().personal
        if personal:
            prefix = personal[0][0]
            prefix = prefix.decode() if isinstance(prefix, bytes) else str(prefix)
    except Exception:  # a server without NAMESPACE: top level
        prefix = ""
    name = f"{prefix}{PROCESSED_FOLDER}"
    if not client.folder_exists(name):
        client.create_folder(name)
    return name


def _logout(client: Any) -> None:
    try:
        client.logout()
    except Exception:  # the connection is already gone: close the socket only
        with contextlib.suppress(Exception):
            client.shutdown()


def fetch_imap(
    db: Database, settings: Settings, url: str, now: datetime, report: SourceReport
) -> None:
    from imapclient.exceptions import LoginError

    try:
        client, folder, processed = _imap_client(settings, url)
    except LoginError as exc:
        raise ConfigError(
            f"{report.source}: login refused ({exc}); check the user and {PASSWORD_ENV}"
        ) from None
    try:
        selected = client.select_folder(folder)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        state = inbound.source_state(db, url)
        # A new UIDVALIDITY means the old UIDs mean nothing: read the folder again from the
        # start; the Message-ID index keeps what was stored before from being stored twice.
        last_uid = state.last_uid if state and state.uidvalidity == uidvalidity else 0
        can_move = b"MOVE" in client.capabilities()
        for uid in sorted(client.search(["NOT", "DELETED"])):
            if uid > last_uid:
                item = _fetch_one(client, uid, settings.inbox.max_bytes)
                if item is None:  # expunged by another client meanwhile
                    continue
                _count(report, *store_message(db, settings, url, uidvalidity, item, now))
                last_uid = uid
                inbound.save_source_state(db, url, uidvalidity, last_uid, now)
            else:
                report.already_stored += 1  # stored, then the move was interrupted
            _move(client, uid, processed, can_move)
            report.moved += 1
        inbound.save_source_state(db, url, uidvalidity, last_uid, now)
    finally:
        _logout(client)


def _fetch_one(client: Any, uid: int, max_bytes: int) -> Fetched | None:
    meta = client.fetch([uid], ["RFC822.SIZE", "INTERNALDATE"]).get(uid)
    if not meta:
        return None
    size = int(meta.get(b"RFC822.SIZE", 0))
    received = meta.get(b"INTERNALDATE")
    if not isinstance(received, datetime) or received.tzinfo is None:
        received = None
    oversize = size > max_bytes
    part, key = ("BODY.PEEK[HEADER]", b"BODY[HEADER]") if oversize else ("BODY.PEEK[]", b"BODY[]")
    data = client.fetch([uid], [part]).get(uid, {}).get(key)
    if data is None:
        return None
    return Fetched(str(uid), bytes(data), size or len(data), received, oversize=oversize)


def _move(client: Any, uid: int, folder: str, can_move: bool) -> None:
    if can_move:
        client.move([uid], folder)
        return
    client.copy([uid], folder)
    client.add_flags([uid], [b"\\Deleted"])
    if client.has_capability("UIDPLUS"):
        client.uid_expunge([uid])
    else:
        client.expunge()
