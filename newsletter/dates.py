"""Dutch dates and times as readers expect them: "dinsdag 3 november 2026, 14.00 uur"."""

from __future__ import annotations

from datetime import date, datetime

from babel.dates import format_date

from .clock import AMSTERDAM


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(AMSTERDAM).date() if value.tzinfo else value.date()
    return value


def nl_date(value: date | datetime | str, weekday: bool = False) -> str:
    """ "3 november 2026", or "dinsdag 3 november 2026" with weekday."""
    pattern = "EEEE d MMMM y" if weekday else "d MMMM y"
    return format_date(_as_date(value), pattern, locale="nl")


def nl_time(value: datetime | str) -> str:
    """ "14.00 uur"."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo:
        moment = moment.astimezone(AMSTERDAM)
    return f"{moment.hour}.{moment.minute:02d} uur"


def nl_when(starts: datetime | str, ends: datetime | str | None = None) -> str:
    """ "dinsdag 3 november 2026, 14.00-16.30 uur" (a range when the end is known)."""
    start = datetime.fromisoformat(starts) if isinstance(starts, str) else starts
    text = f"{nl_date(start, weekday=True)}, {nl_time(start)}"
    if ends:
        end = datetime.fromisoformat(ends) if isinstance(ends, str) else ends
        text = f"{nl_date(start, weekday=True)}, {nl_time(start)[:-4]}–{nl_time(end)}"
    return text
