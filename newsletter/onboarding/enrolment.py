"""Enrolment: who follows a sequence from when (enrol, re-enrol, stop), and each member's plan.

A use case over the onboarding repository (store/onboarding.py): new AV mandates are enrolled,
a re-appointed member continues from the new start, an enrolment ends with the mandate or the
term. A member's plan is plan.py's, with what tick decided for each step laid over it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.dates import is_working_day, next_working_day, nl_date, nl_time
from newsletter.errors import ContentError, NewsletterError
from newsletter.onboarding.plan import Meeting, Planned, plan, sending_moment, term_end_for
from newsletter.onboarding.sequences import Sequence, load_sequence, load_sequences
from newsletter.people import privacy
from newsletter.sources.catalog import row_to_item
from newsletter.store import audit, transaction
from newsletter.store import onboarding as repo
from newsletter.store.onboarding import Enrolment, enrolments

STOPPING = {"unsubscribed": "unsubscribed", "bounced": "address bounced", "erased": "forgotten"}


def load_calendar(db: Database) -> list[Meeting]:
    """The AV meetings and events in the content store, earliest first."""
    return [Meeting(row_to_item(row)) for row in repo.calendar_rows(db)]


def only_sequence(settings: Settings, name: str | None) -> Sequence:
    """The sequence named, or the only one there is."""
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


def _choose_buddy(
    db: Database, subscriber_id: int, province: str | None, start: date
) -> int | None:
    """An experienced AV member (a year in the AV at the start) from another province, the one
    with the fewest buddies so far; ties broken by a hash, so the choice is stable."""
    candidates = [
        (
            c.buddies,
            hashlib.sha256(f"{subscriber_id}/{c.subscriber_id}".encode()).hexdigest(),
            c.subscriber_id,
        )
        for c in repo.buddy_candidates(db, subscriber_id, province, start)
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
    buddy = _choose_buddy(db, subscriber_id, province, start)
    repo.insert_enrolment(db, subscriber_id, sequence, start, source, mandate_id, buddy)
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
    mandate_id: int | None = None,
    **detail: Any,
) -> None:
    """An enrolment active again from a new start (a manual re-enrol or a re-appointment);
    the steps decided before stay decided, so nothing they had comes again."""
    repo.restart_enrolment(db, enrolment.id, start, mandate_id)
    audit.record(
        db,
        actor,
        "onboarding-enrol",
        f"subscriber:{enrolment.subscriber_id}",
        sequence=enrolment.sequence,
        start=start.isoformat(),
        **detail,
    )


def trial_enrolment(
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
    person = repo.find_member(db, privacy.canonical_email(email))
    if person is None:
        raise NewsletterError(
            f"{email}: not a subscriber; import or add them first ('newsletter subscribers "
            "import FILE')"
        )
    if person.status != "active":
        raise NewsletterError(
            f"{email}: the subscriber is {person.status}; only active readers are enrolled"
        )
    if start is None:
        start = repo.latest_mandate_start(db, person.id, sequence.roles) or clock.today()
    existing = repo.find_enrolment(db, person.id, sequence.name)
    with transaction(db):
        if existing is not None:
            if existing.status == "active" and existing.starts_on == start:
                return existing, False
            _restart(db, existing, start, actor, again=True)
        else:
            _insert_enrolment(
                db, sequence.name, person.id, person.province, start, "manual", None, actor
            )
    found = repo.find_enrolment(db, person.id, sequence.name)
    assert found is not None
    return found, True


def stop(
    db: Database,
    settings: Settings,
    email: str,
    reason: str,
    sequence_name: str | None = None,
    actor: str = "staff",
) -> Enrolment:
    """Stop one person's enrolment by hand, with the reason (in the log, by actor). A step
    queued and not yet delivered is not sent (tick skips it: the programme stopped)."""
    reason = " ".join(reason.split())
    if not reason:
        raise NewsletterError("give a reason for stopping the enrolment (--reason)")
    if len(reason) > 300 or not reason.isprintable():
        raise NewsletterError("the reason is one line of at most 300 printable characters")
    sequence = only_sequence(settings, sequence_name)
    person = repo.find_member(db, privacy.canonical_email(email))
    existing = repo.find_enrolment(db, person.id, sequence.name) if person else None
    if existing is None:
        raise NewsletterError(f"{email}: not enrolled in {sequence.name}")
    if existing.status != "active":
        raise NewsletterError(
            f"{email}: the enrolment stopped already ({existing.stopped_reason or 'no reason'})"
        )
    with transaction(db):
        repo.stop_enrolment(db, existing.id, f"stopped by staff: {reason}")
        audit.record(
            db,
            actor,
            "onboarding-stop",
            f"subscriber:{existing.subscriber_id}",
            sequence=existing.sequence,
            reason=reason,
        )
    found = repo.find_enrolment(db, existing.subscriber_id, sequence.name)
    assert found is not None
    return found


def enrol_new_members(
    db: Database, settings: Settings, sequences: Iterable[Sequence], today: date
) -> int:
    """Everyone whose mandate in a sequence's roles started recently (or will start) is
    enrolled from that start; a re-appointed member's enrolment continues from the new start."""
    since = today - timedelta(days=settings.onboarding.enrol_window_days)
    count = 0
    for sequence in sequences:
        for mandate in repo.new_mandates(db, sequence.roles, since):
            start = mandate.starts_on
            existing = repo.find_enrolment(db, mandate.subscriber_id, sequence.name)
            reappointed = existing is not None and (
                existing.status == "stopped"
                and existing.stopped_reason.startswith(("mandate ended", "term ended"))
                and start > existing.starts_on
                and mandate.mandate_id != existing.mandate_id
            )
            if existing is not None and not reappointed:
                continue  # nothing to write: no transaction (tick runs this every time)
            with transaction(db):
                if existing is None:
                    _insert_enrolment(
                        db,
                        sequence.name,
                        mandate.subscriber_id,
                        mandate.province,
                        start,
                        "mandate",
                        mandate.mandate_id,
                        "onboarding",
                    )
                else:
                    # Re-appointed: the programme goes on from the new start; steps already
                    # decided stay decided, so nothing they had comes again.
                    _restart(
                        db, existing, start, "onboarding", mandate.mandate_id, reappointed=True
                    )
                count += 1
    return count


def mandate_end(db: Database, enrolment: Enrolment, sequence: Sequence) -> date | None:
    """When the member's last mandate in the sequence's roles ends (None: not known / open)."""
    spans = repo.mandate_spans(db, enrolment.subscriber_id, sequence.roles)
    if not spans or any(span.ends_on is None for span in spans):
        return None
    return max(span.ends_on for span in spans if span.ends_on is not None)


def stop_if_done(
    db: Database, settings: Settings, enrolment: Enrolment, sequence: Sequence, today: date
) -> str:
    """Stop an enrolment when the person unsubscribed, bounced or their mandate ended."""
    status = repo.member_status(db, enrolment.subscriber_id)
    reason = ""
    if status is None or status in STOPPING:
        reason = STOPPING.get(status or "erased", "forgotten")
    else:  # enrolled by hand or from a mandate: the mandate's end ends it either way
        end = mandate_end(db, enrolment, sequence)
        term_end = term_end_for(settings, enrolment.starts_on)
        if end is not None and end < today:
            reason = f"mandate ended on {end.isoformat()}"
        elif term_end < today:  # nothing can come any more: off the list tick goes through
            reason = f"term ended on {term_end.isoformat()}"
    if reason:
        with transaction(db):
            repo.stop_enrolment(db, enrolment.id, reason)
            audit.record(
                db,
                "onboarding",
                "onboarding-stop",
                f"subscriber:{enrolment.subscriber_id}",
                sequence=enrolment.sequence,
                reason=reason,
            )
    return reason


def member_plan(
    db: Database,
    settings: Settings,
    enrolment: Enrolment,
    sequence: Sequence,
    calendar: list[Meeting],
    today: date,
) -> list[Planned]:
    """An enrolled member's plan, each step with what tick decided for it (if it did)."""
    decided = {
        d.step_key: d for d in repo.step_decisions(db, enrolment.subscriber_id, enrolment.sequence)
    }
    sent_on = {
        key: clock.parse_instant(d.decided_at).astimezone(clock.AMSTERDAM).date()
        for key, d in decided.items()
        if d.status == "queued"
    }
    items = plan(
        settings,
        sequence,
        enrolment.starts_on,
        calendar,
        mandate_end(db, enrolment, sequence),
        sent_on,
    )
    sent = {d.mailing_id: d.delivery_status for d in decided.values() if d.mailing_id}
    for p in items:
        p.decision = decided.get(p.key)
        if p.decision and p.decision.mailing_id:
            p.sent = sent.get(p.decision.mailing_id) or ""
    return items


def busy_today(db: Database, enrolment: Enrolment, today: date) -> bool:
    """They had a step message today, or one is still on its way: the next one waits."""
    midnight = datetime.combine(today, datetime.min.time(), tzinfo=clock.AMSTERDAM)
    return repo.queued_since(
        db, enrolment.subscriber_id, enrolment.sequence, midnight
    ) or repo.step_in_flight(db, enrolment.subscriber_id, enrolment.sequence)


def status_rows(db: Database, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """Per enrolee: steps done of all, the next step and its date, or why it stopped."""
    today = now.astimezone(clock.AMSTERDAM).date()
    calendar = load_calendar(db)
    sequences: dict[str, Sequence] = {}
    out = []
    for enrolment in enrolments(db):
        person = repo.reader(db, enrolment.subscriber_id)
        if enrolment.sequence not in sequences:
            sequences[enrolment.sequence] = load_sequence(settings, enrolment.sequence)
        items = member_plan(db, settings, enrolment, sequences[enrolment.sequence], calendar, today)
        done = [  # delivered: queued or merged into a message the relay accepted
            p
            for p in items
            if p.decision
            and p.decision.status in {"queued", "merged"}
            and p.decision.delivery_status == "sent"
        ]
        skipped = [p for p in items if p.decision and p.decision.status == "skipped"]
        upcoming = [
            p
            for p in items
            if p.decision is None and not p.skip and not p.merged_into and p.at is not None
        ]
        nxt = upcoming[0] if enrolment.status == "active" and upcoming else None
        when = (
            _next_slot(settings, nxt.at, now, busy_today(db, enrolment, today))
            if nxt and nxt.at
            else None
        )
        out.append(
            {
                "email": person.email if person else "",
                "name": person.name if person else "",
                "province": person.province if person else "",
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
        moment = sending_moment(settings, day)
    if moment.time() >= settings.onboarding.send_until:
        day += timedelta(days=1)
        moment = sending_moment(settings, day)
    if not is_working_day(day):
        moment = sending_moment(settings, next_working_day(day))
    elif moment.time() < settings.onboarding.send_from:
        moment = sending_moment(settings, day)
    return moment


# ---------------------------------------------------------------------------------------------
# Personal data: the holder people.privacy calls for `forget` and `show`


def erase_onboarding_data(db: Database, settings: Settings, subject: privacy.Subject) -> int:
    """Erase a person's enrolments and step decisions, and them as anyone's buddy."""
    if subject.subscriber_id is None:
        return 0
    return repo.erase_member(db, subject.subscriber_id)


def collect_onboarding_data(
    db: Database, settings: Settings, subject: privacy.Subject
) -> list[dict[str, Any]]:
    """What the programme holds about a person: enrolments and each step's decision."""
    if subject.subscriber_id is None:
        return []
    return [asdict(record) for record in repo.member_records(db, subject.subscriber_id)]
