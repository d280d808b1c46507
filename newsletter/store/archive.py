"""What the public web reads: the sent issues of the archive, and the announced calendar items."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database


@dataclass(frozen=True)
class SentIssue:
    """An issue whose mailing went out (with or without failures): what the archive lists."""

    issue_month: str  # YYYY-MM
    subject: str
    finished_at: str | None  # UTC
    started_at: str | None  # UTC


def sent_issues(db: Database) -> list[SentIssue]:
    """Every sent issue, newest month first."""
    rows = db.query(
        "select issue_month, subject, finished_at, started_at from mailings "
        "where kind = 'issue' and status in ('sent', 'sent-with-failures') "
        "order by issue_month desc"
    )
    return [
        SentIssue(row["issue_month"], row["subject"], row["finished_at"], row["started_at"])
        for row in rows
    ]


def announced_event(db: Database, item_id: str, today: str) -> dict[str, Any] | None:
    """The items row of an AV meeting or event with a start, published by `today`, or None.

    A raw row, for newsletter.sources.catalog.row_to_item (the store cannot know Item).
    """
    return next(
        db.query(
            "select * from items where id = ? and kind in ('av_meeting', 'event') "
            "and starts_at is not null and published <= ?",
            [item_id, today],
        ),
        None,
    )
