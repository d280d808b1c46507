"""The locks that keep a tick or a send from running twice, against real processes: a lock left
by a killed process is taken over and reported; a holder that hangs past the maximum age is
stopped; a young holder makes the newcomer give up at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from newsletter import clock, locks
from newsletter.config import Settings
from newsletter.errors import Busy
from newsletter.tick import TICK_MAX_AGE, run_tick

HOLDER = """
import sys, time
from newsletter import locks
from newsletter.config import load_settings
with locks.hold(load_settings(sys.argv[1]), sys.argv[2], lambda owner: owner):
    print("holding", flush=True)
    time.sleep(600)
"""


def start_holder(instance: Path, name: str) -> subprocess.Popen[str]:
    """Another process that takes the lock `name` and keeps it (as a hung tick would)."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(instance), name], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline() == "holding\n"
    return child


def busy(owner: str) -> str:
    return f"held by {owner}"


def test_a_young_holder_makes_the_next_one_give_up_at_once(instance: Path, settings: Settings):
    child = start_holder(instance, "tick")
    try:
        with (
            pytest.raises(Busy, match=rf"held by process {child.pid}, since "),
            locks.hold(settings, "tick", busy, max_age=TICK_MAX_AGE),
        ):
            pass
        assert child.poll() is None  # left alone
    finally:
        child.kill()
        child.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over_and_reported(
    instance: Path, settings: Settings
):
    child = start_holder(instance, "tick")
    child.send_signal(signal.SIGKILL)
    child.wait()

    with locks.hold(settings, "tick", busy, max_age=TICK_MAX_AGE) as held:
        assert f"left by process {child.pid}" in held.took_over
        assert "ended without releasing it" in held.took_over


def test_a_holder_older_than_the_maximum_age_is_stopped_and_the_lock_taken_over(
    instance: Path, settings: Settings
):
    child = start_holder(instance, "tick")
    time.sleep(1.5)  # the holder is now older than the 1 s maximum below
    try:
        with locks.hold(settings, "tick", busy, max_age=1.0) as held:
            assert child.wait(timeout=30) == -signal.SIGTERM
            assert f"from process {child.pid}" in held.took_over
            assert "was stopped" in held.took_over
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_a_clean_release_leaves_nothing_to_report(settings: Settings):
    with locks.hold(settings, "tick", busy) as first:
        assert first.took_over == ""
    with locks.hold(settings, "tick", busy) as second:
        assert second.took_over == ""


def test_tick_says_it_took_over_a_lock_left_by_a_killed_tick(
    instance: Path, settings: Settings, db
):
    child = start_holder(instance, "tick")
    child.send_signal(signal.SIGKILL)
    child.wait()

    report = run_tick(db, settings, clock.now())

    assert report.jobs[0].name == "lock"
    assert f"left by process {child.pid}" in report.jobs[0].line
    assert not report.jobs[0].failed
    assert [job.name for job in report.jobs[1:]][:2] == ["content", "inbox"]
