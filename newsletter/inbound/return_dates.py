"""The first day someone is back, read from an out-of-office text (Dutch and English)."""

from __future__ import annotations

import re
from datetime import date, timedelta

MONTHS = {
    **{
        name: n
        for n, name in enumerate(
            (
                "januari",
                "februari",
                "maart",
                "april",
                "mei",
                "juni",
                "juli",
                "augustus",
                "september",
                "oktober",
                "november",
                "december",
            ),
            1,
        )
    },
    **{
        name: n
        for n, name in enumerate(
            (
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ),
            1,
        )
    },
    "jan": 1,
    "feb": 2,
    "mrt": 3,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "okt": 10,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAYNAME = (
    r"(?:(?:maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday),?\s+)?"
)
# "tot en met"/"t/m": absent through that day, so back the day after.
_INCLUSIVE = r"(tot\s+en\s+met|t/m|through|up\s+to\s+and\s+including)"
_UNTIL = (
    r"(" + _INCLUSIVE[1:-1] + r"|terug\s+op|weer\s+(?:aanwezig|bereikbaar|op\s+kantoor)\s+(?:op|"
    r"vanaf)|vanaf|tot|back\s+(?:in\s+the\s+office\s+)?on|back|returning\s+on|return\s+on|"
    r"return(?:ing)?|until|till)"
)
_DAY_FIRST = re.compile(
    _UNTIL + r"\s+" + _DAYNAME + r"(\d{1,2})(?:e|st|nd|rd|th)?\s+" + _MONTH + r"(?:\s+(\d{4}))?",
    re.I,
)
_MONTH_FIRST = re.compile(
    _UNTIL + r"\s+" + _DAYNAME + _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?", re.I
)
_NUMERIC = re.compile(_UNTIL + r"\s+" + _DAYNAME + r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", re.I)


def return_date(text: str, today: date) -> date | None:
    """The first day someone is back, from an out-of-office text; None when it says none."""
    found: list[tuple[int, str, int, int, int | None]] = []
    for match in _DAY_FIRST.finditer(text):
        year = int(match[4]) if match[4] else None
        found.append((match.start(), match[1], MONTHS[match[3].lower()], int(match[2]), year))
    for match in _MONTH_FIRST.finditer(text):
        year = int(match[4]) if match[4] else None
        found.append((match.start(), match[1], MONTHS[match[2].lower()], int(match[3]), year))
    for match in _NUMERIC.finditer(text):
        found.append((match.start(), match[1], int(match[3]), int(match[2]), int(match[4])))
    for _, word, month, day, year in sorted(found):
        try:
            when = date(year or today.year, month, day)
        except ValueError:
            continue
        if year is None and when < today - timedelta(days=7):
            when = date(today.year + 1, month, day)  # "back on January 4", said in December
        if re.fullmatch(_INCLUSIVE, word.lower()):
            when += timedelta(days=1)
        return when
    return None
