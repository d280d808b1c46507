"""The delivery engine: every recipient exactly one copy, through faults, crashes and restarts.

- The ledger (ledger.py) holds one row per (mailing, recipient). A row is committed as
  `sending` before its message is handed over (SMTP: the final dot) and as `sent` right after
  the 250 (in the same commit that claims that connection's next row), so a crash leaves at
  most one message per connection in doubt. Each connection has its next message built and
  sent up to the final dot while that commit runs (pool.py): the commit's fsync overlaps the
  transfer instead of adding to it, on one connection as on four. The next run marks
  those `in-doubt` and resends them with the same Message-ID
  (`--in-doubt resend`, the default) or leaves them for staff (`skip`).
- 4xx replies and lost connections defer a message with doubling backoff inside a retry
  window; a 5xx fails it and records a bounce; a 421 or a dropped connection makes that
  connection wait and reconnect; a relay that stays away stops the run with nothing lost.
- A lock per mailing (flock: released even by kill -9) keeps two senders off one mailing;
  pause and cancel are read from the store while sending, so they act within a second.
- N connections are N threads (one for one) each with its own transport; the main thread
  alone touches the store and builds messages (a dictionary lookup and a join: messages.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlite_utils import Database

from newsletter import clock, locks, store
from newsletter.config import Delivery, Settings
from newsletter.errors import NewsletterError
from newsletter.mail.dkim import Signer, signer_for
from newsletter.outbound import ledger
from newsletter.outbound.ledger import Outcome
from newsletter.outbound.pool import Job, Pool, RateLimit, Result, TransportFactory
from newsletter.outbound.transports import Envelope
from newsletter.store import audit, mailings
from newsletter.store.mailings import Addressee
from newsletter.store.mailings import Delivery as LedgerRow
from newsletter.tokens import bounce_address

__all__ = ["RateLimit", "SendOptions", "SendReport", "TransportFactory", "deliver_mailing"]

Progress = Callable[[int], None]


class MessageSource(Protocol):
    """Builds the bytes of one ledger row's message; the engine owns everything else.

    A source with `direct = True` (a reply to a conversation) addresses the row's own e-mail
    whatever the subscriber's status: an answer goes to whoever asked."""

    def build(self, row: dict[str, object], person: dict[str, object]) -> bytes: ...


@dataclass(frozen=True)
class SendOptions:
    connections: int = 1
    rate_per_minute: float = 0.0  # per relay, shared by all connections; 0 is no limit
    in_doubt: str = "resend"  # or "skip"
    reconnect_delays: tuple[float, ...] = (0.5, 2.0, 5.0)  # seconds, then the relay is "down"
    signer: Signer | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        connections: int | None = None,
        rate_per_minute: float | None = None,
        in_doubt: str = "resend",
    ) -> SendOptions:
        """[delivery] of newsletter.toml, overridden by command-line flags."""
        delivery = settings.delivery
        return cls(
            connections=connections or delivery.connections,
            rate_per_minute=delivery.rate_per_minute
            if rate_per_minute is None
            else rate_per_minute,
            in_doubt=in_doubt,
            signer=signer_for(settings),
        )


@dataclass
class SendReport:
    """What one run of the engine did to a mailing (send_summary says it in one line)."""

    mailing_id: str
    total: int = 0
    sent: int = 0
    already_sent: int = 0
    skipped: int = 0  # unsubscribed or bounced while the mailing was under way
    deferred: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    in_doubt: list[str] = field(default_factory=list)  # the relay may have them; see the report
    relay_down: str = ""  # why the run stopped early
    stopped: str = ""  # paused or cancelled while sending
    waiting: int = 0  # still open after this run (deferred until later, queued, in doubt)
    next_retry: str | None = None
    status: str = ""

    @property
    def had_failures(self) -> bool:
        return bool(self.failed or self.deferred or self.relay_down or self.in_doubt)


def send_summary(report: SendReport) -> str:
    """A send in one line: the CLI prints it, tick reports it, the audit log keeps it."""
    line = (
        f"{report.mailing_id}: {report.sent} sent now, {report.already_sent} sent before, "
        f"{len(report.deferred)} deferred, {len(report.failed)} failed"
    )
    if report.skipped:
        line += f", {report.skipped} skipped (no longer subscribed)"
    if report.in_doubt:
        line += f", {len(report.in_doubt)} in doubt"
    line += f" of {report.total} recipients"
    if report.stopped:
        resume = " ('newsletter issue resume' continues)" if report.stopped == "paused" else ""
        line += f"; {report.stopped}{resume}, {report.waiting} waiting"
    elif report.relay_down:
        line += f"; stopped, the relay is unreachable ({report.relay_down}); {report.waiting} wait"
    elif report.waiting and report.next_retry:
        local = clock.parse_instant(report.next_retry).astimezone(clock.AMSTERDAM)
        line += f"; {report.waiting} waiting, next retry {local:%Y-%m-%d %H:%M}"
    return line


def send_detail(report: SendReport) -> dict[str, Any]:
    """A send as the audit log keeps it: the counts as data (the console words them in Dutch),
    and the CLI's line as `summary` for `newsletter log`."""
    detail: dict[str, Any] = {
        "summary": send_summary(report),
        "sent": report.sent,
        "already_sent": report.already_sent,
        "deferred": len(report.deferred),
        "failed": len(report.failed),
        "skipped": report.skipped,
        "in_doubt": len(report.in_doubt),
        "total": report.total,
        "waiting": report.waiting,
    }
    if report.stopped:
        detail["stopped"] = report.stopped  # paused or cancelled
    if report.relay_down:
        detail["relay_down"] = True
    if report.waiting and report.next_retry:
        detail["next_retry"] = report.next_retry
    return detail


@contextmanager
def mailing_lock(settings: Settings, mailing_id: str) -> Iterator[None]:
    """Exclusive right to send this mailing; a second sender gets Busy at once."""
    with locks.hold(
        settings,
        mailing_id,
        lambda owner: (
            f"{mailing_id} is being sent by {owner}; nothing done. It goes on by "
            "itself; 'newsletter issue pause' stops it"
        ),
    ):
        yield


def deliver_mailing(
    db: Database,
    settings: Settings,
    mailing_id: str,
    source: MessageSource,
    factory: TransportFactory,
    options: SendOptions | None = None,
    progress: Progress | None = None,
    prepare: Callable[[], object] | None = None,
) -> SendReport:
    """Send everything of a mailing that is due now; safe to run again at any moment.

    `prepare` runs under the mailing's lock before anything is read (queueing the audience).
    """
    options = options or SendOptions()
    if options.in_doubt not in {"resend", "skip"}:
        raise NewsletterError(f"--in-doubt {options.in_doubt}: use resend or skip")
    report = SendReport(mailing_id)
    with mailing_lock(settings, mailing_id):
        if prepare is not None:
            prepare()  # e.g. queue the audience: under the lock, so no sender sees it half done
        status = ledger.mailing_status(db, mailing_id)
        if status == "cancelled":
            raise NewsletterError(f"{mailing_id} was cancelled; nothing is sent")
        ledger.mark_in_doubt(db, mailing_id)
        report.total = ledger.count(db, mailing_id, *ledger.OPEN, *ledger.DONE)
        report.already_sent = ledger.count(db, mailing_id, "sent")
        if status == "paused":
            report.stopped = "paused"
        else:
            _run(db, settings, mailing_id, source, factory, options, progress, report)
        if options.in_doubt == "skip":
            report.in_doubt = mailings.in_doubt_emails(db, mailing_id)
        report.status = ledger.finish_if_done(db, mailing_id)
        report.waiting = ledger.count(db, mailing_id, *ledger.OPEN)
        report.next_retry = ledger.next_retry(db, mailing_id)
        if report.sent or report.failed or report.deferred or report.in_doubt:
            with store.transaction(db):
                audit.record(db, "send", "send", mailing_id, **send_detail(report))
    return report


def _run(
    db: Database,
    settings: Settings,
    mailing_id: str,
    source: MessageSource,
    factory: TransportFactory,
    options: SendOptions,
    progress: Progress | None,
    report: SendReport,
) -> None:
    policy = settings.delivery
    builder = _Builder(db, settings, mailing_id, source, options, report)
    # (the lanes' threads start here: from now on only the `finally` below may end this)
    pool = Pool(factory, options.connections, options.rate_per_minute, options.reconnect_delays)
    claims: list[Job] = []
    outcomes: list[Outcome] = []
    stopping = False  # paused, cancelled or the relay is down: nothing more is claimed
    exhausted = False  # no row left to build a job of
    checked = time.monotonic()
    try:
        while True:
            if not stopping and time.monotonic() - checked > 1.0:  # pause or cancel elsewhere
                checked = time.monotonic()
                status = ledger.mailing_status(db, mailing_id)
                if status in {"paused", "cancelled"}:
                    report.stopped, stopping = status, True
            if stopping:  # nothing more is claimed: the lanes' next jobs are abandoned
                for job in claims:
                    pool.release(job, False)
                claims = []
            for lane in pool.lanes:  # a lane with nothing at all (the start): claim one now
                if not (stopping or exhausted) and lane.current is None and lane.next is None:
                    first = builder.next_job()
                    exhausted = first is None
                    if first is not None:
                        lane.current = first
                        pool.submit(lane, first)
                        claims.append(first)
            # Outcomes and claims in one commit: every claimed row is on disk as `sending`
            # before its message is handed over, and every `sent` before the next hand-over
            # on its lane, so at most one per connection can be in doubt. The lanes send the
            # claimed jobs up to their final dot while the commit (its fsync) runs.
            outcomes += builder.take_outcomes()  # kept for the `finally` if this commit fails
            committed = ledger.commit(
                db,
                outcomes,
                claims=[(job.row, job.envelope.sender) for job in claims],
                subscribed_only=not builder.direct,  # an issue's reader may have left meanwhile
            )
            outcomes = []
            report.skipped += len(committed.skipped)
            for job in claims:  # not claimed: cancelled or unsubscribed meanwhile
                pool.release(job, job.row.id in committed.claimed)
            if claims:  # let the released lanes take the GIL for their final dot first
                time.sleep(0)
            claims = []
            for lane in pool.lanes:  # the next job of every busy lane goes out ahead
                if stopping and lane.next is not None:
                    pool.release(lane.next, False)
                elif not (stopping or exhausted) and lane.current and lane.next is None:
                    lane.next = builder.next_job()
                    exhausted = lane.next is None
                    if lane.next is not None:
                        pool.submit(lane, lane.next)
            if not pool.outstanding:
                break
            # Wait for one result, take whatever else is ready: one commit for them all.
            done = len(outcomes)
            for result in pool.get_ready():
                lane = pool.lanes[result.job.lane]
                lane.current, lane.next = lane.next, None
                if lane.current is not None and not lane.current.ready.is_set():
                    claims.append(lane.current)  # claimed with this outcome, in one commit
                if result.status == "unclaimed":
                    continue
                outcomes.append(_outcome(result, mailing_id, policy, report))
                if result.relay_down and not report.relay_down:
                    report.relay_down, stopping = result.reply, True
            if progress and len(outcomes) > done:  # after the batch: an error in it loses none
                progress(len(outcomes) - done)
    finally:
        # Whatever happens (an exception, Ctrl-C): stop the lanes (a message being handed over
        # finishes, no other is) and record what is known, theirs too, before leaving.
        untaken: list[Result] = []
        try:
            untaken = pool.close()
        finally:
            for result in untaken:
                if result.status != "unclaimed":
                    outcomes.append(_outcome(result, mailing_id, policy, report))
            ledger.commit(db, [*outcomes, *builder.take_outcomes()])


class _Builder:
    """The next job to send: the next due row with its message built, or None at the end.

    Rows whose person is no longer subscribed, or whose message cannot be made, are not jobs:
    their outcomes wait in take_outcomes() for the next commit."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        mailing_id: str,
        source: MessageSource,
        options: SendOptions,
        report: SendReport,
    ) -> None:
        self.db, self.settings, self.source, self.options = db, settings, source, options
        self.report = report
        self.rows = ledger.pending(db, mailing_id, include_in_doubt=options.in_doubt == "resend")
        self.outcomes: list[Outcome] = []
        self.direct = bool(getattr(source, "direct", False))

    def take_outcomes(self) -> list[Outcome]:
        taken, self.outcomes = self.outcomes, []
        return taken

    def next_job(self) -> Job | None:
        for row in self.rows:
            # (forgotten while the mailing was going: "erased", skipped)
            person = (
                Addressee(row.subscriber_id, row.email, "", None, "active")
                if self.direct
                else mailings.addressee(self.db, row.subscriber_id)
            )
            if person.status != "active":  # unsubscribed while the mailing was going
                self.outcomes.append(_skipped(row, person))
                self.report.skipped += 1
                continue
            try:
                data = self.source.build(row.as_row(), person.as_row())
                if self.options.signer is not None:
                    data = self.options.signer.sign(data)
            except (NewsletterError, UnicodeError, ValueError) as exc:
                # This one person's message cannot be made (an address our headers cannot
                # carry, ...): named as failed, and everyone else still gets theirs.
                self.outcomes.append(_unbuildable(row, f"not sent: {exc}", self.report))
                continue
            sender = (
                bounce_address(self.settings, row.id)
                if self.settings.delivery.bounce_address
                else self.settings.sender_address
            )
            return Job(row, Envelope(sender, person.email, row.message_id), data)
        return None


def _unbuildable(row: LedgerRow, reason: str, report: SendReport) -> Outcome:
    report.failed.append((row.email, reason))
    return Outcome(row_id=row.id, status="failed", reply=reason)


def _skipped(row: LedgerRow, person: Addressee) -> Outcome:
    return Outcome(row_id=row.id, status="skipped", reply=f"subscriber is {person.status}")


def _outcome(result: Result, mailing_id: str, policy: Delivery, report: SendReport) -> Outcome:
    """The ledger's record of a result; a deferral past the retry window becomes a failure."""
    row = result.job.row
    email = row.email
    attempts = row.attempts + 1
    first = row.first_attempt_at or clock.utc_iso()
    status, reply, retry, bounce = result.status, result.reply, None, ""
    if status == "deferred":
        status, retry = ledger.deferral(policy, attempts, first, clock.now())
        if status == "failed":
            reply = f"gave up after {attempts} attempts in {policy.retry_window_hours:g} h: {reply}"
            bounce = "soft"
    elif status == "failed":
        bounce = "policy" if reply[4:7] == "5.7" else "hard"  # 5.7.x is about us, not them
    elif status == "in-doubt":
        report.in_doubt.append(email)
    if status == "sent":
        report.sent += 1
    elif status == "failed":
        report.failed.append((email, reply))
    elif status == "deferred":
        report.deferred.append((email, reply))
    return Outcome(
        row_id=row.id,
        status=status,
        reply=reply,
        duration_ms=result.duration_ms,
        attempts=attempts,
        first_attempt_at=first,
        subscriber_id=row.subscriber_id,
        mailing_id=mailing_id,
        next_attempt_at=retry,
        bounce=bounce,
        first_attempt_before=row.first_attempt_at or None,
    )
