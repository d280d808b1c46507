"""Issue mailings: queue the audience, build each person's message, hand both to the engine.

`deliver_issue` sends a rendered issue as it is given; the use case that decides what may be
sent (the approved version, checked) is `newsletter.outbound.send.send_issue`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.mail.messages import Recipient, Skeleton, make_skeleton, message_id
from newsletter.outbound import ledger
from newsletter.outbound.delivery import (
    Progress,
    SendOptions,
    SendReport,
    TransportFactory,
    deliver_mailing,
)
from newsletter.people.segments import parse_segment, recipients
from newsletter.render.issue import RenderedIssue
from newsletter.store import mailings
from newsletter.tokens import PREFERENCES, UNSUBSCRIBE, make_token


def mailing_id_for(month: str) -> str:
    """The mailing of an issue month."""
    return mailings.issue_mailing_id(month)


class IssueMessages:
    """Per variant one skeleton, made on first use; per recipient only substitution."""

    def __init__(self, settings: Settings, rendered: RenderedIssue) -> None:
        self.settings, self.rendered = settings, rendered
        self.skeletons: dict[str, Skeleton] = {}

    def build(self, row: dict[str, object], person: dict[str, object]) -> bytes:
        variant = str(row["variant"])
        skeleton = self.skeletons.get(variant)
        if skeleton is None:
            skeleton = make_skeleton(
                self.settings, self.rendered.issue.subject, self.rendered.variant(variant)
            )
            self.skeletons[variant] = skeleton
        subscriber_id = int(str(person["id"]))
        base = self.settings.base_url
        unsubscribe = make_token(self.settings, UNSUBSCRIBE, subscriber_id)
        return skeleton.build(
            Recipient(
                email=str(person["email"]),
                name=str(person["name"]),
                salutation=str(person["salutation"] or f"Beste {person['name']}"),
                unsubscribe_url=f"{base}/afmelden/{unsubscribe}",
                preferences_url=f"{base}/voorkeuren/"
                f"{make_token(self.settings, PREFERENCES, subscriber_id)}",
                message_id=str(row["message_id"]),
            )
        )


def queue_issue(db: Database, settings: Settings, rendered: RenderedIssue) -> str:
    """The issue's mailing, with a queued row for every active recipient who has none yet."""
    issue = rendered.issue
    mailing_id = mailing_id_for(issue.month)
    content_hash = issue.content_hash()
    mailing = ledger.create_mailing(
        db, mailing_id, "issue", issue.subject, content_hash, issue.month
    )
    if mailing.content_hash != content_hash:
        sent = ledger.count(db, mailing_id, "sent", "sending", "in-doubt")
        if sent:
            raise NewsletterError(
                f"issue {issue.month} was already sent to {sent} people (counting those in "
                "doubt) with other content; undo the edits to finish the same issue, or start "
                "a new one"
            )
        mailings.set_content_hash(db, mailing_id, content_hash)
    if mailing.status in mailings.FINISHED:
        return mailing_id  # finished: nobody new is added to a sent issue
    now = clock.utc_iso()
    ledger.queue(
        db,
        (
            {
                "mailing_id": mailing_id,
                "subscriber_id": person.id,
                "email": person.email,
                "variant": rendered.variant_key(
                    person.province, person.themes, person.email, person.roles
                ),
                "status": "queued",
                "message_id": message_id(settings, mailing_id, person.id),
                "attempts": 0,
                "queued_at": now,
            }
            for person in recipients(db, parse_segment(issue.audience, settings), issue.date)
        ),
    )
    return mailing_id


def deliver_issue(
    db: Database,
    settings: Settings,
    rendered: RenderedIssue,
    factory: TransportFactory,
    options: SendOptions | None = None,
    progress: Progress | None = None,
    on_queued: Callable[[], object] | None = None,
) -> SendReport:
    """Send the issue to everyone who has not had it; a rerun sends nothing twice.

    `on_queued` runs under the mailing's lock as soon as the mailing exists, before anything
    is sent (the workflow records "sending" there)."""
    mailing_id = mailing_id_for(rendered.issue.month)

    def prepare() -> None:
        queue_issue(db, settings, rendered)
        if on_queued is not None:
            on_queued()

    return deliver_mailing(
        db,
        settings,
        mailing_id,
        IssueMessages(settings, rendered),
        factory,
        options,
        progress,
        prepare=prepare,
    )
