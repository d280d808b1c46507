"""Transports by URL scheme: a new one is one file here and one line in TRANSPORTS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from newsletter.config import redact_url
from newsletter.errors import ConfigError
from newsletter.outbound.transports.base import Envelope, Transport
from newsletter.outbound.transports.maildir import MaildirTransport
from newsletter.outbound.transports.memory import MemoryTransport
from newsletter.outbound.transports.outbox import OutboxTransport
from newsletter.outbound.transports.smtp import SMTPTransport


def _folder(project: Path, url: str) -> Path:
    rest = url.split(":", 1)[1].removeprefix("//")
    if not rest:
        raise ConfigError(f"transport '{url}': no folder; write e.g. outbox:outbox")
    path = Path(rest)
    return path if path.is_absolute() else project / path


TRANSPORTS: dict[str, Callable[[Path, str], Transport]] = {
    "outbox": lambda project, url: OutboxTransport(_folder(project, url)),
    "maildir": lambda project, url: MaildirTransport(_folder(project, url)),
    "smtp": lambda project, url: SMTPTransport(url, project=project),
    "smtps": lambda project, url: SMTPTransport(url, project=project),
    "memory": lambda project, url: MemoryTransport(),
}


def make_transport(url: str, project: Path) -> Transport:
    """The transport a URL names (relative folders are inside the instance)."""
    scheme = url.split(":", 1)[0]
    if scheme not in TRANSPORTS:
        raise ConfigError(
            f"transport '{redact_url(url)}' is unknown; use outbox:DIR, maildir:DIR, "
            "smtp://host:port or smtps://host:port"
        )
    return TRANSPORTS[scheme](project, url)


def send_one(url: str, project: Path, envelope: Envelope, data: bytes) -> str:
    """One message outside any mailing (a confirmation, a reply): open, send, close."""
    transport = make_transport(url, project)
    transport.open()
    try:
        return transport.send(envelope, data)
    finally:
        transport.close()


def outbox_folder(url: str, project: Path) -> Path | None:
    """The folder an outbox: transport writes its .eml files to, else None."""
    if not url.startswith("outbox:"):
        return None
    transport = make_transport(url, project)
    return transport.folder if isinstance(transport, OutboxTransport) else None


def describe_transport(url: str, project: Path) -> str:
    """Where a transport URL delivers, in words: "outbox /srv/ipo/outbox", "SMTP host:port"."""
    return make_transport(url, project).describe()


def transport_factory(url: str, project: Path) -> Callable[[], Transport]:
    """A maker of fresh transports (one per connection); checks the URL at once."""
    make_transport(url, project)
    return lambda: make_transport(url, project)


__all__ = [
    "TRANSPORTS",
    "Envelope",
    "MemoryTransport",
    "Transport",
    "describe_transport",
    "make_transport",
    "transport_factory",
]
