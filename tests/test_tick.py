"""`newsletter tick`: every job once, under a lock; one failing job does not stop the others."""

from __future__ import annotations

import fcntl
import json

from newsletter.issues.build import build_issue
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.transports import MemoryTransport


def write_mail(instance, name: str, body: bytes) -> None:
    new = instance / "mailbox" / "new"
    new.mkdir(parents=True, exist_ok=True)
    (new / name).write_bytes(body)


QUESTION = (
    b"From: Anna de Vries <anna.devries@gld.example>\r\nTo: statenleden@ipo.example\r\n"
    b"Subject: Vraag over de begroting\r\nMessage-ID: <q1@gld.example>\r\n"
    b"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n\r\nWanneer komt de jaarrekening?\r\n"
)


def test_tick_runs_every_job_and_prints_a_line_for_each(instance, loaded, run) -> None:
    write_mail(instance, "1.eml", QUESTION)
    result = run("tick")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split(":", 1)[0] for line in lines] == [
        "content",
        "inbox",
        "scheduled",
        "deliveries",
        "onboarding",
        "postvak",
        "retention",
        "erasures",
    ]
    assert lines[5] == "postvak: follow-ups due: 0; replies retried: none"
    assert "Inbox: 1 new" in lines[1] and "1 question" in lines[1]
    assert lines[2] == "scheduled: nothing due"
    assert lines[3] == "deliveries: nothing due"
    again = run("tick")  # idempotent: nothing is fetched or processed twice
    assert "Inbox: 0 new" in again.stdout.splitlines()[1]


def test_tick_retries_what_is_due_of_an_issue_still_going_out(settings, loaded, december, run):
    from newsletter import clock

    flaky = MemoryTransport(fail_for={"kees.sanders@gld.example": "451 4.3.0 Try again later"})
    deliver_issue(
        loaded, settings, build_issue(loaded, settings, "2026-12").rendered, lambda: flaky
    )
    early = run("tick")
    assert "0 sent now, 625 sent before, 0 deferred" in early.stdout  # not due yet
    clock.set_now("2026-12-01T08:40:00+01:00")
    later = run("--now", "2026-12-01T08:40", "tick")
    assert "1 sent now, 625 sent before" in later.stdout
    assert later.exit_code == 0
    assert loaded.table("mailings").get("issue-2026-12")["status"] == "sent"


def test_a_failing_job_is_named_and_the_others_still_run(instance, loaded, run) -> None:
    bad = instance / "content" / "news" / "kapot.md"
    bad.write_text("---\nkind: nieuws\n---\n", encoding="utf-8")
    write_mail(instance, "1.eml", QUESTION)
    result = run("tick")
    assert result.exit_code == 1
    content, inbox = result.stdout.splitlines()[:2]
    assert content.startswith("content: FAILED") and "kapot.md" in content
    assert "Inbox: 1 new" in inbox


def test_an_overlapping_tick_exits_quietly(settings, loaded, run) -> None:
    folder = settings.database.parent / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "tick.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run("tick")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "tick: another tick is running; this one did nothing\n"


def test_tick_json_gives_each_job_its_line_and_whether_it_failed(instance, loaded, run) -> None:
    bad = instance / "content" / "news" / "kapot.md"
    bad.write_text("---\nkind: nieuws\n---\n", encoding="utf-8")
    result = run("tick", "--json")
    assert result.exit_code == 1  # as without --json: a job failed
    data = json.loads(result.stdout)
    assert data["failed"] is True and data["busy"] == ""
    jobs = {job["name"]: job for job in data["jobs"]}
    assert list(jobs) == [
        "content",
        "inbox",
        "scheduled",
        "deliveries",
        "onboarding",
        "postvak",
        "retention",
        "erasures",
    ]
    assert jobs["content"]["failed"] and "kapot.md" in jobs["content"]["line"]
    assert jobs["scheduled"] == {"name": "scheduled", "line": "nothing due", "failed": False}
