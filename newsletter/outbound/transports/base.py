"""The transport seam: the delivery loop calls open() once, send() per message, close() once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


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


class Unclaimed(Exception):
    """The gate said no: the message was not handed over (its row was not claimed)."""


@runtime_checkable
class GatedTransport(Protocol):
    """A transport that can do everything but the hand-over while the ledger commits.

    send_gated() sends all of a message except what hands it over (SMTP: the final dot), then
    calls gate(): True hands it over, False abandons it (the connection is dropped, so the
    server discards it) and raises Unclaimed. The engine commits the claim in the meantime.
    """

    def send_gated(self, envelope: Envelope, data: bytes, gate: Callable[[], bool]) -> str: ...


def safe_filename(message_id: str) -> str:
    """A Message-ID as a file name: the same message always lands in the same file."""
    return "".join(c if c.isalnum() or c in ".-_" else "_" for c in message_id.strip("<>"))


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
    tmp.replace(path)
