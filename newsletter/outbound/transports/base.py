"""The transport seam: the delivery loop calls open() once, send() per message, close() once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Envelope:
    sender: str  # the SMTP envelope sender (MAIL FROM)
    recipient: str
    message_id: str


class Transport(Protocol):
    """Implement send(); raise TransportError(permanent=...) when one message cannot go."""

    def open(self) -> None: ...

    def send(self, envelope: Envelope, data: bytes) -> str:
        """Deliver one message; return the server's reply (or where it was written)."""
        ...

    def close(self) -> None: ...

    def describe(self) -> str: ...


def safe_filename(message_id: str) -> str:
    """A Message-ID as a file name: the same message always lands in the same file."""
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in message_id.strip("<>"))


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
    tmp.replace(path)
