"""The connection: open (and migrate) the SQLite file, transactions, JSON columns."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.store.schema_console import migrations


def connect(path: Path | str) -> Database:
    """Open (and migrate) the store at path; ":memory:" gives a private in-memory store."""
    if str(path) == ":memory:":
        db = Database(memory=True)
    else:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = Database(path)
        db.enable_wal()
        # A row marked sent must survive a power cut, not only a crash: fsync every commit.
        db.execute("PRAGMA synchronous = FULL")
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 5000")
    migrations.apply(db)
    return db


def open_store(settings: Settings) -> Database:
    """The store of an instance, as durable as [delivery] durability asks."""
    db = connect(settings.database)
    if settings.delivery.durability == "crash":
        db.execute("PRAGMA synchronous = NORMAL")  # WAL: survives a killed process, not a power cut
    return db


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """All or nothing: what the block writes is committed together or not at all.

    BEGIN IMMEDIATE takes the write lock up front, so a block that reads and then writes waits
    (busy_timeout) for another writer instead of failing with "database is locked" when the
    sender, the web server and tick write at the same time. Nested blocks are savepoints.
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.rollback()
        raise
    else:
        db.conn.execute("COMMIT")


def dumps(value: Any) -> str:
    """JSON for a column, stable and readable in datasette."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def loads(text: str | None, default: Any = None) -> Any:
    return default if text in (None, "") else json.loads(text)
