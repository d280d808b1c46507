"""A build of an issue, made once per distinct input and reused while nothing that goes into
it changed (the console's issue page and its preview frame ask for it on every view).

The key is the build's whole input, read fresh on every call (a millisecond or two, without
rendering or parsing anything twice): the issue file's bytes, the stored rows of the items
it names (every column, as the store has them now), the "Uw provincie" holders on the
issue's date (the only subscriber data a variant holds), the templates (each file's name,
size, change time and inode), the settings (signing keys included: the sample reader's
links), and today's date. An edit through the console, the CLI or a file changed on disk
changes the key, so the next call builds again; an unchanged input is never built twice by
concurrent requests (the second waits for the first). A few builds are kept, in process.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Generic, TypeVar

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.issues.build import BuildResult, build_issue, record
from newsletter.issues.files import issue_path, load_issue, read_issue_file
from newsletter.people.subscribers import current_holders
from newsletter.render.issue import HOLDER_ROLES
from newsletter.store.items import items_by_id

KEEP = 4  # builds kept (a month or two, a few edits back)
T = TypeVar("T")


@dataclass(frozen=True)
class BuildInput:
    """What a build is made from: its fingerprint."""

    month: str
    key: str


def build_input(db: Database, settings: Settings, month: str) -> BuildInput:
    """The key of what a build of the month would be made from now; a ContentError when the
    issue file cannot be read (as `issue build` raises it)."""
    path = issue_path(settings, month)
    try:
        source = path.read_bytes()
    except OSError:
        load_issue(db, settings, month)  # raises what `issue build` says (no such issue)
        raise
    fingerprint = _settings(settings)
    ids, day = _FILES.get(
        hashlib.sha256(f"{month}\x1f{fingerprint}\x1f".encode() + source).hexdigest(),
        lambda: _placed(settings, month, source),
    )[0]
    rows = items_by_id(db, ids)
    holders = current_holders(db, HOLDER_ROLES, day)
    digest = hashlib.sha256(month.encode() + b"\x1e" + source)
    for part in (
        repr(sorted(rows.items())),  # every column of each item (the text part, paths too)
        repr(holders),
        fingerprint,
        clock.today().isoformat(),
        _templates(settings.templates_dir),
    ):
        digest.update(b"\x1e" + part.encode())
    return BuildInput(month, digest.hexdigest())


def _placed(settings: Settings, month: str, source: bytes) -> tuple[tuple[str, ...], date]:
    """The item ids an issue file names and its date (parsed once per content)."""
    draft = read_issue_file(settings, month, source)
    return tuple(draft.item_ids), draft.date


def _settings(settings: Settings) -> str:
    """The settings' fingerprint (signing keys too: repr leaves them out), once per object."""
    found = _SETTINGS.get(id(settings))
    if found is None or found[0] is not settings:
        text = repr(settings) + "\x1f" + "\x1f".join(settings.secret_keys)
        found = (settings, hashlib.sha256(text.encode()).hexdigest())
        _SETTINGS[id(settings)] = found
    return found[1]


def _templates(folder: Path) -> str:
    """Each template file's name, size, change time (ns) and inode: an edit in place or a
    file replaced by an editor changes it (a file added or removed too)."""
    parts = []
    folders = [str(folder)]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if entry.is_dir():
                    folders.append(entry.path)
                elif entry.is_file():
                    stat = entry.stat()
                    parts.append(
                        f"{entry.path}\x1f{stat.st_size}\x1f{stat.st_mtime_ns}\x1f{stat.st_ino}"
                    )
    return "\x1e".join(parts)


class Kept(Generic[T]):
    """A few values by key, the least recently used dropped first; a value is made once even
    when several threads ask for it at the same time (the others wait for it)."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self.lock = threading.Lock()
        self.values: OrderedDict[str, T] = OrderedDict()
        self.making: dict[str, threading.Lock] = {}

    def get(self, key: str, make: Callable[[], T]) -> tuple[T, bool]:
        """The value for key, made now if it is not kept; and whether it was made now."""
        with self.lock:
            gate = self.making.setdefault(key, threading.Lock())
        with gate:
            try:
                with self.lock:
                    value = self.values.get(key)
                    if value is not None:
                        self.values.move_to_end(key)
                made = value is None
                if value is None:
                    value = make()  # an exception: nothing kept
                    with self.lock:
                        self.values[key] = value
                        while len(self.values) > self.keep:
                            self.values.popitem(last=False)
            finally:
                with self.lock:
                    self.making.pop(key, None)
        return value, made


_BUILDS: Kept[BuildResult] = Kept()
_FILES: Kept[tuple[tuple[str, ...], date]] = Kept(16)
_SETTINGS: dict[int, tuple[Settings, str]] = {}
_WRITTEN: dict[tuple[Path, str], str] = {}  # (build dir, month) -> the key whose files are there


class _Moved(Exception):
    """The input changed while a build read it."""


def cached_build(db: Database, settings: Settings, month: str) -> tuple[BuildResult, str]:
    """The issue built as `build_issue` builds it, and the key of its input ("" when the input
    kept changing while it was read: built, not kept); reused while the input is the same.
    build/ and the store's record hold the build last handed out here."""
    for _ in range(3):
        given = build_input(db, settings, month)

        def make(key: str = given.key) -> BuildResult:
            issue = load_issue(db, settings, month)
            holders = current_holders(db, HOLDER_ROLES, issue.date)
            if build_input(db, settings, month).key != key:
                raise _Moved  # what was loaded may not be what the key says: read again
            return build_issue(db, settings, month, issue, holders)

        try:
            found, made = _BUILDS.get(given.key, make)
        except _Moved:
            continue
        where = (settings.build_dir, month)
        if not made and _WRITTEN.get(where) != given.key:
            record(db, settings, found.rendered)  # another input was written since
        _WRITTEN[where] = given.key
        # A copy of the variants: a reader's own variant rendered later is not shared.
        rendered = replace(found.rendered, variants=dict(found.rendered.variants))
        return replace(found, rendered=rendered), given.key
    return build_issue(db, settings, month), ""
