"""A member's dated plan: sequence, calendar and start in, planned steps with reasons out.

Pure: no SQL and no I/O. Nothing of a plan is stored: it is computed every time it is needed,
so when an AV meeting moves, every step still to come moves with it (enrolment.py adds what
was decided already; steps.py sends what is due).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from newsletter import clock
from newsletter.config import Settings
from newsletter.content.items import Item
from newsletter.dates import (
    add_months,
    add_working_days,
    holiday_name,
    is_working_day,
    next_working_day,
    nl_date,
    previous_working_day,
)
from newsletter.errors import NewsletterError
from newsletter.onboarding.expressions import Condition, Expression, Extreme, Term
from newsletter.onboarding.sequences import Sequence, Step

if TYPE_CHECKING:
    from newsletter.store.onboarding import StepDecision

# ---------------------------------------------------------------------------------------------
# The calendar


@dataclass(frozen=True)
class Meeting:
    """An AV meeting or an event from the content store."""

    item: Item

    @property
    def id(self) -> str:
        return self.item.id

    @property
    def day(self) -> date:
        assert self.item.starts_at is not None
        return self.item.starts_at.astimezone(clock.AMSTERDAM).date()

    @property
    def is_av(self) -> bool:
        return self.item.kind == "av_meeting"

    @property
    def event_type(self) -> str:
        return "av_meeting" if self.is_av else str(self.item.fields.get("event_type", ""))


# ---------------------------------------------------------------------------------------------
# Evaluating a step's moment


@dataclass(frozen=True)
class Moment:
    day: date | None  # None: an anchor is not known yet (no AV meeting in the calendar)
    why: str
    direction: int = 1  # -1 when counted back from an anchor: a closed day moves earlier


@dataclass
class _Context:
    start: date
    term_end: date
    calendar: list[Meeting]
    av: Meeting | None
    steps: dict[str, Moment] = field(default_factory=dict)

    def next_event(self, event_type: str) -> Meeting | None:
        return next(
            (m for m in self.calendar if m.event_type == event_type and m.day > self.start), None
        )


def _anchor(term: Term, ctx: _Context) -> Moment:
    if term.anchor == "start":
        return Moment(ctx.start, f"start {nl_date(ctx.start)}")
    if term.anchor == "term_end":
        return Moment(ctx.term_end, f"end of term {nl_date(ctx.term_end)}")
    if term.anchor == "av":
        if ctx.av is None:
            return Moment(None, "waits for an AV meeting in the calendar")
        return Moment(ctx.av.day, f"AV {nl_date(ctx.av.day)}")
    if term.anchor.startswith("next:"):
        kind = term.anchor[5:]
        event = ctx.next_event(kind)
        if event is None:
            return Moment(None, f"waits for a {kind} in the calendar")
        return Moment(event.day, f"{event.item.title} {nl_date(event.day)}")
    other = ctx.steps[term.anchor[5:]]
    return Moment(
        other.day, f"step {term.anchor[5:]} {nl_date(other.day) if other.day else '(waits)'}"
    )


def evaluate(expression: Expression, ctx: _Context) -> Moment:
    """The day an expression gives for this member, with the reasoning in words."""
    if isinstance(expression, Extreme):
        moments = [evaluate(arg, ctx) for arg in expression.args]
        waiting = [m for m in moments if m.day is None]
        if waiting:
            return Moment(None, waiting[0].why)
        pick = max if expression.function == "max" else min
        chosen = pick(moments, key=lambda m: m.day or date.min)
        which = "later" if expression.function == "max" else "earlier"
        parts = "; ".join(f"{m.why} = {nl_date(m.day)}" for m in moments if m.day)
        return Moment(chosen.day, f"the {which} of ({parts})", chosen.direction)
    base = _anchor(expression, ctx)
    if base.day is None or not expression.offsets:
        return base
    day = base.day
    for offset in expression.offsets:
        n = offset.sign * offset.count
        if offset.unit == "working days":
            day = add_working_days(day, n)
        elif offset.unit == "weeks":
            day += timedelta(weeks=n)
        elif offset.unit == "months":
            day = add_months(day, n)
        else:
            day += timedelta(days=n)
    shown = " ".join(str(o) for o in expression.offsets)
    return Moment(day, f"{base.why} {shown}", expression.offsets[-1].sign)


def _holds(condition: Condition, ctx: _Context) -> bool:
    left, right = evaluate(condition.left, ctx).day, evaluate(condition.right, ctx).day
    if left is None or right is None:
        return False
    return {
        "<": left < right,
        ">": left > right,
        "<=": left <= right,
        ">=": left >= right,
    }[condition.operator]


# ---------------------------------------------------------------------------------------------
# A member's plan


@dataclass
class Planned:
    """One step (or one occurrence of a recurring step) for one member."""

    key: str  # the step id, or id@meeting for a recurring one
    step: Step
    day: date | None
    at: datetime | None  # when it may go: the day at [onboarding] send_from
    expires: datetime | None  # after this it is stale and skipped
    why: str
    av: Meeting | None  # the AV meeting its text is about
    skip: str = ""  # why the plan leaves it out (after the term, a catch-up rule)
    merged_into: str = ""  # goes inside that step's message
    merged: list[str] = field(default_factory=list)  # keys that go inside this one
    decision: StepDecision | None = None  # what tick decided, when it did
    sent: str = ""  # the ledger's status of its delivery

    @property
    def state(self) -> str:
        if self.decision:
            status = self.decision.status
            return self.sent if status == "queued" and self.sent else status
        if self.skip:
            return "left out"
        if self.merged_into:
            return "with " + self.merged_into
        return "waiting" if self.at is None else "planned"


def term_end_for(settings: Settings, start: date) -> date:
    """The last day of the Statenperiode `start` falls in: [onboarding] term_end, moved by
    whole four-year terms (Provinciale Staten are elected every four years, in March)."""
    end = settings.onboarding.term_end
    if not 1900 < start.year < 2200:
        raise NewsletterError(f"{start.isoformat()}: not a day inside any Statenperiode")
    while end < start:
        end = end.replace(year=end.year + 4)
    while end.replace(year=end.year - 4) >= start:
        end = end.replace(year=end.year - 4)
    return end


def sending_moment(settings: Settings, day: date) -> datetime:
    """When a step planned for `day` may go: that day at [onboarding] send_from."""
    return datetime.combine(day, settings.onboarding.send_from, tzinfo=clock.AMSTERDAM)


def _working(moment: Moment) -> tuple[date | None, str]:
    """A step goes on a working day: a weekend or public holiday moves it (earlier when the
    moment was counted back from a meeting, so the member still has the time)."""
    day = moment.day
    if day is None or is_working_day(day):
        return day, ""
    moved = previous_working_day(day) if moment.direction < 0 else next_working_day(day)
    closed = holiday_name(day) or nl_date(day, weekday=True).split()[0]
    return moved, f"; {nl_date(day)} is {closed}, so {nl_date(moved, weekday=True)}"


def plan(
    settings: Settings,
    sequence: Sequence,
    start: date,
    calendar: list[Meeting],
    mandate_end: date | None = None,
    sent_on: dict[str, date] | None = None,
) -> list[Planned]:
    """The dated timeline for a member starting on `start`, each date with its reason.

    `sent_on` gives the days steps already went (for a member under way): those days are
    taken, so the plan of what is left keeps to one message a day."""
    term_end = term_end_for(settings, start)
    limit = min(term_end, mandate_end) if mandate_end else term_end
    limit_why = "the mandate ends" if mandate_end and mandate_end < term_end else "the term ends"
    # Only meetings inside the member's term (and mandate) count: the first AV of the next
    # Statenperiode is not theirs.
    calendar = [m for m in calendar if not m.is_av or m.day <= limit]
    av = next((m for m in calendar if m.is_av and m.day > start), None)
    ctx = _Context(start, term_end, calendar, av)
    overrides: dict[str, tuple[Any, str]] = {}
    for rule in sequence.catch_up:
        if _holds(rule.when, ctx):
            for step_id, change in rule.steps.items():
                overrides[step_id] = (change, rule.reason)
    out: dict[str, Planned] = {}
    for step in _in_dependency_order(sequence):
        if step.every:
            continue
        change, rule_reason = overrides.get(step.id, (None, ""))
        expression = change.at if change is not None and change.at is not None else step.at
        moment = evaluate(expression, ctx)
        day, moved = _working(moment)
        ctx.steps[step.id] = Moment(day, moment.why)  # "welkom + 1 working day": when it goes
        why = moment.why + moved
        if rule_reason:
            why = f"{rule_reason}: {why}"
        if day is None:
            why += f" before {nl_date(limit)}, when {limit_why}"
        planned = Planned(
            step.id, step, day, sending_moment(settings, day) if day else None, None, why, av
        )
        if change is not None and change.skip:
            planned.skip = rule_reason
        elif day is not None and day > limit:
            planned.skip = f"after {nl_date(limit)}, when {limit_why}"
        if change is not None and change.merge_into:
            planned.merged_into = change.merge_into
        planned.expires = _expiry(settings, sequence, step, ctx, planned)
        _left_out_when_stale(planned)
        out[step.id] = planned
    for planned in list(out.values()):  # merged steps go when (and where) their host goes
        if planned.merged_into:
            host = out[planned.merged_into]
            host.merged.append(planned.key)
            planned.day, planned.at, planned.expires = host.day, host.at, host.expires
            planned.why = f"{planned.why.split(':')[0]}: sent together with {host.key}"
    for step in sequence.steps:
        if step.every:
            out.update(_occurrences(settings, sequence, step, ctx, out, limit, limit_why))
    _one_a_day(settings, out, sent_on or {}, limit, limit_why)
    return sorted(
        out.values(),
        key=lambda p: (p.at or datetime.max.replace(tzinfo=clock.AMSTERDAM), p.step.number),
    )


def _left_out_when_stale(p: Planned) -> None:
    """A step whose day comes after it is out of date (papers for a meeting already held) is
    left out of the plan, with the reason."""
    if not p.skip and p.at is not None and p.expires is not None and p.at > p.expires:
        p.skip = f"its day would be after {nl_date(p.expires)}, when it is out of date"


def _one_a_day(
    settings: Settings,
    planned: dict[str, Planned],
    sent_on: dict[str, date],
    limit: date,
    limit_why: str,
) -> None:
    """At most one message a day: a step that falls on a day another step already has goes
    on the next free working day (merged steps travel with their host), unless that is too
    late for it; the days steps already went are taken."""
    taken: dict[date, str] = {day: key for key, day in sent_on.items()}
    for p in sorted(
        (
            p
            for p in planned.values()
            if p.day and not p.skip and not p.merged_into and p.key not in sent_on
        ),
        key=lambda p: (p.day or date.min, p.step.number),
    ):
        assert p.day is not None
        day = p.day
        while day in taken:
            day = next_working_day(day + timedelta(days=1))
        if day != p.day:
            p.why += f"; {taken[p.day]} goes on {nl_date(p.day)}, so the next free working day"
            p.day, p.at = day, sending_moment(settings, day)
            for key in p.merged:
                planned[key].day, planned[key].at = day, p.at
            if day > limit:
                p.skip = f"after {nl_date(limit)}, when {limit_why}"
            _left_out_when_stale(p)
            if p.skip:
                continue
        taken[day] = p.key


def _in_dependency_order(sequence: Sequence) -> list[Step]:
    done: list[Step] = []
    seen: set[str] = set()

    def visit(step: Step) -> None:
        if step.id in seen:
            return
        seen.add(step.id)
        for anchor in step.at.anchors():
            if anchor.startswith("step:"):
                visit(sequence.step(anchor[5:]))
        for rule in sequence.catch_up:
            change = rule.steps.get(step.id)
            if change is not None and change.at is not None:
                for anchor in change.at.anchors():
                    if anchor.startswith("step:"):
                        visit(sequence.step(anchor[5:]))
        if step.expires is not None:
            for anchor in step.expires.anchors():
                if anchor.startswith("step:"):
                    visit(sequence.step(anchor[5:]))
        done.append(step)

    for step in sequence.steps:
        visit(step)
    return done


def _expiry(
    settings: Settings, sequence: Sequence, step: Step, ctx: _Context, planned: Planned
) -> datetime | None:
    if step.expires is not None:
        expression = step.expires
        if isinstance(expression, Term) and expression.anchor == "av" and not expression.offsets:
            # "expires: av": out of date when the meeting begins
            return ctx.av.item.starts_at if ctx.av is not None else None
        day = evaluate(expression, ctx).day
        if day is not None:
            return datetime.combine(day, time(23, 59), tzinfo=clock.AMSTERDAM)
        return None
    if planned.at is None:
        return None
    return planned.at + timedelta(days=sequence.stale_after_days)


def _occurrences(
    settings: Settings,
    sequence: Sequence,
    step: Step,
    ctx: _Context,
    planned: dict[str, Planned],
    limit: date,
    limit_why: str,
) -> dict[str, Planned]:
    """A recurring step: one per AV meeting after the start (and after its `after` step)."""
    out: dict[str, Planned] = {}
    after = planned.get(step.after) if step.after else None
    if after is not None and (after.at is None or after.skip):
        return out
    for meeting in ctx.calendar:
        if not meeting.is_av or meeting.day <= ctx.start:
            continue
        if ctx.av is not None and meeting.day <= ctx.av.day:
            continue  # the first AV is what the programme itself prepares for
        local = _Context(ctx.start, ctx.term_end, ctx.calendar, meeting, ctx.steps)
        moment = evaluate(step.at, local)
        day, moved = _working(moment)
        if day is None:
            continue
        at = sending_moment(settings, day)
        if after is not None and after.day is not None and meeting.day <= after.day:
            continue  # only the meetings after the step it follows
        key = f"{step.id}@{meeting.id}"
        item = Planned(key, step, day, at, None, moment.why + moved, meeting)
        if day > limit:
            item.skip = f"after {nl_date(limit)}, when {limit_why}"
        item.expires = _expiry(settings, sequence, step, local, item)
        _left_out_when_stale(item)
        out[key] = item
    return out


def by_key(items: list[Planned], key: str) -> Planned:
    """The planned step with this key (a step id, or id@meeting)."""
    return next(p for p in items if p.key == key)


def plan_json(items: list[Planned]) -> list[dict[str, Any]]:
    return [
        {
            "step": p.key,
            "number": p.step.number,
            "title": p.step.title,
            "at": p.at.isoformat() if p.at else None,
            "date_nl": nl_date(p.at, weekday=True) if p.at else None,
            "expires": p.expires.isoformat() if p.expires else None,
            "reason": p.why,
            "left_out": p.skip or None,
            "sent_with": p.merged_into or None,
            "carries": p.merged,
            "av": p.av.id if p.av else None,
            "state": p.state,
        }
        for p in items
    ]
