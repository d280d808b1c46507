"""The delivery engine against a fault-injecting SMTP server: faults, crashes, locks, limits."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dkim
import pytest

from newsletter import clock, store
from newsletter.cli.present import format_mailing_report
from newsletter.errors import Busy
from newsletter.issues.build import build_issue
from newsletter.outbound import ledger
from newsletter.outbound.delivery import RateLimit, SendOptions, mailing_lock, send_summary
from newsletter.outbound.issue_mail import deliver_issue, queue_issue
from newsletter.outbound.transports import transport_factory
from newsletter.tokens import bounce_address, read_bounce_address
from tests.conftest import approve_issue
from tests.faultsmtp import Server

FAST = SendOptions(reconnect_delays=(0.05, 0.1))
REPO = Path(__file__).resolve().parent.parent


def send(db, settings, server: Server, options: SendOptions = FAST):
    rendered = build_issue(db, settings, "2026-12").rendered
    return deliver_issue(
        db, settings, rendered, transport_factory(server.url, settings.project), options
    )


def statuses(db) -> dict[str, int]:
    return ledger.counts(db, "issue-2026-12")


def test_per_recipient_codes_fail_defer_and_deliver_the_rest(settings, db, small) -> None:
    emails = small(20)
    server = Server()
    with server as smtp:
        smtp.rcpt_replies[emails[3]] = "550 5.1.1 <lid0003@gld.example>: User unknown"
        smtp.rcpt_replies[emails[4]] = "550 5.7.1 Message rejected by policy"
        smtp.rcpt_replies[emails[5]] = "451 4.7.1 Greylisted, try again later"
        report = send(db, settings, server)
    assert smtp.per_recipient() == {e: 1 for e in emails if e not in emails[3:6]}
    assert [e for e, _ in report.failed] == [emails[3], emails[4]]
    assert report.deferred == [(emails[5], "451 4.7.1 Greylisted, try again later")]
    assert statuses(db) == {"sent": 17, "failed": 2, "deferred": 1}
    kinds = {r["reply"][:9]: r["kind"] for r in db.query("select reply, kind from bounces")}
    assert kinds == {"550 5.1.1": "hard", "550 5.7.1": "policy"}  # policy: about us, not them


def test_a_421_mid_batch_reconnects_and_loses_nothing(settings, db, small) -> None:
    emails = small(30)
    server = Server()
    with server as smtp:
        smtp.close_with_421_at = {7, 19}
        report = send(db, settings, server)
    assert smtp.per_recipient() == {e: 1 for e in emails}
    assert report.sent == 30 and not report.had_failures


def test_a_reply_lost_after_the_data_leaves_that_one_in_doubt_not_resent_in_the_same_run(
    settings, db, small
) -> None:
    emails = small(12)
    server = Server()
    with server as smtp:
        smtp.drop_after_data_at = {5}
        first = send(db, settings, server)
        assert first.sent == 11 and not first.relay_down  # the others went on
        assert smtp.per_recipient() == {e: 1 for e in emails}  # nobody twice in one run
        (lost,) = first.in_doubt
        assert statuses(db) == {"sent": 11, "in-doubt": 1}
        skipped = send(db, settings, server, SendOptions(in_doubt="skip", reconnect_delays=(0.05,)))
        assert skipped.in_doubt == [lost] and smtp.per_recipient()[lost] == 1
        resent = send(db, settings, server)  # the default policy: once more, same Message-ID
    assert resent.sent == 1 and smtp.per_recipient()[lost] == 2
    assert len({r.message_id for r in smtp.received if r.recipient == lost}) == 1
    assert statuses(db) == {"sent": 12}


def test_a_relay_that_disappears_stops_the_run_and_the_next_run_finishes(settings, db, small):
    emails = small(10)
    down = Server()  # never started: nothing listens on its port
    report = send(db, settings, down)
    assert report.sent == 0 and "cannot connect" in report.relay_down
    assert statuses(db) == {"queued": 10}
    server = Server()
    with server as smtp:
        report = send(db, settings, server)
    assert smtp.per_recipient() == {e: 1 for e in emails}
    assert statuses(db) == {"sent": 10}


def test_slow_replies_on_two_connections_deliver_everyone_once(settings, db, small) -> None:
    emails = small(24)
    server = Server()
    with server as smtp:
        smtp.delay = 0.02
        report = send(db, settings, server, SendOptions(connections=2, reconnect_delays=(0.05,)))
    assert smtp.per_recipient() == {e: 1 for e in emails}
    assert report.sent == 24
    report_text = format_mailing_report(ledger.mailing_report(db, "issue-2026-12"))
    assert "24 sent" in report_text and "slowest replies:" in report_text


def test_deferred_messages_back_off_and_fail_after_the_retry_window(settings, db, small) -> None:
    emails = small(3)
    server = Server()
    with server as smtp:
        smtp.rcpt_replies[emails[0]] = "452 4.2.2 Mailbox full"
        send(db, settings, server)
        waits = []
        moments = ["2026-12-01T08:36", "2026-12-01T08:47", "2026-12-01T09:08", "2026-12-03T08:31"]
        for moment in moments:
            clock.set_now(moment)
            report = send(db, settings, server)
            row = next(
                db.query(
                    "select status, attempts, next_attempt_at, last_reply from "
                    "deliveries where email = ?",
                    [emails[0]],
                )
            )
            waits.append((row["status"], row["attempts"], row["next_attempt_at"]))
    assert waits[:3] == [
        ("deferred", 2, "2026-12-01T07:46:00+00:00"),  # 10 minutes after the second attempt
        ("deferred", 3, "2026-12-01T08:07:00+00:00"),  # then 20
        ("deferred", 4, "2026-12-01T08:48:00+00:00"),  # then 40
    ]
    assert waits[3][:2] == ("failed", 5)  # 48 hours after the first attempt: given up
    assert row["last_reply"].startswith("gave up after 5 attempts in 48 h: 452 4.2.2")
    assert [e for e, _ in report.failed] == [emails[0]]
    assert smtp.per_recipient() == {emails[1]: 1, emails[2]: 1}


def test_pause_stops_a_running_send_and_resume_lets_it_finish(
    settings, db, staff, small, run
) -> None:
    emails = small(40)
    server = Server()
    with server as smtp:
        smtp.delay = 0.05
        thread_report = {}
        worker = threading.Thread(
            target=lambda: thread_report.update(
                r=send(store.connect(settings.database), settings, server)
            )
        )
        worker.start()
        deadline = time.monotonic() + 20
        while len(smtp.received) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        paused = run("issue", "pause", "2026-12")
        assert paused.exit_code == 0, paused.output
        worker.join(timeout=30)
        report = thread_report["r"]
        assert report.stopped == "paused" and report.sent < 40
        paused_at = len(smtp.received)
        again = send(db, settings, server)  # a paused mailing sends nothing
        assert again.sent == 0 and "paused" in send_summary(again)
        assert len(smtp.received) == paused_at
        assert run("issue", "resume", "2026-12").exit_code == 0
        finished = send(db, settings, server)
    assert smtp.per_recipient() == {e: 1 for e in emails}
    assert finished.status == "sent"


def test_cancel_leaves_the_rest_unsent_for_good(settings, db, staff, small, run) -> None:
    small(10)
    queue_issue(db, settings, build_issue(db, settings, "2026-12").rendered)
    result = run("issue", "cancel", "2026-12", "--yes")
    assert result.exit_code == 0
    assert result.output == "issue-2026-12 cancelled; 10 messages will not be sent\n"
    server = Server()
    with server as smtp:
        again = run("issue", "send", "2026-12", "--transport", server.url)
    assert again.exit_code == 2 and "was cancelled" in again.output
    assert smtp.received == []


def test_a_second_sender_on_the_same_mailing_is_refused(settings, db, small) -> None:
    small(3)
    with (
        mailing_lock(settings, "issue-2026-12"),
        pytest.raises(Busy, match=rf"being sent by process {os.getpid()}"),
        mailing_lock(settings, "issue-2026-12"),
    ):
        pass
    with mailing_lock(settings, "issue-2026-12"):  # released: free again
        pass


def send_command(instance: Path, server: Server, *extra: str) -> list[str]:
    """`newsletter issue send` as its own process, the way cron or a person starts it."""
    return [
        sys.executable,
        "-m",
        "newsletter",
        "--project",
        str(instance),
        "--now",
        "2026-12-01T08:30",
        "issue",
        "send",
        "2026-12",
        "--transport",
        server.url,
        *extra,
    ]


@pytest.mark.slow
def test_two_concurrent_sender_processes_never_double_send(settings, db, small, instance):
    emails = small(60)
    approve_issue(db, settings)
    server = Server()
    with server as smtp:
        smtp.delay = 0.01
        command = send_command(instance, server)
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
        second = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
        outputs = [p.communicate(timeout=120) for p in (first, second)]
        final = subprocess.run(command, capture_output=True, cwd=REPO, timeout=120)
    assert final.returncode == 0, final.stderr
    assert smtp.per_recipient() == {e: 1 for e in emails}
    refused = [err for _, err in outputs if b"is being sent by process" in err]
    assert len(refused) <= 1  # the one that lost the race said so and did nothing


def crash_and_resume(
    instance: Path, server: Server, policy: str, kills: int, total: int, connections: int = 1
) -> list[int]:
    """Run `issue send`, SIGKILL it at random moments `kills` times, then let it finish."""
    rng = random.Random(20261201 + len(policy))
    command = send_command(
        instance, server, "--in-doubt", policy, "--connections", str(connections)
    )
    killed_at = []
    for _ in range(kills):
        before = len(server.handler.received)
        target = before + rng.randint(5, max(6, total // (kills + 2)))
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO
        )
        deadline = time.monotonic() + 60
        while (
            len(server.handler.received) < target
            and process.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.002)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        killed_at.append(len(server.handler.received))
    finish = subprocess.run(command, capture_output=True, cwd=REPO, timeout=300)
    assert finish.returncode in (0, 1), finish.stderr
    return killed_at


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_gives_everyone_the_issue(
    settings, db, small, instance
) -> None:
    emails = small(500)
    approve_issue(db, settings)
    server = Server()
    with server as smtp:
        killed_at = crash_and_resume(instance, server, "resend", kills=10, total=500)
    counts = smtp.per_recipient()
    assert set(counts) == set(emails), "every recipient got the issue"
    duplicates = sum(counts.values()) - len(counts)
    print(f"killed after {killed_at} messages; {duplicates} duplicates")
    assert len(set(killed_at)) == len(killed_at) == 10, "every kill landed mid-send"
    assert killed_at[-1] < 500
    assert duplicates <= len(killed_at), (duplicates, killed_at)
    for address, n in counts.items():
        if n > 1:  # a duplicate carries the same Message-ID, so readers see one message
            assert len({r.message_id for r in smtp.received if r.recipient == address}) == 1
    assert statuses(db) == {"sent": 500}


@pytest.mark.slow
def test_kill_9_with_in_doubt_skip_never_duplicates_and_leaves_exactly_the_in_doubt(
    settings, db, small, instance
) -> None:
    emails = small(500)
    approve_issue(db, settings)
    server = Server()
    with server as smtp:  # on two connections: at most one in doubt per connection per kill
        crash_and_resume(instance, server, "skip", kills=10, total=500, connections=2)
    counts = smtp.per_recipient()
    assert all(n == 1 for n in counts.values()), "no duplicates under --in-doubt skip"
    in_doubt = {
        r["email"] for r in db.query("select email from deliveries where status = 'in-doubt'")
    }
    assert statuses(db).get("sent", 0) + len(in_doubt) == 500
    assert set(emails) - set(counts) <= in_doubt  # whoever got nothing is among the in-doubt
    assert len(in_doubt) <= 2 * 10  # at most one per connection per kill


def test_dkim_signature_verifies_with_the_public_key(settings, db, small, monkeypatch, tmp_path):
    from dataclasses import replace

    from dkim import dknewkey

    emails = small(2)
    key_file = tmp_path / "nieuwsbrief2026.key"
    dknewkey.GenRSAKeys(str(key_file))
    dknewkey.ExtractRSADnsPublicKey(str(key_file), str(tmp_path / "nieuwsbrief2026.dns"))
    public = (tmp_path / "nieuwsbrief2026.dns").read_bytes().strip()
    monkeypatch.setenv("NEWSLETTER_DKIM_KEY_FILE", str(key_file))
    signed = replace(
        settings,
        delivery=replace(
            settings.delivery, dkim_selector="nieuwsbrief2026", dkim_domain="ipo.example"
        ),
    )
    server = Server()
    with server as smtp:
        send(db, signed, server, SendOptions.from_settings(signed))

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"nieuwsbrief2026._domainkey.ipo.example."
        return public

    assert len(smtp.received) == 2
    for received in smtp.received:
        assert received.data.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
        assert dkim.verify(received.data, dnsfunc=dns)
        # Oversigned: a second Subject added on the way breaks the signature.
        forged = received.data.replace(b"\r\nSubject:", b"\r\nSubject: Gratis!\r\nSubject:", 1)
        assert not dkim.verify(forged, dnsfunc=dns)
    assert {r.recipient for r in smtp.received} == set(emails)


def test_envelope_sender_is_a_signed_per_delivery_bounce_address(settings, db, small) -> None:
    from dataclasses import replace

    small(3)
    verp = replace(
        settings, delivery=replace(settings.delivery, bounce_address="bounces@ipo.example")
    )
    server = Server()
    with server as smtp:
        send(db, verp, server)
    rows = {r["email"]: r["id"] for r in db.query("select id, email from deliveries")}
    for received in smtp.received:
        assert received.mail_from == bounce_address(verp, rows[received.recipient])
        assert read_bounce_address(verp, received.mail_from) == rows[received.recipient]
    forged = f"bounces+{rows[smtp.received[0].recipient]}-0000000000@ipo.example"
    assert read_bounce_address(verp, forged) is None
    assert read_bounce_address(verp, "bounces+1-abc@elders.example") is None


def test_rate_limit_spaces_messages_evenly_over_all_connections() -> None:
    limit = RateLimit(per_minute=120)  # one every half second
    slots = []
    stop = threading.Event()
    stop.set()  # do not really sleep: record the slots handed out
    for _ in range(4):
        with limit.lock:
            slots.append(limit.next_slot)
        limit.wait(stop)
    assert [round(b - a, 3) for a, b in itertools.pairwise(slots)] == [0.5, 0.5, 0.5]


def test_issue_report_shows_counts_per_province_and_errors(settings, db, small, run) -> None:
    emails = small(5)
    server = Server()
    with server as smtp:
        smtp.rcpt_replies[emails[0]] = "550 5.1.1 User unknown"
        send(db, settings, server)
    text = run("issue", "report", "2026-12")
    assert text.exit_code == 0
    assert "issue-2026-12: sent-with-failures" in text.output
    assert "4 sent, 1 failed" in text.output
    assert "GLD 1 failed/4 sent" in text.output
    assert "1 × 550 5.1.1 User unknown" in text.output
    data = json.loads(run("issue", "report", "2026-12", "--json").output)
    assert data["counts"] == {"sent": 4, "failed": 1}
    assert data["per_province"] == {"GLD": {"sent": 4, "failed": 1}}
