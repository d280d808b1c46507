"""The Inhoud forms in Dutch: labels, hints, the library's field errors as Dutch sentences, and
form fields to and from front-matter values (the rules stay in content/items.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from newsletter.config import Settings
from newsletter.content.items import EVENT_TYPES, SECTIONS, FieldError
from newsletter.headers import MAX_HEADER_VALUE
from newsletter.sources.writer import FormField

KIND_NAMES = {
    "bac_decision": "BAC-besluit",
    "av_meeting": "Algemene Vergadering",
    "position_paper": "Position paper",
    "event": "Bijeenkomst",
    "news": "Nieuws",
}
LABELS = {
    "bac": "BAC",
    "meeting_date": "Datum van de vergadering",
    "number": "Nummer van het besluit",
    "subject": "Onderwerp",
    "summary": "Samenvatting",
    "decisions": "Besluiten",
    "link": "Link",
    "title": "Titel",
    "date": "Datum",
    "start_time": "Begintijd",
    "end_time": "Eindtijd",
    "place": "Plaats",
    "theme": "Thema",
    "agenda": "Agenda",
    "programme": "Programma",
    "registration": "Link om aan te melden",
    "question_deadline": "Technische vragen tot",
    "audience": "Gericht aan",
    "event_type": "Soort bijeenkomst",
    "published": "Publicatiedatum",
    "section": "Rubriek",
    "featured": "Uitgelicht",
    "id": "Kenmerk",
    "body": "Tekst",
}
HINTS = {
    "date": "Jaar-maand-dag, bijvoorbeeld 2026-11-03.",
    "time": "Uren.minuten, bijvoorbeeld 14.00.",
    "moment": "Datum en eventueel tijd, bijvoorbeeld 2027-02-02 12.00.",
    "url": "Een volledige link, beginnend met https://.",
    "list": "Eén per regel.",
    "programme": "Eén onderdeel per regel, met de tijd vooraan: 12.30 Inloop met lunch.",
}
FIELD_HINTS = {
    "subject": "De titel van het besluit in de nieuwsbrief.",
    "published": "Leeg laten: de standaard voor dit soort.",
    "featured": "Bovenaan het nummer, in Uitgelicht.",
}
# The library's problems (content/items.py: FieldError) as staff read them; by field and kind
# of problem first, then by kind of problem alone.
PROBLEMS = {
    "missing": "Dit veld is verplicht; vul het in.",
    "not-text": "Schrijf hier gewone tekst.",
    "header": (
        "Deze tekst komt in een kopregel van de e-mail: schrijf hem op één regel, zonder '=?', "
        f"en korter dan {MAX_HEADER_VALUE} tekens."
    ),
    "not-date": "'{value}' is geen datum. Schrijf jaar-maand-dag, bijvoorbeeld 2026-11-03.",
    "not-time": "'{value}' is geen tijd. Schrijf uren.minuten, bijvoorbeeld 14.00.",
    "not-url": "'{value}' is geen webadres. Schrijf een volledige link die begint met https://.",
    "not-list": "Schrijf één onderdeel per regel.",
    "unknown": "'{value}' staat niet in de lijst; kies een van de mogelijkheden.",
    "not-programme": HINTS["programme"],
    "not-moment": (
        "'{value}' is geen moment. Schrijf een datum en eventueel een tijd, "
        "bijvoorbeeld 2027-02-02 12.00."
    ),
    "bad-id": "'{value}' kan geen kenmerk zijn: alleen kleine letters, cijfers en streepjes.",
    "not-bool": "Kies ja of nee.",
}
FIELD_PROBLEMS = {
    ("bac", "missing"): "Kies de BAC die het besluit nam.",
    ("theme", "missing"): "Kies een thema.",
    ("event_type", "missing"): "Kies het soort bijeenkomst.",
    ("subject", "missing"): "Vul het onderwerp in; het is de titel van het besluit.",
    ("title", "missing"): "Vul de titel in.",
    ("meeting_date", "missing"): "Vul de datum van de vergadering in, bijvoorbeeld 2026-11-03.",
    ("date", "missing"): "Vul de datum in, bijvoorbeeld 2026-11-03.",
    ("start_time", "missing"): "Vul de begintijd in, bijvoorbeeld 14.00.",
    ("decisions", "missing"): "Schrijf ten minste één besluit, één per regel.",
    ("agenda", "missing"): "Schrijf ten minste één agendapunt, één per regel.",
    ("time", "not-time"): (
        "Een tijd in het programma klopt niet ('{value}'); schrijf bijvoorbeeld 12.30."
    ),
}
# A problem the library names by a field inside another one.
ALIASES = {"time": "programme"}


@dataclass(frozen=True)
class Problem:
    field: str  # the form field it belongs next to
    text: str


def problem_text(error: FieldError) -> Problem:
    """One field error of the library as a Dutch sentence, next to the field it belongs to."""
    template = FIELD_PROBLEMS.get((error.field, error.problem)) or PROBLEMS.get(error.problem)
    value = "" if error.value is None else str(error.value)
    if template is None:
        text = f"Dit veld klopt niet: {error}"
    else:
        text = template.replace("{value}", value[:80])
    return Problem(ALIASES.get(error.field, error.field), text)


def options(spec: FormField, settings: Settings) -> list[tuple[str, str]]:
    """A choice field's options as (value, Dutch name)."""
    if spec.choices == "themes":
        return [(key, theme.title) for key, theme in settings.themes.items()]
    if spec.choices == "event_types":
        return list(EVENT_TYPES.items())
    return list(SECTIONS.items())


def hint(spec: FormField) -> str:
    return " ".join(h for h in (FIELD_HINTS.get(spec.key), HINTS.get(spec.shape)) if h)


_PROGRAMME_LINE = re.compile(r"^(\d{1,2}[.:]\d{2})\s+(.+)$")


def values_from_form(fields: tuple[FormField, ...], form: MultiDict[str, str]) -> dict[str, Any]:
    """The posted form as front-matter values (lists from lines); the library validates them."""
    values: dict[str, Any] = {}
    for spec in fields:
        raw = form.get(spec.key, "")
        if spec.shape == "bool":
            values[spec.key] = spec.key in form
        elif spec.shape in ("list", "programme"):
            lines = [line.strip() for line in raw.splitlines() if line.strip()]
            if spec.shape == "programme":
                values[spec.key] = [
                    {"time": m[1], "title": m[2]} if (m := _PROGRAMME_LINE.match(line)) else line
                    for line in lines
                ]
            else:
                values[spec.key] = lines
        else:
            values[spec.key] = raw.strip()
    return values


def _shown(value: Any, shape: str) -> str:
    """One front-matter value as a form field of this shape shows it."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if shape == "time" and isinstance(value, int) and not isinstance(value, bool):
        return f"{value // 60:02d}.{value % 60:02d}"  # YAML read an unquoted 14:00 as 840
    if isinstance(value, dict):
        return f"{_shown(value.get('time'), 'time')} {value.get('title', '')}".strip()
    if isinstance(value, list):
        return "\n".join(_shown(v, shape) for v in value)
    return str(value)


def form_from_values(fields: tuple[FormField, ...], values: Mapping[str, Any]) -> dict[str, Any]:
    """Front-matter values (a file's, or a posted form's) as the form shows them."""
    shown: dict[str, Any] = {}
    for spec in fields:
        value = values.get(spec.key)
        shown[spec.key] = bool(value) if spec.shape == "bool" else _shown(value, spec.shape)
    return shown
