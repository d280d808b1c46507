"""Every transport passes the same contract; then what is particular to each."""

from __future__ import annotations

import mailbox
from collections.abc import Callable
from pathlib import Path

import pytest

from newsletter.errors import ConfigError, TransportError
from newsletter.outbound.transports import Envelope, MemoryTransport, Transport, make_transport
from tests.test_smtp import Sink, free_port

MESSAGE = (
    b"From: IPO Statenleden <statenleden@ipo.example>\r\nTo: anna@gld.example\r\n"
    b"Subject: Test\r\nMessage-ID: <m1@ipo.example>\r\n\r\nHallo Anna\r\n"
)


def outbox_contents(folder: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(folder.glob("*.eml"))]


def maildir_contents(folder: Path) -> list[bytes]:
    return [m.as_bytes() for m in mailbox.Maildir(folder, create=False)]


@pytest.fixture(params=["outbox", "maildir", "memory", "smtp"])
def transport_case(request, tmp_path) -> tuple[Transport, Callable[[], list[bytes]]]:
    kind = request.param
    if kind == "outbox":
        transport = make_transport("outbox:out", tmp_path)
        return transport, lambda: outbox_contents(tmp_path / "out")
    if kind == "maildir":
        transport = make_transport("maildir:box", tmp_path)
        return transport, lambda: maildir_contents(tmp_path / "box")
    if kind == "memory":
        memory = make_transport("memory:", tmp_path)
        assert isinstance(memory, MemoryTransport)
        return memory, lambda: [data for _, data in memory.sent]
    from aiosmtpd.controller import Controller

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    request.addfinalizer(controller.stop)
    return make_transport(f"smtp://127.0.0.1:{port}", tmp_path), lambda: [
        data for _, _, data in sink.received
    ]


def test_transport_delivers_each_message_intact(transport_case) -> None:
    transport, delivered = transport_case
    transport.open()
    for n in (1, 2):
        reply = transport.send(
            Envelope("statenleden@ipo.example", "anna@gld.example", f"<m{n}@ipo.example>"),
            MESSAGE.replace(b"<m1@", f"<m{n}@".encode()),
        )
        assert reply
    transport.close()
    got = delivered()
    assert len(got) == 2
    assert all(b"Subject: Test" in data and b"Hallo Anna" in data for data in got)
    assert transport.describe()


def test_outbox_writes_one_file_per_message_id_and_no_temporary_files(tmp_path) -> None:
    transport = make_transport("outbox:out", tmp_path)
    transport.open()
    envelope = Envelope("statenleden@ipo.example", "anna@gld.example", "<m1@ipo.example>")
    transport.send(envelope, MESSAGE)
    transport.send(envelope, MESSAGE)  # a resend after a crash: the same file, not a second one
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["m1_ipo.example.eml"]


def test_smtp_refusal_is_permanent_for_5xx_and_temporary_for_4xx(tmp_path) -> None:
    from aiosmtpd.controller import Controller

    sink = Sink()
    sink.refuse = {
        "weg@gld.example": "550 5.1.1 No such user",
        "vol@gld.example": "452 4.2.2 Mailbox full",
    }
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        transport = make_transport(f"smtp://127.0.0.1:{port}", tmp_path)
        transport.open()
        with pytest.raises(TransportError) as gone:
            transport.send(Envelope("statenleden@ipo.example", "weg@gld.example", "<a@x>"), MESSAGE)
        with pytest.raises(TransportError) as full:
            transport.send(Envelope("statenleden@ipo.example", "vol@gld.example", "<b@x>"), MESSAGE)
        transport.send(Envelope("statenleden@ipo.example", "anna@gld.example", "<c@x>"), MESSAGE)
        transport.close()
    finally:
        controller.stop()
    assert gone.value.permanent and gone.value.reply == "550 5.1.1 No such user"
    assert not full.value.permanent and full.value.reply == "452 4.2.2 Mailbox full"
    assert [rcpts for _, rcpts, _ in sink.received] == [["anna@gld.example"]]


def test_smtp_without_a_server_is_a_clear_transport_error(tmp_path) -> None:
    transport = make_transport(f"smtp://127.0.0.1:{free_port()}", tmp_path)
    with pytest.raises(TransportError, match=r"SMTP 127\.0\.0\.1:\d+: cannot connect"):
        transport.open()


def test_unknown_transport_and_missing_password_are_config_errors(tmp_path, monkeypatch) -> None:
    with pytest.raises(ConfigError, match="transport 'ftp://x' is unknown"):
        make_transport("ftp://x", tmp_path)
    monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match="set NEWSLETTER_SMTP_PASSWORD"):
        make_transport("smtp://newsletter@relay.ipo.example:587?starttls=1", tmp_path)


@pytest.mark.parametrize("pipelining", [True, False])
def test_smtp_lines_starting_with_a_dot_arrive_intact(tmp_path, pipelining) -> None:
    from tests.faultsmtp import FaultySMTP, Server

    class Plain(FaultySMTP):
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            session.host_name = hostname
            return responses  # no PIPELINING offered: one command at a time

    server = Server(FaultySMTP() if pipelining else Plain())
    body = b"Eerste regel\r\n.tweede regel met een punt\r\n..en nog een\r\n"
    with server as smtp:
        transport = make_transport(server.url, tmp_path)
        transport.open()
        reply = transport.send(
            Envelope("statenleden@ipo.example", "anna@gld.example", "<d@x>"),
            MESSAGE.replace(b"Hallo Anna\r\n", body),
        )
        transport.close()
    assert reply.startswith("250")
    received = smtp.received[0].message().get_content().replace("\r\n", "\n")
    assert received == body.decode().replace("\r\n", "\n")
    assert received.splitlines()[1:] == [".tweede regel met een punt", "..en nog een"]


@pytest.mark.parametrize(
    "url", ["smtp://nb:Geheim123@127.0.0.1:2525", "smtps://nb:Geheim123@relay.example"]
)
def test_a_password_in_a_transport_url_is_refused_and_never_shown(url, tmp_path):
    with pytest.raises(ConfigError) as caught:
        make_transport(url, tmp_path)
    assert "Geheim123" not in str(caught.value)
    assert "nb:…@" in str(caught.value)
    assert "holds a password; remove it and set NEWSLETTER_SMTP_PASSWORD" in str(caught.value)
