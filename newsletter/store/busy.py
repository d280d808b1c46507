"""Writing while others write: long writers commit in bounded batches, short ones retry.

SQLite has one write lock. A writer that holds it for seconds (an import of 60,000 rows) makes
every other writer wait past its busy timeout and fail with "database is locked" (issue #13:
one-click unsubscribes got HTTP 500). So a long writer commits every BATCH_SECONDS and then
leaves the lock free for PAUSE_SECONDS, long enough for a waiting writer's busy handler to
take it; a short writer (the web server) retries a locked write a few times.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from sqlite_utils import Database

T = TypeVar("T")

BATCH_SECONDS = 0.05  # a batch commits once it has held the write lock this long
PAUSE_SECONDS = 0.015  # then the lock stays free this long, for the writers that wait
RETRY_SECONDS = 5.0  # how long a short writer keeps trying
POLL_SECONDS = 0.002  # and how often


class Batches:
    """A write transaction committed in bounded batches: `with Batches(db) as batch:` and call
    `batch.checkpoint()` after each unit of work (a row and what belongs to it).

    Each batch is all or nothing; what the batches before wrote stays when a later one fails,
    so a long writer must be written so that running it again finishes the job. Inside an
    outer transaction it is one part of that transaction and checkpoints commit nothing.
    `write=False` (a dry run) opens no transaction at all.
    """

    def __init__(
        self,
        db: Database,
        *,
        write: bool = True,
        seconds: float = BATCH_SECONDS,
        pause: float = PAUSE_SECONDS,
    ) -> None:
        self.db = db
        self.write = write
        self.seconds = seconds
        self.pause = pause
        self.outer = False
        self.started = 0.0
        self.batches = 0

    def __enter__(self) -> Batches:
        if not self.write:
            return self
        self.outer = self.db.conn.in_transaction
        if self.outer:
            self.db.conn.execute("SAVEPOINT batches")
        else:
            self._begin()
        return self

    def _begin(self) -> None:
        self.db.conn.execute("BEGIN IMMEDIATE")
        self.started = time.monotonic()
        self.batches += 1

    def checkpoint(self) -> None:
        """Commit the batch if it has held the lock long enough, pause, and begin the next."""
        if not self.write or self.outer:
            return
        if time.monotonic() - self.started < self.seconds:
            return
        self.db.conn.execute("COMMIT")
        time.sleep(self.pause)
        self._begin()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self.write:
            return
        if self.outer:
            if kind is not None:
                self.db.conn.execute("ROLLBACK TO batches")
            self.db.conn.execute("RELEASE batches")
            return
        if kind is None:
            self.db.conn.execute("COMMIT")
        elif self.db.conn.in_transaction:
            self.db.conn.rollback()


def is_locked(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" (or busy): another writer held the lock too long."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def with_retries(db: Database, write: Callable[[], T], seconds: float = RETRY_SECONDS) -> T:
    """Run a short write; while another writer holds the lock, try again every few ms.

    SQLite's own busy handler sleeps up to 100 ms between its tries and so can miss, again
    and again, the moments a long writer leaves the lock free between its batches; polling
    every POLL_SECONDS does not. After `seconds` the last "database is locked" is raised:
    the caller decides what then. `write` must be a transaction that either commits or
    raises before it changed anything.
    """
    deadline = time.monotonic() + seconds
    previous = int(db.execute("PRAGMA busy_timeout").fetchone()[0])
    db.execute(f"PRAGMA busy_timeout = {int(POLL_SECONDS * 1000)}")
    try:
        while True:
            try:
                return write()
            except sqlite3.OperationalError as exc:
                if not is_locked(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(POLL_SECONDS)
    finally:
        db.execute(f"PRAGMA busy_timeout = {previous}")
