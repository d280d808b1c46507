"""The preflight tools' results by content hash, in a JSON file that every run shares
(build/preflight/cache.json): a page or message checked once is not checked again by the same
tool version. One process at a time runs a tool on what the file does not know yet; another
that needs the same tool waits, then takes what the first one saved."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Issue:
    """One problem a tool found: the preflight module turns it into a Finding."""

    check: str
    severity: str
    message: str
    fix: str
    line: int | None = None
    selector: str = ""


def cache_file(build_dir: Path) -> Path:
    """build/preflight/cache.json, or $NEWSLETTER_PREFLIGHT_CACHE (one cache for many instances)."""
    return Path(os.environ.get("NEWSLETTER_PREFLIGHT_CACHE") or build_dir / "preflight/cache.json")


class Cache:
    """Tool results by content hash; a JSON file written atomically, shared by every run."""

    LIMIT = 2000

    def __init__(self, path: Path) -> None:
        self.path = path
        self._guard = threading.Lock()  # the tools of one check run on threads side by side
        self.data: dict[str, Any] = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def key(tool: str, content: bytes) -> str:
        return f"{tool}:{hashlib.sha256(content).hexdigest()}"

    def get(self, key: str) -> list[Issue] | None:
        value = self.data.get(key)
        if not isinstance(value, list):
            return None
        try:
            return [Issue(**entry) for entry in value]
        except TypeError:
            return None

    def put(self, key: str, issues: list[Issue]) -> None:
        with self._guard:
            self.data.pop(key, None)
            self.data[key] = [asdict(i) for i in issues]

    def refresh(self) -> None:
        """Take in what other processes saved since this one read the file."""
        saved = self._read()
        with self._guard:
            for key, value in saved.items():
                self.data.setdefault(key, value)

    def save(self) -> None:
        """Merge this run's results into the file. Read, merge and replace happen under one
        lock beside the file (other processes, and the other tools' threads of this one):
        without it, two saves that read the same file each replace it without the other's."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            return  # a cache that cannot be written only costs time
        with _held(self.path.with_name(f".{self.path.name}.lock"), SAVE_WAIT):
            # Another process may have saved results since this one read the file: keep them.
            merged = self._read()
            with self._guard:
                for key, value in self.data.items():
                    merged.pop(key, None)
                    merged[key] = value
            keep = dict(list(merged.items())[-self.LIMIT :])
            try:
                tmp = self.path.with_name(
                    f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
                )
                tmp.write_text(json.dumps(keep), encoding="utf-8")
                tmp.replace(self.path)
            except OSError:
                pass  # a cache that cannot be written only costs time

    @contextmanager
    def one_at_a_time(self, tool: str) -> Iterator[None]:
        """Hold `tool` for this cache while it runs: another process that needs results of
        the same tool waits (at most LOCK_WAIT seconds), then takes what this one saved
        instead of computing it again. Without a lock file, everyone runs."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            yield
            return
        with _held(self.path.with_name(f".{self.path.name}.{tool}.lock"), LOCK_WAIT):
            yield


@contextmanager
def _held(lock: Path, wait: float) -> Iterator[None]:
    """flock `lock` for the block, waiting at most `wait` seconds for whoever holds it; a lock
    that cannot be had at all (no such file, a file system without flock) is not waited for."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError:
        yield
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    break  # no locks here at all (ENOLCK, EOPNOTSUPP): run unlocked
                if time.monotonic() > deadline:
                    break  # a tool hanging elsewhere: run it here too
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing releases the lock


LOCK_WAIT = 600.0  # the longest another process's run of a tool is waited for
SAVE_WAIT = 30.0  # the longest another save is waited for (a read, a merge, a write)


def stamp(path: str | Path | None) -> str:
    """A file's identity for the cache: an installed or upgraded tool changes it."""
    try:
        info = Path(path).resolve().stat() if path else None
    except OSError:
        info = None
    return f"{path}:{info.st_size}:{info.st_mtime_ns}" if info else str(path)


def cached(
    cache: Cache | None,
    tool: str,
    contents: Mapping[str, bytes],
    run: Callable[[dict[str, bytes]], dict[str, list[Issue]]],
    key_content: Callable[[bytes], bytes] = lambda data: data,
    version: str = "",
) -> dict[str, list[Issue]]:
    """Run the tool only on what the cache does not know yet (keyed by key_content(data) and
    the tool's version and settings: an upgraded tool or a changed limit checks again)."""
    salt = f"{version}\x1f".encode()
    keys = {name: Cache.key(tool, salt + key_content(data)) for name, data in contents.items()}
    found: dict[str, list[Issue]] = {}

    def unknown() -> dict[str, bytes]:
        todo = {}
        for name, data in contents.items():
            hit = cache.get(keys[name]) if cache else None
            if hit is None:
                todo[name] = data
            else:
                found[name] = hit
        return todo

    todo = unknown()
    if not todo:
        return found
    if cache is None:
        fresh = run(todo)
        return found | {name: fresh.get(name, []) for name in todo}
    with cache.one_at_a_time(tool):
        cache.refresh()  # what another process checked while this one waited
        todo = unknown()
        if todo:
            fresh = run(todo)
            for name in todo:
                found[name] = fresh.get(name, [])
                if name in fresh:  # only what the tool reported on
                    cache.put(keys[name], found[name])
            cache.save()
    return found
