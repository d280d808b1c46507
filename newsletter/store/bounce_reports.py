"""Bounces and away, as staff read them: the reports of the last mailings (bounces, complaints,
auto-replies) with their evidence and what they did, who is away until when, and a wrong bounce
undone (the `bounces` row stays as evidence; it no longer counts toward the bounce policy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlite_utils import Database


@dataclass(frozen=True)
class MailingRef:
    id: str
    subject: str | None
    created_at: str | None


@dataclass(frozen=True)
class Report:
    """One bounce, complaint or auto-reply about one subscriber."""

    kind: str  # hard, soft, policy, delayed, complaint, autoreply
    at: str | None  # UTC ISO: when it was recorded
    mailing_id: str | None  # None for an auto-reply
    subscriber_id: int | None
    email: str | None
    name: str | None
    province: str | None
    status: str | None  # the subscriber's status now
    evidence: str  # the line of the report that says what happened
    action: str  # what processing did about it
    tied_by: str | None  # verp, message-id, final-recipient (bounces and complaints)
    bounce_id: int | None
    return_date: str | None  # an auto-reply's first day back
    undone_at: str | None
    undone_by: str | None
    undo_reason: str | None


@dataclass(frozen=True)
class Away:
    subscriber_id: int
    email: str
    name: str
    province: str | None
    until: str  # ISO date: the first day back
    inbound_id: int


def recent_mailings(db: Database, count: int) -> list[MailingRef]:
    """The last `count` mailings (issues and onboarding steps), newest first."""
    rows = db.execute(
        "select id, subject, created_at from mailings where kind != 'test' "
        "order by coalesce(started_at, created_at) desc, id desc limit ?",
        [count],
    ).fetchall()
    return [MailingRef(*row) for row in rows]


_BOUNCES = """
    select b.kind, b.created_at as at, b.mailing_id, b.subscriber_id, s.email, s.name,
        s.province as province,
        s.status, coalesce(b.reply, ''), coalesce(i.reason, b.source, ''), b.tied_by, b.id,
        null, b.undone_at, b.undone_by, b.undo_reason
    from bounces b
    left join subscribers s on s.id = b.subscriber_id
    left join inbound i on i.id = b.inbound_id
    where b.mailing_id in ({marks}) and (:province is null or s.province = :province)
"""
_AUTOREPLIES = """
    select 'autoreply', coalesce(i.processed_at, i.received_at), null, i.subscriber_id, s.email,
        s.name, s.province, s.status,
        coalesce(case when json_valid(i.verdict) then json_extract(i.verdict, '$.evidence') end,
                 i.subject, ''),
        coalesce(i.reason, ''), null, null, i.return_date, null, null, null
    from inbound i
    left join subscribers s on s.id = i.subscriber_id
    where i.kind = 'autoreply' and i.status = 'processed'
        and coalesce(i.processed_at, i.received_at) >= :since
        and (:province is null or s.province = :province)
"""


def reports(
    db: Database, mailing_ids: Sequence[str], since: str | None, province: str | None, limit: int
) -> list[Report]:
    """Bounces and complaints of these mailings and auto-replies since `since` (UTC ISO), in
    one province or all; by province, then newest first; at most `limit` rows."""
    marks = ",".join(f":m{n}" for n in range(len(mailing_ids))) or "null"
    args: dict[str, object] = {f"m{n}": m for n, m in enumerate(mailing_ids)}
    args.update(province=province, since=since or "9999", limit=limit)
    rows = db.execute(
        f"select * from ({_BOUNCES.format(marks=marks)} union all {_AUTOREPLIES}) "
        "order by province is null, province, at desc limit :limit",
        args,
    ).fetchall()
    return [Report(*row) for row in rows]


def away(db: Database, today: str, province: str | None = None) -> list[Away]:
    """Subscribers whose latest auto-reply says they are back after today, by return date."""
    rows = db.execute(
        """select s.id, s.email, s.name, s.province, max(i.return_date), max(i.id)
           from inbound i join subscribers s on s.id = i.subscriber_id
           where i.kind = 'autoreply' and i.return_date > ?
             and (? is null or s.province = ?)
           group by s.id order by max(i.return_date), s.name""",
        [today, province, province],
    ).fetchall()
    return [Away(*row) for row in rows]


def counted_bounces(db: Database, subscriber_id: int) -> int:
    """The hard and soft bounces of a subscriber that count toward the policy (not undone)."""
    row = db.execute(
        "select count(*) from bounces where subscriber_id = ? and kind in ('hard', 'soft') "
        "and undone_at is null",
        [subscriber_id],
    ).fetchone()
    return int(row[0])


def undo_bounces(db: Database, subscriber_id: int, at: str, by: str, reason: str) -> int:
    """Mark a subscriber's counted bounces undone (kept as evidence); how many."""
    cursor = db.execute(
        "update bounces set undone_at = ?, undone_by = ?, undo_reason = ? "
        "where subscriber_id = ? and kind in ('hard', 'soft') and undone_at is null",
        [at, by, reason, subscriber_id],
    )
    return int(cursor.rowcount)


def unmark_bounced(db: Database, subscriber_id: int, at: str) -> bool:
    """`bounced` becomes `active` again; True when the status changed."""
    cursor = db.execute(
        "update subscribers set status = 'active', updated_at = ? "
        "where id = ? and status = 'bounced'",
        [at, subscriber_id],
    )
    return bool(cursor.rowcount)
