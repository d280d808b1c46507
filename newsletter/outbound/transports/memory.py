"""memory: — keeps messages in a list; for tests. fail_for makes chosen recipients fail."""

from __future__ import annotations

from dataclasses import dataclass, field

from newsletter.errors import TransportError
from newsletter.outbound.transports.base import Envelope


@dataclass
class MemoryTransport:
    sent: list[tuple[Envelope, bytes]] = field(default_factory=list)
    fail_for: dict[str, str] = field(default_factory=dict)  # recipient -> reply; 5xx is permanent
    opened: int = 0

    def open(self) -> None:
        self.opened += 1

    def send(self, envelope: Envelope, data: bytes) -> str:
        if envelope.recipient in self.fail_for:
            reply = self.fail_for[envelope.recipient]
            raise TransportError(reply, permanent=reply.startswith("5"), reply=reply)
        self.sent.append((envelope, data))
        return "250 OK (memory)"

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "memory"
