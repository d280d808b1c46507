"""`newsletter tick`: everything that is due, once, under a lock; for cron every five minutes.

Each job runs on its own: one that fails is named and the others still run. The jobs: content
(files every tick, each feed at its own interval), the contact mailbox, queued unsubscribes (a
line only when there were any), scheduled issues (workflow.py), retries of open mailings,
retention, file erasures a crashed forget left.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime

from sqlite_utils import Database

from newsletter import app, locks, store
from newsletter.config import Settings
from newsletter.dates import nl_moment
from newsletter.editorial import workflow
from newsletter.editorial.schedules import ScheduledStart, late_text
from newsletter.errors import Busy, NewsletterError
from newsletter.inbound import mailbox, postvak, processing
from newsletter.onboarding import programme as onboarding
from newsletter.outbound.delivery import send_summary
from newsletter.outbound.send import send_issue
from newsletter.outbound.transports import transport_factory
from newsletter.people import import_upload, privacy, unsubscribe_queue
from newsletter.sources.catalog import SyncReport, due_feeds, sync_feeds, sync_files
from newsletter.store import audit, mailings


@dataclass
class JobResult:
    """One job of a tick: its name, what it did in one line, and whether it failed.

    The line is the data here: tick is an entry point, each job reports in the one line that
    cron mails and the demo shows, and the failed flag is what the audit log keeps."""

    name: str
    line: str
    failed: bool = False


@dataclass
class TickReport:
    jobs: list[JobResult] = field(default_factory=list)
    busy: str = ""  # another tick holds the lock: this one did nothing

    @property
    def failed(self) -> bool:
        return any(job.failed for job in self.jobs)


# A tick that has held its lock this long hangs (every network wait has its own deadline, far
# shorter): the next tick stops it and takes over, and says so.
TICK_MAX_AGE = 60 * 60.0


def tick_lock(settings: Settings) -> AbstractContextManager[locks.Held]:
    """One tick at a time; an overlapping one gets Busy at once (and cron simply tries later)."""
    return locks.hold(
        settings,
        "tick",
        lambda owner: "another tick is running; this one did nothing",
        max_age=TICK_MAX_AGE,
    )


def _unsubscribes(db: Database, settings: Settings, now: datetime) -> JobResult | None:
    """Unsubscribes the web server queued while the store was busy (before anything is sent);
    no line when none are queued."""
    if not unsubscribe_queue.pending(settings):
        return None
    replayed = unsubscribe_queue.replay(db, settings)
    return JobResult("unsubscribes", replayed.summary(), bool(replayed.left))


def _content(db: Database, settings: Settings, now: datetime) -> JobResult:
    """The content files every tick; a feed only when its [[feeds]] interval has passed."""
    report = SyncReport()
    sync_files(db, settings, report)
    due = due_feeds(db, settings, now)
    if due:
        sync_feeds(db, settings, report, due, now)
    for feed in settings.feeds:
        report.feeds.setdefault(feed.name, "not due")
    line = report.summary()
    if report.errors:
        line += ": " + "; ".join(report.errors[:3])
    return JobResult("content", line, report.failed)


def _inbox(db: Database, settings: Settings, now: datetime) -> JobResult:
    fetched, processed = processing.fetch_and_process(db, settings, now)
    problems = [s.error for s in fetched.failed] + processed.problems
    line = f"{fetched.summary()}; {processed.summary()}"
    if problems:
        line += ": " + "; ".join(problems[:3])
    return JobResult("inbox", line, bool(problems))


def _retries(db: Database, settings: Settings, now: datetime) -> JobResult:
    """Issue mailings still under way: what is due again (deferred, or left by a crash) goes,
    through the same use case as `issue send` (the approved version, the preflight gate)."""
    parts, failed = [], False
    for month in mailings.issue_months_sending(db):
        mailing_id = mailings.issue_mailing_id(month)
        if not mailings.count(db, mailing_id, *mailings.OPEN):
            continue
        try:
            # Unattended: messages the relay may already have stay for staff to decide
            # ('issue send --in-doubt resend'), so cron never sends anyone a second copy.
            report = send_issue(
                db,
                settings,
                month,
                by="tick",
                in_doubt="skip",
            ).delivery
        except Busy:
            parts.append(f"{mailing_id} is being sent by another process")
            continue
        except NewsletterError as exc:
            parts.append(f"{mailing_id}: {exc}")
            failed = True
            continue
        parts.append(send_summary(report))
        failed = failed or bool(report.failed or report.relay_down)
    return JobResult("deliveries", "; ".join(parts) or "nothing due", failed)


def _postvak(db: Database, settings: Settings, now: datetime) -> JobResult:
    """Follow-up dates that came (the conversation reopens, at the top), and replies to retry."""
    done = postvak.run_due(
        db, settings, now, transport_factory(settings.transport, settings.project)
    )
    return JobResult("postvak", done.summary(), done.failed)


def _onboarding(db: Database, settings: Settings, now: datetime) -> JobResult:
    """New AV members enrolled, due steps sent (working days, from [onboarding] send_from)."""
    report = onboarding.run_due(
        db, settings, now, transport_factory(settings.transport, settings.project)
    )
    return JobResult("onboarding", report.summary(), report.failed)


def _scheduled(db: Database, settings: Settings, now: datetime) -> JobResult:
    """Scheduled issues that are due and still approved start; a missed one is held back."""
    run = workflow.run_scheduled(
        db, settings, now, transport_factory(settings.transport, settings.project)
    )
    return JobResult(
        "scheduled", "; ".join(map(start_line, run.starts)) or "nothing due", run.failed
    )


def start_line(start: ScheduledStart) -> str:
    """What the scheduled job did with one issue, as the tick's line says it."""
    month = start.month
    if start.outcome == "revoked":
        return f"issue {month}: approval revoked, {start.reason}"
    if start.outcome == "missed":
        assert start.late is not None
        return (
            f"issue {month}: NOT sent, its schedule ({nl_moment(start.scheduled_for)}) was "
            f"missed by {late_text(start.late)}; send it by hand with "
            f"'newsletter issue send {month}'"
        )
    if start.outcome == "busy":
        return f"issue {month} is being sent by another process"
    if start.outcome == "error" or start.report is None:
        return start.reason
    return send_summary(start.report)


def _erasures(db: Database, settings: Settings, now: datetime) -> JobResult:
    """Files a forget left uncleared (a crash after its commit): cleared now."""
    return JobResult("erasures", privacy.finish_pending_line(db, settings))


def _retention(db: Database, settings: Settings, now: datetime) -> JobResult:
    cleared = mailbox.purge_raw(db, now)
    uploads = import_upload.remove_old_uploads(settings, now)
    return JobResult(
        "retention",
        f"raw mail past retention cleared: {cleared}; uploaded lists older than a day "
        f"removed: {uploads}",
    )


JOBS: list[tuple[str, Callable[[Database, Settings, datetime], JobResult | None]]] = [
    ("content", _content),
    ("inbox", _inbox),
    ("unsubscribes", _unsubscribes),
    ("scheduled", _scheduled),
    ("deliveries", _retries),
    ("onboarding", _onboarding),
    ("postvak", _postvak),
    ("retention", _retention),
    ("erasures", _erasures),
]


def run_tick(db: Database, settings: Settings, now: datetime) -> TickReport:
    """Run every job once; a job that fails (or raises) is reported and the next one runs."""
    app.wire()
    report = TickReport()
    try:
        with tick_lock(settings) as held:
            if held.took_over:
                report.jobs.append(JobResult("lock", held.took_over))
            for name, job in JOBS:
                try:
                    result = job(db, settings, now)  # None: nothing to report
                    if result is not None:
                        report.jobs.append(result)
                except NewsletterError as exc:
                    report.jobs.append(JobResult(name, str(exc), failed=True))
                except Exception as exc:  # a bug or a locked store: this job only
                    report.jobs.append(
                        JobResult(name, f"unexpected {type(exc).__name__}: {exc}", failed=True)
                    )
    except Busy as exc:
        report.busy = str(exc)
        return report
    with store.transaction(db):  # for `newsletter status`: when the last tick ran and how
        audit.record(db, "tick", "tick", "tick", failed=[j.name for j in report.jobs if j.failed])
    return report
