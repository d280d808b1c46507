"""`newsletter status` and `newsletter log`: what staff see at a glance, and the history."""

from __future__ import annotations

import json

from newsletter.editorial.workflow import default_actor
from newsletter.issues.build import build_issue
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.transports import MemoryTransport


def test_status_says_when_tick_never_ran_and_then_how_it_went(settings, loaded, run) -> None:
    assert run("status").output.splitlines()[0] == (
        "tick: never ran; install cron/ (see the README)"
    )
    run("tick")
    assert run("status").output.splitlines()[0] == (
        "tick: last ran 1 december 2026 8.30 uur, all jobs ok"
    )


def test_status_shows_an_issue_still_going_out(settings, loaded, december, run) -> None:
    flaky = MemoryTransport(fail_for={"kees.sanders@gld.example": "451 4.3.0 Try again later"})
    deliver_issue(
        loaded, settings, build_issue(loaded, settings, "2026-12").rendered, lambda: flaky
    )
    assert "issue-2026-12: sending; 1 deferred" in run("status").output


def test_log_records_sends_pauses_and_unsubscribes_per_issue(settings, loaded, december, run):
    flaky = MemoryTransport(fail_for={"kees.sanders@gld.example": "451 4.3.0 Try again later"})
    deliver_issue(
        loaded, settings, build_issue(loaded, settings, "2026-12").rendered, lambda: flaky
    )
    run("issue", "pause", "2026-12")
    entries = json.loads(run("log", "--issue", "2026-12", "--json").output)
    # No --by: the account [console] os_users maps the user running the command to (the demo
    # instance maps it to Sanne's account).
    assert settings.console.os_users == {default_actor(): "sanne@ipo.example"}
    paused = ("staff:sanne@ipo.example", "pause")
    assert [(e["actor"], e["action"]) for e in entries] == [("send", "send"), paused]
    assert "625 sent now" in json.loads(entries[0]["detail"])["summary"]
    text = run("log", "--issue", "2026-12").output.splitlines()
    assert text[1].startswith(f"2026-12-01 08:30  {paused[0]}") and "pause" in text[1]


def test_status_json_is_the_data_the_lines_are_made_from(settings, loaded, december, run):
    flaky = MemoryTransport(fail_for={"kees.sanders@gld.example": "451 4.3.0 Try again later"})
    deliver_issue(
        loaded, settings, build_issue(loaded, settings, "2026-12").rendered, lambda: flaky
    )
    before = json.loads(run("status", "--json").output)
    assert before["instance"]["tick_at"] is None
    [mailing] = before["instance"]["mailings"]
    assert mailing["id"] == "issue-2026-12" and mailing["status"] == "sending"
    assert mailing["counts"]["deferred"] == 1
    assert before["workflow"]["next_scheduled"] is None
    run("tick")
    after = json.loads(run("status", "--json").output)
    assert after["instance"]["tick_at"] == "2026-12-01T08:30:00+01:00"
    assert after["instance"]["tick_failed"] == []


def test_every_instance_problem_is_worded_in_english_for_the_cli_and_dutch_for_the_console():
    from datetime import timedelta

    from newsletter.cli.present import format_problem
    from newsletter.console.present import problem
    from newsletter.editorial.schedules import Problem

    cases = [
        Problem("stale-tick", late=timedelta(days=4)),
        Problem("password", "relay.ipo.example:587 NEWSLETTER_SMTP_PASSWORD"),
        Problem("demo"),
        Problem("no-secret", "NEWSLETTER_SECRET_KEY"),
        Problem("files-transport", "outbox:outbox"),
        Problem("dkim-key", "NEWSLETTER_DKIM_KEY_FILE"),
        Problem("unapproved", "[workflow] require_approval"),
        Problem("own-approval", "[workflow] four_eyes"),
    ]
    assert format_problem(cases[0]).startswith("tick: no tick for 4 days;")
    assert problem(cases[0]).startswith("De tick heeft al 4 dagen niet gedraaid.")
    assert format_problem(cases[1]) == (
        "config: relay.ipo.example:587 needs a password; set NEWSLETTER_SMTP_PASSWORD"
    )
    assert problem(cases[1]) == (
        "relay.ipo.example:587 vraagt een wachtwoord: zet NEWSLETTER_SMTP_PASSWORD."
    )
    for case in cases[2:]:
        assert format_problem(case).startswith("config: ")
        assert problem(case) and problem(case) != format_problem(case)
