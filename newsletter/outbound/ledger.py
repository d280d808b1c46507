"""The delivery ledger: one row per (mailing, recipient) and every state change committed.

queued -> sending -> sent | deferred | failed ; sending left by a dead process -> in-doubt;
skipped (no longer subscribed when its turn came) and cancelled (the mailing was cancelled).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Delivery
from newsletter.errors import NewsletterError
from newsletter.store import audit, mailings, transaction
from newsletter.store.mailings import DONE, OPEN, Mailing, Outcome

__all__ = ["DONE", "OPEN", "MailingChange", "Outcome"]


def create_mailing(
    db: Database,
    mailing_id: str,
    kind: str,
    subject: str,
    content_hash: str,
    issue_month: str | None = None,
) -> Mailing:
    """The mailing row, made once; a later call returns what is there."""
    existing = mailings.get_mailing(db, mailing_id)
    if existing is None:
        now = clock.utc_iso()
        mailings.insert_mailing(
            db, Mailing(mailing_id, kind, issue_month, subject, content_hash, "sending", now, now)
        )
        existing = mailings.get_mailing(db, mailing_id)
        assert existing is not None
    return existing


queue = mailings.queue
count = mailings.count
counts = mailings.counts
mark_in_doubt = mailings.mark_in_doubt
next_retry = mailings.next_retry


def pending(
    db: Database, mailing_id: str, include_in_doubt: bool, chunk: int = 500
) -> Iterator[mailings.Delivery]:
    """What is due now, in id order and in chunks, so memory does not grow with the list."""
    return mailings.pending(db, mailing_id, include_in_doubt, clock.utc_iso(), chunk)


def deferral(
    policy: Delivery, attempts: int, first_attempt_at: str | None, now: datetime
) -> tuple[str, str | None]:
    """(status, next attempt): deferred with doubling backoff, or failed past the window."""
    first = datetime.fromisoformat(first_attempt_at) if first_attempt_at else now
    if now - first >= timedelta(hours=policy.retry_window_hours):
        return "failed", None
    wait = min(policy.backoff_minutes * 2 ** max(attempts - 1, 0), policy.backoff_max_minutes)
    return "deferred", clock.utc_iso(now + timedelta(minutes=wait))


def commit(
    db: Database,
    outcomes: Iterable[Outcome],
    claims: Iterable[tuple[mailings.Delivery, str]] = (),
    subscribed_only: bool = False,
) -> mailings.Committed:
    """Record outcomes and claim the next rows as `sending` (with their envelope sender),
    all in one transaction.

    One commit per message keeps the promise: `sending` is on disk before its SMTP transaction
    starts and `sent` right after the 250 (at the latest with the next claim, or at the end).
    Returns the ids actually claimed (a row cancelled meanwhile is not) and, with
    subscribed_only, those skipped because their person is no longer subscribed.
    """
    return mailings.commit(db, outcomes, claims, clock.utc_iso(), subscribed_only)


def mailing_status(db: Database, mailing_id: str) -> str:
    mailing = mailings.get_mailing(db, mailing_id)
    if mailing is None:
        raise NewsletterError(f"there is no mailing {mailing_id}; send it first")
    return mailing.status


def set_mailing_status(db: Database, mailing_id: str, status: str) -> None:
    finished = clock.utc_iso() if status in mailings.FINISHED else None
    mailings.set_status(db, mailing_id, status, finished)


def finish_if_done(db: Database, mailing_id: str) -> str:
    """Mark the mailing sent once nothing is open; returns its status."""
    status = mailing_status(db, mailing_id)
    if status in {"paused", "cancelled"} or count(db, mailing_id, *OPEN):
        return status
    final = "sent-with-failures" if count(db, mailing_id, "failed") else "sent"
    set_mailing_status(db, mailing_id, final)
    return final


def mailing_report(db: Database, mailing_id: str) -> dict[str, object]:
    """What happened to a mailing, for `issue report`: counts, per province, slow, errors."""
    mailing = mailings.get_mailing(db, mailing_id)
    if mailing is None:
        raise NewsletterError(f"there is no mailing {mailing_id}; send it first")
    per_province: dict[str, dict[str, int]] = {}
    for variant, status, n in mailings.per_variant_counts(db, mailing_id):
        # "GLD+av:a,b" is GLD (for its AV members) less some BAC's; "GLD+av:a,b;email" an AV
        # member's own (counted with the province, not listing them)
        province = variant.replace(";", ":").partition(":")[0].partition("+")[0]
        counts_ = per_province.setdefault(province, {})
        counts_[status] = counts_.get(status, 0) + n
    return {
        "mailing": mailing_id,
        "status": mailing.status,
        "subject": mailing.subject,
        "started_at": mailing.started_at,
        "finished_at": mailing.finished_at,
        "counts": counts(db, mailing_id),
        "per_province": per_province,
        "slowest": [vars(s) for s in mailings.slowest(db, mailing_id)],
        "errors": [{"reply": r, "n": n} for r, n in mailings.error_replies(db, mailing_id)],
        "in_doubt": mailings.in_doubt_emails(db, mailing_id),
        "next_retry": next_retry(db, mailing_id),
        **bounce_rates(db, mailing_id),
    }


COMPLAINT_WARNING = 0.001  # above 0.1 % complaints a mailing gets a warning
HARD_BOUNCE_WARNING = 0.02  # and above 2 % hard bounces


def bounce_rates(db: Database, mailing_id: str) -> dict[str, object]:
    """Bounces per kind (refused while sending, or reported back) and complaints, with warnings.

    Rates are per message sent or failed; a delivery counts once per kind however many reports.
    Only what is tied to a delivery of ours counts (store.mailings.TIED); the rest is `not_tied`.
    """
    kinds = mailings.bounce_kinds(db, mailing_id)
    complaints = kinds.pop("complaint", 0)
    tried = count(db, mailing_id, "sent", "failed")
    warnings = []
    if tried and complaints / tried > COMPLAINT_WARNING:
        warnings.append(
            f"complaints {complaints / tried:.2%} of {tried} messages (above "
            f"{COMPLAINT_WARNING:.1%}): check the list's consent and the unsubscribe link"
        )
    hard = kinds.get("hard", 0)
    if tried and hard / tried > HARD_BOUNCE_WARNING:
        warnings.append(
            f"hard bounces {hard / tried:.2%} of {tried} messages (above "
            f"{HARD_BOUNCE_WARNING:.0%}): the list needs cleaning before the next mailing"
        )
    return {
        "bounces": kinds,
        "complaints": complaints,
        "warnings": warnings,
        # Forged or unproven reports (not tied by VERP or our Message-ID): shown, never counted.
        "not_tied": mailings.untied_reports(db, mailing_id),
    }


def pending_count(db: Database, mailing_id: str) -> int:
    """Roughly what a send will do now: open rows, or everyone active for a new mailing."""
    if mailings.get_mailing(db, mailing_id) is None:
        return mailings.active_subscribers(db)
    return count(db, mailing_id, *OPEN)


@dataclass(frozen=True)
class MailingChange:
    """A pause, resume or cancel that was done: the mailing's new status and what is left."""

    mailing_id: str
    action: str  # pause, resume or cancel
    status: str  # paused, sending or cancelled
    open: int  # messages still to go (queued, deferred, in doubt)
    cancelled: int  # messages that will not be sent


def change_mailing(db: Database, mailing_id: str, action: str, actor: str = "cli") -> MailingChange:
    """pause, resume or cancel a mailing; returns what was done."""
    status = mailing_status(db, mailing_id)
    allowed = {"pause": {"sending"}, "resume": {"paused"}, "cancel": {"sending", "paused"}}
    if status not in allowed[action]:
        raise NewsletterError(
            f"{mailing_id} is {status}; only a mailing that is "
            f"{' or '.join(sorted(allowed[action]))} can be {action}d"
        )
    new = {"pause": "paused", "resume": "sending", "cancel": "cancelled"}[action]
    set_mailing_status(db, mailing_id, new)
    with transaction(db):
        audit.record(db, actor, action, mailing_id)
    return MailingChange(
        mailing_id,
        action,
        new,
        open=count(db, mailing_id, *OPEN),
        cancelled=count(db, mailing_id, "cancelled"),
    )
