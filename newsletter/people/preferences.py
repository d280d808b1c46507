"""What a reader decides about their own mail: unsubscribe, themes, pause. Each change audited."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.store import audit, transaction
from newsletter.store import conversations as conversation_rows
from newsletter.store import subscribers as rows

# A reader can leave these states by their own choice; bounced and erased are not theirs.
CHOOSABLE = {"active", "paused", "pending", "unsubscribed"}


@dataclass(frozen=True)
class Reader:
    id: int
    email: str
    name: str
    status: str
    themes: tuple[str, ...]  # empty: every theme


def reader(db: Database, subscriber_id: int) -> Reader | None:
    """The reader with this subscriber id, or None."""
    row = rows.get(db, subscriber_id)
    if row is None:
        return None
    return Reader(row.id, row.email, row.name, row.status, row.themes)


def unsubscribe(
    db: Database, subscriber_id: int, actor: str, how: str, requested_at: str | None = None
) -> bool:
    """Unsubscribe; True when this changed anything (a replay changes nothing, audits nothing).

    `requested_at` (UTC, ISO): a request made earlier and written only now (queued while the
    store was busy); it changes nothing when the reader confirmed a sign-up after it.
    """
    with transaction(db):
        changed = rows.unsubscribe(
            db, subscriber_id, requested_at or clock.utc_iso(), unless_consent_after=requested_at
        )
        if changed:
            audit.record(db, actor, "unsubscribe", f"subscriber:{subscriber_id}", how=how)
    return changed


def set_preferences(
    db: Database,
    settings: Settings,
    subscriber_id: int,
    themes: Iterable[str],
    paused: bool,
    actor: str,
) -> Reader:
    """Themes (an empty choice means all) and pause; unknown themes are refused."""
    chosen = sorted(set(themes))
    unknown = [t for t in chosen if t not in settings.themes]
    if unknown:
        raise NewsletterError(
            f"unknown theme {', '.join(unknown)}; use {', '.join(settings.themes)}"
        )
    if sorted(chosen) == sorted(k for k, t in settings.themes.items() if t.bac):
        chosen = []  # everything ticked is the same as no choice: new BAC's come along too
    current = reader(db, subscriber_id)
    if current is None or current.status not in CHOOSABLE:
        raise NewsletterError("this subscription cannot be changed any more")
    status = current.status
    if current.status in {"active", "paused"}:
        status = "paused" if paused else "active"
    with transaction(db):
        rows.set_choices(db, subscriber_id, chosen, status, clock.utc_iso())
        if (tuple(chosen), status) != (current.themes, current.status):
            audit.record(
                db,
                actor,
                "preferences",
                f"subscriber:{subscriber_id}",
                themes=chosen,
                status=status,
            )
    updated = reader(db, subscriber_id)
    assert updated is not None
    return updated


def set_preferences_by_email(
    db: Database,
    settings: Settings,
    email: str,
    themes: str | None,
    paused: bool | None,
    actor: str,
) -> Reader:
    """Staff set a reader's themes ("a,b" or "all") and/or pause; unset ones stay as they are."""
    found = rows.find_by_email(db, email)
    if found is None:
        raise NewsletterError(
            f"{email}: no such subscriber; 'newsletter subscribers list' shows them"
        )
    current = reader(db, found.id)
    assert current is not None
    chosen = (
        current.themes
        if themes is None
        else (
            ()
            if themes.strip() == "all"
            else tuple(t.strip() for t in themes.split(",") if t.strip())
        )
    )
    if paused is not None and current.status not in {"active", "paused"}:
        what = "--pause" if paused else "--resume"
        hint = (
            "to subscribe them again: newsletter subscribers resubscribe EMAIL --reason TEXT"
            if current.status == "unsubscribed"
            else "newsletter subscribers show EMAIL says why"
        )
        raise NewsletterError(
            f"{found.email}: {what} changes only an active or paused subscription, this one "
            f"is {current.status}; {hint}"
        )
    pause = current.status == "paused" if paused is None else paused
    return set_preferences(db, settings, found.id, chosen, pause, actor)


def _staff_request(db: Database, email: str, reason: str, what: str) -> tuple[str, rows.Subscriber]:
    """The reason (one line) and the subscriber of a change staff make at someone's request;
    refused without a reason or for an unknown address."""
    reason = " ".join(reason.split())
    if not reason:
        raise NewsletterError(f"{what} needs a reason: what the person asked, when and how")
    found = rows.find_by_email(db, email)
    if found is None:
        raise NewsletterError(
            f"{email}: no such subscriber; 'newsletter subscribers list' shows them"
        )
    return reason, found


def resubscribe(
    db: Database, email: str, reason: str, actor: str, request: int | None = None
) -> Reader:
    """Staff subscribe someone again who unsubscribed by mistake, at their request: only with
    a reason (the note of what they asked), and the conversation it answers when there is one.

    Only an unsubscribed subscriber: a bounced address is undone with undo-bounce, an erased
    one is gone. Audited with the reason and the request; consent is recorded as given again.
    """
    reason, found = _staff_request(db, email, reason, "a re-subscription")
    if found.status != "unsubscribed":
        raise NewsletterError(
            f"{found.email} is {found.status}, not unsubscribed: nothing to re-subscribe"
            + ("; a wrong bounce is undone with undo-bounce" if found.status == "bounced" else "")
        )
    if request is not None and conversation_rows.get(db, request) is None:
        raise NewsletterError(f"--request {request}: no such conversation")
    now = clock.utc_iso()
    consent = f"opnieuw aangemeld door {actor}: {reason}"
    with transaction(db):
        if not rows.confirm(db, found.id, consent[:500], now):
            raise NewsletterError(f"{found.email}: the subscription changed meanwhile; try again")
        detail: dict[str, object] = {"reason": reason}
        if request is not None:
            detail["conversation"] = request
        audit.record(db, actor, "resubscribe", f"subscriber:{found.id}", **detail)
    updated = reader(db, found.id)
    assert updated is not None
    return updated


STAFF_UNSUBSCRIBABLE = {"active", "paused", "pending"}


def unsubscribe_on_request(
    db: Database, email: str, reason: str, actor: str, request: int | None = None
) -> Reader:
    """Staff unsubscribe someone at their own request ("haal mij van de lijst"): only with a
    reason (the note of what they asked), and the conversation it answers when there is one.

    The mirror of resubscribe. A conversation must be the person's own (someone is never
    unsubscribed on another's word: they can use the link in any issue themselves). Audited as
    an unsubscribe (how: staff) with the reason and the request, so reports count it.
    """
    reason, found = _staff_request(db, email, reason, "an unsubscribe by staff")
    if found.status not in STAFF_UNSUBSCRIBABLE:
        raise NewsletterError(
            f"{found.email} is {found.status}, not subscribed: nothing to unsubscribe"
        )
    if request is not None:
        conversation = conversation_rows.get(db, request)
        if conversation is None:
            raise NewsletterError(f"--request {request}: no such conversation")
        if conversation.subscriber_id != found.id:
            raise NewsletterError(
                f"--request {request}: that conversation is with "
                f"{conversation.correspondent_email}, not {found.email}; someone is "
                "unsubscribed only at their own request"
            )
    with transaction(db):
        if not rows.unsubscribe(db, found.id, clock.utc_iso()):
            raise NewsletterError(f"{found.email}: the subscription changed meanwhile; try again")
        detail: dict[str, object] = {"how": "staff", "reason": reason}
        if request is not None:
            detail["conversation"] = request
        audit.record(db, actor, "unsubscribe", f"subscriber:{found.id}", **detail)
    updated = reader(db, found.id)
    assert updated is not None
    return updated
