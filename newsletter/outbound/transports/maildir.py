"""maildir:DIR — delivers into a Maildir (new/), e.g. a local test mailbox."""

from __future__ import annotations

import mailbox
from pathlib import Path

from newsletter.errors import TransportError
from newsletter.outbound.transports.base import Envelope


class MaildirTransport:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.box: mailbox.Maildir | None = None

    def open(self) -> None:
        try:
            self.box = mailbox.Maildir(self.folder, create=True)
        except OSError as exc:
            raise TransportError(f"maildir {self.folder}: cannot open ({exc.strerror})") from None

    def send(self, envelope: Envelope, data: bytes) -> str:
        assert self.box is not None, "open() first"
        try:
            key = self.box.add(data)
        except OSError as exc:
            raise TransportError(f"maildir {self.folder}: cannot write ({exc.strerror})") from None
        return f"delivered {key}"

    def close(self) -> None:
        if self.box is not None:
            self.box.close()
            self.box = None

    def describe(self) -> str:
        return f"maildir {self.folder}"
