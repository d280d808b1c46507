"""A fault-injecting SMTP server on aiosmtpd (127.0.0.1) for the delivery tests.

Per-recipient replies, a 421 that closes the connection at the Nth message, a connection
dropped after the message was taken in but before the reply, and slow replies.
"""

from __future__ import annotations

import asyncio
import email
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    recipient: str
    message_id: str
    data: bytes

    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class FaultySMTP:
    """What the server received and the faults it is told to make."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)  # always this reply
    rcpt_replies_once: dict[str, str] = field(default_factory=dict)  # this reply once, then 250
    close_with_421_at: set[int] = field(default_factory=set)  # the Nth DATA answered 421 + close
    drop_after_data_at: set[int] = field(default_factory=set)  # the Nth DATA kept, then dropped
    delay: float = 0.0
    data_count: int = 0
    connections: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]  # as Postfix offers it

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        if address in self.rcpt_replies_once:
            return self.rcpt_replies_once.pop(address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.data_count += 1
            number = self.data_count
        if self.delay:
            await asyncio.sleep(self.delay)
        if number in self.close_with_421_at:
            asyncio.get_running_loop().call_later(0.01, server.transport.close)
            return "421 4.3.2 Service shutting down, try again"
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        for recipient in envelope.rcpt_tos:
            self.received.append(
                Received(
                    envelope.mail_from, recipient, str(message["Message-ID"]), envelope.content
                )
            )
        if number in self.drop_after_data_at:
            server.transport.close()  # taken in, but the client never hears the 250
            return "250 OK"
        return "250 2.0.0 Ok: queued"

    def per_recipient(self) -> Counter[str]:
        return Counter(r.recipient for r in self.received)


class Server:
    """Start and stop a FaultySMTP on a free port of 127.0.0.1."""

    def __init__(self, handler: FaultySMTP | None = None) -> None:
        self.handler = handler or FaultySMTP()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultySMTP:
        self.controller.start()
        return self.handler

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()
