"""Unsubscribes the store could not take (it stayed locked): kept in a file, replayed later.

The file sits next to the store (`newsletter.db.afmeldingen`), append-only, one JSON line per
request with the signed token, fsynced before the reader sees the confirmation page, so an
unsubscribe is never lost to a busy store (issue #13). The next web request, or `tick`,
replays it; replaying twice changes nothing, and a line whose token no longer verifies (a
retired secret key) is dropped. An unsubscribe replayed after the reader confirmed a new
sign-up does not undo that newer choice.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.people.preferences import unsubscribe
from newsletter.store.busy import is_locked
from newsletter.tokens import UNSUBSCRIBE, read_token

SUFFIX = ".afmeldingen"
CLAIMED = ".bezig-"  # a queue file taken by a replay: <queue>.bezig-<pid>-<ns>


@dataclass
class Replayed:
    """What one replay did."""

    unsubscribed: int = 0  # people unsubscribed now
    already: int = 0  # lines that changed nothing (replayed before, or no longer subscribed)
    dropped: int = 0  # lines that cannot be read or whose token does not verify
    left: int = 0  # lines still queued: the store was locked again

    def summary(self) -> str:
        line = f"queued unsubscribes: {self.unsubscribed} done, {self.already} already"
        if self.dropped:
            line += f", {self.dropped} unreadable (dropped)"
        if self.left:
            line += f", {self.left} still queued (the store was busy)"
        return line


def queue_path(settings: Settings) -> Path:
    """The queue file of an instance, next to its store."""
    return settings.database.with_name(settings.database.name + SUFFIX)


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """One writer of the queue file at a time (appends, and a replay taking the file)."""
    path = queue_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sync_folder(folder: Path) -> None:
    """A new, renamed or removed file survives a power cut only once its folder is synced."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def enqueue(settings: Settings, token: str, how: str, at: str) -> None:
    """Append one unsubscribe request (the signed token, how and when) and fsync it."""
    path = queue_path(settings)
    line = json.dumps({"token": token, "how": how, "at": at}, sort_keys=True) + "\n"
    with _locked(settings):
        created = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _sync_folder(path.parent)


def _claimed(settings: Settings) -> list[Path]:
    path = queue_path(settings)
    return sorted(path.parent.glob(f"{path.name}{CLAIMED}*"))


def pending(settings: Settings) -> bool:
    """True when unsubscribes wait in the queue (a cheap check for every web request)."""
    return queue_path(settings).exists() or bool(_claimed(settings))


def replay(db: Database, settings: Settings) -> Replayed:
    """Write the queued unsubscribes; lines the store cannot take yet stay queued.

    The queue file is first renamed (under the lock), so requests queued meanwhile go to a new
    file; a replay that dies leaves the renamed file, which the next replay finishes.
    """
    report = Replayed()
    path = queue_path(settings)
    if not pending(settings):
        return report
    with _locked(settings):
        if path.exists():
            path.rename(path.with_name(f"{path.name}{CLAIMED}{os.getpid()}-{time.time_ns()}"))
            _sync_folder(path.parent)
    for claimed in _claimed(settings):
        try:
            lines = claimed.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:  # another replay finished it
            continue
        for number, line in enumerate(lines):
            try:
                _replay_line(db, settings, line, report)
            except sqlite3.OperationalError as exc:
                if not is_locked(exc):
                    raise
                report.left += len(lines) - number
                return report  # the rest waits for the next request or tick
        claimed.unlink(missing_ok=True)
        _sync_folder(claimed.parent)
    return report


def _replay_line(db: Database, settings: Settings, line: str, report: Replayed) -> None:
    try:
        request = json.loads(line)
        token, how, at = str(request["token"]), str(request["how"]), str(request["at"])
    except (ValueError, KeyError, TypeError):
        report.dropped += 1
        return
    subscriber_id = read_token(settings, UNSUBSCRIBE, token)
    if subscriber_id is None:
        report.dropped += 1
        return
    if unsubscribe(db, subscriber_id, "web", f"{how} (queued)", requested_at=at):
        report.unsubscribed += 1
    else:
        report.already += 1
