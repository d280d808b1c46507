"""`newsletter status` and `newsletter log`: the instance at a glance, and its history."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.outbound import ledger
from newsletter.store import audit


@dataclass(frozen=True)
class OnboardingGlance:
    """The programme today: members in it and the steps due (step, email), or why unknown."""

    active: int = 0
    due: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""


def _onboarding_glance(db: Database, settings: Settings) -> OnboardingGlance | None:
    from newsletter.onboarding import programme as onboarding

    try:
        rows = onboarding.status_rows(db, settings, clock.now())
    except (NewsletterError, ValueError, OverflowError) as exc:
        return OnboardingGlance(error=str(exc))
    active = [r for r in rows if r["status"] == "active"]
    due = [r for r in active if r["due_today"]]
    if not rows:
        return None
    return OnboardingGlance(len(active), [(r["next_step"], r["email"]) for r in due])


@dataclass(frozen=True)
class MailingGlance:
    """An issue still going out: its mailing, status and delivery counts."""

    id: str
    status: str
    counts: dict[str, int]


@dataclass(frozen=True)
class InstanceStatus:
    """What staff should know about: the last tick, sends going on, the inbox, onboarding."""

    tick_at: datetime | None  # Europe/Amsterdam; None: never ran
    tick_failed: list[str]
    mailings: list[MailingGlance]
    open_questions: int | None  # None: no inbox yet
    onboarding: OnboardingGlance | None
    quarantined: int


def instance_status(db: Database, settings: Settings | None = None) -> InstanceStatus:
    """The instance at a glance, as data (the CLI's `status` prints it)."""
    tick = next(
        db.query("select at, detail from events where action = 'tick' order by id desc limit 1"),
        None,
    )
    tick_at, failed = None, []
    if tick is not None:
        failed = json.loads(tick["detail"] or "{}").get("failed", [])
        tick_at = clock.parse_instant(tick["at"]).astimezone(clock.AMSTERDAM)
    mailings = [
        MailingGlance(row["id"], row["status"], ledger.counts(db, row["id"]))
        for row in db.query(
            "select id, status, subject from mailings where kind = 'issue' "
            "and status in ('sending', 'paused') order by id"
        )
    ]
    open_ = None
    if "conversations" in db.table_names():
        open_ = db.execute(
            "select count(*) from conversations where status in ('new', 'open')"
        ).fetchone()[0]
    onboarding = None
    if "onboarding_enrolments" in db.table_names() and settings is not None:
        onboarding = _onboarding_glance(db, settings)
    quarantined = 0
    if "inbound" in db.table_names():
        quarantined = db.execute(
            "select count(*) from inbound where status = 'quarantined'"
        ).fetchone()[0]
    return InstanceStatus(tick_at, failed, mailings, open_, onboarding, quarantined)


def log_entries(db: Database, issue: str | None = None) -> list[audit.AuditEntry]:
    """The audit log, oldest first; for one issue only its mailing's events."""
    return audit.events(db, f"issue-{issue}" if issue else None)
