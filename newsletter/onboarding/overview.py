"""The programme seen from the staff's side: who is in it, each with their dated timeline (the
plan `onboarding plan` computes, with what tick decided), steps sent and next, and what holds
them (away, paused, stopped). Read-only; the console's Inwerkprogramma page shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.onboarding.enrolment import load_calendar, member_plan
from newsletter.onboarding.plan import Meeting, Planned
from newsletter.onboarding.sequences import Sequence, load_sequence
from newsletter.store import onboarding as repo
from newsletter.store.onboarding import Enrolment


@dataclass(frozen=True)
class MemberTimeline:
    enrolment: Enrolment
    email: str
    name: str
    province: str | None
    reader_status: str  # the subscriber's status: active, paused, unsubscribed ...
    away_until: date | None  # an out-of-office reply said they are back then
    steps: list[Planned]  # the dated timeline, each with its reason and decision
    problem: str = ""  # why there is no timeline (the sequence is gone)

    @property
    def sent(self) -> list[Planned]:
        return [p for p in self.steps if p.decision and p.decision.status in {"queued", "merged"}]

    @property
    def next(self) -> Planned | None:
        if self.enrolment.status != "active":
            return None
        return next(
            (
                p
                for p in self.steps
                if p.decision is None and not p.skip and not p.merged_into and p.at is not None
            ),
            None,
        )


def _timeline(
    db: Database,
    settings: Settings,
    enrolment: Enrolment,
    sequences: dict[str, Sequence | None],
    calendar: list[Meeting],
    today: date,
) -> MemberTimeline:
    person = repo.reader(db, enrolment.subscriber_id)
    if enrolment.sequence not in sequences:
        try:
            sequences[enrolment.sequence] = load_sequence(settings, enrolment.sequence)
        except NewsletterError:
            sequences[enrolment.sequence] = None
    sequence = sequences[enrolment.sequence]
    steps = member_plan(db, settings, enrolment, sequence, calendar, today) if sequence else []
    return MemberTimeline(
        enrolment,
        person.email if person else "",
        person.name if person else "",
        person.province if person else None,
        repo.member_status(db, enrolment.subscriber_id) or "erased",
        repo.away_until(db, enrolment.subscriber_id, today),
        steps,
        "" if sequence else f"sequence {enrolment.sequence} is gone from content/onboarding/",
    )


def members(
    db: Database, settings: Settings, today: date, page: int, per_page: int = 10
) -> tuple[list[MemberTimeline], int]:
    """One page of the members in the programme (active first), and how many there are."""
    found, total = repo.enrolment_page(db, max(page - 1, 0) * per_page, per_page)
    calendar = load_calendar(db)
    sequences: dict[str, Sequence | None] = {}
    return [_timeline(db, settings, e, sequences, calendar, today) for e in found], total


def member(db: Database, settings: Settings, enrolment_id: int, today: date) -> MemberTimeline:
    """One enrolment with its timeline."""
    enrolment = repo.enrolment_by_id(db, enrolment_id)
    if enrolment is None:
        raise NewsletterError(f"there is no enrolment {enrolment_id}")
    return _timeline(db, settings, enrolment, {}, load_calendar(db), today)
