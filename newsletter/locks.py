"""Named locks for work that must not run twice at once (a mailing's send, a tick).

flock on a file next to the store: the kernel releases it when the process ends, even by
kill -9, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from newsletter.config import Settings
from newsletter.errors import Busy


@contextmanager
def hold(settings: Settings, name: str, busy: Callable[[str], str]) -> Iterator[None]:
    """Hold the lock `name`, or raise Busy(busy(owner)) at once when another process has it."""
    folder = settings.database.parent / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{name}.lock", "a+", encoding="ascii") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise Busy(busy(handle.read().strip() or "another process")) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
