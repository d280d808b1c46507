"""The onboarding repository: enrolments, each step's decision, and what the programme reads.

Tables: onboarding_enrolments (who follows which sequence from when), onboarding_steps (one
decision per person, sequence and step: queued, merged or skipped). The programme also reads
members, mandates, their deliveries, out-of-office replies and the calendar; those queries live
here too, so nothing in newsletter/onboarding/ writes SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from newsletter import clock
from newsletter.addresses import normalise_email

ENROLMENTS = "onboarding_enrolments"
STEPS = "onboarding_steps"


# ---------------------------------------------------------------------------------------------
# Enrolments


@dataclass(frozen=True)
class Enrolment:
    """One person in one sequence, from a start (T0)."""

    id: int
    subscriber_id: int
    sequence: str
    starts_on: date
    source: str  # mandate, manual (preview: not stored)
    mandate_id: int | None
    buddy_id: int | None
    status: str  # active, stopped (preview: not stored)
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
    """Every enrolment (or those with this status), oldest first."""
    where, args = ("status = ?", [status]) if status else (None, [])
    return [
        _enrolment(dict(r)) for r in db.table(ENROLMENTS).rows_where(where, args, order_by="id")
    ]


def enrolment_page(db: Database, offset: int, limit: int) -> tuple[list[Enrolment], int]:
    """A page of enrolments, active first, then by start (newest first), and how many in all."""
    rows = db.query(
        f"select * from {ENROLMENTS} order by status = 'active' desc, starts_on desc, id "
        "limit ? offset ?",
        [limit, offset],
    )
    return [_enrolment(dict(r)) for r in rows], db.table(ENROLMENTS).count


def enrolment_by_id(db: Database, enrolment_id: int) -> Enrolment | None:
    row = next(db.table(ENROLMENTS).rows_where("id = ?", [enrolment_id]), None)
    return _enrolment(dict(row)) if row else None


def find_enrolment(db: Database, subscriber_id: int, sequence: str) -> Enrolment | None:
    row = next(
        db.table(ENROLMENTS).rows_where(
            "subscriber_id = ? and sequence = ?", [subscriber_id, sequence]
        ),
        None,
    )
    return _enrolment(dict(row)) if row else None


def insert_enrolment(
    db: Database,
    subscriber_id: int,
    sequence: str,
    start: date,
    source: str,
    mandate_id: int | None,
    buddy_id: int | None,
) -> None:
    """A new, active enrolment."""
    now = clock.utc_iso()
    db.table(ENROLMENTS).insert(
        {
            "subscriber_id": subscriber_id,
            "sequence": sequence,
            "starts_on": start.isoformat(),
            "source": source,
            "mandate_id": mandate_id,
            "buddy_id": buddy_id,
            "status": "active",
            "enrolled_at": now,
            "updated_at": now,
        }
    )


def restart_enrolment(
    db: Database, enrolment_id: int, start: date, mandate_id: int | None = None
) -> None:
    """Active again from a new start (and following another mandate, when given)."""
    changes: dict[str, Any] = {
        "starts_on": start.isoformat(),
        "status": "active",
        "stopped_reason": None,
        "updated_at": clock.utc_iso(),
    }
    if mandate_id is not None:
        changes["mandate_id"] = mandate_id
    db.table(ENROLMENTS).update(enrolment_id, changes)


def stop_enrolment(db: Database, enrolment_id: int, reason: str) -> None:
    db.table(ENROLMENTS).update(
        enrolment_id,
        {"status": "stopped", "stopped_reason": reason, "updated_at": clock.utc_iso()},
    )


@dataclass(frozen=True)
class BuddyCandidate:
    subscriber_id: int
    buddies: int  # how many enrolments have them as buddy already


def buddy_candidates(
    db: Database, subscriber_id: int, province: str | None, start: date
) -> list[BuddyCandidate]:
    """Active AV members a year in the AV at `start`, from another province than `province`."""
    since = (start - timedelta(days=365)).isoformat()
    rows = db.query(
        f"""
        select s.id, (select count(*) from {ENROLMENTS} e where e.buddy_id = s.id) load
        from subscribers s join mandates m on m.subscriber_id = s.id
        where m.role = 'av_lid' and m.starts_on <= ? and (m.ends_on is null or m.ends_on >= ?)
          and s.status = 'active' and s.id != ? and coalesce(s.province, '') != coalesce(?, '')
        group by s.id
        """,
        [since, start.isoformat(), subscriber_id, province],
    )
    return [BuddyCandidate(int(r["id"]), int(r["load"])) for r in rows]


# ---------------------------------------------------------------------------------------------
# Members and mandates, as the programme needs them


@dataclass(frozen=True)
class Member:
    """A subscriber as enrolment sees them."""

    id: int
    province: str | None
    status: str


def find_member(db: Database, email: str) -> Member | None:
    """The subscriber with this address (normalised here), or None."""
    row = db.execute(
        "select id, province, status from subscribers where email = ?", [normalise_email(email)]
    ).fetchone()
    return Member(int(row[0]), row[1], str(row[2])) if row else None


def member_status(db: Database, subscriber_id: int) -> str | None:
    """The subscriber's status, or None when the row is gone (forgotten)."""
    row = db.execute("select status from subscribers where id = ?", [subscriber_id]).fetchone()
    return str(row[0]) if row else None


@dataclass(frozen=True)
class Reader:
    """Who a step message is for: name and province (the address the ledger has)."""

    email: str
    name: str
    first_name: str | None
    province: str | None


def reader(db: Database, subscriber_id: int) -> Reader | None:
    row = db.execute(
        "select email, name, first_name, province from subscribers where id = ?", [subscriber_id]
    ).fetchone()
    return Reader(str(row[0]), str(row[1]), row[2], row[3]) if row else None


@dataclass(frozen=True)
class Contact:
    name: str
    email: str
    province: str | None = None


def griffiecontactpersoon(db: Database, province: str | None, on: date) -> Contact | None:
    """The province's griffiecontactpersoon on a day (the latest appointed), if any."""
    row = db.execute(
        "select s.name, s.email from mandates m join subscribers s on s.id = m.subscriber_id "
        "where m.role = 'griffiecontactpersoon' and m.province = ? and m.starts_on <= ? "
        "and (m.ends_on is null or m.ends_on >= ?) and s.status != 'erased' "
        "order by m.starts_on desc",
        [province, on.isoformat(), on.isoformat()],
    ).fetchone()
    return Contact(str(row[0]), str(row[1])) if row else None


def active_buddy(db: Database, buddy_id: int) -> Contact | None:
    """The buddy, while they are an active reader."""
    row = db.execute(
        "select name, province, email from subscribers where id = ? and status = 'active'",
        [buddy_id],
    ).fetchone()
    return Contact(str(row[0]), str(row[2]), row[1]) if row else None


def latest_av_role(db: Database, subscriber_id: int) -> str | None:
    """av_lid or plv_av_lid: the member's most recent AV mandate."""
    row = db.execute(
        "select role from mandates where subscriber_id = ? and role in ('av_lid', 'plv_av_lid') "
        "order by starts_on desc limit 1",
        [subscriber_id],
    ).fetchone()
    return str(row[0]) if row else None


@dataclass(frozen=True)
class SampleMember:
    """An AV member to render the sample step messages for (the preflight's)."""

    id: int
    email: str
    name: str
    salutation: str | None
    province: str | None


def sample_member(db: Database) -> SampleMember | None:
    """The first active (substitute) AV member, or None."""
    row = db.execute(
        "select s.id, s.email, s.name, s.salutation, s.province from subscribers s "
        "join mandates m on m.subscriber_id = s.id where m.role in ('av_lid', 'plv_av_lid') "
        "and s.status = 'active' order by s.id limit 1"
    ).fetchone()
    return SampleMember(int(row[0]), str(row[1]), str(row[2]), row[3], row[4]) if row else None


def latest_mandate_start(db: Database, subscriber_id: int, roles: tuple[str, ...]) -> date | None:
    """The start of the member's latest mandate in one of these roles."""
    row = db.execute(
        f"select max(starts_on) from mandates where subscriber_id = ? and role in "
        f"({','.join('?' * len(roles))})",
        [subscriber_id, *roles],
    ).fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else None


@dataclass(frozen=True)
class MandateSpan:
    starts_on: date
    ends_on: date | None  # None: open


def mandate_spans(db: Database, subscriber_id: int, roles: tuple[str, ...]) -> list[MandateSpan]:
    rows = db.query(
        f"select starts_on, ends_on from mandates where subscriber_id = ? "
        f"and role in ({','.join('?' * len(roles))})",
        [subscriber_id, *roles],
    )
    return [
        MandateSpan(
            date.fromisoformat(r["starts_on"]),
            date.fromisoformat(r["ends_on"]) if r["ends_on"] else None,
        )
        for r in rows
    ]


@dataclass(frozen=True)
class NewMandate:
    """A mandate in a sequence's roles that started recently (or will start)."""

    mandate_id: int
    subscriber_id: int
    starts_on: date
    province: str | None


def new_mandates(db: Database, roles: tuple[str, ...], since: date) -> list[NewMandate]:
    """Mandates in these roles from `since` on, of active readers, oldest start first."""
    rows = db.query(
        f"""
        select m.id mandate_id, m.subscriber_id, m.starts_on, s.province
        from mandates m join subscribers s on s.id = m.subscriber_id
        where m.role in ({",".join("?" * len(roles))}) and m.starts_on >= ? and s.status = 'active'
          and (m.ends_on is null or m.ends_on >= m.starts_on)
        order by m.starts_on, m.id
        """,
        [*roles, since.isoformat()],
    )
    return [
        NewMandate(
            int(r["mandate_id"]),
            int(r["subscriber_id"]),
            date.fromisoformat(r["starts_on"]),
            r["province"],
        )
        for r in rows
    ]


def away_until(db: Database, subscriber_id: int, today: date) -> date | None:
    """The latest return date an out-of-office reply of theirs gave, when after today."""
    row = db.execute(
        "select max(return_date) from inbound where kind = 'autoreply' and subscriber_id = ? "
        "and return_date > ?",
        [subscriber_id, today.isoformat()],
    ).fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else None


def calendar_rows(db: Database) -> list[dict[str, Any]]:
    """The items rows of AV meetings and events with a start, earliest first.

    Plain rows in the items table's shape: sources.catalog.row_to_item makes Items of them.
    """
    return [
        dict(row)
        for row in db.query(
            "select * from items where kind in ('av_meeting', 'event') and starts_at is not null "
            "order by starts_at"
        )
    ]


# ---------------------------------------------------------------------------------------------
# Step decisions


@dataclass(frozen=True)
class StepDecision:
    """What tick decided for one step of one member, with its delivery's status."""

    step_key: str
    status: str  # queued, merged, skipped
    mailing_id: str | None
    planned_for: str | None  # UTC ISO
    expires_at: str | None
    decided_at: str
    reason: str
    delivery_status: str | None  # of the ledger row that carries it, if any


def step_decisions(db: Database, subscriber_id: int, sequence: str) -> list[StepDecision]:
    rows = db.query(
        f"select o.*, d.status delivery_status from {STEPS} o left join deliveries d "
        "on d.mailing_id = o.mailing_id and d.subscriber_id = o.subscriber_id "
        "where o.subscriber_id = ? and o.sequence = ?",
        [subscriber_id, sequence],
    )
    return [
        StepDecision(
            step_key=str(r["step_key"]),
            status=str(r["status"]),
            mailing_id=r["mailing_id"],
            planned_for=r["planned_for"],
            expires_at=r["expires_at"],
            decided_at=str(r["decided_at"]),
            reason=str(r["reason"] or ""),
            delivery_status=r["delivery_status"],
        )
        for r in rows
    ]


def record_step(
    db: Database,
    subscriber_id: int,
    sequence: str,
    step_key: str,
    status: str,
    mailing_id: str | None,
    planned_for: datetime | None,
    expires_at: datetime | None,
    reason: str,
) -> None:
    """Record a decision, once: a second tick (or a replay) changes nothing."""
    db.table(STEPS).insert(
        {
            "subscriber_id": subscriber_id,
            "sequence": sequence,
            "step_key": step_key,
            "status": status,
            "mailing_id": mailing_id,
            "planned_for": clock.utc_iso(planned_for) if planned_for else None,
            "expires_at": clock.utc_iso(expires_at) if expires_at else None,
            "decided_at": clock.utc_iso(),
            "reason": reason,
        },
        ignore=True,
    )


def queued_since(db: Database, subscriber_id: int, sequence: str, since: datetime) -> bool:
    """Whether a step of theirs was queued at or after `since`."""
    count = db.execute(
        f"select count(*) from {STEPS} where subscriber_id = ? and sequence = ? "
        "and status = 'queued' and decided_at >= ?",
        [subscriber_id, sequence, clock.utc_iso(since)],
    ).fetchone()[0]
    return bool(count)


def step_in_flight(db: Database, subscriber_id: int, sequence: str) -> bool:
    """Whether a queued step of theirs is still queued, deferred, sending or in doubt."""
    count = db.execute(
        f"select count(*) from {STEPS} o join deliveries d on d.mailing_id = "
        "o.mailing_id and d.subscriber_id = o.subscriber_id where o.subscriber_id = ? "
        "and o.sequence = ? and o.status = 'queued' and d.status in "
        "('queued', 'deferred', 'sending', 'in-doubt')",
        [subscriber_id, sequence],
    ).fetchone()[0]
    return bool(count)


@dataclass(frozen=True)
class UndeliveredStep:
    """A queued step whose delivery is still queued or deferred."""

    delivery_id: int
    step_id: int
    step_key: str
    expires_at: str | None  # UTC ISO
    enrolment_status: str


def undelivered_steps(db: Database) -> list[UndeliveredStep]:
    rows = db.query(
        f"""
        select d.id, o.id step_id, o.step_key, o.expires_at, e.status enrolment
        from deliveries d
        join {STEPS} o on o.mailing_id = d.mailing_id
             and o.subscriber_id = d.subscriber_id and o.status = 'queued'
        join {ENROLMENTS} e on e.subscriber_id = o.subscriber_id
             and e.sequence = o.sequence
        where d.status in ('queued', 'deferred')
        """
    )
    return [
        UndeliveredStep(
            int(r["id"]), int(r["step_id"]), str(r["step_key"]), r["expires_at"], r["enrolment"]
        )
        for r in rows
    ]


def skip_undelivered(db: Database, step: UndeliveredStep, why: str) -> None:
    """Never send it: its delivery row skipped, and every step its message carries too."""
    db.execute(
        "update deliveries set status = 'skipped', last_reply = ? where id = ? "
        "and status in ('queued', 'deferred')",
        [f"not sent: {why}", step.delivery_id],
    )
    db.execute(
        f"update {STEPS} set status = 'skipped', reason = ? where mailing_id = "
        f"(select mailing_id from {STEPS} where id = ?) and subscriber_id = "
        f"(select subscriber_id from {STEPS} where id = ?)",
        [f"not sent: {why}", step.step_id, step.step_id],
    )


def open_mailings(db: Database) -> list[str]:
    """Onboarding mailings with a delivery still queued or deferred."""
    return [
        str(r["mailing_id"])
        for r in db.query(
            "select distinct d.mailing_id from deliveries d join mailings m on m.id = d.mailing_id "
            "where m.kind = 'onboarding' and d.status in ('queued', 'deferred') order by 1"
        )
    ]


@dataclass(frozen=True)
class MailingStep:
    sequence: str
    step_key: str
    status: str  # queued (the host) or merged


def steps_in_mailing(db: Database, subscriber_id: int, mailing_id: str) -> list[MailingStep]:
    """The steps one member's message carries: the host first, then the merged ones."""
    rows = db.query(
        f"select sequence, step_key, status from {STEPS} where subscriber_id = ? "
        "and mailing_id = ? order by status = 'merged', id",
        [subscriber_id, mailing_id],
    )
    return [MailingStep(str(r["sequence"]), str(r["step_key"]), str(r["status"])) for r in rows]


# ---------------------------------------------------------------------------------------------
# Personal data (the AVG)


@dataclass(frozen=True)
class MemberRecord:
    """One line of what the programme holds about a person (for `subscribers show`)."""

    sequence: str
    starts_on: str
    status: str
    step_key: str | None
    step_status: str | None
    decided_at: str | None


def member_records(db: Database, subscriber_id: int) -> list[MemberRecord]:
    rows = db.query(
        "select e.sequence, e.starts_on, e.status, s.step_key, s.status step_status, "
        f"s.decided_at from {ENROLMENTS} e left join {STEPS} s on "
        "s.subscriber_id = e.subscriber_id and s.sequence = e.sequence "
        "where e.subscriber_id = ? order by s.id",
        [subscriber_id],
    )
    return [MemberRecord(**dict(r)) for r in rows]


def erase_member(db: Database, subscriber_id: int) -> int:
    """Delete their decisions and enrolments, and them as anyone's buddy; how many rows went."""
    count = 0
    for table in (STEPS, ENROLMENTS):
        count += db.execute(
            f"delete from {table} where subscriber_id = ?", [subscriber_id]
        ).rowcount
    db.execute(f"update {ENROLMENTS} set buddy_id = null where buddy_id = ?", [subscriber_id])
    return count
