"""Issue files: content/issues/YYYY-MM.md, pre-filled by `issue new`, edited by staff."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from babel.dates import format_date
from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.content.issue import Issue
from newsletter.content.items import SECTIONS, Item
from newsletter.dates import next_working_day
from newsletter.errors import ContentError, HeaderError
from newsletter.headers import check_header_value
from newsletter.people.segments import parse_segment
from newsletter.sanitize import html_to_text, markdown_to_html
from newsletter.sources.catalog import get_items, list_items
from newsletter.sources.files import load_front_matter

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])\Z")
INTRO_PLACEHOLDER = "<!-- Schrijf hier de inleiding: twee of drie zinnen over deze maand. -->"


@dataclass(frozen=True)
class IssueFile:
    """What staff wrote: the issue file, validated but with items still as ids."""

    month: str
    path: Path
    subject: str
    preheader: str
    date: date
    intro: str
    sections: dict[str, list[str]]
    audience: str = "all"

    @property
    def item_ids(self) -> list[str]:
        return [i for ids in self.sections.values() for i in ids]


def check_month(month: str, settings: Settings | None = None) -> str:
    """YYYY-MM (nothing before or after it), or a ContentError that says so; with settings,
    also a month of the current Statenperiode, the one before or the one after."""
    if not MONTH.match(month):
        raise ContentError(f"{month!r} is not a month; write it as 2026-12")
    if settings is not None:
        end = settings.onboarding.term_end  # the last day of the current Statenperiode
        first = (
            f"{end.year - 8:04d}-{end.month + 1:02d}"
            if end.month < 12
            else f"{end.year - 7:04d}-01"
        )
        last = f"{end.year + 4:04d}-{end.month:02d}"
        if not first <= month <= last:
            raise ContentError(
                f"{month!r} is outside the Statenperiodes this instance knows ({first} to "
                f"{last}, from [onboarding] term_end); write a month such as 2026-12"
            )
    return month


def issue_path(settings: Settings, month: str) -> Path:
    return settings.content_dir / "issues" / f"{check_month(month, settings)}.md"


def first_working_day(month: str) -> date:
    """The default publication date: the month's first day that is no weekend or Dutch holiday."""
    year, number = (int(p) for p in month.split("-"))
    return next_working_day(date(year, number, 1))


def issue_files(settings: Settings) -> list[Path]:
    folder = settings.content_dir / "issues"
    return sorted(p for p in folder.glob("*.md") if MONTH.match(p.stem)) if folder.is_dir() else []


def read_issue_file(settings: Settings, month: str, source: bytes | None = None) -> IssueFile:
    """Parse and validate an issue file (or its bytes, read already); every problem names the
    file and the field."""
    path = issue_path(settings, month)
    where = settings.shown(path)
    if source is None and not path.is_file():
        raise ContentError(f"{where}: no such issue; create it with 'newsletter issue new {month}'")
    try:
        text = (path.read_bytes() if source is None else source).decode("utf-8-sig")
        text = text.replace("\r\n", "\n").replace("\r", "\n")  # as read_text reads it
    except UnicodeDecodeError:
        raise ContentError(f"{where}: not UTF-8 text; save the file as UTF-8") from None
    post = load_front_matter(where, text)
    meta: dict[str, Any] = post.metadata

    def field(key: str) -> str:
        value = meta.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ContentError(f"{where}: field '{key}' is empty; write the {key} of the issue")
        try:
            return check_header_value(value.strip(), key)
        except HeaderError as exc:
            raise ContentError(f"{where}: field '{key}': {exc}") from None

    subject, preheader = field("subject"), field("preheader")
    raw_date = meta.get("date", first_working_day(month))
    try:
        day = raw_date if isinstance(raw_date, date) else date.fromisoformat(str(raw_date))
    except ValueError:
        raise ContentError(f"{where}: field 'date' is not a date; write it as 2026-12-01") from None
    intro = post.content.replace(INTRO_PLACEHOLDER, "").strip()
    if not intro:
        raise ContentError(
            f"{where}: the intro is empty; write two or three sentences below the front matter"
        )
    raw_sections = meta.get("sections") or {}
    if not isinstance(raw_sections, dict):
        raise ContentError(f"{where}: field 'sections' must map section names to lists of item ids")
    sections: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for key, ids in raw_sections.items():
        if key not in SECTIONS:
            raise ContentError(
                f"{where}: sections.{key} is not a section; use {', '.join(SECTIONS)}"
            )
        if ids is None:
            ids = []
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ContentError(f"{where}: sections.{key} must be a list of item ids")
        for item_id in ids:
            if item_id in seen:
                raise ContentError(
                    f"{where}: item '{item_id}' is in sections.{seen[item_id]} "
                    f"and sections.{key}; keep it in one"
                )
            seen[item_id] = key
        sections[key] = list(ids)
    audience = meta.get("audience", "all")
    if not isinstance(audience, str):
        raise ContentError(f"{where}: field 'audience' must be a segment, e.g. all or role:av_lid")
    parse_segment(audience, settings, f"{where}: field 'audience'")
    return IssueFile(
        month, path, subject, preheader, day, intro, sections, audience.strip() or "all"
    )


def placed_item_ids(settings: Settings) -> dict[str, list[str]]:
    """Each issue file's month and the item ids its sections place (unreadable files: none)."""
    placed: dict[str, list[str]] = {}
    for path in issue_files(settings):
        placed[path.stem] = []
        try:
            meta = frontmatter.loads(path.read_text(encoding="utf-8-sig")).metadata
        except (yaml.YAMLError, ValueError):  # UnicodeDecodeError is a ValueError
            continue
        sections = meta.get("sections")
        for ids in sections.values() if isinstance(sections, dict) else []:
            placed[path.stem] += [i for i in ids or [] if isinstance(i, str)]
    return placed


def used_item_ids(settings: Settings, before_month: str) -> set[str]:
    """Ids already placed in an earlier issue file."""
    placed = placed_item_ids(settings)
    return {i for month, ids in placed.items() if month < before_month for i in ids}


def previous_issue_date(settings: Settings, month: str) -> date | None:
    earlier = [p.stem for p in issue_files(settings) if p.stem < month]
    if not earlier:
        return None
    try:
        return read_issue_file(settings, earlier[-1]).date
    except ContentError:
        return first_working_day(earlier[-1])


def select_items(db: Database, settings: Settings, month: str, day: date) -> dict[str, list[Item]]:
    """The proposal for a new issue: unused items published since the previous one, per section."""
    since = previous_issue_date(settings, month) or (day - timedelta(days=31))
    used = used_item_ids(settings, month)
    chosen: dict[str, list[Item]] = {key: [] for key in SECTIONS}
    for item in sorted(list_items(db, since=since + timedelta(days=1)), key=_order):
        if item.id in used or item.published > day:
            continue
        if item.starts_at is not None and item.starts_at.date() < day:
            continue  # already past: nothing to put in the agenda
        chosen["uitgelicht" if item.featured else item.section].append(item)
    return chosen


def _order(item: Item) -> tuple[str, str]:
    return (
        item.starts_at.isoformat() if item.starts_at else "~" + item.published.isoformat(),
        item.id,
    )


def top_items(chosen: dict[str, list[Item]]) -> str:
    """The preheader a new issue starts with: its top items by name (the inbox shows it after
    the subject): what is featured, the next AV, how many BAC decisions."""
    names = [i.title for i in chosen.get("uitgelicht", [])[:2]]
    names += [
        f"de {i.title} van {format_date(i.starts_at, 'd MMMM', locale='nl')}"
        for i in chosen.get("av", [])
        if i.kind == "av_meeting" and i.starts_at
    ][:1]
    decisions = len(chosen.get("bac", []))
    if decisions:
        names.append(f"{decisions} {'besluit' if decisions == 1 else 'besluiten'} uit de BAC's")
    if not names:
        return ""
    text = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} en {names[-1]}"
    return (text[0].upper() + text[1:] + ".").replace('"', "'")


def new_issue_text(settings: Settings, month: str, day: date, chosen: dict[str, list[Item]]) -> str:
    """The pre-filled issue file: subject, preheader, intro placeholder and the proposed items."""
    label = format_date(day, "MMMM y", locale="nl")
    preheader = top_items(chosen) or f"Het laatste uit het IPO voor Statenleden, {label}."
    lines = [
        "---",
        f"month: {month}",
        f'subject: "Nieuwsbrief Statenleden {label}"',
        f'preheader: "{preheader}"',
        f"date: {day.isoformat()}",
        "audience: all  # or role:av_lid,plv_av_lid; 'newsletter subscribers segment' shows who",
        "# Reorder, remove or add item ids; 'newsletter content list' shows them all.",
        "sections:",
    ]
    for key in SECTIONS:
        items = chosen.get(key, [])
        if not items:
            lines.append(f"  {key}: []")
            continue
        lines.append(f"  {key}:")
        for item in items:
            lines.append(f"    - {item.id}  # {item.title[:60]}")
    lines += ["---", INTRO_PLACEHOLDER, ""]
    return "\n".join(lines)


def create_issue(
    db: Database, settings: Settings, month: str, day: date | None = None, force: bool = False
) -> tuple[Path, dict[str, list[Item]]]:
    """Write content/issues/MONTH.md with the proposed items; never overwrite without force."""
    path = issue_path(settings, month)
    if path.exists() and not force:
        raise ContentError(
            f"{settings.shown(path)} already exists; edit it, or pass --force to start it again"
        )
    day = day or first_working_day(month)
    chosen = select_items(db, settings, month, day)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(new_issue_text(settings, month, day, chosen), encoding="utf-8")
    tmp.replace(path)
    return path, chosen


def load_issue(db: Database, settings: Settings, month: str) -> Issue:
    """The issue file with every item resolved from the store, or a ContentError."""
    draft = read_issue_file(settings, month)
    items = get_items(db, draft.item_ids)
    where = settings.shown(draft.path)
    for key, ids in draft.sections.items():
        for item_id in ids:
            if item_id not in items:
                raise ContentError(
                    f"{where}: sections.{key}: unknown item '{item_id}'; run "
                    "'newsletter content sync', check 'newsletter content list', "
                    "or remove it"
                )
    sections = {key: [items[i] for i in ids] for key, ids in draft.sections.items() if ids}
    if not sections:
        raise ContentError(f"{where}: no items in any section; add item ids under sections")
    intro_html = markdown_to_html(draft.intro)
    return Issue(
        month,
        draft.subject,
        draft.preheader,
        draft.date,
        intro_html,
        html_to_text(intro_html),
        sections,
        draft.audience,
    )
