"""The store: one SQLite file through sqlite-utils, WAL mode, schema by versioned migrations.

Rule: the only package with SQL. Each repository module (one per aggregate) takes a Database and
returns dataclasses; everything above calls these functions and never writes a query itself.
"""

from newsletter.store.db import connect, dumps, loads, open_store, transaction
from newsletter.store.schema_console import migrations

__all__ = ["connect", "dumps", "loads", "migrations", "open_store", "transaction"]
