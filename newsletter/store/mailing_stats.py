"""The numbers of a mailing's report (Rapporten, `issue report --csv`): counted in SQL, typed rows.

Per province (the province part of the delivery's variant, as the ledger's report groups it)
and per hour (UTC; the report folds hours into local days). Read-only.

- sent: messages handed to the relay (accepted or refused);
- delivered: accepted and no bounce came back for it;
- bounced: a bounce tied to our delivery (store.mailings.TIED), refused or reported back;
- complaints: a complaint (ARF) tied to our delivery;
- unsubscribes: the reader unsubscribed after this message and before any later one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from newsletter.store.mailings import TIED

# The province of a variant: "GLD", "GLD:a,b" (less some BAC's), "GLD+av:a,b" (its AV
# members), "GLD+av;email" (an AV member's own).
_CUT = "instr(replace(replace(d.variant, ';', ':'), '+', ':'), ':')"
PROVINCE = f"case when {_CUT} > 0 then substr(d.variant, 1, {_CUT} - 1) else d.variant end"
# Per delivery: did a tied bounce or complaint come back (once per delivery, however many).
REPORTS = (
    "select delivery_id, max(kind != 'complaint') as bounced, max(kind = 'complaint') "
    f"as complained, min(case when kind != 'complaint' then created_at end) as bounced_at, "
    f"min(case when kind = 'complaint' then created_at end) as complained_at from bounces "
    f"where mailing_id = :mailing and {TIED} group by delivery_id"
)
# The first unsubscribe of the reader after this message and before a later message to them.
UNSUBSCRIBED_AT = (
    "(select min(e.at) from events e where e.subject = 'subscriber:' || d.subscriber_id "
    "and e.action = 'unsubscribe' and d.sent_at is not null and e.at >= d.sent_at "
    "and not exists (select 1 from deliveries later where later.subscriber_id = d.subscriber_id "
    "and later.status = 'sent' and later.sent_at > d.sent_at and later.sent_at <= e.at))"
)
PER_DELIVERY = (
    f"with r as ({REPORTS}) select {PROVINCE} as province, d.status, "
    "coalesce(d.sent_at, d.sending_at, d.first_attempt_at) as went_at, "
    "coalesce(r.bounced, 0) as bounced, coalesce(r.complained, 0) as complained, "
    f"r.bounced_at, r.complained_at, {UNSUBSCRIBED_AT} as unsubscribed_at "
    "from deliveries d left join r on r.delivery_id = d.id where d.mailing_id = :mailing"
)


@dataclass(frozen=True)
class ReportMailing:
    """A mailing that has a report: what it was and when it started."""

    id: str
    kind: str
    subject: str
    status: str
    started_at: str | None
    recipients: int


@dataclass(frozen=True)
class ProvinceNumbers:
    province: str
    sent: int
    delivered: int
    bounced: int
    complaints: int
    unsubscribes: int


@dataclass(frozen=True)
class HourNumbers:
    """What happened in one UTC hour ('2026-12-01T07'), by the moment of each event."""

    hour: str
    sent: int
    delivered: int
    bounced: int
    complaints: int
    unsubscribes: int


MAILINGS = (
    "select m.id, m.kind, m.subject, m.status, m.started_at, count(d.id) as n "
    "from mailings m join deliveries d on d.mailing_id = m.id "
)


def _mailing(r: dict[str, object]) -> ReportMailing:
    started = r["started_at"]
    return ReportMailing(
        str(r["id"]),
        str(r["kind"]),
        str(r["subject"] or ""),
        str(r["status"] or ""),
        str(started) if started else None,
        int(str(r["n"])),
    )


def report_mailings(db: Database, limit: int = 200) -> list[ReportMailing]:
    """The mailings with deliveries, newest first."""
    return [
        _mailing(r)
        for r in db.query(
            MAILINGS + "group by m.id order by coalesce(m.started_at, m.created_at) desc, m.id "
            "limit :limit",
            {"limit": limit},
        )
    ]


def find_report_mailing(db: Database, mailing_id: str) -> ReportMailing | None:
    """One mailing with deliveries, or None."""
    rows = db.query(MAILINGS + "where m.id = :mailing group by m.id", {"mailing": mailing_id})
    return next((_mailing(r) for r in rows), None)


def per_province(db: Database, mailing_id: str) -> list[ProvinceNumbers]:
    """The mailing's numbers per province, alphabetical by code."""
    return [
        ProvinceNumbers(
            str(r["province"]),
            int(r["sent"]),
            int(r["delivered"]),
            int(r["bounced"]),
            int(r["complaints"]),
            int(r["unsubscribes"]),
        )
        for r in db.query(
            f"with x as ({PER_DELIVERY}) select province, "
            "sum(status in ('sent', 'failed')) as sent, "
            "sum(status = 'sent' and not bounced) as delivered, "
            "sum(bounced) as bounced, sum(complained) as complaints, "
            "sum(unsubscribed_at is not null) as unsubscribes "
            "from x group by province order by province",
            {"mailing": mailing_id},
        )
    ]


def per_hour(db: Database, mailing_id: str) -> list[HourNumbers]:
    """The mailing's events per UTC hour: messages sent (and delivered) by when they went,
    bounces and complaints by when they came back, unsubscribes by when they were made."""
    rows = db.query(
        f"with x as ({PER_DELIVERY}), events_ as ("
        "select substr(went_at, 1, 13) as hour, 1 as sent, (status = 'sent' and not bounced) "
        "as delivered, 0 as bounced, 0 as complaints, 0 as unsubscribes from x "
        "where status in ('sent', 'failed') and went_at is not null "
        "union all select substr(bounced_at, 1, 13), 0, 0, 1, 0, 0 from x where bounced "
        "and bounced_at is not null "
        "union all select substr(complained_at, 1, 13), 0, 0, 0, 1, 0 from x where complained "
        "and complained_at is not null "
        "union all select substr(unsubscribed_at, 1, 13), 0, 0, 0, 0, 1 from x "
        "where unsubscribed_at is not null) "
        "select hour, sum(sent) as sent, sum(delivered) as delivered, sum(bounced) as bounced, "
        "sum(complaints) as complaints, sum(unsubscribes) as unsubscribes from events_ "
        "group by hour order by hour",
        {"mailing": mailing_id},
    )
    return [
        HourNumbers(
            str(r["hour"]),
            int(r["sent"]),
            int(r["delivered"]),
            int(r["bounced"]),
            int(r["complaints"]),
            int(r["unsubscribes"]),
        )
        for r in rows
    ]
