"""The delivery engine: every recipient exactly one copy, through faults, crashes and restarts.

- The ledger (ledger.py) holds one row per (mailing, recipient). A row is committed as
  `sending` before its message is handed over (SMTP: the final dot) and as `sent` right after
  the 250 (in the same commit that claims the next row), so a crash leaves at most one message
  per connection in doubt. The commit runs while the connections already send the next
  messages up to their final dot: its fsync is no longer a pause on every connection. The
  next run marks those `in-doubt` and resends them with the same Message-ID
  (`--in-doubt resend`, the default) or leaves them for staff (`skip`).
- 4xx replies and lost connections defer a message with doubling backoff inside a retry
  window; a 5xx fails it and records a bounce; a 421 or a dropped connection makes that
  connection wait and reconnect; a relay that stays away stops the run with nothing lost.
- A lock per mailing (flock: released even by kill -9) keeps two senders off one mailing;
  pause and cancel are read from the store while sending, so they act within a second.
- N connections are N threads each with its own transport; the main thread alone touches
  the store and builds messages (a dictionary lookup and a join: see messages.py).
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlite_utils import Database

from newsletter import clock, locks, store
from newsletter.config import Delivery, Settings
from newsletter.errors import NewsletterError, TransportError
from newsletter.mail.dkim import Signer, signer_for
from newsletter.outbound import ledger
from newsletter.outbound.ledger import Outcome
from newsletter.outbound.transports import Envelope, Transport
from newsletter.outbound.transports.base import GatedTransport, Unclaimed
from newsletter.store import audit, mailings
from newsletter.store.mailings import Addressee
from newsletter.store.mailings import Delivery as LedgerRow
from newsletter.tokens import bounce_address

Progress = Callable[[int], None]
TransportFactory = Callable[[], Transport]


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


class RateLimit:
    """At most `per_minute` messages per minute over all connections (0: no limit)."""

    def __init__(self, per_minute: float) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.next_slot = time.monotonic()
        self.lock = threading.Lock()

    def wait(self, stop: threading.Event) -> None:
        if not self.interval:
            return
        with self.lock:
            slot = max(self.next_slot, time.monotonic())
            self.next_slot = slot + self.interval
        delay = slot - time.monotonic()
        if delay > 0:
            stop.wait(delay)


@dataclass
class Job:
    row: LedgerRow
    envelope: Envelope
    data: bytes
    ready: threading.Event = field(default_factory=threading.Event)  # its claim is committed
    claimed: bool = False

    def gate(self) -> bool:
        """Wait for the commit of this job's claim; True when the row is ours to hand over."""
        self.ready.wait()
        return self.claimed


@dataclass
class Result:
    job: Job
    status: str  # sent, deferred, failed, in-doubt, queued (never reached the relay), unclaimed
    reply: str
    duration_ms: float | None = None
    relay_down: bool = False


class Connection:
    """One connection to the relay, reconnecting with backoff; one thread uses it."""

    def __init__(
        self,
        factory: TransportFactory,
        options: SendOptions,
        limit: RateLimit,
        stop: threading.Event,
    ) -> None:
        self.factory, self.options, self.limit, self.stop = factory, options, limit, stop
        self.transport: Transport | None = None

    def deliver(self, job: Job) -> Result:
        """Send one job; never raises: whatever goes wrong becomes this job's result."""
        try:
            return self._deliver(job)
        except Unclaimed:  # cancelled or skipped meanwhile: never handed over
            return Result(job, "unclaimed", "not claimed")
        except Exception as exc:  # a bug or an odd transport: name it, keep the others going
            self.close()
            return Result(job, "in-doubt", f"internal error: {type(exc).__name__}: {exc}")

    def _deliver(self, job: Job) -> Result:
        last = "stopped"
        started = False
        for delay in (0.0, *self.options.reconnect_delays):
            if delay and self.stop.wait(delay):
                break
            try:
                if self.transport is None:
                    transport = self.factory()
                    transport.open()
                    self.transport = transport
            except TransportError as exc:  # no connection at all: wait and try again
                last = exc.reply
                continue
            self.limit.wait(self.stop)
            began = time.perf_counter()
            started = True
            try:
                if isinstance(self.transport, GatedTransport):
                    reply = self.transport.send_gated(job.envelope, job.data, job.gate)
                elif job.gate():
                    reply = self.transport.send(job.envelope, job.data)
                else:
                    raise Unclaimed(job.envelope.message_id)
            except TransportError as exc:
                if not exc.connection_lost:
                    return Result(
                        job, "failed" if exc.permanent else "deferred", exc.reply, _ms(began)
                    )
                self.close()
                if exc.maybe_delivered:  # lost after the data: never resent within this run
                    return Result(job, "in-doubt", exc.reply, _ms(began))
                # a 421 or a drop before the data: wait, then a fresh connection
                last = exc.reply
                continue
            return Result(job, "sent", reply, _ms(began))
        return Result(job, "deferred" if started else "queued", last, relay_down=True)

    def close(self) -> None:
        if self.transport is not None:
            try:
                self.transport.close()
            finally:
                self.transport = None


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 2)


class Pool:
    """Runs jobs on N connections: inline for one, one thread per connection for more.

    submit() hands a job to a connection before its claim is committed; release() says whether
    it was claimed. A threaded connection sends all but the final dot meanwhile; the inline one
    sends it at release().
    """

    def __init__(self, factory: TransportFactory, options: SendOptions) -> None:
        self.stop = threading.Event()
        limit = RateLimit(options.rate_per_minute)
        self.connections = [
            Connection(factory, options, limit, self.stop) for _ in range(options.connections)
        ]
        self.done: collections.deque[Result] = collections.deque()
        self.unreleased: dict[int, Job] = {}
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self.results: queue.Queue[Result | BaseException] = queue.Queue()
        self.threads = []
        if len(self.connections) > 1:
            for connection in self.connections:
                thread = threading.Thread(target=self._work, args=(connection,), daemon=True)
                thread.start()
                self.threads.append(thread)

    def _work(self, connection: Connection) -> None:
        try:
            while (job := self.jobs.get()) is not None:
                self.results.put(connection.deliver(job))
        except BaseException as exc:  # hand it to the main thread, which owns the store
            self.results.put(exc)
        finally:
            connection.close()

    def submit(self, job: Job) -> None:
        self.unreleased[id(job)] = job
        if self.threads:
            self.jobs.put(job)

    def release(self, job: Job, claimed: bool) -> None:
        """The claim's commit is done: hand the job over (claimed) or abandon it."""
        del self.unreleased[id(job)]
        job.claimed = claimed
        job.ready.set()
        if not self.threads:
            self.done.append(self.connections[0].deliver(job))

    def get_ready(self) -> list[Result]:
        """At least one result (waiting for it), and every other one already finished."""
        if not self.threads:
            ready = list(self.done)
            self.done.clear()
            return ready
        waiting = [self.results.get()]
        while True:
            try:
                waiting.append(self.results.get_nowait())
            except queue.Empty:
                break
        results = []
        for result in waiting:
            if isinstance(result, BaseException):
                raise result
            results.append(result)
        return results

    def close(self) -> None:
        self.stop.set()
        for job in list(self.unreleased.values()):  # left by an error: never handed over
            self.release(job, False)
        for _ in self.threads:
            self.jobs.put(None)
        for thread in self.threads:
            thread.join(timeout=30)
        if not self.threads:
            self.connections[0].close()


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
    pool = Pool(factory, options)
    outcomes: list[Outcome] = []
    rows = ledger.pending(db, mailing_id, include_in_doubt=options.in_doubt == "resend")
    in_flight, exhausted = 0, False
    checked = time.monotonic()
    try:
        while True:
            if in_flight and (in_flight >= options.connections or exhausted):
                # Wait for one result, take whatever else is ready: one commit for them all.
                for result in pool.get_ready():
                    in_flight -= 1
                    if result.status == "unclaimed":
                        continue
                    outcomes.append(_outcome(result, mailing_id, policy, report))
                    if result.relay_down and not report.relay_down:
                        report.relay_down, exhausted = result.reply, True
                    if progress:
                        progress(1)
            if exhausted:
                if in_flight:
                    continue
                break
            if time.monotonic() - checked > 1.0:  # pause or cancel from another process
                checked = time.monotonic()
                status = ledger.mailing_status(db, mailing_id)
                if status in {"paused", "cancelled"}:
                    report.stopped, exhausted = status, True
                    continue
            jobs: list[Job] = []
            while in_flight + len(jobs) < options.connections:
                row = next(rows, None)
                if row is None:
                    exhausted = True
                    break
                # (forgotten while the mailing was going: "erased", skipped)
                person = (
                    Addressee(row.subscriber_id, row.email, "", None, "active")
                    if getattr(source, "direct", False)
                    else mailings.addressee(db, row.subscriber_id)
                )
                if person.status != "active":  # unsubscribed while the mailing was going
                    outcomes.append(_skipped(row, person))
                    report.skipped += 1
                    continue
                try:
                    data = source.build(row.as_row(), person.as_row())
                    if options.signer is not None:
                        data = options.signer.sign(data)
                except (NewsletterError, UnicodeError, ValueError) as exc:
                    # This one person's message cannot be made (an address our headers cannot
                    # carry, ...): named as failed, and everyone else still gets theirs.
                    outcomes.append(_unbuildable(row, f"not sent: {exc}", report))
                    continue
                sender = (
                    bounce_address(settings, row.id)
                    if policy.bounce_address
                    else settings.sender_address
                )
                jobs.append(Job(row, Envelope(sender, person.email, row.message_id), data))
            # Outcomes and claims in one commit: every claimed row is on disk as `sending`
            # before its message is handed over, and every `sent` before the next hand-over,
            # so at most one per connection can be in doubt. The connections send the new
            # jobs up to their final dot while the commit (its fsync) runs.
            for job in jobs:
                pool.submit(job)
            in_flight += len(jobs)
            claimed = ledger.commit(
                db, outcomes, claims=[(job.row, job.envelope.sender) for job in jobs]
            )
            outcomes = []
            for job in jobs:  # not claimed: cancelled or skipped meanwhile
                pool.release(job, job.row.id in claimed)
    finally:
        # Whatever happens (even an exception), record what is known before leaving.
        ledger.commit(db, outcomes)
        pool.close()


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
