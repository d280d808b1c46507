"""`newsletter demo`: a complete instance, every stage run, one message per intended recipient."""

from __future__ import annotations

import email
from email import policy
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter import store
from newsletter.cli.main import cli
from tests.test_smtp import Sink, free_port

# Every test here runs the whole demo (sync, import, build, preflight, send).
pytestmark = pytest.mark.slow


def demo(*args: str):
    return CliRunner().invoke(cli, ["demo", *args], catch_exceptions=False)


def test_demo_sends_one_message_per_active_subscriber_to_the_outbox(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = demo("--dir", str(folder))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"Demo instance in {folder}"
    assert "626 sent now" in result.output
    db = store.connect(folder / "newsletter.db")
    # Everyone active at the send; the demo's mailbox afterwards unsubscribes or bounces a few.
    active = {r["email"] for r in db.query("select email from deliveries where status = 'sent'")}
    files = [  # the issue: not the unsubscribe confirmation, not the onboarding steps
        p
        for p in sorted((folder / "outbox").glob("*.eml"))
        if b"List-Unsubscribe:" in p.read_bytes() and b"Auto-Submitted:" not in p.read_bytes()
    ]
    recipients = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)["To"].addresses[0].addr_spec
        for p in files
    ]
    active = {  # the issue went to everyone active at the send
        r["email"]
        for r in db.query(
            "select email from deliveries where status = 'sent' and mailing_id = 'issue-2026-12'"
        )
    }
    assert len(files) == len(active) == 626
    assert set(recipients) == active
    assert (folder / "build" / "archief" / "2026-12" / "index.html").is_file()
    assert (
        "Dit is de laatste nieuwsbrief van 2026"
        in (folder / "content" / "issues" / "2026-12.md").read_text()
    )


def test_demo_refuses_to_overwrite_an_instance_unless_fresh(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    assert demo("--dir", str(folder), "--no-send").exit_code == 0
    again = demo("--dir", str(folder), "--no-send")
    assert again.exit_code == 2
    assert again.output == (
        f"Error: {folder} already holds an instance; pass --fresh to rebuild "
        "it, or choose another --dir\n"
    )
    assert demo("--dir", str(folder), "--no-send", "--fresh").exit_code == 0


def test_demo_without_sending_leaves_the_outbox_empty(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = demo("--dir", str(folder), "--no-send")
    assert "Sent: nothing (--no-send)" in result.output
    assert not (folder / "outbox").exists()


def test_demo_can_send_to_a_local_smtp_server(tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller

    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        result = demo("--dir", str(tmp_path / "demo"), "--transport", f"smtp://127.0.0.1:{port}")
    finally:
        controller.stop()
    assert result.exit_code == 0, result.output
    assert len(sink.received) == 626
    assert f"via SMTP 127.0.0.1:{port}" in result.output
