"""Sending an issue: one ledger row per (mailing, recipient), so a rerun never sends twice.

A row is committed as `sending` before the transport is called and as `sent` right after it
answers, so a crash leaves at most the message in flight in doubt (and a resend of it carries
the same Message-ID). The fault-tolerant engine (backoff, rate limits, pause) builds on this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlite_utils import Database

from . import clock
from .config import Settings
from .errors import NewsletterError, TransportError
from .messages import Recipient, Skeleton, make_skeleton, message_id
from .render import RenderedIssue
from .store import transaction
from .subscribers import active_recipients
from .tokens import PREFERENCES, UNSUBSCRIBE, make_token
from .transports import Envelope, Transport

Progress = Callable[[int], None]


@dataclass
class SendReport:
    mailing_id: str
    total: int = 0
    sent: int = 0
    already_sent: int = 0
    skipped: int = 0  # unsubscribed or bounced while the mailing was under way
    deferred: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def had_failures(self) -> bool:
        return bool(self.failed or self.deferred)

    def summary(self) -> str:
        line = (
            f"{self.mailing_id}: {self.sent} sent now, {self.already_sent} sent before, "
            f"{len(self.deferred)} deferred, {len(self.failed)} failed"
        )
        if self.skipped:
            line += f", {self.skipped} skipped (no longer subscribed)"
        return line + f" of {self.total} recipients"


def mailing_id_for(month: str) -> str:
    return f"issue-{month}"


def queue_issue(db: Database, settings: Settings, rendered: RenderedIssue) -> str:
    """Create the mailing and a queued row for every active recipient who has none yet."""
    issue = rendered.issue
    mailing_id = mailing_id_for(issue.month)
    content_hash = issue.content_hash()
    mailings = db.table("mailings")
    existing = next(iter(mailings.rows_where("id = ?", [mailing_id])), None)
    now = clock.utc_iso()
    with transaction(db):
        if existing is None:
            mailings.insert(
                {
                    "id": mailing_id,
                    "kind": "issue",
                    "issue_month": issue.month,
                    "subject": issue.subject,
                    "content_hash": content_hash,
                    "status": "sending",
                    "created_at": now,
                    "started_at": now,
                }
            )
        elif existing["content_hash"] != content_hash and _count(db, mailing_id, "sent"):
            raise NewsletterError(
                f"issue {issue.month} was already sent to {_count(db, mailing_id, 'sent')} people "
                "with other content; undo the edits to finish the same issue, or start a new one"
            )
        rows = []
        for person in active_recipients(db):
            rows.append(
                {
                    "mailing_id": mailing_id,
                    "subscriber_id": person.id,
                    "email": person.email,
                    "variant": rendered.variant_for(person.province).key,
                    "status": "queued",
                    "message_id": message_id(settings, mailing_id, person.id),
                    "attempts": 0,
                    "queued_at": now,
                }
            )
        db.table("deliveries").insert_all(rows, ignore=True)
    return mailing_id


def _count(db: Database, mailing_id: str, status: str) -> int:
    return db.table("deliveries").count_where("mailing_id = ? and status = ?", [mailing_id, status])


def send_issue(
    db: Database,
    settings: Settings,
    rendered: RenderedIssue,
    transport: Transport,
    progress: Progress | None = None,
) -> SendReport:
    """Send every queued (or in-doubt) message of the issue; sent rows are never sent again."""
    mailing_id = queue_issue(db, settings, rendered)
    report = SendReport(mailing_id)
    deliveries = db.table("deliveries")
    report.total = deliveries.count_where("mailing_id = ?", [mailing_id])
    report.already_sent = _count(db, mailing_id, "sent")
    pending = list(
        deliveries.rows_where(
            "mailing_id = ? and status in ('queued', 'sending', 'deferred')",
            [mailing_id],
            order_by="id",
        )
    )
    skeletons: dict[str, Skeleton] = {}
    if pending:
        transport.open()
    try:
        for row in pending:
            person = db.table("subscribers").get(row["subscriber_id"])
            if person["status"] != "active":
                _mark(db, row["id"], "skipped", f"subscriber is {person['status']}")
                report.skipped += 1
                continue
            variant = row["variant"]
            if variant not in skeletons:
                skeletons[variant] = make_skeleton(
                    settings, rendered.issue.subject, rendered.variants[variant]
                )
            recipient = Recipient(
                email=person["email"],
                name=person["name"],
                salutation=person["salutation"] or f"Beste {person['name']}",
                unsubscribe_url=f"{settings.base_url}/afmelden/"
                f"{make_token(settings, UNSUBSCRIBE, person['id'])}",
                preferences_url=f"{settings.base_url}/voorkeuren/"
                f"{make_token(settings, PREFERENCES, person['id'])}",
                message_id=row["message_id"],
            )
            data = skeletons[variant].build(recipient)
            _mark(db, row["id"], "sending", attempts=row["attempts"] + 1)
            try:
                reply = transport.send(
                    Envelope(settings.sender_address, person["email"], row["message_id"]), data
                )
            except TransportError as exc:
                status = "failed" if exc.permanent else "deferred"
                _mark(db, row["id"], status, exc.reply)
                (report.failed if exc.permanent else report.deferred).append(
                    (person["email"], exc.reply)
                )
            else:
                _mark(db, row["id"], "sent", reply, sent=True)
                report.sent += 1
            if progress:
                progress(1)
    finally:
        transport.close()
    _finish(db, mailing_id)
    return report


def _mark(
    db: Database,
    row_id: int,
    status: str,
    reply: str | None = None,
    attempts: int | None = None,
    sent: bool = False,
) -> None:
    """One committed state change of one ledger row."""
    values: dict[str, object] = {"status": status}
    if reply is not None:
        values["last_reply"] = reply[:500]
    if attempts is not None:
        values["attempts"] = attempts
        values["sending_at"] = clock.utc_iso()
    if sent:
        values["sent_at"] = clock.utc_iso()
    with transaction(db):
        db.table("deliveries").update(row_id, values)


def _finish(db: Database, mailing_id: str) -> None:
    open_rows = db.table("deliveries").count_where(
        "mailing_id = ? and status in ('queued', 'sending', 'deferred')", [mailing_id]
    )
    if open_rows:
        return
    failed = _count(db, mailing_id, "failed")
    with transaction(db):
        db.table("mailings").update(
            mailing_id,
            {"status": "sent-with-failures" if failed else "sent", "finished_at": clock.utc_iso()},
        )
