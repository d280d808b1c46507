"""The preflight tools' cache file: saves from several threads and processes lose nothing, and a
lock that cannot be taken at all is not waited for."""

from __future__ import annotations

import errno
import threading
import time
from pathlib import Path

import pytest

from newsletter.preflight import toolcache
from newsletter.preflight.toolcache import Cache, Issue


def test_two_saves_at_once_keep_both_results(tmp_path: Path, monkeypatch) -> None:
    """Two processes (or two tools' threads of one) save at the same moment: each reads the
    file, adds its own results and replaces it. The second to replace must not drop the
    first one's results (the next run would run that tool again)."""
    path = tmp_path / "cache.json"
    first, second = Cache(path), Cache(path)
    first.put("vnu:a", [Issue("vnu", "error", "one", "")])
    second.put("axe:b", [Issue("axe", "error", "two", "")])
    read, other_saved = threading.Event(), threading.Event()
    plain_read = Cache._read

    def slow_read(self: Cache) -> dict:
        data = plain_read(self)
        if self is first and threading.current_thread().name == "first-save":
            read.set()
            other_saved.wait(1.0)  # the other save runs now, unless this one holds it off
        return data

    monkeypatch.setattr(Cache, "_read", slow_read)
    saving = threading.Thread(target=first.save, name="first-save")
    saving.start()
    assert read.wait(5)
    second.save()
    other_saved.set()
    saving.join(5)
    assert set(Cache(path).data) == {"vnu:a", "axe:b"}


def test_a_file_system_without_locks_runs_the_tool_at_once(tmp_path: Path, monkeypatch) -> None:
    """flock failing for another reason than "held elsewhere" (ENOLCK on some network file
    systems) means nobody can hold it: run now instead of polling for LOCK_WAIT seconds."""

    def no_locks(fd: object, operation: int) -> None:
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(toolcache.fcntl, "flock", no_locks)
    monkeypatch.setattr(toolcache, "LOCK_WAIT", 5.0)
    cache = Cache(tmp_path / "cache.json")
    began = time.monotonic()
    found = toolcache.cached(cache, "vnu", {"page": b"<p>"}, lambda todo: {"page": []})
    assert found == {"page": []}
    assert time.monotonic() - began < 2.0
    assert Cache(tmp_path / "cache.json").data  # saved all the same


def test_a_held_lock_is_waited_for(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache.json")
    ran: list[str] = []

    def second(todo: dict[str, bytes]) -> dict[str, list[Issue]]:
        ran.append("2")
        return {"p": []}

    with cache.one_at_a_time("vnu"):
        other = threading.Thread(
            target=toolcache.cached,
            args=(Cache(tmp_path / "cache.json"), "vnu", {"p": b"x"}, second),
        )
        other.start()
        time.sleep(0.3)
        ran.append("1")
    other.join(5)
    assert ran == ["1", "2"]


@pytest.mark.parametrize("threads", [3])
def test_threads_of_one_process_saving_at_once_lose_nothing(tmp_path: Path, threads) -> None:
    cache = Cache(tmp_path / "cache.json")
    start = threading.Barrier(threads)

    def tool(n: int) -> None:
        start.wait()
        for k in range(100):
            cache.put(f"tool{n}:{k}", [])
            cache.save()

    workers = [threading.Thread(target=tool, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert len(Cache(tmp_path / "cache.json").data) == threads * 100
