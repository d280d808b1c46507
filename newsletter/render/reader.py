"""What a reader sees first (issue #16): "Voor u", "In dit nummer", short items, the text wrap.

Pure: the issue's items in, plain data for the templates out. "Voor u" is chosen per variant
(the province: a briefing there) and per role (AV members get the AV's registration and
question deadline); the variant key carries the role as "+av" (render/issue.py).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from newsletter.content.items import Item
from newsletter.dates import nl_date, nl_time, nl_when

# Roles that make a reader "AV member" for "Voor u" (their own variant, "GLD+av").
AV_ROLES = ("av_lid", "plv_av_lid")
AV_FACET = "av"
# "Soon": what falls within this many days after the date.
SOON = timedelta(days=75)
# Events a Statenlid can sign up for, and which "Voor u" names.
BRIEFINGS = ("technische_briefing", "kennissessie", "klankbordgroep", "werkbezoek")
# Where each province meets (the seat of its Staten): a briefing there is "in your province".
PROVINCE_TOWNS = {
    "GR": "Groningen",
    "FR": "Leeuwarden",
    "DR": "Assen",
    "OV": "Zwolle",
    "FL": "Lelystad",
    "GLD": "Arnhem",
    "UT": "Utrecht",
    "NH": "Haarlem",
    "ZH": "Den Haag",
    "ZLD": "Middelburg",
    "NB": "'s-Hertogenbosch",
    "LI": "Maastricht",
}
TEXT_WIDTH = 76  # the text part's lines (URLs excepted)
MAX_ACTIONS = 3


def anchor(item: Item) -> str:
    """The id of an item's heading, for the overview's links."""
    return f"item-{item.id}"


def first_sentence(text: str) -> str:
    """The first sentence of a summary (a short item shows only that)."""
    text = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(?=\s+[A-Z0-9'‘\"(])", text)
    return match.group(1) if match else text


@dataclass(frozen=True)
class Action:
    """One line of "Voor u": when, what (text), the link (url) and its short visible text."""

    text: str
    when: str
    url: str
    label: str  # the link's short visible text
    item_id: str


def _in_province(item: Item, province: str, name: str) -> bool:
    place = item.place.lower()
    town = PROVINCE_TOWNS.get(province, "")
    return bool(place) and any(w and w.lower() in place for w in (name, town))


def _online(item: Item) -> bool:
    return "online" in item.place.lower()


def for_you(
    sections: Mapping[str, Sequence[Item]],
    day: date,
    province: str | None,
    province_name: str,
    av_member: bool,
    contact: str,
) -> list[Action]:
    """What needs this reader's action soon, at most three lines, soonest first.

    AV members: register for the next AV, send questions before its deadline. Everyone with a
    province: a briefing held in their province (or else online), open to all Statenleden.
    Readers without a province (IPO staff, the web version): nothing."""
    if not province:
        return []
    items = [i for group in sections.values() for i in group]
    soon = [i for i in items if i.starts_at and day <= i.starts_at.date() <= day + SOON]
    actions: list[tuple[date, Action]] = []
    if av_member:
        for av in (i for i in soon if i.kind == "av_meeting"):
            assert av.starts_at is not None  # every item in `soon` has one
            when = _day(av.starts_at.date())
            if av.link:
                actions.append(
                    (
                        av.starts_at.date(),
                        Action(av.title, when, av.link, "Aanmelden", av.id),
                    )
                )
            deadline = str(av.fields.get("question_deadline") or "")
            if deadline:
                moment = datetime.fromisoformat(deadline)
                by = _day(moment.date()) + (f", {nl_time(moment)}" if "T" in deadline else "")
                actions.append(
                    (
                        moment.date(),
                        Action(
                            f"Uw vragen over de stukken van de {av.title}",
                            by,
                            f"mailto:{contact}?subject=Vragen%20over%20de%20stukken",
                            "Stuur uw vraag",
                            av.id,
                        ),
                    )
                )
    briefings = [
        i
        for i in soon
        if i.kind == "event" and i.fields.get("event_type") in BRIEFINGS and i.link and i.starts_at
    ]
    near = [i for i in briefings if _in_province(i, province, province_name)]
    for event in near or [i for i in briefings if _online(i)][:1]:
        assert event.starts_at is not None
        where = f"in {province_name}" if event in near else "online"
        actions.append(
            (
                event.starts_at.date(),
                Action(
                    f"{event.title} ({where})",
                    _day(event.starts_at.date()),
                    event.link,
                    "Aanmelden",
                    event.id,
                ),
            )
        )
    actions.sort(key=lambda pair: pair[0])
    return [a for _, a in actions][:MAX_ACTIONS]


def _day(day: date) -> str:
    """ "9 december": the issue's own months need no year."""
    return nl_date(day).rsplit(" ", 1)[0]


def when_and_where(item: Item, full: bool = False) -> str:
    """An event's meta line: "woensdag 9 december, 16.00–17.30 uur · Online (Teams)".

    The e-mail leaves out the year, as "Voor u" does (an issue's agenda lies in the months
    ahead) so the line fits a phone; the web version (`full`), read later, keeps it."""
    assert item.starts_at is not None
    when = nl_when(item.starts_at, item.ends_at)
    if not full:
        when = re.sub(r" \d{4},", ",", when, count=1)
    return f"{when} · {item.place}" if item.place else when


def short_title(item: Item) -> str:
    """The overview's name for an item: its title, the AV with its date."""
    if item.kind == "av_meeting" and item.starts_at:
        return f"{item.title} {_day(item.starts_at.date())}"
    return item.title


_URLISH = re.compile(r"^(https?://|mailto:|@@[a-z_]*url@@)")
_MARKER = re.compile(r"@@[a-z_]+@@")
MARKER_WIDTH = 40  # what a marker (an address, a name) may take once filled in


def _width(text: str) -> int:
    return len(_MARKER.sub("x" * MARKER_WIDTH, text))


_PREFIX = re.compile(r"^(\s*(?:\d+\.|[-*•])\s+|\s+)")


def wrap_text(text: str, width: int = TEXT_WIDTH) -> str:
    """Lines longer than `width` broken at spaces; a URL (or a marker that becomes one) is never
    broken and goes on a line of its own. List items keep their hanging indent."""
    out: list[str] = []
    for line in text.split("\n"):
        if _width(line) <= width:
            out.append(line)
            continue
        prefix = _PREFIX.match(line)
        indent = " " * len(prefix.group(1)) if prefix else ""
        words = line.split(" ")
        current = ""
        for word in words:
            if _URLISH.match(word) and current.strip():
                out.append(current.rstrip())
                current = indent
            candidate = f"{current} {word}" if current.strip() else f"{current}{word}"
            if _width(candidate) > width and current.strip():
                out.append(current.rstrip())
                current = indent + word
            else:
                current = candidate
        out.append(current.rstrip())
    return "\n".join(out)
