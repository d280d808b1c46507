"""Items: the kinds of content, their validation, and the Item every later stage works with."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from newsletter.clock import AMSTERDAM
from newsletter.config import Settings
from newsletter.errors import ContentError
from newsletter.headers import check_header_value
from newsletter.sanitize import html_to_text, is_web_url, markdown_to_html

KINDS = ("bac_decision", "av_meeting", "position_paper", "event", "news")
EVENT_TYPES = {
    "technische_briefing": "Technische briefing",
    "kennissessie": "Kennissessie",
    "jaarcongres": "Jaarcongres",
    "werkbezoek": "Werkbezoek",
    "klankbordgroep": "P&C-klankbordgroep",
    "webinar": "Webinar",
}
# The sections of a monthly issue (DOMAIN.md); "provincie" and the footer are filled per variant.
SECTIONS = {
    "uitgelicht": "Uitgelicht",
    "agenda": "Agenda",
    "av": "Uit de Algemene Vergadering",
    "bestuur": "Terugblik bestuursvergaderingen",
    "bac": "Uit de BAC's",
    "pc": "P&C: waar staan we?",
    "lobby": "Belangenbehartiging en standpunten",
    "kennis": "Kennis & inwerken",
}
DEFAULT_SECTION = {
    "bac_decision": "bac",
    "av_meeting": "av",
    "position_paper": "lobby",
    "event": "agenda",
    "news": "kennis",
}
# Meetings and events count as published six weeks ahead unless the file says otherwise.
ANNOUNCE_AHEAD = timedelta(days=42)
ITEM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,80}$")


@dataclass(frozen=True)
class Item:
    """One piece of content, from a file or a feed, validated and ready to render."""

    id: str
    kind: str
    title: str
    theme: str
    section: str
    published: date
    summary: str = ""
    link: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    place: str = ""
    fields: Mapping[str, Any] = field(default_factory=dict)
    body_html: str = ""
    body_text: str = ""
    source: str = "file"
    path: str = ""
    featured: bool = False

    @property
    def has_calendar_entry(self) -> bool:
        return self.starts_at is not None

    def content_hash(self) -> str:
        """Changes whenever anything a reader would see changes."""
        parts = [
            self.id,
            self.kind,
            self.title,
            self.theme,
            self.section,
            str(self.published),
            self.summary,
            self.link,
            str(self.starts_at),
            str(self.ends_at),
            self.place,
            repr(sorted(self.fields.items())),
            self.body_html,
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


class FieldError(ContentError):
    """A field that is wrong: the message names the file, the field and the fix; `field` and
    `problem` say which and what kind of wrong, for a form that shows it next to the field.

    Problems: missing, not-text, header, not-date, not-time, not-url, not-list, unknown,
    not-programme, not-moment, bad-id, not-bool.
    """

    def __init__(
        self,
        message: str,
        field: str,
        problem: str,
        value: Any = None,
        options: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.field, self.problem, self.value, self.options = field, problem, value, options


class _Fields:
    """Reads front matter for one file; every problem names the field and the fix."""

    def __init__(self, where: str, meta: Mapping[str, Any]) -> None:
        self.where, self.meta = where, meta

    def fail(
        self, key: str, what: str, problem: str, options: Mapping[str, Any] | None = None
    ) -> FieldError:
        return FieldError(
            f"{self.where}: field '{key}' {what}",
            key,
            problem,
            self.meta.get(key),
            tuple(options or ()),
        )

    def text(
        self, key: str, *, required: bool = True, default: str = "", header: bool = False
    ) -> str:
        value = self.meta.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.fail(key, "is missing or empty; add it to the front matter", "missing")
            return default
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.fail(key, "must be text", "not-text")
        text = str(value).strip()
        if header:
            try:
                check_header_value(text, key)
            except Exception as exc:
                raise self.fail(key, f"cannot be used in a mail header: {exc}", "header") from None
        return text

    def day(self, key: str, *, required: bool = True) -> date | None:
        value = self.meta.get(key)
        if value is None:
            if required:
                raise self.fail(key, "is missing; write a date like 2026-11-03", "missing")
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            raise self.fail(
                key, f"'{value}' is not a date; write it as 2026-11-03", "not-date"
            ) from None

    def clock(self, key: str, *, required: bool = True) -> time | None:
        value = self.meta.get(key)
        if value is None:
            if required:
                raise self.fail(key, 'is missing; write a time like "14.00"', "missing")
            return None
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
            # YAML 1.1 reads an unquoted 14:00 as the sexagesimal number 840.
            return time(value // 60, value % 60)
        match = re.fullmatch(r"(\d{1,2})[.:](\d{2})", str(value).strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            raise self.fail(key, f"'{value}' is not a time; write it as \"14.00\"", "not-time")
        return time(int(match[1]), int(match[2]))

    def url(self, key: str, *, required: bool = True) -> str:
        value = self.text(key, required=required)
        if value and not is_web_url(value):
            raise self.fail(
                key, f"'{value}' is not a web address; write a full https:// link", "not-url"
            )
        return value

    def texts(self, key: str, *, required: bool = True) -> list[str]:
        value = self.meta.get(key)
        if value is None or value == []:
            if required:
                raise self.fail(key, "is missing; write a list, one '- ' line per entry", "missing")
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
            raise self.fail(key, "must be a list of texts, one '- ' line per entry", "not-list")
        return [str(v).strip() for v in value if str(v).strip()]

    def choice(self, key: str, options: Mapping[str, Any], *, default: str | None = None) -> str:
        value = self.meta.get(key, default)
        if value is None:
            raise self.fail(
                key, f"is missing; use one of: {', '.join(options)}", "missing", options
            )
        if not isinstance(value, str) or value not in options:  # a list or table is no key
            raise self.fail(
                key, f"'{value}' is not known; use one of: {', '.join(options)}", "unknown", options
            )
        return str(value)


def _at(day: date | None, clock: time | None) -> datetime | None:
    if day is None or clock is None:
        return None
    return datetime.combine(day, clock, tzinfo=AMSTERDAM)


def _programme(f: _Fields) -> list[dict[str, str]]:
    raw = f.meta.get("programme", [])
    rows = []
    for entry in raw if isinstance(raw, list) else [raw]:
        if isinstance(entry, str):
            rows.append({"time": "", "title": entry.strip()})
        elif isinstance(entry, dict) and isinstance(entry.get("title"), str):
            sub = _Fields(f.where, entry)
            clock = sub.clock("time", required=False)
            rows.append(
                {"time": f"{clock:%H.%M}" if clock else "", "title": entry["title"].strip()}
            )
        else:
            raise f.fail(
                "programme", "must be a list of texts or of {time, title} entries", "not-programme"
            )
    return rows


def _bac_decision(f: _Fields, s: Settings) -> dict[str, Any]:
    bac = f.choice("bac", s.themes)
    meeting = f.day("meeting_date")
    subject = f.text("subject", header=True)
    return dict(
        title=subject,
        theme=bac,
        summary=f.text("summary"),
        link=f.url("link"),
        published=f.day("published", required=False) or meeting,
        fields={
            "meeting_date": meeting.isoformat() if meeting else None,
            "number": f.text("number"),
            "decisions": f.texts("decisions"),
            "bac_title": s.themes[bac].title,
        },
    )


def _av_meeting(f: _Fields, s: Settings) -> dict[str, Any]:
    day = f.day("date")
    assert day is not None
    return dict(
        title=f.text("title", required=False, default="Algemene Vergadering", header=True),
        theme=f.choice("theme", s.themes, default="financien-openbaar-bestuur"),
        summary=f.text("summary", required=False),
        link=f.url("registration"),
        starts_at=_at(day, f.clock("start_time")),
        ends_at=_at(day, f.clock("end_time", required=False)),
        place=f.text("place"),
        published=f.day("published", required=False) or day - ANNOUNCE_AHEAD,
        fields={
            "agenda": f.texts("agenda"),
            "programme": _programme(f),
            "question_deadline": _deadline(f, "question_deadline"),
        },
    )


def _deadline(f: _Fields, key: str) -> str | None:
    """ "2027-02-02 12.00" (or a date alone): until when technical questions can be asked."""
    value = f.meta.get(key)
    if value is None:
        return None
    if isinstance(value, date):
        return value.isoformat()
    match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2})[.:](\d{2}))?", str(value).strip())
    if not match:
        raise f.fail(key, f"'{value}' is not a moment; write it as 2027-02-02 12.00", "not-moment")
    try:
        day = date.fromisoformat(match[1])
        if match[2] is None:
            return day.isoformat()
        return datetime.combine(
            day, time(int(match[2]), int(match[3])), tzinfo=AMSTERDAM
        ).isoformat()
    except ValueError:
        raise f.fail(
            key, f"'{value}' is not a moment; write it as 2027-02-02 12.00", "not-moment"
        ) from None


def _position_paper(f: _Fields, s: Settings) -> dict[str, Any]:
    day = f.day("date")
    return dict(
        title=f.text("title", header=True),
        theme=f.choice("theme", s.themes),
        summary=f.text("summary"),
        link=f.url("link"),
        published=f.day("published", required=False) or day,
        fields={
            "date": day.isoformat() if day else None,
            "audience": f.text("audience", required=False),
        },
    )


def _event(f: _Fields, s: Settings) -> dict[str, Any]:
    day = f.day("date")
    assert day is not None
    event_type = f.choice("event_type", EVENT_TYPES)
    return dict(
        title=f.text("title", header=True),
        theme=f.choice("theme", s.themes, default="algemeen"),
        summary=f.text("summary"),
        link=f.url("registration", required=False),
        starts_at=_at(day, f.clock("start_time")),
        ends_at=_at(day, f.clock("end_time", required=False)),
        place=f.text("place"),
        published=f.day("published", required=False) or day - ANNOUNCE_AHEAD,
        fields={"event_type": event_type, "event_type_title": EVENT_TYPES[event_type]},
    )


def _news(f: _Fields, s: Settings) -> dict[str, Any]:
    day = f.day("date")
    return dict(
        title=f.text("title", header=True),
        theme=f.choice("theme", s.themes, default="algemeen"),
        summary=f.text("summary"),
        link=f.url("link", required=False),
        published=f.day("published", required=False) or day,
        fields={},
    )


READERS: dict[str, Callable[[_Fields, Settings], dict[str, Any]]] = {
    "bac_decision": _bac_decision,
    "av_meeting": _av_meeting,
    "position_paper": _position_paper,
    "event": _event,
    "news": _news,
}


COMMON_FIELDS = {"kind", "id", "section", "featured", "published", "theme"}
KIND_FIELDS = {
    "bac_decision": {"bac", "meeting_date", "number", "subject", "summary", "decisions", "link"},
    "av_meeting": {
        "title",
        "date",
        "start_time",
        "end_time",
        "place",
        "summary",
        "agenda",
        "programme",
        "registration",
        "question_deadline",
    },
    "position_paper": {"title", "date", "summary", "link", "audience"},
    "event": {
        "event_type",
        "title",
        "date",
        "start_time",
        "end_time",
        "place",
        "summary",
        "registration",
    },
    "news": {"title", "date", "summary", "link"},
}


def unknown_fields(where: str, meta: Mapping[str, Any]) -> list[str]:
    """A warning per front-matter key the kind does not read (usually a typo), with a guess."""
    kind = meta.get("kind")
    if not isinstance(kind, str) or kind not in KIND_FIELDS:
        return []
    known = COMMON_FIELDS | KIND_FIELDS[kind]
    warnings = []
    for key in meta:
        if key in known:
            continue
        guess = difflib.get_close_matches(str(key), sorted(known), n=1)
        hint = f"; did you mean '{guess[0]}'?" if guess else "; it is ignored"
        warnings.append(f"{where}: field '{key}' is not a field of {kind}{hint}")
    return warnings


def item_from_front_matter(
    where: str, item_id: str, meta: Mapping[str, Any], body: str, settings: Settings
) -> Item:
    """Validate one content file's front matter and body into an Item, or raise ContentError."""
    f = _Fields(where, meta)
    kind = f.choice("kind", READERS)
    explicit_id = f.text("id", required=False)
    item_id = explicit_id or item_id
    if not ITEM_ID.match(item_id):
        raise f.fail("id", f"'{item_id}' must be lowercase letters, digits and dashes", "bad-id")
    values = READERS[kind](f, settings)
    section = f.choice("section", SECTIONS, default=DEFAULT_SECTION[kind])
    body_html = markdown_to_html(body)
    featured = meta.get("featured", False)
    if not isinstance(featured, bool):
        raise f.fail("featured", "must be true or false", "not-bool")
    return Item(
        id=item_id,
        kind=kind,
        section=section,
        body_html=body_html,
        body_text=html_to_text(body_html),
        source="file",
        path=where,
        featured=featured,
        **values,
    )
