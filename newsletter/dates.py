"""Dutch dates and times as readers expect them: "dinsdag 3 november 2026, 14.00 uur"."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache

import holidays
from babel.dates import format_date

from newsletter.clock import AMSTERDAM, parse_instant


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(AMSTERDAM).date() if value.tzinfo else value.date()
    return value


def nl_date(value: date | datetime | str, weekday: bool = False) -> str:
    """ "3 november 2026", or "dinsdag 3 november 2026" with weekday."""
    return _formatted(_as_date(value), weekday)


@lru_cache(maxsize=4096)
def _formatted(day: date, weekday: bool) -> str:
    """Babel's format_date takes ~0.1 ms; a list page shows the same few days many times."""
    return format_date(day, "EEEE d MMMM y" if weekday else "d MMMM y", locale="nl")


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


@lru_cache(maxsize=64)
def _closed(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("NL", years=year, language="nl")


def holiday_name(day: date) -> str:
    """The Dutch public holiday on this day ("Tweede Kerstdag"), or ""."""
    return str(_closed(day.year).get(day) or "")


def is_working_day(day: date) -> bool:
    """No weekend and no Dutch public holiday (the holidays library, not a list of our own)."""
    return day.weekday() < 5 and day not in _closed(day.year)


def next_working_day(day: date) -> date:
    """This day if it is a working day, else the first one after it."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def previous_working_day(day: date) -> date:
    """This day if it is a working day, else the last one before it."""
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


def add_working_days(day: date, count: int) -> date:
    """Count working days forward (or back, for a negative count) from day."""
    step = 1 if count >= 0 else -1
    for _ in range(abs(count)):
        day += timedelta(days=step)
        while not is_working_day(day):
            day += timedelta(days=step)
    return day


def add_months(day: date, count: int) -> date:
    """The same day count months later; the month's last day when it is shorter."""
    month = day.month - 1 + count
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


def nl_moment(instant: str | datetime | None) -> str:
    """An instant as Dutch readers see it, in Europe/Amsterdam: "1 december 2026 9.00 uur"."""
    if instant is None:
        return "(time unknown)"
    value = parse_instant(instant) if isinstance(instant, str) else instant
    local = value.astimezone(AMSTERDAM)
    return f"{nl_date(local)} {nl_time(local)}"
