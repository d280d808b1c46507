"""The editorial workflow replayed over a season (issue #7): December 2026 to February 2027
as cron runs it, with an edit after approval, a scheduled send, a tick overlapping another and
an outage over a schedule. (Its own file: one of the longest tests, it runs beside the rest of
test_workflow.py in `make test`.)"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from newsletter import clock, store
from newsletter.tick import run_tick, tick_lock
from tests.test_workflow import (
    JORIS,
    JORIS_ACCOUNT,
    REPO,
    SANNE,
    SANNE_ACCOUNT,
    frozen_html,
    html_of,
    is_rendering_of,
    log_actions,
    sent_mail,
    state,
    write_issue,
)


@pytest.mark.slow
def test_a_replayed_season_sends_the_approved_version_once_and_holds_back_a_stale_schedule(
    settings, db, staff, small, instance, run
) -> None:
    """December 2026 to February 2027 with --now, as cron would run it.

    cron ticks every 5 minutes; replaying that for two months (17,000 ticks) proves nothing
    more than ticking every 5 minutes around the moments that matter (an edit, the scheduled
    send, the end of the outage), every hour in the weeks of editing, and every 4 hours in the
    quiet weeks after scheduling: tick is idempotent, and a due schedule is found by comparing
    with now, not by hitting the exact minute. Ticks run in process (run_tick, about 15 ms
    each) with five subscribers; staff commands go through the CLI as typed.
    """
    emails = small(5)  # five Statenleden in Gelderland
    ticks: list[str] = []

    def tick(at: str) -> list[str]:
        clock.set_now(at)
        report = run_tick(db, settings, clock.now())
        lines = [f"{j.name}: {j.line}" for j in report.jobs] or [f"busy: {report.busy}"]
        ticks.extend(f"{at} {line}" for line in lines)
        return lines

    def tick_every(start: str, end: str, hours: int = 1) -> None:
        at, stop = clock.parse_instant(start), clock.parse_instant(end)
        while at < stop:
            tick(at.astimezone(clock.AMSTERDAM).isoformat())
            at += timedelta(hours=hours)

    # Week 1: the January issue is drafted, submitted, refused to its own editor, approved.
    write_issue(
        instance, "2027-01", "januari 2027", "2027-01-04", "Eerste versie van de inleiding."
    )
    tick_every("2026-12-01T09:00", "2026-12-02T14:00")
    assert "issue 2027-01: draft" in run("--now", "2026-12-02T13:00", "status").output
    reviewed = run("--now", "2026-12-02T14:00", "issue", "review", "2027-01", "--by", SANNE)
    assert reviewed.exit_code == 0, reviewed.output
    refused = run(
        "--now", "2026-12-02T14:05", "issue", "approve", "2027-01", "--by", "sanne de vries"
    )
    assert refused.exit_code == 2
    assert refused.output == (
        "Error: issue 2027-01: Sanne de Vries (sanne@ipo.example) submitted it for review and "
        "cannot also approve it ([workflow] four_eyes); ask a colleague to run "
        "'newsletter issue approve 2027-01 --by NAME'\n"
    )
    assert state(db, "2027-01") == "review"
    approved = run("--now", "2026-12-03T10:00", "issue", "approve", "2027-01", "--by", JORIS)
    assert approved.exit_code == 0 and "approved by Joris Bakker" in approved.output
    first_version = frozen_html(db, "2027-01", "GLD")

    # Week 2: an item in the issue is edited; the next tick returns the issue to draft.
    tick_every("2026-12-03T11:00", "2026-12-07T11:00")
    paper = instance / "content" / "papers" / "2026-11-20-regionaal-ov.md"
    paper.write_text(
        paper.read_text(encoding="utf-8").replace(
            "  De provincies vragen", "  Bijgewerkt. De provincies vragen", 1
        ),
        encoding="utf-8",
    )
    lines = tick("2026-12-07T11:05")
    assert "scheduled: issue 2027-01: approval revoked, item 2026-11-20-regionaal-ov changed" in (
        lines
    )
    assert state(db, "2027-01") == "draft"
    assert (
        "issue 2027-01: draft (approval revoked: item 2026-11-20-regionaal-ov changed)"
        in run("--now", "2026-12-07T11:10", "status").output
    )
    assert (
        run("--now", "2026-12-07T15:00", "issue", "review", "2027-01", "--by", SANNE).exit_code == 0
    )
    assert (
        run("--now", "2026-12-08T10:00", "issue", "approve", "2027-01", "--by", JORIS).exit_code
        == 0
    )
    approved_version = frozen_html(db, "2027-01", "GLD")
    assert approved_version != first_version and "Bijgewerkt." in approved_version

    # A test copy to the editors' mailbox, as one of the Gelderland readers gets it.
    test = run(
        "--now", "2026-12-08T10:30", "issue", "test", "2027-01",
        "--to", "redactie@ipo.example", "--as", emails[1], "--by", SANNE,
    )  # fmt: skip
    assert test.exit_code == 0, test.output
    scheduled = run(
        "--now", "2026-12-08T10:35", "issue", "schedule", "2027-01", "--at", "2027-01-04T09:00"
    )
    assert scheduled.output == (
        "Issue 2027-01: scheduled for 4 januari 2027 9.00 uur; tick sends it then, if still "
        "approved\n"
    )
    assert (
        "next: issue 2027-01 goes out 4 januari 2027 9.00 uur"
        in run("--now", "2026-12-08T10:40", "status").output
    )

    # The first working day: ticks every 5 minutes; the one at 9.00 overlaps a running tick.
    tick_every("2026-12-08T11:00", "2027-01-04T08:00", hours=4)
    assert db.table("deliveries").count == 0  # nothing went before its time
    for minute in range(0, 60, 5):
        tick(f"2027-01-04T08:{minute:02d}")
    with tick_lock(settings):  # a tick still running (say, a slow relay) when cron starts more
        assert tick("2027-01-04T09:00") == ["busy: another tick is running; this one did nothing"]
        other = subprocess.run(
            [sys.executable, "-m", "newsletter", "--project", str(instance), "--now",
             "2027-01-04T09:00", "tick"],
            capture_output=True, text=True, cwd=REPO, timeout=60,
        )  # fmt: skip
        assert other.returncode == 0 and other.stdout == ""
        assert other.stderr == "tick: another tick is running; this one did nothing\n"
    sent_at = tick("2027-01-04T09:05")
    assert any("issue-2027-01: 5 sent now, 0 sent before" in line for line in sent_at), sent_at
    for minute in range(10, 60, 5):
        assert not any("sent now" in line for line in tick(f"2027-01-04T09:{minute:02d}"))

    mail = sent_mail(instance)
    issue_mail = [m for m in mail if m["Subject"] == "Nieuwsbrief Statenleden januari 2027"]
    assert sorted(m["To"].addresses[0].addr_spec for m in issue_mail) == sorted(emails)
    assert all(is_rendering_of(html_of(m), approved_version) for m in issue_mail)
    copies = [m for m in mail if m["Subject"] == "[TEST] Nieuwsbrief Statenleden januari 2027"]
    assert [str(m["To"]) for m in copies] == ["Lid Nummer0001 <redactie@ipo.example>"]
    assert is_rendering_of(html_of(copies[0]), approved_version)
    assert state(db, "2027-01") == "sent"

    # February: approved and scheduled, then the machine is down for two days before it.
    write_issue(instance, "2027-02", "februari 2027", "2027-02-01", "De inleiding van februari.")
    assert (
        run("--now", "2027-01-12T10:00", "issue", "review", "2027-02", "--by", JORIS).exit_code == 0
    )
    assert (
        run("--now", "2027-01-13T10:00", "issue", "approve", "2027-02", "--by", SANNE).exit_code
        == 0
    )
    assert (
        run(
            "--now", "2027-01-13T10:05", "issue", "schedule", "2027-02", "--at", "2027-02-01T09:00"
        ).exit_code
        == 0
    )
    tick_every("2027-01-04T10:00", "2027-01-30T08:00", hours=4)
    # Down from Saturday 30 January 8.00 to Monday 1 February 12.00: no ticks at all.
    back = tick("2027-02-01T12:00")
    assert (
        "scheduled: issue 2027-02: NOT sent, its schedule (1 februari 2027 9.00 uur) was missed "
        "by 3 hours; send it by hand with 'newsletter issue send 2027-02'"
    ) in back
    for minute in range(5, 60, 5):
        tick(f"2027-02-01T12:{minute:02d}")
    assert (
        store.connect(settings.database)
        .table("deliveries")
        .count_where("mailing_id = 'issue-2027-02'")
        == 0
    )
    status = run("--now", "2027-02-01T13:00", "status").output
    assert (
        "issue 2027-02: approved by Sanne de Vries; MISSED its schedule 1 februari 2027 9.00 uur, "
        "held back: 'newsletter issue send 2027-02' sends it"
    ) in status
    by_hand = run("--now", "2027-02-01T13:05", "issue", "send", "2027-02")
    assert by_hand.exit_code == 0 and "5 sent now" in by_hand.output
    assert "2027-02" not in run("--now", "2027-02-01T13:10", "status").output  # sent: done
    february = [m for m in sent_mail(instance) if "februari" in str(m["Subject"])]
    assert len(february) == 5
    assert all(is_rendering_of(html_of(m), frozen_html(db, "2027-02", "GLD")) for m in february)

    assert log_actions(run, "2027-01") == [
        (SANNE_ACCOUNT, "review"),
        (SANNE_ACCOUNT, "approve-refused"),  # the account, whatever spelling was typed
        (JORIS_ACCOUNT, "approve"),
        ("tick", "revoke"),
        (SANNE_ACCOUNT, "review"),
        (JORIS_ACCOUNT, "approve"),
        (SANNE_ACCOUNT, "test-send"),
        (SANNE_ACCOUNT, "schedule"),  # no --by: the account os_users maps the user to
        (SANNE_ACCOUNT, "state"),  # the tick sends as the account that scheduled
        ("send", "send"),
        (SANNE_ACCOUNT, "state"),
    ]
    assert ("tick", "schedule-missed") in log_actions(run, "2027-02")
