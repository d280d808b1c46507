"""The builds repository: what `issue build` last rendered for each month (table `issues`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from newsletter.store.db import dumps, loads


@dataclass(frozen=True)
class IssueBuild:
    """One row of `issues`: the last build of a month's issue."""

    month: str
    subject: str
    content_hash: str
    item_ids: tuple[str, ...]
    variants: tuple[str, ...]
    built_at: str


def record_build(db: Database, build: IssueBuild) -> None:
    """Remember a build of a month (replacing the previous one)."""
    db.table("issues").upsert(
        {
            "month": build.month,
            "subject": build.subject,
            "content_hash": build.content_hash,
            "item_ids": dumps(list(build.item_ids)),
            "variants": dumps(list(build.variants)),
            "built_at": build.built_at,
        },
        pk="month",
    )


def last_build(db: Database, month: str) -> IssueBuild | None:
    """The last recorded build of a month, or None."""
    rows = db.table("issues").rows_where("month = ?", [month])
    row: dict[str, Any] | None = next(iter(rows), None)
    if row is None:
        return None
    return IssueBuild(
        month=row["month"],
        subject=row["subject"],
        content_hash=row["content_hash"],
        item_ids=tuple(loads(row["item_ids"], [])),
        variants=tuple(loads(row["variants"], [])),
        built_at=row["built_at"],
    )
