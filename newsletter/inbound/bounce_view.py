"""Bounces and away for staff: what came back from the last mailings (hard and soft bounces,
complaints, auto-replies) with the evidence of each report and what it did, who is away until
when, and undoing a wrong bounce action (with a reason, in the audit log by account)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.store import audit, transaction
from newsletter.store import bounce_reports as repo
from newsletter.store import subscribers as rows
from newsletter.store.bounce_reports import Away, MailingRef, Report

LAST_MAILINGS = 3  # the page shows what came back from this many mailings
LIMIT = 500  # rows on the page at most (a bigger list is a problem to act on, not to scroll)


@dataclass(frozen=True)
class BounceOverview:
    mailings: list[MailingRef]
    reports: list[Report]
    away: list[Away]
    limited: bool  # more reports than LIMIT: only the first are listed


@dataclass(frozen=True)
class Undone:
    email: str
    bounces: int  # bounce rows that no longer count
    status: str  # the subscriber's status now


def overview(
    db: Database, settings: Settings, province: str | None = None, mailings: int = LAST_MAILINGS
) -> BounceOverview:
    """The reports of the last `mailings` mailings and everyone away, in one province or all."""
    if province and province not in settings.provinces:
        raise NewsletterError(f"province '{province}': use one of {', '.join(settings.provinces)}")
    last = repo.recent_mailings(db, mailings)
    since = min((m.created_at for m in last if m.created_at), default=None)
    found = repo.reports(db, [m.id for m in last], since, province, LIMIT + 1)
    today = clock.today().isoformat()
    return BounceOverview(last, found[:LIMIT], repo.away(db, today, province), len(found) > LIMIT)


def undo_bounce(db: Database, email: str, reason: str, actor: str) -> Undone:
    """A bounce action that was wrong (the address works): the subscriber is active again and
    their bounces no longer count toward the bounce policy (the rows stay, marked undone).

    Only for a subscriber the bounce policy marked `bounced`; with a reason; audited.
    """
    reason = " ".join(reason.split())
    if not reason:
        raise NewsletterError("undoing a bounce needs a reason: how you know the address works")
    found = rows.find_by_email(db, email)
    if found is None:
        raise NewsletterError(
            f"{email}: no such subscriber; 'newsletter subscribers list' shows them"
        )
    if found.status != "bounced":
        raise NewsletterError(
            f"{found.email} is {found.status}, not bounced: there is no bounce action to undo"
        )
    now = clock.utc_iso()
    with transaction(db):
        undone = repo.undo_bounces(db, found.id, now, actor, reason)
        repo.unmark_bounced(db, found.id, now)
        audit.record(
            db, actor, "undo-bounce", f"subscriber:{found.id}", reason=reason, bounces=undone
        )
    return Undone(found.email, undone, "active")
