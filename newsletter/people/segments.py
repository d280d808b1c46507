"""Audiences: who a mailing is for, written as a segment over subscribers and their mandates.

    all                          every active subscriber
    role:statenlid               a mandate with one of these roles (comma-separated)
    role:av_lid,plv_av_lid       ... AV members and their substitutes
    province:GLD,UT              in one of these provinces
    theme:landelijk-gebied       who chose this theme (or chose none: they get everything)
    on:2026-12-01                mandates in office on this day (default: the mailing's date)

Terms separated by spaces must all hold: `role:griffier province:GLD`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.errors import ContentError
from newsletter.people.roles import ROLES
from newsletter.people.subscribers import Recipient
from newsletter.store import subscribers as rows


@dataclass(frozen=True)
class Segment:
    text: str
    roles: tuple[str, ...] = ()
    provinces: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    on: date | None = None


def parse_segment(text: str, settings: Settings, where: str = "audience") -> Segment:
    """A segment, or a ContentError that names the term and what may be written."""
    terms = (text or "all").split()
    values: dict[str, tuple[str, ...]] = {}
    on = None
    for term in terms:
        if term == "all":
            continue
        key, sep, raw = term.partition(":")
        items = tuple(v for v in raw.split(",") if v)
        if not sep or not items:
            raise ContentError(
                f"{where}: '{term}' is not a segment term; write all, role:ROLE, "
                "province:CODE, theme:THEME or on:DATE"
            )
        known: dict[str, Collection[str]] = {
            "role": ROLES,
            "province": settings.provinces,
            "theme": settings.themes,
        }
        if key == "on":
            try:
                on = date.fromisoformat(raw)
            except ValueError:
                raise ContentError(
                    f"{where}: on:{raw} is not a date; write on:2026-12-01"
                ) from None
            continue
        if key not in known:
            raise ContentError(f"{where}: '{key}' is not known; use role, province, theme or on")
        unknown = [v for v in items if v not in known[key]]
        if unknown:
            raise ContentError(
                f"{where}: {key} {', '.join(unknown)} is not known; use {', '.join(known[key])}"
            )
        values[key] = values.get(key, ()) + items
    return Segment(
        text or "all",
        values.get("role", ()),
        values.get("province", ()),
        values.get("theme", ()),
        on,
    )


def recipients(db: Database, segment: Segment, on: date) -> Iterator[Recipient]:
    """The active subscribers in the segment, in a stable order (a generator: lists grow)."""
    day = (segment.on or on).isoformat()
    held: dict[str, list[str]] = {}  # who holds which roles that day (one query)
    for holder in rows.current_holders(db, tuple(ROLES), segment.on or on):
        held.setdefault(holder["email"], []).append(holder["role"])
    for r in rows.active(db, segment.provinces, segment.roles, day):
        if segment.themes and r.themes and not set(segment.themes) & set(r.themes):
            continue
        yield Recipient(
            r.id,
            r.email,
            r.name,
            r.salutation or f"Beste {r.name}",
            r.province,
            r.themes,
            tuple(sorted(set(held.get(r.email, ())))),
        )
