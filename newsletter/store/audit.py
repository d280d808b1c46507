"""The audit log: who changed what, when. Every state change worth answering for is written here."""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from newsletter import clock
from newsletter.store import dumps


def record(db: Database, actor: str, action: str, subject: str, **detail: Any) -> None:
    """One event; call it inside the transaction that makes the change, so both or neither land."""
    db.table("events").insert(
        {
            "at": clock.utc_iso(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": dumps(detail) if detail else None,
        }
    )


def events(db: Database, subject: str | None = None) -> list[dict[str, Any]]:
    where, args = ("subject = ?", [subject]) if subject else (None, [])
    return [dict(row) for row in db.table("events").rows_where(where, args, order_by="id")]
