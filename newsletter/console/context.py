"""What a console request works with: the instance's Settings and its store (one per request)."""

from __future__ import annotations

from flask import current_app, g
from sqlite_utils import Database

from newsletter import store
from newsletter.config import Settings

KEY = "newsletter"


def settings() -> Settings:
    """The Settings create_console was given."""
    value: Settings = current_app.extensions[KEY]
    return value


def db() -> Database:
    """The store, opened on first use in this request and closed after it."""
    if "db" not in g:
        g.db = store.open_store(settings())
    value: Database = g.db
    return value


def close(_: BaseException | None = None) -> None:
    connection = g.pop("db", None)
    if connection is not None:
        connection.conn.close()
