"""A mailing's report numbers, per province and per day since the send, and the same as CSV.

One function computes them (`mailing_statistics`): the console's Rapporten page, its CSV
download and `issue report --csv` all show these numbers. The counting is in SQL
(store/mailing_stats.py); here the hours are folded into local days.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields
from datetime import date, datetime

from sqlite_utils import Database

from newsletter import clock
from newsletter.errors import NewsletterError
from newsletter.store import mailing_stats
from newsletter.store.mailing_stats import ReportMailing

MEASURES = ("sent", "delivered", "bounced", "complaints", "unsubscribes")


@dataclass(frozen=True)
class Numbers:
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    complaints: int = 0
    unsubscribes: int = 0

    def __add__(self, other: Numbers) -> Numbers:
        return Numbers(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def values(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in MEASURES)


@dataclass(frozen=True)
class Day:
    """Day `number` after the send (0: the day it started), a local date."""

    number: int
    day: date
    numbers: Numbers


@dataclass(frozen=True)
class MailingStatistics:
    mailing: ReportMailing
    provinces: list[tuple[str, Numbers]]
    days: list[Day]
    total: Numbers


def _numbers(row: object) -> Numbers:
    return Numbers(*(int(getattr(row, name)) for name in MEASURES))


def _local_day(hour: str) -> date:
    return clock.parse_instant(f"{hour}:00:00+00:00").astimezone(clock.AMSTERDAM).date()


def mailing_statistics(db: Database, mailing_id: str) -> MailingStatistics:
    """Sent, delivered, bounced, complaints and unsubscribes of one mailing."""
    mailing = mailing_stats.find_report_mailing(db, mailing_id)
    if mailing is None:
        raise NewsletterError(f"there is no mailing {mailing_id} with deliveries; send it first")
    provinces = [(p.province, _numbers(p)) for p in mailing_stats.per_province(db, mailing_id)]
    per_day: dict[date, Numbers] = {}
    for hour in mailing_stats.per_hour(db, mailing_id):
        day = _local_day(hour.hour)
        per_day[day] = per_day.get(day, Numbers()) + _numbers(hour)
    first = (
        clock.parse_instant(mailing.started_at).astimezone(clock.AMSTERDAM).date()
        if mailing.started_at
        else min(per_day, default=clock.today())
    )
    days = [Day((d - first).days, d, per_day[d]) for d in sorted(per_day)]
    total = sum((n for _, n in provinces), Numbers())
    return MailingStatistics(mailing, provinces, days, total)


def statistics_csv(stats: MailingStatistics) -> str:
    """The numbers as CSV: one row per province, per day (local date) and the total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["mailing", "group", "key", *MEASURES])
    mailing = stats.mailing.id
    for province, numbers in stats.provinces:
        writer.writerow([mailing, "province", province, *numbers.values()])
    for day in stats.days:
        writer.writerow([mailing, "day", day.day.isoformat(), *day.numbers.values()])
    writer.writerow([mailing, "total", "", *stats.total.values()])
    return out.getvalue()


def started_local(stats: MailingStatistics) -> datetime | None:
    started = stats.mailing.started_at
    return clock.parse_instant(started).astimezone(clock.AMSTERDAM) if started else None
