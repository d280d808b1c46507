"""The onboarding programme for new AV members: enrolment, the dated plan, and sending due steps.

Nothing of a member's plan is stored: it is computed from the sequence file, the calendar in the
content store (AV meetings and events) and the member's start, every time it is needed. So when
an AV meeting moves, every step still to come moves with it. What is stored is each decision,
once per (person, sequence, step): queued (with its delivery row in the ledger, in the same
transaction), merged (sent inside another step's message) or skipped (its moment passed: never
sent stale). `tick` runs `run_due`; the ledger and the delivery engine send, exactly once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import mjml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from sqlite_utils import Database

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
    nl_time,
    nl_when,
    previous_working_day,
)
from newsletter.errors import ContentError, NewsletterError
from newsletter.headers import check_header_value
from newsletter.mail.messages import Recipient, make_skeleton, message_id
from newsletter.onboarding.sequences import (
    Condition,
    Expression,
    Extreme,
    Sequence,
    Step,
    Term,
    load_sequence,
    load_sequences,
)
from newsletter.outbound import ledger
from newsletter.outbound.delivery import SendOptions, SendReport, TransportFactory, deliver_mailing
from newsletter.people import privacy
from newsletter.render.issue import Variant, environment, inline_css, marker
from newsletter.sanitize import html_to_text, markdown_to_html
from newsletter.sources.catalog import row_to_item
from newsletter.store import audit, transaction
from newsletter.tokens import PREFERENCES, UNSUBSCRIBE, make_token

ROLE_TITLES = {"av_lid": "AV-lid", "plv_av_lid": "plaatsvervangend AV-lid"}
STOPPING = {"unsubscribed": "unsubscribed", "bounced": "address bounced", "erased": "forgotten"}


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


def load_calendar(db: Database) -> list[Meeting]:
    rows = db.query(
        "select * from items where kind in ('av_meeting', 'event') and starts_at is not null "
        "order by starts_at"
    )
    return [Meeting(row_to_item(row)) for row in rows]


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
    decision: dict[str, Any] | None = None  # what tick decided, when it did
    sent: str = ""  # the ledger's status of its delivery

    @property
    def state(self) -> str:
        if self.decision:
            status = str(self.decision["status"])
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


def _at(settings: Settings, day: date) -> datetime:
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
        planned = Planned(step.id, step, day, _at(settings, day) if day else None, None, why, av)
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
            p.day, p.at = day, _at(settings, day)
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
        at = _at(settings, day)
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


# ---------------------------------------------------------------------------------------------
# Enrolment


@dataclass(frozen=True)
class Enrolment:
    id: int
    subscriber_id: int
    sequence: str
    starts_on: date
    source: str
    mandate_id: int | None
    buddy_id: int | None
    status: str
    stopped_reason: str


def _enrolment(row: dict[str, Any]) -> Enrolment:
    return Enrolment(
        id=int(row["id"]),
        subscriber_id=int(row["subscriber_id"]),
        sequence=str(row["sequence"]),
        starts_on=date.fromisoformat(str(row["starts_on"])),
        source=str(row["source"]),
        mandate_id=row["mandate_id"],
        buddy_id=row["buddy_id"],
        status=str(row["status"]),
        stopped_reason=str(row["stopped_reason"] or ""),
    )


def enrolments(db: Database, status: str | None = None) -> list[Enrolment]:
    where, args = ("status = ?", [status]) if status else (None, [])
    return [
        _enrolment(dict(r))
        for r in db.table("onboarding_enrolments").rows_where(where, args, order_by="id")
    ]


def _choose_buddy(
    db: Database, subscriber_id: int, province: str | None, start: date
) -> int | None:
    """An experienced AV member (a year in the AV at the start) from another province, the one
    with the fewest buddies so far; ties broken by a hash, so the choice is stable."""
    since = (start - timedelta(days=365)).isoformat()
    rows = db.query(
        """
        select s.id, (select count(*) from onboarding_enrolments e where e.buddy_id = s.id) load
        from subscribers s join mandates m on m.subscriber_id = s.id
        where m.role = 'av_lid' and m.starts_on <= ? and (m.ends_on is null or m.ends_on >= ?)
          and s.status = 'active' and s.id != ? and coalesce(s.province, '') != coalesce(?, '')
        group by s.id
        """,
        [since, start.isoformat(), subscriber_id, province],
    )
    candidates = [
        (r["load"], hashlib.sha256(f"{subscriber_id}/{r['id']}".encode()).hexdigest(), r["id"])
        for r in rows
    ]
    return min(candidates)[2] if candidates else None


def _insert_enrolment(
    db: Database,
    sequence: str,
    subscriber_id: int,
    province: str | None,
    start: date,
    source: str,
    mandate_id: int | None,
    actor: str,
) -> None:
    now = clock.utc_iso()
    db.table("onboarding_enrolments").insert(
        {
            "subscriber_id": subscriber_id,
            "sequence": sequence,
            "starts_on": start.isoformat(),
            "source": source,
            "mandate_id": mandate_id,
            "buddy_id": _choose_buddy(db, subscriber_id, province, start),
            "status": "active",
            "enrolled_at": now,
            "updated_at": now,
        }
    )
    audit.record(
        db,
        actor,
        "onboarding-enrol",
        f"subscriber:{subscriber_id}",
        sequence=sequence,
        start=start.isoformat(),
        source=source,
    )


def _restart(
    db: Database,
    enrolment: Enrolment,
    start: date,
    actor: str,
    changes: dict[str, Any],
    **detail: Any,
) -> None:
    """An enrolment active again from a new start (a manual re-enrol or a re-appointment);
    the steps decided before stay decided, so nothing they had comes again."""
    db.table("onboarding_enrolments").update(
        enrolment.id,
        {
            "starts_on": start.isoformat(),
            "status": "active",
            "stopped_reason": None,
            "updated_at": clock.utc_iso(),
            **changes,
        },
    )
    audit.record(
        db,
        actor,
        "onboarding-enrol",
        f"subscriber:{enrolment.subscriber_id}",
        sequence=enrolment.sequence,
        start=start.isoformat(),
        **detail,
    )


def _trial(
    db: Database, subscriber_id: int, province: str | None, sequence: str, start: date
) -> Enrolment:
    """An enrolment that is not stored: to render a step for someone (preview, preflight)."""
    return Enrolment(
        0,
        subscriber_id,
        sequence,
        start,
        "preview",
        None,
        _choose_buddy(db, subscriber_id, province, start),
        "preview",
        "",
    )


def enrol(
    db: Database,
    settings: Settings,
    email: str,
    start: date | None = None,
    sequence_name: str | None = None,
    actor: str = "staff",
) -> tuple[Enrolment, bool]:
    """Enrol one person by hand; (enrolment, False) when they were enrolled already."""
    sequence = only_sequence(settings, sequence_name)
    person = db.execute(
        "select id, province, status from subscribers where email = ?",
        [privacy.canonical_email(email)],
    ).fetchone()
    if person is None:
        raise NewsletterError(
            f"{email}: not a subscriber; import or add them first ('newsletter subscribers "
            "import FILE')"
        )
    subscriber_id, province, status = person
    if status != "active":
        raise NewsletterError(
            f"{email}: the subscriber is {status}; only active readers are enrolled"
        )
    if start is None:
        row = db.execute(
            f"select max(starts_on) from mandates where subscriber_id = ? and role in "
            f"({','.join('?' * len(sequence.roles))})",
            [subscriber_id, *sequence.roles],
        ).fetchone()
        start = date.fromisoformat(row[0]) if row and row[0] else clock.today()
    existing = _find(db, subscriber_id, sequence.name)
    with transaction(db):
        if existing is not None:
            if existing.status == "active" and existing.starts_on == start:
                return existing, False
            _restart(db, existing, start, actor, {}, again=True)
        else:
            _insert_enrolment(
                db, sequence.name, subscriber_id, province, start, "manual", None, actor
            )
    found = _find(db, subscriber_id, sequence.name)
    assert found is not None
    return found, True


def _find(db: Database, subscriber_id: int, sequence: str) -> Enrolment | None:
    row = next(
        db.table("onboarding_enrolments").rows_where(
            "subscriber_id = ? and sequence = ?", [subscriber_id, sequence]
        ),
        None,
    )
    return _enrolment(dict(row)) if row else None


def only_sequence(settings: Settings, name: str | None) -> Sequence:
    if name:
        return load_sequence(settings, name)
    sequences = load_sequences(settings)
    if not sequences:
        raise ContentError(
            "content/onboarding/ holds no sequence (NAME.yaml); see content/onboarding/README.md"
        )
    if len(sequences) > 1:
        raise NewsletterError(
            f"there are {len(sequences)} sequences; name one with --sequence "
            f"({', '.join(s.name for s in sequences)})"
        )
    return sequences[0]


def enrol_new_members(
    db: Database, settings: Settings, sequences: Iterable[Sequence], today: date
) -> int:
    """Everyone whose mandate in a sequence's roles started recently (or will start) is
    enrolled from that start; a re-appointed member's enrolment continues from the new start."""
    since = (today - timedelta(days=settings.onboarding.enrol_window_days)).isoformat()
    count = 0
    for sequence in sequences:
        marks = ",".join("?" * len(sequence.roles))
        rows = list(
            db.query(
                f"""
                select m.id mandate_id, m.subscriber_id, m.starts_on, s.province
                from mandates m join subscribers s on s.id = m.subscriber_id
                where m.role in ({marks}) and m.starts_on >= ? and s.status = 'active'
                  and (m.ends_on is null or m.ends_on >= m.starts_on)
                order by m.starts_on, m.id
                """,
                [*sequence.roles, since],
            )
        )
        for row in rows:
            start = date.fromisoformat(row["starts_on"])
            existing = _find(db, row["subscriber_id"], sequence.name)
            reappointed = existing is not None and (
                existing.status == "stopped"
                and existing.stopped_reason.startswith(("mandate ended", "term ended"))
                and start > existing.starts_on
                and row["mandate_id"] != existing.mandate_id
            )
            if existing is not None and not reappointed:
                continue  # nothing to write: no transaction (tick runs this every time)
            with transaction(db):
                if existing is None:
                    _insert_enrolment(
                        db,
                        sequence.name,
                        row["subscriber_id"],
                        row["province"],
                        start,
                        "mandate",
                        row["mandate_id"],
                        "onboarding",
                    )
                    count += 1
                else:
                    # Re-appointed: the programme goes on from the new start; steps already
                    # decided stay decided, so nothing they had comes again.
                    _restart(
                        db,
                        existing,
                        start,
                        "onboarding",
                        {"mandate_id": row["mandate_id"]},
                        reappointed=True,
                    )
                    count += 1
    return count


def _mandate_end(
    db: Database, enrolment: Enrolment, sequence: Sequence, today: date
) -> date | None:
    """When the member's last mandate in the sequence's roles ends (None: not known / open)."""
    marks = ",".join("?" * len(sequence.roles))
    rows = list(
        db.query(
            "select starts_on, ends_on from mandates where subscriber_id = ? "
            f"and role in ({marks})",
            [enrolment.subscriber_id, *sequence.roles],
        )
    )
    if not rows:
        return None
    if any(r["ends_on"] is None for r in rows):
        return None
    return max(date.fromisoformat(r["ends_on"]) for r in rows)


def stop_if_done(
    db: Database, settings: Settings, enrolment: Enrolment, sequence: Sequence, today: date
) -> str:
    """Stop an enrolment when the person unsubscribed, bounced or their mandate ended."""
    status = db.execute(
        "select status from subscribers where id = ?", [enrolment.subscriber_id]
    ).fetchone()
    reason = ""
    if status is None or status[0] in STOPPING:
        reason = STOPPING.get(status[0] if status else "erased", "forgotten")
    else:  # enrolled by hand or from a mandate: the mandate's end ends it either way
        end = _mandate_end(db, enrolment, sequence, today)
        term_end = term_end_for(settings, enrolment.starts_on)
        if end is not None and end < today:
            reason = f"mandate ended on {end.isoformat()}"
        elif term_end < today:  # nothing can come any more: off the list tick goes through
            reason = f"term ended on {term_end.isoformat()}"
    if reason:
        with transaction(db):
            db.table("onboarding_enrolments").update(
                enrolment.id,
                {"status": "stopped", "stopped_reason": reason, "updated_at": clock.utc_iso()},
            )
            audit.record(
                db,
                "onboarding",
                "onboarding-stop",
                f"subscriber:{enrolment.subscriber_id}",
                sequence=enrolment.sequence,
                reason=reason,
            )
    return reason


# ---------------------------------------------------------------------------------------------
# One member's plan with what was decided


def member_plan(
    db: Database,
    settings: Settings,
    enrolment: Enrolment,
    sequence: Sequence,
    calendar: list[Meeting],
    today: date,
) -> list[Planned]:
    decided = {
        r["step_key"]: dict(r)
        for r in db.query(
            "select o.*, d.status delivery_status from onboarding_steps o left join deliveries d "
            "on d.mailing_id = o.mailing_id and d.subscriber_id = o.subscriber_id "
            "where o.subscriber_id = ? and o.sequence = ?",
            [enrolment.subscriber_id, enrolment.sequence],
        )
    }
    sent_on = {
        key: clock.parse_instant(str(r["decided_at"])).astimezone(clock.AMSTERDAM).date()
        for key, r in decided.items()
        if r["status"] == "queued"
    }
    items = plan(
        settings,
        sequence,
        enrolment.starts_on,
        calendar,
        _mandate_end(db, enrolment, sequence, today),
        sent_on,
    )
    sent = {r["mailing_id"]: r["delivery_status"] for r in decided.values() if r["mailing_id"]}
    for p in items:
        p.decision = decided.get(p.key)
        if p.decision and p.decision.get("mailing_id"):
            p.sent = sent.get(str(p.decision["mailing_id"]), "")
    return items


def mailing_id_for(sequence: str, key: str) -> str:
    step, _, meeting = key.partition("@")
    return f"onboarding-{sequence}-{step}" + (f"--{meeting}" if meeting else "")


def _away_until(db: Database, subscriber_id: int, today: date) -> date | None:
    """An out-of-office reply said when they are back: steps wait until then (if not stale)."""
    row = db.execute(
        "select max(return_date) from inbound where kind = 'autoreply' and subscriber_id = ? "
        "and return_date > ?",
        [subscriber_id, today.isoformat()],
    ).fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else None


def may_send_at(settings: Settings, now: datetime) -> bool:
    """Steps go on working days between [onboarding] send_from and send_until."""
    local = now.astimezone(clock.AMSTERDAM)
    window = settings.onboarding
    return is_working_day(local.date()) and window.send_from <= local.time() < window.send_until


@dataclass
class DueReport:
    enrolled: int = 0
    stopped: list[str] = field(default_factory=list)
    queued: int = 0
    merged: int = 0
    skipped: list[str] = field(default_factory=list)
    sends: list[SendReport] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.problems) or any(
            r.failed or r.relay_down or r.in_doubt for r in self.sends
        )

    def summary(self) -> str:
        sent = sum(r.sent for r in self.sends)
        parts = [f"{self.enrolled} enrolled", f"{sent} step(s) sent"]
        if self.merged:
            parts.append(f"{self.merged} merged into another step")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped as stale")
        if self.stopped:
            parts.append(f"{len(self.stopped)} stopped")
        failed = [email for r in self.sends for email, _ in r.failed + r.deferred]
        if failed:
            parts.append(f"not delivered: {', '.join(failed[:3])}")
        doubt = [email for r in self.sends for email in r.in_doubt]
        if doubt:
            parts.append(f"in doubt (the relay may have it; staff decide): {', '.join(doubt[:3])}")
        return ", ".join(parts) + ("; " + "; ".join(self.problems[:3]) if self.problems else "")


def decide(db: Database, settings: Settings, now: datetime, report: DueReport) -> None:
    """Record what is due now for every active enrolment: queue it, merge it, or skip it."""
    today = now.astimezone(clock.AMSTERDAM).date()
    sequences = {s.name: s for s in load_sequences(settings)}
    report.enrolled += enrol_new_members(db, settings, sequences.values(), today)
    calendar = load_calendar(db)
    sending = may_send_at(settings, now)
    for enrolment in enrolments(db, "active"):
        try:
            _decide_for(db, settings, now, report, enrolment, sequences, calendar, sending, today)
        except NewsletterError as exc:  # this member only: the others still get theirs
            report.problems.append(f"subscriber {enrolment.subscriber_id}: {exc}")
        except (ValueError, OverflowError) as exc:
            report.problems.append(f"subscriber {enrolment.subscriber_id}: {exc}")


def _decide_for(
    db: Database,
    settings: Settings,
    now: datetime,
    report: DueReport,
    enrolment: Enrolment,
    sequences: dict[str, Sequence],
    calendar: list[Meeting],
    sending: bool,
    today: date,
) -> None:
    sequence = sequences.get(enrolment.sequence)
    if sequence is None:
        report.problems.append(f"sequence {enrolment.sequence} is gone from content/onboarding/")
        return
    reason = stop_if_done(db, settings, enrolment, sequence, today)
    if reason:
        report.stopped.append(reason)
        return
    items = member_plan(db, settings, enrolment, sequence, calendar, today)
    reader = db.execute(
        "select status from subscribers where id = ?", [enrolment.subscriber_id]
    ).fetchone()[0]
    open_ = [p for p in items if p.decision is None and not p.skip and not p.merged_into]
    stale = [p for p in open_ if p.at and p.expires and now > p.expires]
    due = [p for p in open_ if p.at and p.at <= now and p not in stale]
    away = _away_until(db, enrolment.subscriber_id, today)
    with transaction(db):
        for p in stale:
            _record(
                db,
                enrolment,
                p,
                "skipped",
                None,
                f"stale: planned for {nl_date(p.at) if p.at else '?'}, "
                f"its moment passed on {nl_date(p.expires) if p.expires else '?'}",
            )
            report.skipped.append(p.key)
            for key in p.merged:
                _record(
                    db,
                    enrolment,
                    _by_key(items, key),
                    "skipped",
                    None,
                    f"stale, like {p.key} it would have gone with",
                )
        if not due or not sending or away is not None or reader != "active":
            return  # a paused reader's steps wait (until they are stale)
        if _had_message_today(db, enrolment, today) or _still_going(db, enrolment):
            return  # at most one message a day, and one at a time: the rest waits
        host, *later = due
        # What fell behind (an outage, a late import) goes along in one message, never as
        # a burst; a step whose day is today waits for tomorrow's message instead, and so
        # does one about another meeting.
        others = [
            p
            for p in later
            if p.at and p.at.astimezone(clock.AMSTERDAM).date() < today and p.av == host.av
        ]
        mailing_id = mailing_id_for(enrolment.sequence, host.key)
        ledger.create_mailing(
            db,
            mailing_id,
            "onboarding",
            host.step.text.subject,
            _step_hash(host.step),
            None,
        )
        person = db.execute(
            "select email from subscribers where id = ?", [enrolment.subscriber_id]
        ).fetchone()
        ledger.queue(
            db,
            [
                {
                    "mailing_id": mailing_id,
                    "subscriber_id": enrolment.subscriber_id,
                    "email": person[0],
                    "variant": "onboarding",
                    "status": "queued",
                    "message_id": message_id(settings, mailing_id, enrolment.subscriber_id),
                    "attempts": 0,
                    "queued_at": clock.utc_iso(),
                }
            ],
        )
        _record(db, enrolment, host, "queued", mailing_id, host.why)
        report.queued += 1
        for p in [*(_by_key(items, k) for k in host.merged), *others]:
            merged_reason = (
                f"sent with {host.key}"
                if p.merged_into
                else f"fell due with {host.key} (planned "
                f"{nl_date(p.at) if p.at else '?'}): one message"
            )
            _record(db, enrolment, p, "merged", mailing_id, merged_reason)
            report.merged += 1
            for key in p.merged if not p.merged_into else []:
                _record(
                    db,
                    enrolment,
                    _by_key(items, key),
                    "merged",
                    mailing_id,
                    f"sent with {host.key}",
                )


def _still_going(db: Database, enrolment: Enrolment) -> bool:
    """A step of theirs is still queued, deferred or in doubt: no second one meanwhile."""
    return (
        db.execute(
            "select count(*) from onboarding_steps o join deliveries d on d.mailing_id = "
            "o.mailing_id and d.subscriber_id = o.subscriber_id where o.subscriber_id = ? "
            "and o.sequence = ? and o.status = 'queued' and d.status in "
            "('queued', 'deferred', 'sending', 'in-doubt')",
            [enrolment.subscriber_id, enrolment.sequence],
        ).fetchone()[0]
        > 0
    )


def _had_message_today(db: Database, enrolment: Enrolment, today: date) -> bool:
    start = datetime.combine(today, time(0, 0), tzinfo=clock.AMSTERDAM)
    return (
        db.execute(
            "select count(*) from onboarding_steps where subscriber_id = ? and sequence = ? "
            "and status = 'queued' and decided_at >= ?",
            [enrolment.subscriber_id, enrolment.sequence, clock.utc_iso(start)],
        ).fetchone()[0]
        > 0
    )


def _by_key(items: list[Planned], key: str) -> Planned:
    return next(p for p in items if p.key == key)


def _record(
    db: Database, enrolment: Enrolment, p: Planned, status: str, mailing_id: str | None, reason: str
) -> None:
    db.table("onboarding_steps").insert(
        {
            "subscriber_id": enrolment.subscriber_id,
            "sequence": enrolment.sequence,
            "step_key": p.key,
            "status": status,
            "mailing_id": mailing_id,
            "planned_for": clock.utc_iso(p.at) if p.at else None,
            "expires_at": clock.utc_iso(p.expires) if p.expires else None,
            "decided_at": clock.utc_iso(),
            "reason": reason,
        },
        ignore=True,  # decided once: a second tick (or a replay) changes nothing
    )


def _step_hash(step: Step) -> str:
    text = f"{step.text.subject}\x1f{step.text.preheader}\x1f{step.text.body}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def expire_queued(db: Database, now: datetime) -> list[str]:
    """A step queued but not yet delivered (the relay was down, the tick missed its hour) is
    never sent once it is out of date, nor once the programme stopped: its delivery row is
    skipped and the step recorded as skipped."""
    rows = list(
        db.query(
            """
            select d.id, o.id step_id, o.step_key, o.expires_at, e.status enrolment
            from deliveries d
            join onboarding_steps o on o.mailing_id = d.mailing_id
                 and o.subscriber_id = d.subscriber_id and o.status = 'queued'
            join onboarding_enrolments e on e.subscriber_id = o.subscriber_id
                 and e.sequence = o.sequence
            where d.status in ('queued', 'deferred')
            """
        )
    )
    stale = [
        r
        for r in rows
        if r["enrolment"] != "active"
        or (r["expires_at"] and clock.parse_instant(r["expires_at"]) < now)
    ]
    with transaction(db):
        for r in stale:
            why = (
                "the programme stopped"
                if r["enrolment"] != "active"
                else "out of date before it could be delivered"
            )
            db.execute(
                "update deliveries set status = 'skipped', last_reply = ? where id = ? "
                "and status in ('queued', 'deferred')",
                [f"not sent: {why}", r["id"]],
            )
            db.execute(
                "update onboarding_steps set status = 'skipped', reason = ? where mailing_id = "
                "(select mailing_id from onboarding_steps where id = ?) and subscriber_id = "
                "(select subscriber_id from onboarding_steps where id = ?)",
                [f"not sent: {why}", r["step_id"], r["step_id"]],
            )
    return [str(r["step_key"]) for r in stale]


def run_due(
    db: Database, settings: Settings, now: datetime, factory: TransportFactory
) -> DueReport:
    """What tick does: enrol, stop, decide, then send every onboarding delivery that is open."""
    report = DueReport()
    decide(db, settings, now, report)
    report.skipped += expire_queued(db, now)
    open_mailings = [
        r["mailing_id"]
        for r in db.query(
            "select distinct d.mailing_id from deliveries d join mailings m on m.id = d.mailing_id "
            "where m.kind = 'onboarding' and d.status in ('queued', 'deferred') order by 1"
        )
    ]
    if open_mailings and may_send_at(settings, now):
        source = OnboardingMessages(db, settings)
        options = SendOptions.from_settings(settings, in_doubt="skip")
        for mailing_id in open_mailings:
            try:
                report.sends.append(
                    deliver_mailing(db, settings, mailing_id, source, factory, options)
                )
            except NewsletterError as exc:
                report.problems.append(f"{mailing_id}: {exc}")
    return report


# ---------------------------------------------------------------------------------------------
# Rendering a step for one member


class OnboardingMessages:
    """The delivery engine's message source: each member's step message, made when it goes."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.calendar = load_calendar(db)
        self.sequences: dict[str, Sequence] = {}

    def build(self, row: dict[str, object], person: dict[str, object]) -> bytes:
        subscriber_id = int(str(row["subscriber_id"]))
        mailing_id = str(row["mailing_id"])
        decisions = list(
            self.db.query(
                "select sequence, step_key, status from onboarding_steps where subscriber_id = ? "
                "and mailing_id = ? order by status = 'merged', id",
                [subscriber_id, mailing_id],
            )
        )
        if not decisions:
            raise NewsletterError(f"{mailing_id}: no onboarding step recorded for this member")
        name = str(decisions[0]["sequence"])
        if name not in self.sequences:
            self.sequences[name] = load_sequence(self.settings, name)
        sequence = self.sequences[name]
        enrolment = _find(self.db, subscriber_id, name)
        if enrolment is None:
            raise NewsletterError(f"{mailing_id}: the member is no longer enrolled")
        today = clock.now().astimezone(clock.AMSTERDAM).date()
        items = {
            p.key: p
            for p in member_plan(self.db, self.settings, enrolment, sequence, self.calendar, today)
        }
        parts = [items[d["step_key"]] for d in decisions if d["step_key"] in items]
        if not parts:
            raise NewsletterError(f"{mailing_id}: the step is no longer in {sequence.path.name}")
        raw = build_message(
            self.db, self.settings, enrolment, parts, str(row["message_id"]), person, self.calendar
        )
        # Tick is the sender here, so the fast preflight checks run on every step message:
        # one with an error (an http: link, a missing alt ...) is not sent, and says why.
        from newsletter.preflight.checks import python_checks

        found, _ = python_checks(
            mailing_id, raw, settings=self.settings, extra_required=["Auto-Submitted"]
        )
        errors = [f for f in found if f.severity == "error"]
        if errors:
            checks = ", ".join(sorted({f.check for f in errors}))
            raise NewsletterError(
                f"preflight: {len(errors)} error(s) ({checks}); fix "
                f"{parts[0].step.text.path.name}, see 'newsletter issue check MONTH'"
            )
        return raw


def _person_context(
    db: Database,
    settings: Settings,
    enrolment: Enrolment,
    av: Meeting | None,
    calendar: list[Meeting],
) -> dict[str, Any]:
    person = db.execute(
        "select name, first_name, province, email from subscribers where id = ?",
        [enrolment.subscriber_id],
    ).fetchone()
    name, first, province, _email = person
    role = db.execute(
        "select role from mandates where subscriber_id = ? and role in ('av_lid', 'plv_av_lid') "
        "order by starts_on desc limit 1",
        [enrolment.subscriber_id],
    ).fetchone()
    today = clock.now().astimezone(clock.AMSTERDAM).date()
    gcp = db.execute(
        "select s.name, s.email from mandates m join subscribers s on s.id = m.subscriber_id "
        "where m.role = 'griffiecontactpersoon' and m.province = ? and m.starts_on <= ? "
        "and (m.ends_on is null or m.ends_on >= ?) and s.status != 'erased' "
        "order by m.starts_on desc",
        [province, today.isoformat(), today.isoformat()],
    ).fetchone()
    buddy = (
        db.execute(
            "select name, province, email from subscribers where id = ? and status = 'active'",
            [enrolment.buddy_id],
        ).fetchone()
        if enrolment.buddy_id
        else None
    )
    meeting: dict[str, Any] = {
        "datum": "de eerstvolgende Algemene Vergadering (de datum volgt)",
        "tijd": "",
        "plaats": "",
        "titel": "Algemene Vergadering",
        "samenvatting": "",
        "voorbij": False,
    }
    deadline, briefings = "", []
    if av is not None:
        item = av.item
        assert item.starts_at is not None
        meeting = {
            "datum": nl_date(item.starts_at, weekday=True),
            "tijd": nl_when(item.starts_at, item.ends_at).split(", ", 1)[1],
            "plaats": item.place,
            "titel": item.title,
            "samenvatting": item.summary,
            "voorbij": item.starts_at <= clock.now(),
        }
        raw = item.fields.get("question_deadline")
        if raw and _deadline_moment(str(raw)) > clock.now():  # a passed deadline is not offered
            moment = datetime.fromisoformat(str(raw))
            deadline = (
                f"{nl_date(moment, weekday=True)}, {nl_time(moment)}"
                if "T" in str(raw)
                else nl_date(moment, weekday=True)
            )
        earlier = max((m.day for m in calendar if m.is_av and m.day < av.day), default=date.min)
        briefings = [
            f"{nl_when(m.item.starts_at, m.item.ends_at)}: {m.item.title}"
            for m in calendar
            if m.event_type == "technische_briefing"
            and earlier < m.day < av.day
            and m.item.starts_at
        ]
    return {
        "voornaam": first or name.split()[0],
        "naam": name,
        "provincie": settings.provinces.get(province or "", province or ""),
        "rol": ROLE_TITLES.get(role[0] if role else "av_lid", "AV-lid"),
        "av": meeting,
        "vragen_deadline": deadline,
        "briefings": briefings,
        "gcp": {"naam": gcp[0], "email": gcp[1]} if gcp else None,
        "buddy": {
            "naam": buddy[0],
            "provincie": settings.provinces.get(buddy[1] or "", ""),
            "email": buddy[2],
        }
        if buddy
        else None,
        "contactadres": settings.sender_address,
        "secretaris": settings.onboarding.secretary or "de secretaris van de AV",
        "samengevoegd": False,
    }


def _deadline_moment(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw)
    if "T" not in raw:  # a date alone: the end of that day
        moment = datetime.combine(moment.date(), time(23, 59), tzinfo=clock.AMSTERDAM)
    return moment


_TEXT_ENV = SandboxedEnvironment(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _fill(source: str, context: dict[str, Any], where: str) -> str:
    try:
        return _TEXT_ENV.from_string(source).render(context)
    except Exception as exc:  # a placeholder used the wrong way (e.g. av.unknown)
        raise ContentError(f"{where}: {exc}; check the placeholders") from None


def _demote(markdown: str) -> str:
    """The step's ## headings become h3 (h1 is the subject, h2 a merged step's title)."""
    return re.sub(r"^(#{2,3}) ", lambda m: "#" + m[1] + " ", markdown, flags=re.MULTILINE)


@dataclass(frozen=True)
class RenderedStep:
    subject: str
    preheader: str
    html: str
    text: str


def render_step(
    db: Database,
    settings: Settings,
    enrolment: Enrolment,
    parts: list[Planned],
    calendar: list[Meeting],
) -> RenderedStep:
    """One message: the first part's step, with any merged steps after it."""
    host = parts[0]
    now = clock.now()
    limit = term_end_for(settings, enrolment.starts_on)
    upcoming = [m for m in calendar if m.is_av and m.item.starts_at and m.item.starts_at > now]
    upcoming = [m for m in upcoming if m.day <= limit]
    sections, contexts = [], []
    for part in parts:
        about = part.av
        if (
            about is not None
            and about.item.starts_at is not None
            and about.item.starts_at <= now
            and part.day is not None
            and part.day < about.day
            and upcoming
        ):
            about = upcoming[0]  # meant to prepare for a meeting that has been: the next one
        context = _person_context(db, settings, enrolment, about, calendar)
        context["samengevoegd"] = len(parts) > 1
        contexts.append(context)
        where = str(part.step.text.path.name)
        body = _fill(part.step.text.body, context, where)
        html = markdown_to_html(_demote(body))
        if len(parts) == 1:  # no h2 per step: the step's own headings are the h2's
            html = re.sub(r"<(/?)h([34])\b", lambda m: f"<{m[1]}h{int(m[2]) - 1}", html)
        sections.append({"title": part.step.title, "html": html})
    context = contexts[0]
    subject = _fill(host.step.text.subject, context, host.step.text.path.name).strip()
    check_header_value(subject, f"{host.step.text.path.name}: subject")
    preheader = _fill(host.step.text.preheader, context, host.step.text.path.name).strip()
    # The card shows the member's next meeting, never one that has been.
    av = upcoming[0] if upcoming else None
    first = next((p.av for p in parts if not p.step.every and p.av), None)
    env = environment(settings)
    page = {
        "subject": subject,
        "preheader": preheader,
        "sections": sections,
        "merged": len(parts) > 1,
        "person": context,
        "av": av.item if av else None,
        "av_when": nl_when(av.item.starts_at, av.item.ends_at) if av and av.item.starts_at else "",
        "ics_url": f"{settings.base_url}/agenda/{av.id}.ics" if av else "",
        "av_label": "Uw eerste AV" if av is not None and av == first else "De volgende AV",
        "contact": settings.sender_address,
        "privacy_url": settings.privacy_url,
        "salutation": marker("aanhef"),
        "unsubscribe_url": marker("afmelden_url"),
        "preferences_url": marker("voorkeuren_url"),
    }
    source = env.get_template("email/onboarding.mjml.j2").render(page)
    try:
        html = inline_css(mjml.mjml2html(source, fonts={}))
    except Exception as exc:
        raise ContentError(f"templates/email/onboarding.mjml.j2: MJML error: {exc}") from None
    page["sections_text"] = [
        {"title": s["title"], "text": html_to_text(s["html"])} for s in sections
    ]
    text = env.get_template("email/onboarding.txt.j2").render(page)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return RenderedStep(subject, preheader, html, text)


def build_message(
    db: Database,
    settings: Settings,
    enrolment: Enrolment,
    parts: list[Planned],
    msg_id: str,
    person: dict[str, object],
    calendar: list[Meeting],
) -> bytes:
    rendered = render_step(db, settings, enrolment, parts, calendar)
    skeleton = make_skeleton(
        settings,
        rendered.subject,
        Variant("onboarding", rendered.html, rendered.text),
        extra_headers={
            "Auto-Submitted": "auto-generated",  # RFC 3834: nobody should auto-reply to it
            "X-Auto-Response-Suppress": "OOF, AutoReply",  # the same, for Exchange
        },
    )
    subscriber_id = enrolment.subscriber_id
    return skeleton.build(
        Recipient(
            email=str(person["email"]),
            name=str(person["name"]),
            salutation=str(person.get("salutation") or f"Beste {person['name']}"),
            unsubscribe_url=f"{settings.base_url}/afmelden/"
            f"{make_token(settings, UNSUBSCRIBE, subscriber_id)}",
            preferences_url=f"{settings.base_url}/voorkeuren/"
            f"{make_token(settings, PREFERENCES, subscriber_id)}",
            message_id=msg_id,
        )
    )


def preview(
    db: Database, settings: Settings, step_id: str, email: str, sequence_name: str | None = None
) -> tuple[RenderedStep, Planned]:
    """One step as this member would get it (enrolled or not: then as if they started today)."""
    sequence = only_sequence(settings, sequence_name)
    row = db.execute(
        "select id, province from subscribers where email = ?", [privacy.canonical_email(email)]
    ).fetchone()
    if row is None:
        raise NewsletterError(f"{email}: not a subscriber; preview for someone in the list")
    enrolment = _find(db, row[0], sequence.name) or _trial(
        db, row[0], row[1], sequence.name, clock.today()
    )
    base, _, _meeting = step_id.partition("@")
    sequence.step(base)  # an unknown step is named with the known ones
    calendar = load_calendar(db)
    items = member_plan(db, settings, enrolment, sequence, calendar, clock.today())
    chosen = [p for p in items if p.key == step_id] or [p for p in items if p.step.id == base]
    if not chosen:
        raise NewsletterError(
            f"{step_id}: this member's plan has no such step (no AV meeting for it?)"
        )
    host = chosen[0]
    parts = [host, *(_by_key(items, k) for k in host.merged)]
    return render_step(db, settings, enrolment, parts, calendar), host


# ---------------------------------------------------------------------------------------------
# Status


def sample_messages(db: Database, settings: Settings) -> dict[str, bytes]:
    """Every step of every sequence as one AV member would get it starting today (the merged
    messages of the catch-up rules too), for the preflight check. Empty without AV members."""
    row = db.execute(
        "select s.id, s.email, s.name, s.salutation, s.province from subscribers s "
        "join mandates m on m.subscriber_id = s.id where m.role in ('av_lid', 'plv_av_lid') "
        "and s.status = 'active' order by s.id limit 1"
    ).fetchone()
    if row is None:
        return {}
    subscriber_id, address, name, salutation, province = row
    person: dict[str, object] = {"email": address, "name": name, "salutation": salutation}
    today = clock.today()
    calendar = load_calendar(db)
    out: dict[str, bytes] = {}
    for sequence in load_sequences(settings):
        enrolment = _trial(db, subscriber_id, province, sequence.name, today)
        items = plan(settings, sequence, today, calendar)
        by_step: dict[str, Planned] = {}
        for p in items:
            by_step.setdefault(p.step.id, p)
        upcoming = next((m for m in calendar if m.is_av and m.day > today), None)
        for step in sequence.steps:  # a refresher with no meeting in this plan: the next AV
            if step.id not in by_step and upcoming is not None:
                by_step[step.id] = Planned(step.id, step, None, None, None, "", upcoming)
        groups = [[by_step[s.id]] for s in sequence.steps if s.id in by_step]
        for rule in sequence.catch_up:
            for step_id, change in rule.steps.items():
                if change.merge_into and step_id in by_step and change.merge_into in by_step:
                    groups.append([by_step[change.merge_into], by_step[step_id]])
        for parts in groups:
            key = "+".join(p.step.id for p in parts)
            mailing_id = mailing_id_for(sequence.name, parts[0].key)
            out[f"onboarding:{sequence.name}:{key}"] = build_message(
                db,
                settings,
                enrolment,
                parts,
                message_id(settings, mailing_id, subscriber_id),
                person,
                calendar,
            )
    return out


def status_rows(db: Database, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """Per enrolee: steps done of all, the next step and its date, or why it stopped."""
    today = now.astimezone(clock.AMSTERDAM).date()
    calendar = load_calendar(db)
    sequences: dict[str, Sequence] = {}
    out = []
    for enrolment in enrolments(db):
        person = db.execute(
            "select email, name, province from subscribers where id = ?", [enrolment.subscriber_id]
        ).fetchone()
        if enrolment.sequence not in sequences:
            sequences[enrolment.sequence] = load_sequence(settings, enrolment.sequence)
        items = member_plan(db, settings, enrolment, sequences[enrolment.sequence], calendar, today)
        done = [  # delivered: queued or merged into a message the relay accepted
            p
            for p in items
            if p.decision
            and p.decision["status"] in {"queued", "merged"}
            and p.decision.get("delivery_status") == "sent"
        ]
        skipped = [p for p in items if p.decision and p.decision["status"] == "skipped"]
        upcoming = [
            p
            for p in items
            if p.decision is None and not p.skip and not p.merged_into and p.at is not None
        ]
        nxt = upcoming[0] if enrolment.status == "active" and upcoming else None
        when = (
            _next_slot(
                settings,
                nxt.at,
                now,
                _had_message_today(db, enrolment, today) or _still_going(db, enrolment),
            )
            if nxt and nxt.at
            else None
        )
        out.append(
            {
                "email": person[0] if person else "",
                "name": person[1] if person else "",
                "province": person[2] if person else "",
                "sequence": enrolment.sequence,
                "start": enrolment.starts_on.isoformat(),
                "status": enrolment.status,
                "stopped_reason": enrolment.stopped_reason or None,
                "done": len(done),
                "skipped": len(skipped),
                "steps": len([p for p in items if not p.skip]),
                "next_step": nxt.key if nxt else None,
                "next_at": when.isoformat() if when else None,
                "next_nl": f"{nl_date(when, weekday=True)} {nl_time(when)}" if when else None,
                "due_today": bool(when and when.astimezone(clock.AMSTERDAM).date() <= today),
            }
        )
    return out


def _next_slot(settings: Settings, at: datetime, now: datetime, busy_today: bool) -> datetime:
    """When a step planned for `at` really goes: not before now, in the sending hours of a
    working day, and not today when the member already had (or is getting) a message."""
    moment = max(at, now).astimezone(clock.AMSTERDAM)
    day = moment.date()
    if busy_today and day == now.astimezone(clock.AMSTERDAM).date():
        day += timedelta(days=1)
        moment = _at(settings, day)
    if moment.time() >= settings.onboarding.send_until:
        day += timedelta(days=1)
        moment = _at(settings, day)
    if not is_working_day(day):
        moment = _at(settings, next_working_day(day))
    elif moment.time() < settings.onboarding.send_from:
        moment = _at(settings, day)
    return moment


def _erase(db: Database, settings: Settings, subject: privacy.Subject) -> int:
    if subject.subscriber_id is None:
        return 0
    count = 0
    for table in ("onboarding_steps", "onboarding_enrolments"):
        count += db.execute(
            f"delete from {table} where subscriber_id = ?", [subject.subscriber_id]
        ).rowcount
    db.execute(
        "update onboarding_enrolments set buddy_id = null where buddy_id = ?",
        [subject.subscriber_id],
    )
    return count


def _collect(db: Database, settings: Settings, subject: privacy.Subject) -> list[dict[str, Any]]:
    if subject.subscriber_id is None:
        return []
    return [
        dict(r)
        for r in db.query(
            "select e.sequence, e.starts_on, e.status, s.step_key, s.status step_status, "
            "s.decided_at from onboarding_enrolments e left join onboarding_steps s on "
            "s.subscriber_id = e.subscriber_id and s.sequence = e.sequence "
            "where e.subscriber_id = ? order by s.id",
            [subject.subscriber_id],
        )
    ]


privacy.register("onboarding", _erase, _collect)
