"""Subscribers and their mandates: addresses, suppressions, the active audience (the griffie
list import itself is in imports.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sqlite_utils import Database

from newsletter.addresses import email_hashes
from newsletter.config import Settings

if TYPE_CHECKING:
    from newsletter.people.imports import ImportReport

ROLES = {
    "statenlid": "Statenlid",
    "av_lid": "AV-lid",
    "plv_av_lid": "Plaatsvervangend AV-lid",
    "griffier": "Griffier",
    "griffiecontactpersoon": "Griffiecontactpersoon",
    "gs_lid": "Gedeputeerde",
    "cdk": "Commissaris van de Koning",
    "ipo_staff": "Medewerker IPO",
    "burgerstatenlid": "Burgerstatenlid",
}
_FORMAL = {
    "mevrouw": "mevrouw",
    "mw": "mevrouw",
    "mevr": "mevrouw",
    "heer": "heer",
    "deheer": "heer",
    "dhr": "heer",
    "hr": "heer",
}


def find_suppression(db: Database, settings: Settings, address: str) -> dict[str, str] | None:
    """The suppression of an address (reason, created_at), or None: the one suppression check.

    Accepts a hash made with any key in rotation (NEWSLETTER_SECRET_KEY=OLD,NEW), so keep a
    retired key in the list: hashes made with it are not recognised once it is gone. Writes nothing.
    """
    if not settings.secret_keys and not db.table("suppressions").count:
        return None  # nothing is suppressed, so no key is needed to know it
    hashes = email_hashes(settings, address)
    marks = ",".join("?" * len(hashes))
    row = db.execute(
        f"select reason, created_at from suppressions where email_hash in ({marks})", hashes
    ).fetchone()
    return None if row is None else {"reason": row[0], "created_at": row[1]}


def salutation_for(aanhef: str, first_name: str, last_name: str, name: str) -> str:
    """The aanhef column as the opening line of a mail: "Geachte mevrouw De Vries"."""
    key = re.sub(r"[^a-z]", "", aanhef.lower())
    surname = last_name or name.rsplit(" ", 1)[-1]
    surname = surname[:1].upper() + surname[1:]
    if key in _FORMAL:
        return f"Geachte {_FORMAL[key]} {surname}"
    if aanhef.strip():
        return aanhef.strip()
    return f"Beste {first_name or name}"


def import_subscribers(
    db: Database,
    settings: Settings,
    path: Path,
    province: str | None = None,
    *,
    replace: bool = False,
    dry_run: bool = False,
    rejects: Path | None = None,
) -> ImportReport:
    """Import one griffie list (see newsletter.imports.import_list, where the import lives)."""
    from newsletter.people.imports import import_list

    return import_list(
        db, settings, path, province, replace=replace, dry_run=dry_run, rejects=rejects
    )


@dataclass(frozen=True)
class Recipient:
    id: int
    email: str
    name: str
    salutation: str
    province: str | None
    themes: tuple[str, ...]


def current_holders(db: Database, roles: tuple[str, ...], on: date) -> list[dict[str, str]]:
    """People with one of these roles on a day: name, email, role, province."""
    marks = ",".join("?" * len(roles))
    sql = f"""
        select s.name, s.email, m.role, m.province from mandates m
        join subscribers s on s.id = m.subscriber_id
        where m.role in ({marks}) and m.starts_on <= ? and (m.ends_on is null or m.ends_on >= ?)
          and s.status != 'erased'
        order by m.province, m.role, s.name"""
    return [dict(row) for row in db.query(sql, [*roles, on.isoformat(), on.isoformat()])]
