"""Conversations presented: the open-questions report, list lines, JSON rows, a whole thread."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.inbound.threads import OPEN_STATUSES, STATUSES, list_conversations
from newsletter.store.conversations import Conversation

AGE_BUCKETS = (("0-2 dagen", 0, 2), ("3-7 dagen", 3, 7), ("ouder", 8, None))


def age_days(created_at: str, now: datetime | None = None) -> int:
    moment = datetime.fromisoformat(created_at)
    return max(0, ((now or clock.now()) - moment).days)


def age_text(created_at: str, now: datetime | None = None) -> str:
    delta = (now or clock.now()) - datetime.fromisoformat(created_at)
    hours = max(0, int(delta.total_seconds() // 3600))
    return f"{hours}h" if hours < 48 else f"{hours // 24}d"


def report(db: Database, settings: Settings) -> dict[str, Any]:
    """Open questions (new and open) by age since they came in, and by theme."""
    rows = [r for r in list_conversations(db) if r.status in OPEN_STATUSES]
    by_age = {label: 0 for label, _, _ in AGE_BUCKETS}
    by_theme: dict[str, dict[str, int]] = {}
    for row in rows:
        days = age_days(row.created_at)
        label = next(
            lab for lab, low, high in AGE_BUCKETS if days >= low and (high is None or days <= high)
        )
        by_age[label] += 1
        counts = by_theme.setdefault(row.theme, {lab: 0 for lab, _, _ in AGE_BUCKETS})
        counts[label] += 1
    statuses = {s: 0 for s in STATUSES}
    for row in list_conversations(db):
        statuses[row.status] = statuses.get(row.status, 0) + 1
    return {
        "open": len(rows),
        "by_age": by_age,
        "by_theme": dict(sorted(by_theme.items())),
        "statuses": statuses,
    }


def as_json_row(row: Conversation) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "theme": row.theme,
        "theme_guessed": bool(row.theme_guessed),
        "assignee": row.assignee,
        "age": age_text(row.created_at),
        "correspondent": row.correspondent_email,
        "correspondent_name": row.correspondent_name,
        "subject": row.subject,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "note": row.note,
    }
