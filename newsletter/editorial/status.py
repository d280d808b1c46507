"""`newsletter status` and `newsletter log`: the instance at a glance, and its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.store import audit, mailings
from newsletter.store import workflow as rows
from newsletter.store.doctor import DoctorRun, last_run


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
    doctor: DoctorRun | None = None  # the last `newsletter doctor`; None: never ran


def instance_status(db: Database, settings: Settings | None = None) -> InstanceStatus:
    """The instance at a glance, as data (the CLI's `status` prints it)."""
    tick = audit.last_event(db, "tick")
    tick_at, failed = None, []
    if tick is not None:
        failed = tick.details.get("failed", [])
        tick_at = clock.parse_instant(tick.at).astimezone(clock.AMSTERDAM)
    under_way = [
        MailingGlance(m.id, m.status, mailings.counts(db, m.id))
        for m in mailings.issue_mailings_under_way(db)
    ]
    open_ = rows.open_questions(db)
    onboarding = None
    if rows.has_table(db, "onboarding_enrolments") and settings is not None:
        onboarding = _onboarding_glance(db, settings)
    quarantined = rows.quarantined(db)
    return InstanceStatus(tick_at, failed, under_way, open_, onboarding, quarantined, last_run(db))


def log_entries(db: Database, issue: str | None = None) -> list[audit.AuditEntry]:
    """The audit log, oldest first; for one issue only its mailing's events."""
    return audit.events(db, f"issue-{issue}" if issue else None)
