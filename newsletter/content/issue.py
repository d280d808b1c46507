"""An issue ready to render: its fields and every item resolved (pure data, no I/O)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date

from newsletter.content.items import Item


@dataclass(frozen=True)
class Issue:
    """An issue ready to render: every item resolved."""

    month: str
    subject: str
    preheader: str
    date: date
    intro_html: str
    intro_text: str
    sections: dict[str, list[Item]]
    audience: str = "all"

    @property
    def items(self) -> list[Item]:
        return [item for items in self.sections.values() for item in items]

    @property
    def title(self) -> str:
        return f"Nieuwsbrief Statenleden {format_date(self.date, 'MMMM y', locale='nl')}"

    def content_hash(self) -> str:
        parts = [
            self.month,
            self.subject,
            self.preheader,
            str(self.date),
            self.intro_html,
            self.audience,
        ]
        parts += [
            f"{key}:{item.content_hash()}" for key, items in self.sections.items() for item in items
        ]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
