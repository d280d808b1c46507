"""The dated plan of a new AV member (onboarding/plan.py): pure, so no store and no clock.

The sequence is the demo instance's av-lid.yaml (DOMAIN.md's programme); the calendar is built
here. Every expected date below was worked out by hand from DOMAIN.md and the Dutch calendar
(Eerste kerstdag, Goede vrijdag, Tweede paasdag, Koningsdag, Hemelvaartsdag), not copied.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from newsletter import clock
from newsletter.config import Settings
from newsletter.content.items import Item
from newsletter.onboarding.expressions import parse_expression
from newsletter.onboarding.plan import Meeting, Planned, plan, term_end_for
from newsletter.onboarding.sequences import Sequence, Step, StepText, load_sequence


def meeting(day: str, event_type: str = "") -> Meeting:
    """An AV meeting (or an event of that type) on a day, 14.00-16.30 uur."""
    starts = datetime.fromisoformat(f"{day}T14:00").replace(tzinfo=clock.AMSTERDAM)
    kind = "event" if event_type else "av_meeting"
    return Meeting(
        Item(
            id=f"{day}-{event_type or 'av'}",
            kind=kind,
            title=event_type or "Algemene Vergadering",
            theme="av",
            section="agenda",
            published=date(2026, 1, 5),
            starts_at=starts,
            ends_at=starts + timedelta(hours=2, minutes=30),
            fields={"event_type": event_type} if event_type else {},
        )
    )


# Two AV meetings in the 2023-2027 term ([onboarding] term_end = 2027-03-31), one in the next.
CALENDAR = [meeting("2026-11-03"), meeting("2027-02-10"), meeting("2027-06-22")]


@pytest.fixture
def av_lid(settings: Settings) -> Sequence:
    return load_sequence(settings, "av-lid")


def at_nine(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T09:00").replace(tzinfo=clock.AMSTERDAM)


def days(items: list[Planned]) -> dict[str, str | None]:
    """Step -> the day it goes (None: no date yet), for every step the plan sends."""
    return {
        p.key: p.at.date().isoformat() if p.at else None
        for p in items
        if not p.skip and not p.merged_into
    }


def by_key(items: list[Planned]) -> dict[str, Planned]:
    return {p.key: p for p in items}


def test_a_member_joining_two_months_before_the_av_gets_the_whole_programme(
    settings: Settings, av_lid: Sequence
) -> None:
    items = plan(settings, av_lid, date(2026, 9, 7), CALENDAR)  # Monday 7 September 2026
    assert days(items) == {
        "welkom": "2026-09-07",  # T0
        "werkwijze": "2026-09-10",  # T0 + 3 working days
        "kennismaking": "2026-09-14",  # T0 + 7 days
        "pc-cyclus": "2026-10-06",  # max(T0 + 14 days, AV - 28 days): the AV's side
        "vergaderstukken": "2026-10-13",  # AV - 21 days
        "voorbereiding": "2026-10-27",  # AV - 7 days
        "terugblik": "2026-11-05",  # AV + 2 days
        "verdieping": "2026-12-07",  # T0 + 3 months
        "opfrissing@2027-02-10-av": "2027-01-13",  # before the next AV of the term: AV - 28
    }
    # In date order, at [onboarding] send_from, and the first AV is the one they prepare for.
    assert [p.at for p in items] == sorted(p.at for p in items if p.at)
    assert all(p.at is not None and p.at.time().hour == 9 for p in items)
    plan_ = by_key(items)
    assert plan_["vergaderstukken"].av == CALENDAR[0]
    assert plan_["opfrissing@2027-02-10-av"].av == CALENDAR[1]
    assert plan_["pc-cyclus"].why.startswith("the later of (start 7 september 2026 + 14 days")
    assert all(p.state == "planned" for p in items)


def test_each_step_expires_when_it_is_out_of_date(settings: Settings, av_lid: Sequence) -> None:
    plan_ = by_key(plan(settings, av_lid, date(2026, 9, 7), CALENDAR))

    def end_of(day: str) -> datetime:
        return datetime.fromisoformat(f"{day}T23:59").replace(tzinfo=clock.AMSTERDAM)

    assert plan_["welkom"].expires == end_of("2026-12-06")  # start + 90 days
    assert plan_["terugblik"].expires == end_of("2026-11-24")  # av + 21 days
    # "expires: av": out of date when the meeting begins, not at the end of its day
    assert plan_["vergaderstukken"].expires == CALENDAR[0].item.starts_at
    # No expires of its own: stale_after (14 days) after its moment.
    assert plan_["pc-cyclus"].expires == at_nine("2026-10-06") + timedelta(days=14)


def test_joining_less_than_three_weeks_before_the_av_catches_up(
    settings: Settings, av_lid: Sequence
) -> None:
    items = plan(settings, av_lid, date(2026, 10, 20), CALENDAR)  # 14 days before 3 November
    assert days(items) == {
        "welkom": "2026-10-20",
        "vergaderstukken": "2026-10-21",  # at once: the working day after the welcome ...
        "werkwijze": "2026-10-23",
        "kennismaking": "2026-10-27",
        "terugblik": "2026-11-05",
        "pc-cyclus": "2026-11-10",  # ... and the P&C cycle after the AV (AV + 7 days)
        "verdieping": "2027-01-20",
        "opfrissing@2027-02-10-av": "2027-01-22",  # not before verdieping + 2 working days
    }
    plan_ = by_key(items)
    # The preparation goes inside the papers' message, on its day.
    assert plan_["voorbereiding"].merged_into == "vergaderstukken"
    assert plan_["vergaderstukken"].merged == ["voorbereiding"]
    assert plan_["voorbereiding"].at == plan_["vergaderstukken"].at == at_nine("2026-10-21")
    assert plan_["voorbereiding"].state == "with vergaderstukken"
    assert plan_["vergaderstukken"].why.startswith("appointed less than 21 days before the AV: ")


def test_joining_exactly_three_weeks_before_the_av_is_the_normal_programme_one_a_day(
    settings: Settings, av_lid: Sequence
) -> None:
    """13 October is AV - 21 days: the catch-up rule (start > av - 21 days) does not apply.
    The papers fall on the welcome's day and the preparation on the P&C cycle's: each goes
    on the next free working day, so the member never gets two messages in one day."""
    plan_ = by_key(plan(settings, av_lid, date(2026, 10, 13), CALENDAR))
    assert days(list(plan_.values())) == {
        "welkom": "2026-10-13",
        "vergaderstukken": "2026-10-14",
        "werkwijze": "2026-10-16",
        "kennismaking": "2026-10-20",
        "pc-cyclus": "2026-10-27",
        "voorbereiding": "2026-10-28",
        "terugblik": "2026-11-05",
        "verdieping": "2027-01-13",
        "opfrissing@2027-02-10-av": "2027-01-15",
    }
    assert not plan_["voorbereiding"].merged_into
    assert "pc-cyclus goes on 27 oktober 2026, so the next free working day" in (
        plan_["voorbereiding"].why
    )


def test_joining_on_an_av_day_aims_at_the_next_av(settings: Settings, av_lid: Sequence) -> None:
    plan_ = by_key(plan(settings, av_lid, date(2026, 11, 3), CALENDAR))
    assert plan_["vergaderstukken"].av == CALENDAR[1]
    assert days(list(plan_.values()))["vergaderstukken"] == "2027-01-20"  # 10 Feb - 21 days
    # 3 February is both AV - 7 days and T0 + 3 months: the later step takes the next day.
    assert plan_["voorbereiding"].at == at_nine("2027-02-03")
    assert plan_["verdieping"].at == at_nine("2027-02-04")


def test_offsets_in_working_days_skip_weekends_and_dutch_public_holidays(
    settings: Settings, av_lid: Sequence
) -> None:
    # Thursday 22 April 2027 + 3 working days: Friday, Monday, (Koningsdag), Wednesday.
    plan_ = by_key(plan(settings, av_lid, date(2027, 4, 22), CALENDAR))
    assert plan_["werkwijze"].at == at_nine("2027-04-28")
    # Wednesday 23 December 2026 + 3 working days: 24th, (Christmas, weekend), 28th, 29th.
    plan_ = by_key(plan(settings, av_lid, date(2026, 12, 23), CALENDAR))
    assert plan_["werkwijze"].at == at_nine("2026-12-29")


def test_a_moment_on_a_holiday_moves_to_the_next_working_day(
    settings: Settings, av_lid: Sequence
) -> None:
    # Thursday 29 April 2027 + 7 days is Hemelvaartsdag: the Friday.
    kennismaking = by_key(plan(settings, av_lid, date(2027, 4, 29), CALENDAR))["kennismaking"]
    assert kennismaking.at == at_nine("2027-05-07")
    assert kennismaking.why.endswith("; 6 mei 2027 is Hemelvaartsdag, so vrijdag 7 mei 2027")


def test_a_moment_counted_back_from_the_av_moves_earlier_not_later(
    settings: Settings, av_lid: Sequence
) -> None:
    """Friday 15 January 2027 - 21 days is Eerste kerstdag: the papers go the day before,
    so the member keeps the time to read them."""
    plan_ = by_key(plan(settings, av_lid, date(2026, 11, 16), [meeting("2027-01-15")]))
    assert plan_["vergaderstukken"].at == at_nine("2026-12-24")
    assert "25 december 2026 is Eerste kerstdag, so donderdag 24 december 2026" in (
        plan_["vergaderstukken"].why
    )
    assert plan_["pc-cyclus"].at == at_nine("2026-12-18")  # AV - 28 days, a Friday


def test_joining_late_in_the_term_gets_a_short_coherent_programme(
    settings: Settings, av_lid: Sequence
) -> None:
    """15 February 2027: no AV is left in the 2023-2027 term (the June AV is the next term's),
    so only the introductions have a date; nothing is planned after 31 March 2027."""
    items = plan(settings, av_lid, date(2027, 2, 15), CALENDAR)
    assert days(items) == {
        "welkom": "2027-02-15",
        "werkwijze": "2027-02-18",
        "kennismaking": "2027-02-22",
        "pc-cyclus": None,
        "vergaderstukken": None,
        "voorbereiding": None,
        "terugblik": None,
    }
    plan_ = by_key(items)
    assert plan_["vergaderstukken"].state == "waiting"
    assert plan_["vergaderstukken"].why == (
        "waits for an AV meeting in the calendar before 31 maart 2027, when the term ends"
    )
    assert plan_["verdieping"].skip == "after 31 maart 2027, when the term ends"
    assert plan_["verdieping"].state == "left out"
    assert not any(p.key.startswith("opfrissing") for p in items)


def test_the_last_week_of_the_term_over_easter(settings: Settings, av_lid: Sequence) -> None:
    """Wednesday 24 March 2027 + 3 working days skips Goede vrijdag and Tweede paasdag: the
    31st, the term's last day. The introduction (T0 + 7 days) falls on that day too, and the
    next free day is after the term: it is left out rather than sent in the next term."""
    plan_ = by_key(plan(settings, av_lid, date(2027, 3, 24), CALENDAR))
    assert plan_["werkwijze"].at == at_nine("2027-03-31")
    assert plan_["kennismaking"].skip == "after 31 maart 2027, when the term ends"


def test_a_mandate_that_ends_early_cuts_the_plan_there(
    settings: Settings, av_lid: Sequence
) -> None:
    items = plan(settings, av_lid, date(2026, 9, 7), CALENDAR, mandate_end=date(2026, 11, 30))
    plan_ = by_key(items)
    assert plan_["terugblik"].at == at_nine("2026-11-05")
    assert plan_["verdieping"].skip == "after 30 november 2026, when the mandate ends"
    assert not any(p.key.startswith("opfrissing") for p in items)  # February is not theirs


def test_a_step_that_would_go_after_it_is_out_of_date_is_left_out(
    settings: Settings, av_lid: Sequence
) -> None:
    """Appointed on Saturday 31 October for an AV on Monday 2 November: the welcome moves to
    the Monday, the papers (the working day after) would come after the meeting began."""
    plan_ = by_key(plan(settings, av_lid, date(2026, 10, 31), [meeting("2026-11-02")]))
    assert plan_["welkom"].at == at_nine("2026-11-02")
    assert plan_["welkom"].why.endswith("; 31 oktober 2026 is zaterdag, so maandag 2 november 2026")
    assert plan_["vergaderstukken"].skip == (
        "its day would be after 2 november 2026, when it is out of date"
    )
    assert days(list(plan_.values())) == {
        "welkom": "2026-11-02",
        "werkwijze": "2026-11-04",
        "terugblik": "2026-11-05",  # AV + 2 days is werkwijze's day: the next one
        "kennismaking": "2026-11-09",
        "pc-cyclus": "2026-11-10",  # AV + 7 days is kennismaking's day: the next one
        "verdieping": "2027-02-01",  # 31 January is a Sunday
    }


def test_the_days_steps_already_went_are_taken(settings: Settings, av_lid: Sequence) -> None:
    """A member under way: the welcome went on Thursday 10 September (late, after an outage);
    werkwijze, due that day, goes on the next working day: one message a day."""
    sent_on = {"welkom": date(2026, 9, 10)}
    plan_ = by_key(plan(settings, av_lid, date(2026, 9, 7), CALENDAR, sent_on=sent_on))
    assert plan_["werkwijze"].at == at_nine("2026-09-11")


def custom_sequence(moments: dict[str, str]) -> Sequence:
    """A sequence of one step per moment (no step files: the plan reads only the moments)."""

    def fail(what: str) -> Exception:
        return ValueError(what)

    steps = tuple(
        Step(
            key,
            number,
            key,
            StepText(Path(f"{key}.md"), "Onderwerp", "", "Tekst"),
            parse_expression(moment, set(moments), fail),
            None,
        )
        for number, (key, moment) in enumerate(moments.items(), 1)
    )
    return Sequence("test", Path("test.yaml"), "Test", ("av_lid",), 14, steps)


def test_every_kind_of_anchor(settings: Settings) -> None:
    sequence = custom_sequence(
        {
            "briefing": "next technische_briefing - 2 working days",
            "twee-weken": "start + 2 weeks",
            "vroegste": "min(av - 28 days, start + 1 month)",
            "na-briefing": "briefing + 1 day",
            "afscheid": "term_end - 1 month",
        }
    )
    calendar = [  # a briefing before T0 is not "next"
        meeting("2026-09-01", "technische_briefing"),
        meeting("2026-10-13", "technische_briefing"),
        meeting("2026-10-27", "technische_briefing"),
        meeting("2026-11-03"),
    ]
    plan_ = by_key(plan(settings, sequence, date(2026, 9, 7), calendar))
    assert plan_["briefing"].at == at_nine("2026-10-09")  # Tuesday 13 October - 2 working days
    assert plan_["twee-weken"].at == at_nine("2026-09-21")
    assert plan_["vroegste"].at == at_nine("2026-10-06")  # AV - 28 days, before T0 + 1 month
    assert plan_["vroegste"].why.startswith("the earlier of (")
    assert plan_["na-briefing"].at == at_nine("2026-10-12")  # Saturday 10th: the Monday
    # 31 March 2027 - 1 month: 28 February, a Sunday; counted back, so the Friday before.
    assert plan_["afscheid"].at == at_nine("2027-02-26")
    assert plan_["afscheid"].why.startswith("end of term 31 maart 2027 - 1 month")


def test_a_moment_waits_while_its_anchor_is_not_in_the_calendar(settings: Settings) -> None:
    sequence = custom_sequence({"briefing": "next technische_briefing - 2 working days"})
    [briefing] = plan(settings, sequence, date(2026, 9, 7), [meeting("2026-11-03")])
    assert (briefing.at, briefing.state) == (None, "waiting")
    assert briefing.why.startswith("waits for a technische_briefing in the calendar")


@pytest.mark.parametrize(
    ("start", "term_end"),
    [
        (date(2026, 9, 7), date(2027, 3, 31)),
        (date(2027, 3, 31), date(2027, 3, 31)),  # the last day still belongs to the old term
        (date(2027, 4, 1), date(2031, 3, 31)),
        (date(2019, 6, 1), date(2023, 3, 31)),
    ],
)
def test_the_term_a_start_falls_in(settings: Settings, start: date, term_end: date) -> None:
    assert term_end_for(settings, start) == term_end
