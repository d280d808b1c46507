"""The hand-off (issue #17): the claim's commit overlaps the next message, and the promise holds.

Whenever the relay takes a message (the final dot), its row is already on disk as `sending`, and
at most one message per connection is taken without being on disk as `sent`: what a crash at
that moment could send twice. The server checks it itself, through its own connection to the
store, which sees only what was committed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from newsletter.issues.build import build_issue
from newsletter.outbound.delivery import SendOptions, send_summary
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.transports import Envelope, transport_factory
from newsletter.outbound.transports.base import Unclaimed
from newsletter.outbound.transports.smtp import SMTPTransport
from tests.faultsmtp import FaultySMTP, Server


class Watching(FaultySMTP):
    """At each message taken: what the store has committed about it and about those before."""

    def __init__(self, database: str) -> None:
        super().__init__()
        self.database = database
        self.taken: list[str] = []  # Message-IDs, in the order the server took them
        self.not_sending: list[str] = []  # taken while its row was not on disk as sending
        self.most_unrecorded = 0  # taken messages not on disk as sent, at the worst moment

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        message_id = self.received[-1].message_id
        with sqlite3.connect(self.database) as store:
            status = dict(store.execute("select message_id, status from deliveries").fetchall())
        with self.lock:
            if status.get(message_id) != "sending":
                self.not_sending.append(message_id)
            self.taken.append(message_id)
            unrecorded = sum(1 for taken in self.taken if status.get(taken) != "sent")
            self.most_unrecorded = max(self.most_unrecorded, unrecorded)
        return reply


@pytest.mark.parametrize("connections", [1, 2, 4])
def test_every_message_is_claimed_on_disk_before_the_relay_takes_it(
    settings, db, small, connections
) -> None:
    small(40)
    watching = Watching(str(settings.database))
    server = Server(watching)
    rendered = build_issue(db, settings, "2026-12").rendered
    with server:
        report = deliver_issue(
            db,
            settings,
            rendered,
            transport_factory(server.url, settings.project),
            SendOptions(connections=connections),
        )
    assert report.sent == 40 and not report.had_failures, send_summary(report)
    assert len(watching.taken) == len(set(watching.taken)) == 40
    assert watching.not_sending == []
    assert 1 <= watching.most_unrecorded <= connections


def test_a_message_whose_claim_is_refused_is_never_handed_over() -> None:
    server = Server()
    with server as smtp:
        transport = SMTPTransport(server.url)
        envelope = Envelope("statenleden@ipo.example", "a.jansen@gld.example", "<1@ipo.example>")
        data = b"Subject: test\r\nMessage-ID: <1@ipo.example>\r\n\r\nhallo\r\n"
        with pytest.raises(Unclaimed):
            transport.send_gated(envelope, data, lambda: False)
        assert smtp.received == []  # everything but the final dot went, and was discarded
        other = Envelope("statenleden@ipo.example", "b.jansen@gld.example", "<2@ipo.example>")
        assert transport.send(other, data).startswith("250")  # a fresh connection goes on
        transport.close()
    assert [r.recipient for r in smtp.received] == ["b.jansen@gld.example"]
