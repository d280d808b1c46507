"""Subscribers: who receives mail (Recipient), the griffie-list import entry point, and the
holders of a role on a day; the rows themselves are in newsletter.store.subscribers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.people.imports import ImportReport, import_list
from newsletter.people.roles import ROLES, salutation_for
from newsletter.store import subscribers as rows

__all__ = ["ROLES", "Recipient", "current_holders", "import_subscribers", "salutation_for"]


def import_subscribers(
    db: Database,
    settings: Settings,
    path: Path,
    province: str | None = None,
    *,
    replace: bool = False,
    dry_run: bool = False,
    rejects: Path | None = None,
    by: str | None = None,
) -> ImportReport:
    """Import one griffie list (newsletter.people.imports.import_list, where the import lives);
    `by` (staff:<email>) is logged as who imported it."""
    return import_list(
        db, settings, path, province, replace=replace, dry_run=dry_run, rejects=rejects, actor=by
    )


@dataclass(frozen=True)
class Recipient:
    id: int
    email: str
    name: str
    salutation: str
    province: str | None
    themes: tuple[str, ...]
    roles: tuple[str, ...] = ()  # held on the mailing's day ("Voor u" differs for AV members)


def current_holders(db: Database, roles: tuple[str, ...], on: date) -> list[dict[str, str]]:
    """People with one of these roles on a day: name, email, role, province."""
    return rows.current_holders(db, roles, on)
