"""Read-only look-ups across aggregates for summaries: what `newsletter demo` and tick report.

These read subscribers, mandates, mailings and deliveries but change none of them; each is one
question a summary line asks.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from newsletter.addresses import normalise_email


@dataclass(frozen=True)
class LastDelivery:
    """The most recent delivery to an address: its Message-ID and the mailing's subject."""

    message_id: str
    subject: str


@dataclass(frozen=True)
class Reader:
    """A subscriber as a summary names one: id and address."""

    id: int
    email: str


def people_count(db: Database) -> int:
    """Every subscriber row (any status)."""
    return db.table("subscribers").count


def role_count(db: Database, role: str) -> int:
    """Mandates with this role (any date)."""
    return db.table("mandates").count_where("role = ?", [role])


def last_delivery_to(db: Database, address: str) -> LastDelivery | None:
    """The newest delivery to this address, with its mailing's subject; None if there is none."""
    row = next(
        db.query(
            "select d.message_id, m.subject from deliveries d join mailings m "
            "on m.id = d.mailing_id where d.email = ? order by d.id desc limit 1",
            [normalise_email(address)],
        ),
        None,
    )
    return LastDelivery(str(row["message_id"]), str(row["subject"])) if row else None


def sent_count(db: Database, kind: str) -> int:
    """Messages sent (delivery status 'sent') in mailings of this kind."""
    count: int = db.execute(
        "select count(*) from deliveries d join mailings m on m.id = d.mailing_id "
        "where m.kind = ? and d.status = 'sent'",
        [kind],
    ).fetchone()[0]
    return count


def first_active_reader(db: Database, province: str) -> Reader | None:
    """The active subscriber in this province with the lowest id, or None."""
    row = next(
        db.query(
            "select id, email from subscribers where status = 'active' "
            "and province = ? order by id limit 1",
            [province],
        ),
        None,
    )
    return Reader(int(row["id"]), str(row["email"])) if row else None


@dataclass(frozen=True)
class SentIssue:
    """An issue mailing that was sent (with or without failures)."""

    issue_month: str
    subject: str
    finished_at: str | None
    started_at: str | None


def sent_issues(db: Database) -> list[SentIssue]:
    """The sent issue mailings, newest month first."""
    rows = db.query(
        "select issue_month, subject, finished_at, started_at from mailings "
        "where kind = 'issue' and status in ('sent', 'sent-with-failures') "
        "order by issue_month desc"
    )
    return [
        SentIssue(str(r["issue_month"]), str(r["subject"]), r["finished_at"], r["started_at"])
        for r in rows
    ]


def has_frozen_web_version(db: Database, month: str) -> bool:
    """True when an approval froze this month's web version (variant WEB)."""
    if "approved_variants" not in db.table_names():
        return False
    row = db.execute(
        "select 1 from approved_variants where month = ? and variant = 'WEB'", [month]
    ).fetchone()
    return row is not None
