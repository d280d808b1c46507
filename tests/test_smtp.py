"""The December issue through a real SMTP server (aiosmtpd on 127.0.0.1), read from the wire."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Iterator
from email import policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from newsletter.config import load_settings
from newsletter.tokens import UNSUBSCRIBE, read_token


class Sink:
    """Keeps what it receives; refuses the recipients in `refuse` with the given reply."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


# Each test sends the whole December issue (626 messages) through a real SMTP server: slow.
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, str]]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


def by_recipient(sink: Sink) -> dict[str, email.message.EmailMessage]:
    return {
        rcpts[0]: email.message_from_bytes(data, policy=policy.default)  # type: ignore[misc]
        for _, rcpts, data in sink.received
    }


def test_december_issue_arrives_once_per_recipient_with_personal_links(
    smtp, run, instance, loaded, approved
) -> None:
    sink, url = smtp
    result = run("issue", "send", "2026-12", "--transport", url)
    assert result.exit_code == 0, result.output
    active = [
        r["email"] for r in loaded.query("select email from subscribers where status = 'active'")
    ]
    messages = by_recipient(sink)
    assert len(sink.received) == len(active) == 626
    assert set(messages) == set(active)
    assert all(mail_from == "statenleden@ipo.example" for mail_from, _, _ in sink.received)

    row = next(
        loaded.query(
            "select id, email, name from subscribers where email = ?", ["kees.sanders@gld.example"]
        )
    )
    message = messages[row["email"]]
    assert message["To"] == f"{row['name']} <{row['email']}>"
    assert message["Subject"] == "Nieuwsbrief Statenleden december 2026"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "Geachte heer Sanders," in text
    assert re.search(r"<p[^>]*>Geachte heer Sanders,</p>", html)
    assert "Uw provincie: Gelderland" in html and "Uw provincie: Gelderland" in text
    assert "kees.sanders@gld.example" in text  # "U ontvangt deze nieuwsbrief op ..."

    unsubscribe = re.search(r"<(https://[^>]+/afmelden/[^>]+)>", message["List-Unsubscribe"])
    assert unsubscribe is not None
    token = unsubscribe.group(1).rsplit("/", 1)[1]
    assert read_token(load_settings(instance), UNSUBSCRIBE, token) == row["id"]
    assert f'href="{unsubscribe.group(1)}"' in html
    # the text part puts a long link on its own line (issue #16: wrapped at 76, URLs whole)
    assert f"Afmelden voor deze nieuwsbrief:\n{unsubscribe.group(1)}\n" in text.replace(
        "\r\n", "\n"
    )
    assert "https://www.ipo.example/nieuwsbrief/archief/2026-12/" in html

    # Another person's message carries another token and salutation.
    other = messages["petra.claessens@gld.example"]
    assert other["List-Unsubscribe"] != message["List-Unsubscribe"]
    assert "Geachte mevrouw Claessens," in other.get_body(("plain",)).get_content()


def test_running_send_again_sends_nothing_twice(smtp, run, loaded, approved) -> None:
    sink, url = smtp
    assert run("issue", "send", "2026-12", "--transport", url).exit_code == 0
    first = len(sink.received)
    again = run("issue", "send", "2026-12", "--transport", url)
    assert again.exit_code == 0
    assert len(sink.received) == first
    assert "0 sent now, 626 sent before" in again.output


def test_a_refused_recipient_is_named_and_the_rest_is_delivered(
    smtp, run, loaded, approved
) -> None:
    sink, url = smtp
    sink.refuse["kees.sanders@gld.example"] = "550 5.1.1 User unknown"
    result = run("issue", "send", "2026-12", "--transport", url)
    assert result.exit_code == 1
    assert "Failed: kees.sanders@gld.example: 550 5.1.1 User unknown" in result.output
    assert len(sink.received) == 625
    row = next(
        loaded.query(
            "select status, last_reply from deliveries where email = ?",
            ["kees.sanders@gld.example"],
        )
    )
    assert row == {"status": "failed", "last_reply": "550 5.1.1 User unknown"}
    # A permanent failure is not retried by a rerun; nobody else gets a second copy.
    sink.refuse.clear()
    assert run("issue", "send", "2026-12", "--transport", url).exit_code == 0
    assert len(sink.received) == 625
