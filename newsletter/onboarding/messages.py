"""A member's step message: gather what it says from the store, render it, compose the MIME.

The delivery engine's message source for onboarding mailings (OnboardingMessages), the preview
of one step for one member, and the sample messages the preflight checks.
"""

from __future__ import annotations

from datetime import date

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.content.items import Item
from newsletter.errors import NewsletterError
from newsletter.mail.messages import Recipient, make_skeleton, message_id
from newsletter.onboarding.enrolment import (
    load_calendar,
    member_plan,
    only_sequence,
    trial_enrolment,
)
from newsletter.onboarding.plan import Meeting, Planned, by_key, plan, term_end_for
from newsletter.onboarding.sequences import Sequence, load_sequence, load_sequences
from newsletter.people import privacy
from newsletter.preflight.checks import python_checks
from newsletter.render.issue import Variant
from newsletter.render.onboarding import Person, RenderedStep, StepPart, StepReader, render_step
from newsletter.store import mailings
from newsletter.store import onboarding as repo
from newsletter.store.onboarding import Enrolment
from newsletter.tokens import PREFERENCES, UNSUBSCRIBE, make_token


def mailing_id_for(sequence: str, key: str) -> str:
    """The ledger mailing of one step (one per step, or per step and meeting)."""
    step, _, meeting = key.partition("@")
    return f"onboarding-{sequence}-{step}" + (f"--{meeting}" if meeting else "")


class OnboardingMessages:
    """The delivery engine's message source: each member's step message, made when it goes."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        self.calendar = load_calendar(db)
        self.sequences: dict[str, Sequence] = {}

    def build(self, row: dict[str, object], person: dict[str, object]) -> bytes:
        subscriber_id = int(str(row["subscriber_id"]))
        mailing_id = str(row["mailing_id"])
        decisions = repo.steps_in_mailing(self.db, subscriber_id, mailing_id)
        if not decisions:
            raise NewsletterError(f"{mailing_id}: no onboarding step recorded for this member")
        name = decisions[0].sequence
        if name not in self.sequences:
            self.sequences[name] = load_sequence(self.settings, name)
        sequence = self.sequences[name]
        enrolment = repo.find_enrolment(self.db, subscriber_id, name)
        if enrolment is None:
            raise NewsletterError(f"{mailing_id}: the member is no longer enrolled")
        today = clock.now().astimezone(clock.AMSTERDAM).date()
        items = {
            p.key: p
            for p in member_plan(self.db, self.settings, enrolment, sequence, self.calendar, today)
        }
        parts = [items[d.step_key] for d in decisions if d.step_key in items]
        if not parts:
            raise NewsletterError(f"{mailing_id}: the step is no longer in {sequence.path.name}")
        raw = build_message(
            self.db, self.settings, enrolment, parts, str(row["message_id"]), person, self.calendar
        )
        # Tick is the sender here, so the fast preflight checks run on every step message:
        # one with an error (an http: link, a missing alt ...) is not sent, and says why.
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


def _step_reader(db: Database, enrolment: Enrolment, today: date) -> StepReader:
    """The member as the step's placeholders name them, read from the store."""
    person = repo.reader(db, enrolment.subscriber_id)
    if person is None:
        raise NewsletterError(f"subscriber {enrolment.subscriber_id} is no longer in the list")
    gcp = repo.griffiecontactpersoon(db, person.province, today)
    buddy = repo.active_buddy(db, enrolment.buddy_id) if enrolment.buddy_id else None
    return StepReader(
        name=person.name,
        first_name=person.first_name,
        province=person.province,
        role=repo.latest_av_role(db, enrolment.subscriber_id),
        griffiecontactpersoon=Person(gcp.name, gcp.email) if gcp else None,
        buddy=Person(buddy.name, buddy.email, buddy.province) if buddy else None,
    )


def _briefings(calendar: list[Meeting], av: Meeting) -> tuple[Item, ...]:
    """The technische briefings between the AV before this one and this one."""
    earlier = max((m.day for m in calendar if m.is_av and m.day < av.day), default=date.min)
    return tuple(
        m.item
        for m in calendar
        if m.event_type == "technische_briefing" and earlier < m.day < av.day and m.item.starts_at
    )


def render_member_step(
    db: Database,
    settings: Settings,
    enrolment: Enrolment,
    parts: list[Planned],
    calendar: list[Meeting],
) -> RenderedStep:
    """One message for one member: the first part's step, with any merged steps after it."""
    now = clock.now()
    limit = term_end_for(settings, enrolment.starts_on)
    upcoming = [m for m in calendar if m.is_av and m.item.starts_at and m.item.starts_at > now]
    upcoming = [m for m in upcoming if m.day <= limit]
    reader = _step_reader(db, enrolment, now.astimezone(clock.AMSTERDAM).date())
    rendered_parts = []
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
        text = part.step.text
        rendered_parts.append(
            StepPart(
                title=part.step.title,
                subject=text.subject,
                preheader=text.preheader,
                body=text.body,
                source=str(text.path.name),
                about=about.item if about else None,
                briefings=_briefings(calendar, about) if about else (),
            )
        )
    # The card shows the member's next meeting, never one that has been.
    av = upcoming[0] if upcoming else None
    first = next((p.av for p in parts if not p.step.every and p.av), None)
    return render_step(
        settings,
        reader,
        rendered_parts,
        av.item if av else None,
        av is not None and av == first,
        now,
    )


def build_message(
    db: Database,
    settings: Settings,
    enrolment: Enrolment,
    parts: list[Planned],
    msg_id: str,
    person: dict[str, object],
    calendar: list[Meeting],
    links: bool = True,
) -> bytes:
    """The MIME bytes of one member's step message (`links=False`: a preview's, whose
    unsubscribe and preferences links name nobody)."""
    rendered = render_member_step(db, settings, enrolment, parts, calendar)
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
    base = settings.base_url
    unsubscribe, preferences = (
        (
            f"{base}/afmelden/{make_token(settings, UNSUBSCRIBE, subscriber_id)}",
            f"{base}/voorkeuren/{make_token(settings, PREFERENCES, subscriber_id)}",
        )
        if links
        else (f"{base}/afmelden/testexemplaar", f"{base}/voorkeuren/testexemplaar")
    )
    return skeleton.build(
        Recipient(
            email=str(person["email"]),
            name=str(person["name"]),
            salutation=str(person.get("salutation") or f"Beste {person['name']}"),
            unsubscribe_url=unsubscribe,
            preferences_url=preferences,
            message_id=msg_id,
        )
    )


def _preview_parts(
    db: Database, settings: Settings, step_id: str, email: str, sequence_name: str | None
) -> tuple[Enrolment, list[Planned], list[Meeting]]:
    sequence = only_sequence(settings, sequence_name)
    member = repo.find_member(db, privacy.canonical_email(email))
    if member is None:
        raise NewsletterError(f"{email}: not a subscriber; preview for someone in the list")
    enrolment = repo.find_enrolment(db, member.id, sequence.name) or trial_enrolment(
        db, member.id, member.province, sequence.name, clock.today()
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
    return enrolment, [host, *(by_key(items, k) for k in host.merged)], calendar


def preview(
    db: Database, settings: Settings, step_id: str, email: str, sequence_name: str | None = None
) -> tuple[RenderedStep, Planned]:
    """One step as this member would get it (enrolled or not: then as if they started today)."""
    enrolment, parts, calendar = _preview_parts(db, settings, step_id, email, sequence_name)
    return render_member_step(db, settings, enrolment, parts, calendar), parts[0]


def preview_message(
    db: Database, settings: Settings, step_id: str, email: str, sequence_name: str | None = None
) -> tuple[bytes, Planned]:
    """The whole message of one step as it lands in this member's mailbox (their aanhef and
    name filled in), for the console's preview. Its links name nobody (as in a test copy), so
    a click in a preview unsubscribes no one."""
    enrolment, parts, calendar = _preview_parts(db, settings, step_id, email, sequence_name)
    addressee = mailings.addressee(db, enrolment.subscriber_id).as_row()  # as the engine has it
    msg_id = f"<preview.{parts[0].key.replace('@', '.')}@{settings.sender_domain}>"
    raw = build_message(db, settings, enrolment, parts, msg_id, addressee, calendar, links=False)
    return raw, parts[0]


def sample_messages(db: Database, settings: Settings) -> dict[str, bytes]:
    """Every step of every sequence as one AV member would get it starting today (the merged
    messages of the catch-up rules too), for the preflight check. Empty without AV members."""
    member = repo.sample_member(db)
    if member is None:
        return {}
    person: dict[str, object] = {
        "email": member.email,
        "name": member.name,
        "salutation": member.salutation,
    }
    today = clock.today()
    calendar = load_calendar(db)
    out: dict[str, bytes] = {}
    for sequence in load_sequences(settings):
        enrolment = trial_enrolment(db, member.id, member.province, sequence.name, today)
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
                message_id(settings, mailing_id, member.id),
                person,
                calendar,
            )
    return out
