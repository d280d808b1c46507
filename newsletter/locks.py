"""Named locks for work that must not run twice at once (a mailing's send, a tick).

flock on a file next to the store: the kernel releases it when the process ends, even by
kill -9, so a dead process never blocks the next one. The file records who holds the lock and
since when; a record left behind by a process that died holding it is reported by the next
holder, and a holder older than `max_age` (hung) is stopped and the lock taken over.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import Busy

STOP_GRACE = 10.0  # seconds a hung holder gets between SIGTERM and SIGKILL


@dataclass
class Held:
    """What taking the lock found: empty, or one line saying whose lock was taken over."""

    took_over: str = ""


@dataclass(frozen=True)
class Owner:
    pid: int
    since: float  # clock.wall_seconds() when it took the lock

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        parts = text.split()  # "process PID since SECONDS"
        if len(parts) == 4 and parts[0] == "process" and parts[2] == "since":
            try:
                return cls(int(parts[1]), float(parts[3]))
            except ValueError:
                return None
        return None

    def describe(self) -> str:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        return f"process {self.pid}, since {started}"


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(pid: int, handle: IO[str]) -> bool:
    """SIGTERM, then SIGKILL after STOP_GRACE; True once the lock could be taken."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline:
            if _try_lock(handle):
                return True
            time.sleep(0.1)
    return _try_lock(handle)


@contextmanager
def hold(
    settings: Settings,
    name: str,
    busy: Callable[[str], str],
    max_age: float | None = None,
) -> Iterator[Held]:
    """Hold the lock `name`, or raise Busy(busy(owner)) at once when another process has it.

    With max_age (seconds), a holder that has had the lock longer than that is taken to hang:
    it is stopped (SIGTERM, then SIGKILL) and the lock taken over; Held.took_over says so.
    """
    folder = settings.database.parent / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    path: Path = folder / f"{name}.lock"
    held = Held()
    with open(path, "a+", encoding="ascii") as handle:
        handle.seek(0)
        if not _try_lock(handle):
            handle.seek(0)
            text = handle.read().strip()
            owner = Owner.parse(text)
            age = clock.wall_seconds() - owner.since if owner else 0.0
            limit = max_age if max_age is not None else float("inf")
            stuck = owner is not None and age > limit and owner.pid != os.getpid()
            if not (owner and stuck and _alive(owner.pid) and _stop(owner.pid, handle)):
                shown = owner.describe() if owner else (text or "another process")
                raise Busy(busy(shown)) from None
            held.took_over = (
                f"took over the {name} lock from {owner.describe()}: it had held it for "
                f"{age / 60:.0f} minutes (more than {limit / 60:.0f}) and was stopped"
            )
        else:
            handle.seek(0)
            left = Owner.parse(handle.read().strip())
            if left is not None:  # released without clearing its record: it died holding it
                held.took_over = (
                    f"took over the {name} lock left by {left.describe()}, which ended without "
                    "releasing it (killed or crashed)"
                )
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} since {clock.wall_seconds():.0f}")
        handle.flush()
        try:
            yield held
        finally:
            handle.seek(0)
            handle.truncate()  # a clean release leaves no record behind
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
