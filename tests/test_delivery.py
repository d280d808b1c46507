"""The ledger: one row per (issue, recipient); reruns, crashes, unsubscribes never double-send."""

from __future__ import annotations

import email
import threading
from email import policy

import pytest

from newsletter import clock, store
from newsletter.errors import ConfigError, NewsletterError, TransportError
from newsletter.issues.build import build_issue
from newsletter.outbound.delivery import SendOptions, send_summary
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.transports import Envelope, MemoryTransport
from newsletter.outbound.transports.base import Unclaimed


class Crash(BaseException):
    """Stands in for kill -9: nothing after it runs in the process."""


class CrashingTransport(MemoryTransport):
    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    def send(self, envelope: Envelope, data: bytes) -> str:
        if len(self.sent) == self.after:
            raise Crash
        return super().send(envelope, data)


@pytest.fixture
def rendered(settings, loaded, december):
    return build_issue(loaded, settings, "2026-12").rendered


def statuses(db) -> dict[str, int]:
    return {
        r["status"]: r["n"]
        for r in db.query("select status, count(*) n from deliveries group by status")
    }


def test_every_active_subscriber_gets_one_message_of_their_province(settings, loaded, rendered):
    outbox = MemoryTransport()
    report = deliver_issue(loaded, settings, rendered, lambda: outbox)
    assert report.sent == 626 and not report.had_failures
    recipients = [envelope.recipient for envelope, _ in outbox.sent]
    assert len(recipients) == len(set(recipients)) == 626
    by_email = dict((e.recipient, data) for e, data in outbox.sent)
    message = email.message_from_bytes(by_email["lisa.hendriks@ipo.example"], policy=policy.default)
    assert "Uw provincie" not in message.get_body(("plain",)).get_content()  # staff: no province
    zeeland = next(loaded.query("select email from subscribers where province = 'ZLD' limit 1"))
    message = email.message_from_bytes(by_email[zeeland["email"]], policy=policy.default)
    assert "Uw provincie: Zeeland" in message.get_body(("plain",)).get_content()
    assert statuses(loaded) == {"sent": 626}
    assert loaded.table("mailings").get("issue-2026-12")["status"] == "sent"


def test_rerun_sends_nothing(settings, loaded, rendered):
    deliver_issue(loaded, settings, rendered, lambda: MemoryTransport())
    again = MemoryTransport()
    report = deliver_issue(loaded, settings, rendered, lambda: again)
    assert again.sent == [] and report.sent == 0 and report.already_sent == 626


def test_after_a_crash_only_the_unsent_and_the_one_in_flight_go_out_with_the_same_message_id(
    settings, loaded, rendered
):
    with pytest.raises(Crash):
        deliver_issue(loaded, settings, rendered, lambda: CrashingTransport(after=100))
    assert statuses(loaded) == {"sent": 100, "sending": 1, "queued": 525}
    in_doubt = next(
        loaded.query("select email, message_id from deliveries where status = 'sending'")
    )
    resumed = MemoryTransport()
    report = deliver_issue(loaded, settings, rendered, lambda: resumed)
    assert report.sent == 526 and report.already_sent == 100
    resent = {e.recipient: e.message_id for e, _ in resumed.sent}
    assert resent[in_doubt["email"]] == in_doubt["message_id"]
    already = {
        r["email"] for r in loaded.query("select email from deliveries order by id limit 100")
    }
    assert not already & set(resent)
    assert statuses(loaded) == {"sent": 626}


def test_someone_who_unsubscribes_during_the_send_gets_nothing_more(settings, loaded, rendered):
    last = next(loaded.query("select id, email from subscribers order by id desc limit 1"))

    class Unsubscriber(MemoryTransport):
        def send(self, envelope: Envelope, data: bytes) -> str:
            if len(self.sent) == 10:  # through a connection of its own, as the web server does
                with store.transaction(store.connect(settings.database)) as other:
                    other.table("subscribers").update(last["id"], {"status": "unsubscribed"})
            return super().send(envelope, data)

    outbox = Unsubscriber()
    report = deliver_issue(loaded, settings, rendered, lambda: outbox)
    assert last["email"] not in {e.recipient for e, _ in outbox.sent}
    assert report.skipped == 1 and report.sent == 625


def test_the_reader_next_in_line_who_unsubscribes_meanwhile_gets_nothing(
    settings, loaded, rendered
):
    """A connection builds its next message while the one before is handed over: someone who
    unsubscribes in that moment is skipped all the same (the claim looks again)."""
    left: list[str] = []

    class Unsubscriber(MemoryTransport):
        def send(self, envelope: Envelope, data: bytes) -> str:
            if len(self.sent) == 10:  # the next reader leaves, through the web server's connection
                with store.transaction(store.connect(settings.database)) as other:
                    subscriber_id, email = other.execute(
                        "select subscriber_id, email from deliveries where id > "
                        "(select id from deliveries where message_id = ?) order by id limit 1",
                        [envelope.message_id],
                    ).fetchone()
                    other.table("subscribers").update(subscriber_id, {"status": "unsubscribed"})
                    left.append(email)
            return super().send(envelope, data)

    outbox = Unsubscriber()
    report = deliver_issue(loaded, settings, rendered, lambda: outbox)
    assert left and left[0] not in {e.recipient for e, _ in outbox.sent}
    assert report.skipped == 1 and report.sent == 625
    row = next(loaded.query("select status, last_reply from deliveries where email = ?", left))
    assert row == {"status": "skipped", "last_reply": "subscriber is unsubscribed"}


def test_a_temporary_failure_is_deferred_and_retried_by_the_next_run(settings, loaded, rendered):
    flaky = MemoryTransport(fail_for={"kees.sanders@gld.example": "451 4.3.0 Try again later"})
    report = deliver_issue(loaded, settings, rendered, lambda: flaky)
    assert report.deferred == [("kees.sanders@gld.example", "451 4.3.0 Try again later")]
    assert loaded.table("mailings").get("issue-2026-12")["status"] == "sending"
    assert report.next_retry == "2026-12-01T07:35:00+00:00"  # 5 minutes later (UTC)
    early = MemoryTransport()
    assert deliver_issue(loaded, settings, rendered, lambda: early).sent == 0  # not due yet
    clock.set_now("2026-12-01T08:36:00+01:00")
    retry = MemoryTransport()
    assert deliver_issue(loaded, settings, rendered, lambda: retry).sent == 1
    assert [e.recipient for e, _ in retry.sent] == ["kees.sanders@gld.example"]
    row = next(
        loaded.query(
            "select attempts, status from deliveries where email = ?", ["kees.sanders@gld.example"]
        )
    )
    assert row == {"attempts": 2, "status": "sent"}


def test_changed_content_after_a_partial_send_is_refused(settings, loaded, december, rendered):
    with pytest.raises(Crash):
        deliver_issue(loaded, settings, rendered, lambda: CrashingTransport(after=5))
    december.write_text(december.read_text().replace("laatste nieuwsbrief", "een na laatste"))
    changed = build_issue(loaded, settings, "2026-12").rendered
    with pytest.raises(
        NewsletterError,
        match=r"already sent to 6 people \(counting those in doubt\) with other content",
    ):
        deliver_issue(loaded, settings, changed, lambda: MemoryTransport())


def test_a_transport_that_cannot_connect_sends_nothing_and_says_so(settings, loaded, rendered):
    class Down(MemoryTransport):
        def open(self) -> None:
            raise TransportError("SMTP 127.0.0.1:1: cannot connect (Connection refused)")

    report = deliver_issue(loaded, settings, rendered, Down, SendOptions(reconnect_delays=(0.01,)))
    assert "cannot connect" in report.relay_down
    assert "stopped, the relay is unreachable" in send_summary(report)
    assert report.had_failures and report.sent == 0
    assert statuses(loaded) == {"queued": 626}  # nothing lost: the next run sends them all


def test_a_login_the_relay_refuses_marks_nobody_in_doubt(settings, loaded, rendered):
    """A refused login or OAuth2 token (a ConfigError from open(): an expired secret) never
    reaches a message's hand-over: the run stops with everyone still queued and says why,
    instead of marking every row in doubt (which replies and onboarding, sent with
    --in-doubt skip, then leave for staff) and asking the token endpoint twice per message."""
    opened: list[int] = []

    class Refused(MemoryTransport):
        def open(self) -> None:
            opened.append(1)
            raise ConfigError("SMTP relay:587: login refused (535); check the user")

    report = deliver_issue(loaded, settings, rendered, Refused, SendOptions(connections=2))
    assert "login refused" in report.relay_down and report.sent == 0
    assert not report.in_doubt
    assert statuses(loaded) == {"queued": 626}
    assert len(opened) <= 4  # at most its two jobs per connection, not once per message


def test_a_bac_a_reader_opted_out_of_is_left_out_of_their_message(settings, loaded, december):
    kees = next(loaded.query("select id from subscribers where email = 'kees.sanders@gld.example'"))
    loaded.table("subscribers").update(kees["id"], {"themes": '["landelijk-gebied"]'})
    rendered = build_issue(loaded, settings, "2026-12").rendered
    outbox = MemoryTransport()
    deliver_issue(loaded, settings, rendered, lambda: outbox)
    by_email = {e.recipient: d for e, d in outbox.sent}
    mine = email.message_from_bytes(by_email["kees.sanders@gld.example"], policy=policy.default)
    text = mine.get_body(("plain",)).get_content()
    html = mine.get_body(("html",)).get_content()
    assert "-- BAC Landelijk Gebied --" in text and "BAC Landelijk Gebied</strong>" in html
    for other in (
        "BAC Wonen &amp; Bereikbaarheid",
        "BOD Werkgeverszaken",
        "Digitalisering</strong>",
    ):
        assert other not in html
    assert "Uw provincie: Gelderland" in text  # the rest of the issue is all there
    assert "Regionaal OV na 2027" in text
    everything = next(
        loaded.query(
            "select email from subscribers where province = 'GLD' "
            "and themes = '[]' and email != 'kees.sanders@gld.example'"
        )
    )
    neighbour = email.message_from_bytes(by_email[everything["email"]], policy=policy.default)
    assert "BOD Werkgeverszaken" in neighbour.get_body(("plain",)).get_content()
    # Variants are made per choice, not per reader.
    choices = {r["variant"] for r in loaded.query("select variant from deliveries")}
    assert len(rendered.variants) == len(choices | {"WEB"} | set(settings.provinces) | {"ALG"})
    row = next(
        loaded.query("select variant from deliveries where email = ?", ["kees.sanders@gld.example"])
    )
    # GLD for its AV members (Kees is one: his own, "...;kees"), less the BAC's he left out
    assert row["variant"].startswith("GLD+av:") and "landelijk-gebied" not in row["variant"]


def test_markers_written_in_content_never_become_anyones_fields(settings, loaded, december):
    news = settings.content_dir / "news" / "2026-11-30-overdrachtsdossier.md"
    # In the summary: an item in the e-mail shows its summary, not its body (issue #16).
    news.write_text(
        news.read_text().replace(
            "  Het IPO werkt",
            "  Zie [meer](https://evil.example/x?u=@@afmelden_url@@&e=@@email@@) en @@foo@@."
            " Het IPO werkt",
            1,
        ),
        encoding="utf-8",
    )
    from newsletter.sources.catalog import sync_content

    sync_content(loaded, settings)
    outbox = MemoryTransport()
    report = deliver_issue(
        loaded, settings, build_issue(loaded, settings, "2026-12").rendered, lambda: outbox
    )
    assert report.sent == 626  # an unknown @@foo@@ stops nothing
    envelope, data = outbox.sent[0]
    message = email.message_from_bytes(data, policy=policy.default)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert envelope.recipient not in html.split("evil.example", 1)[1][:300]
    assert "/afmelden/" not in html.split("evil.example", 1)[1][:300]
    assert "@\u200c@afmelden_url@\u200c@" in text  # shown as written, harmless


def test_a_message_that_cannot_be_built_fails_that_person_only(settings, loaded, rendered):
    loaded.table("subscribers").insert(
        {
            "email": "jösé@gld.example",
            "name": "José Test",
            "status": "active",
            "province": "GLD",
            "themes": "[]",
        }
    )
    outbox = MemoryTransport()
    report = deliver_issue(loaded, settings, rendered, lambda: outbox)
    assert report.sent == 626
    assert [e for e, _ in report.failed] == ["jösé@gld.example"]
    assert report.failed[0][1].startswith("not sent: ")
    assert loaded.table("bounces").count == 0  # not a bounce: nothing about the address itself


def test_a_row_cancelled_meanwhile_is_never_claimed(settings, loaded, rendered):
    from newsletter.outbound import ledger
    from newsletter.outbound.issue_mail import queue_issue

    mailing = queue_issue(loaded, settings, rendered)
    rows = list(ledger.pending(loaded, mailing, include_in_doubt=True))[:3]
    ledger.set_mailing_status(loaded, mailing, "cancelled")
    committed = ledger.commit(loaded, [], claims=[(row, "x@ipo.example") for row in rows])
    assert committed.claimed == set()
    assert ledger.counts(loaded, mailing) == {"cancelled": 626}


def test_a_refusal_before_the_hand_over_is_recorded_after_its_claim(
    settings, loaded, rendered, monkeypatch
):
    """A relay that defers a recipient at RCPT answers before the message's claim is committed
    (the lane sends it ahead while the previous outcome commits). Its outcome must land after
    the claim: deferred with its retry time, not left `sending` (in doubt at the next run).

    The race is forced: the engine's first wait for results is held until the refusal's result
    is queued behind the previous message's, or until the lane waits for the claim first."""
    from newsletter.outbound import pool

    refused, waiting = threading.Event(), threading.Event()

    class DefersTheSecond(MemoryTransport):
        """SMTP-like: everything up to the final dot, then gate(); the 2nd RCPT gets a 451."""

        calls = 0
        recipient = ""

        def send_gated(self, envelope: Envelope, data: bytes, gate) -> str:
            self.calls += 1
            if self.calls == 2:
                self.recipient = envelope.recipient
                refused.set()
                raise TransportError("451 4.2.0 greylisted", reply="451 4.2.0 greylisted")
            if not gate():
                raise Unclaimed(envelope.message_id)
            return self.send(envelope, data)

    relay, held = DefersTheSecond(), []
    gate, get_ready = pool.Job.gate, pool.Pool.get_ready

    def gate_seen(job: pool.Job) -> bool:
        if refused.is_set() and job.envelope.recipient == relay.recipient:
            waiting.set()
        return gate(job)

    def together(self: pool.Pool) -> list[pool.Result]:
        if not held and refused.wait(10):
            held.append(True)
            for _ in range(1000):  # both results queued, or the lane waiting for the claim
                if self.results.qsize() >= 2 or waiting.wait(0.01):
                    break
        return get_ready(self)

    monkeypatch.setattr(pool.Job, "gate", gate_seen)
    monkeypatch.setattr(pool.Pool, "get_ready", together)
    report = deliver_issue(loaded, settings, rendered, lambda: relay)
    assert report.deferred == [(relay.recipient, "451 4.2.0 greylisted")]
    row = next(
        loaded.query(
            "select status, attempts, next_attempt_at from deliveries where email = ?",
            [relay.recipient],
        )
    )
    assert row == {
        "status": "deferred",
        "attempts": 1,
        "next_attempt_at": "2026-12-01T07:35:00+00:00",
    }
    assert statuses(loaded) == {"sent": 625, "deferred": 1}


class Interrupted(BaseException):
    """Stands in for Ctrl-C: raised in the engine's own thread, which then cleans up."""


def test_an_interrupted_send_records_what_its_connections_handed_over(settings, loaded, rendered):
    """Ctrl-C is not a crash: the messages the other connections hand over meanwhile are
    recorded as sent, so the next run sends nobody a second copy."""
    interrupted, lock = threading.Event(), threading.Lock()

    class SlowOnce(MemoryTransport):
        calls = 0

        def send(self, envelope: Envelope, data: bytes) -> str:
            with lock:
                self.calls += 1
                slow = self.calls == 40
            if slow:  # this connection is still at its message when the other one is stopped
                interrupted.wait(10)
            return super().send(envelope, data)

    relay, results = SlowOnce(), []

    def progress(n: int) -> None:
        results.append(n)
        if sum(results) >= 60:
            interrupted.set()
            raise Interrupted

    with pytest.raises(Interrupted):
        deliver_issue(
            loaded, settings, rendered, lambda: relay, SendOptions(connections=2), progress
        )
    handed_over = {e.recipient for e, _ in relay.sent}
    recorded = {
        r["email"] for r in loaded.query("select email from deliveries where status = 'sent'")
    }
    assert "sending" not in statuses(loaded) and recorded == handed_over
    again = MemoryTransport()
    deliver_issue(loaded, settings, rendered, lambda: again)
    assert not handed_over & {e.recipient for e, _ in again.sent}
    assert len(handed_over) + len(again.sent) == 626
