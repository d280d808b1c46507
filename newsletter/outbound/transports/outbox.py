"""outbox:DIR — one .eml file per message, written atomically; the embedded default."""

from __future__ import annotations

from pathlib import Path

from newsletter.errors import TransportError
from newsletter.outbound.transports.base import Envelope, safe_filename, write_atomically


class OutboxTransport:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise TransportError(f"outbox {self.folder}: cannot create ({exc.strerror})") from None

    def send(self, envelope: Envelope, data: bytes) -> str:
        path = self.folder / f"{safe_filename(envelope.message_id)}.eml"
        try:
            write_atomically(path, data)
        except OSError as exc:
            raise TransportError(f"outbox {self.folder}: cannot write ({exc.strerror})") from None
        return f"written {path.name}"

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"outbox {self.folder}"
