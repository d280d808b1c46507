"""A build of an issue, made once per distinct input and reused while nothing that goes into
it changed (the console's issue page and its preview frame ask for it on every view).

The key is the build's whole input, read fresh on every call (a few milliseconds): the issue
as `load_issue` resolves it (the issue file's fields and every item's full content, as the
store has them now), the "Uw provincie" holders on the issue's date (the only subscriber data
a variant holds), the templates' bytes, the settings (signing keys included: the sample
reader's links), and today's date. An edit through the console, the CLI or a file changed on
disk changes the key, so the next call builds again; an unchanged input is never built twice
by concurrent requests (the second waits for the first). A few builds are kept, in process.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Generic, TypeVar

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.content.issue import Issue
from newsletter.issues.build import BuildResult, build_issue, record
from newsletter.issues.files import load_issue
from newsletter.people.subscribers import current_holders
from newsletter.render.issue import HOLDER_ROLES, Holder

KEEP = 4  # builds kept (a month or two, a few edits back)
T = TypeVar("T")


@dataclass(frozen=True)
class BuildInput:
    """What a build is made from, and its fingerprint."""

    month: str
    issue: Issue
    holders: Sequence[Holder]
    key: str


def build_input(db: Database, settings: Settings, month: str) -> BuildInput:
    """The issue and the holders as the store and the files have them now, and their key;
    a ContentError when the issue does not load (as `issue build` raises it)."""
    issue = load_issue(db, settings, month)
    holders = current_holders(db, HOLDER_ROLES, issue.date)
    digest = hashlib.sha256()
    for part in (
        repr(issue),  # every field of the issue and of each item (the text part, paths too)
        repr(holders),
        repr(settings),
        "\x1f".join(settings.secret_keys),  # left out of repr: the sample reader's tokens
        clock.today().isoformat(),
        _templates(settings.templates_dir),
    ):
        digest.update(part.encode())
        digest.update(b"\x1e")
    return BuildInput(month, issue, holders, digest.hexdigest())


def _templates(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path).encode() + b"\x1f" + path.read_bytes() + b"\x1e")
    return digest.hexdigest()


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
            with self.lock:
                value = self.values.get(key)
                if value is not None:
                    self.values.move_to_end(key)
            made = value is None
            if value is None:
                value = make()
                with self.lock:
                    self.values[key] = value
                    while len(self.values) > self.keep:
                        self.values.popitem(last=False)
            with self.lock:
                self.making.pop(key, None)
        return value, made


_BUILDS: Kept[BuildResult] = Kept()
_WRITTEN: dict[tuple[Path, str], str] = {}  # (build dir, month) -> the key whose files are there


def cached_build(db: Database, settings: Settings, month: str) -> tuple[BuildResult, str]:
    """The issue built as `build_issue` builds it, and the key of its input; reused while the
    input is the same. build/ and the store's record hold the build last handed out here."""
    given = build_input(db, settings, month)
    found, made = _BUILDS.get(
        given.key, lambda: build_issue(db, settings, month, given.issue, given.holders)
    )
    where = (settings.build_dir, month)
    if not made and _WRITTEN.get(where) != given.key:
        record(db, settings, found.rendered)  # another input was written since
    _WRITTEN[where] = given.key
    # A copy of the variants: a reader's own variant rendered later is not shared.
    rendered = replace(found.rendered, variants=dict(found.rendered.variants))
    return replace(found, rendered=rendered), given.key
