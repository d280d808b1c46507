"""The connections of one send: one thread per connection to the relay, each with its own lane.

A lane holds at most two jobs: `current`, whose row is claimed (or being claimed, in the commit
that records the lane's previous outcome), and `next`, built and already on its way but not yet
claimed. The thread sends `next` up to its final dot while the commit of `current`'s outcome
and `next`'s claim runs; the final dot waits for that commit (Job.gate). So whenever the relay
takes a message, its row is on disk as `sending` and every earlier message of that lane as
`sent`: a crash leaves at most one message per connection in doubt, and the commit's fsync is
not a pause between two messages.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from newsletter.errors import ConfigError, TransportError
from newsletter.outbound.transports import Envelope, Transport
from newsletter.outbound.transports.base import GatedTransport, Unclaimed
from newsletter.store.mailings import Delivery as LedgerRow

TransportFactory = Callable[[], Transport]


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


@dataclass(eq=False)
class Job:
    row: LedgerRow
    envelope: Envelope
    data: bytes
    lane: int = 0
    ready: threading.Event = field(default_factory=threading.Event)  # its claim is committed
    claimed: bool = False

    def gate(self) -> bool:
        """Wait for the commit of this job's claim; True when the row is ours to hand over."""
        self.ready.wait()
        return self.claimed

    @property
    def abandoned(self) -> bool:
        return self.ready.is_set() and not self.claimed


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
        delays: tuple[float, ...],
        limit: RateLimit,
        stop: threading.Event,
    ) -> None:
        self.factory, self.delays, self.limit, self.stop = factory, delays, limit, stop
        self.transport: Transport | None = None

    def deliver(self, job: Job) -> Result:
        """Send one job; never raises: whatever goes wrong becomes this job's result.

        A result never overtakes its claim: a refusal before the hand-over (a 451 to RCPT, a
        relay that is down) waits for the commit that claims the job, so its outcome is
        recorded after the claim, not overwritten by it; if the job was not claimed after all
        (stopped, cancelled meanwhile), nothing happened to its row and nothing is recorded."""
        try:
            result = self._deliver(job)
        except Unclaimed:  # cancelled or skipped meanwhile: never handed over
            return Result(job, "unclaimed", "not claimed")
        except Exception as exc:  # a bug or an odd transport: name it, keep the others going
            self.close()
            result = Result(job, "in-doubt", f"internal error: {type(exc).__name__}: {exc}")
        if not job.gate():
            return Result(job, "unclaimed", "not claimed")
        return result

    def _deliver(self, job: Job) -> Result:
        last = "stopped"
        started = False
        for delay in (0.0, *self.delays):
            if job.abandoned:  # the run stopped before its claim: no connection needed
                raise Unclaimed(job.envelope.message_id)
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
            except ConfigError as exc:  # a login or token refused: waiting will not help
                return Result(job, "queued", str(exc), relay_down=True)
            self.limit.wait(self.stop)
            if self.stop.is_set():  # stopped while waiting for its slot: not handed over
                return Result(job, "queued", last)
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
        if job.abandoned:
            raise Unclaimed(job.envelope.message_id)
        return Result(job, "deferred" if started else "queued", last, relay_down=True)

    def close(self) -> None:
        if self.transport is not None:
            try:
                self.transport.close()
            finally:
                self.transport = None


def _ms(began: float) -> float:
    return round((time.perf_counter() - began) * 1000, 2)


@dataclass(eq=False)
class Lane:
    """One connection's jobs: `current` (claimed) and `next` (sent ahead, not yet claimed)."""

    number: int
    inbox: queue.Queue[Job | None] = field(default_factory=queue.Queue)
    current: Job | None = None
    next: Job | None = None


class Pool:
    """N connections, a thread and a lane each; the caller (the engine) owns the store.

    submit() puts a job on a lane before its claim is committed; release() says, once the
    commit is done, whether it was claimed. The lane's thread sends all but the final dot
    meanwhile and hands the message over only when it was.
    """

    def __init__(
        self,
        factory: TransportFactory,
        connections: int,
        rate_per_minute: float,
        delays: tuple[float, ...],
    ) -> None:
        self.stop = threading.Event()
        limit = RateLimit(rate_per_minute)
        self.lanes = [Lane(n) for n in range(max(connections, 1))]
        self.unreleased: dict[int, Job] = {}
        self.outstanding = 0  # submitted, no result taken yet
        self.untaken: list[Result] = []  # left in a batch by a lane's exception: close() has them
        self.results: queue.Queue[Result | BaseException] = queue.Queue()
        self.threads = []
        for lane in self.lanes:
            connection = Connection(factory, delays, limit, self.stop)
            thread = threading.Thread(target=self._work, args=(lane, connection), daemon=True)
            thread.start()
            self.threads.append(thread)

    def _work(self, lane: Lane, connection: Connection) -> None:
        try:
            while (job := lane.inbox.get()) is not None:
                self.results.put(connection.deliver(job))
        except BaseException as exc:  # hand it to the main thread, which owns the store
            self.results.put(exc)
        finally:
            connection.close()

    def submit(self, lane: Lane, job: Job) -> None:
        job.lane = lane.number
        self.unreleased[id(job)] = job
        self.outstanding += 1
        lane.inbox.put(job)

    def release(self, job: Job, claimed: bool) -> None:
        """The claim's commit is done: hand the job over (claimed) or abandon it."""
        if self.unreleased.pop(id(job), None) is None:
            return
        job.claimed = claimed
        job.ready.set()

    def get_ready(self) -> list[Result]:
        """At least one result (waiting for it), and every other one already finished."""
        waiting = [self.results.get()]
        while True:
            try:
                waiting.append(self.results.get_nowait())
            except queue.Empty:
                break
        results = [result for result in waiting if isinstance(result, Result)]
        self.outstanding -= len(results)
        for result in waiting:
            if isinstance(result, BaseException):
                self.untaken.extend(results)
                raise result
        return results

    def close(self) -> list[Result]:
        """Stop: nothing more is handed over, what is being handed over finishes; returns the
        results nobody took, for the caller to record. The wait is bounded by the transports'
        own timeouts (an SMTP relay's answer to the final dot: FINAL_REPLY_TIMEOUT), not cut
        short: a lane that outlived its run would still hand its message over after the caller
        let go of the mailing, and a resume would then send it again."""
        self.stop.set()
        for job in list(self.unreleased.values()):  # left by a stop or an error: never handed over
            self.release(job, False)
        for lane in self.lanes:
            lane.inbox.put(None)
        for thread in self.threads:
            thread.join()
        untaken, self.untaken = self.untaken, []
        while True:
            try:
                result = self.results.get_nowait()
            except queue.Empty:
                return untaken
            if isinstance(result, Result):
                untaken.append(result)
