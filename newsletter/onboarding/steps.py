"""The steps that are due: decide (queue, merge or skip) for every member, then send them.

What is stored is each decision, once per (person, sequence, step): queued (with its delivery
row in the ledger, in the same transaction), merged (sent inside another step's message) or
skipped (its moment passed: never sent stale). `tick` runs `run_due`; the ledger and the
delivery engine (outbound/) send, exactly once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.dates import is_working_day, nl_date
from newsletter.errors import NewsletterError
from newsletter.mail.messages import message_id
from newsletter.onboarding.enrolment import (
    busy_today,
    enrol_new_members,
    load_calendar,
    member_plan,
    stop_if_done,
)
from newsletter.onboarding.messages import OnboardingMessages, mailing_id_for
from newsletter.onboarding.plan import Meeting, Planned, by_key
from newsletter.onboarding.sequences import Sequence, Step, load_sequences
from newsletter.outbound import ledger
from newsletter.outbound.delivery import SendOptions, SendReport, TransportFactory, deliver_mailing
from newsletter.store import onboarding as repo
from newsletter.store import transaction
from newsletter.store.onboarding import Enrolment, enrolments


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
    reader = repo.member_status(db, enrolment.subscriber_id)
    open_ = [p for p in items if p.decision is None and not p.skip and not p.merged_into]
    stale = [p for p in open_ if p.at and p.expires and now > p.expires]
    due = [p for p in open_ if p.at and p.at <= now and p not in stale]
    away = repo.away_until(db, enrolment.subscriber_id, today)
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
                    by_key(items, key),
                    "skipped",
                    None,
                    f"stale, like {p.key} it would have gone with",
                )
        if not due or not sending or away is not None or reader != "active":
            return  # a paused reader's steps wait (until they are stale)
        if busy_today(db, enrolment, today):
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
        person = repo.reader(db, enrolment.subscriber_id)
        assert person is not None  # stop_if_done stopped the enrolment of someone forgotten
        ledger.queue(
            db,
            [
                {
                    "mailing_id": mailing_id,
                    "subscriber_id": enrolment.subscriber_id,
                    "email": person.email,
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
        for p in [*(by_key(items, k) for k in host.merged), *others]:
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
                    by_key(items, key),
                    "merged",
                    mailing_id,
                    f"sent with {host.key}",
                )


def _record(
    db: Database, enrolment: Enrolment, p: Planned, status: str, mailing_id: str | None, reason: str
) -> None:
    repo.record_step(
        db,
        enrolment.subscriber_id,
        enrolment.sequence,
        p.key,
        status,
        mailing_id,
        p.at,
        p.expires,
        reason,
    )


def _step_hash(step: Step) -> str:
    text = f"{step.text.subject}\x1f{step.text.preheader}\x1f{step.text.body}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def expire_queued(db: Database, now: datetime) -> list[str]:
    """A step queued but not yet delivered (the relay was down, the tick missed its hour) is
    never sent once it is out of date, nor once the programme stopped: its delivery row is
    skipped and the step recorded as skipped."""
    stale = [
        s
        for s in repo.undelivered_steps(db)
        if s.enrolment_status != "active"
        or (s.expires_at and clock.parse_instant(s.expires_at) < now)
    ]
    with transaction(db):
        for s in stale:
            why = (
                "the programme stopped"
                if s.enrolment_status != "active"
                else "out of date before it could be delivered"
            )
            repo.skip_undelivered(db, s, why)
    return [s.step_key for s in stale]


def run_due(
    db: Database, settings: Settings, now: datetime, factory: TransportFactory
) -> DueReport:
    """What tick does: enrol, stop, decide, then send every onboarding delivery that is open."""
    report = DueReport()
    decide(db, settings, now, report)
    report.skipped += expire_queued(db, now)
    open_mailings = repo.open_mailings(db)
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
