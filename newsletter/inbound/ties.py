"""Tying a bounce or complaint report to the delivery of ours it is about, and how we know.

First the signed VERP address the report was sent to (a forged or unknown token: refused,
nothing changes), then our Message-ID in the returned headers, then Final-Recipient against the
deliveries of a recent mailing (evidence, not proof: it never ends a subscription by itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.inbound.classify import Finding, Verdict
from newsletter.store import inbound
from newsletter.tokens import read_bounce_address

RECENT_MAILING_DAYS = 45  # Final-Recipient is matched against the deliveries of this many days
PROOF = ("verp", "message-id")  # ties that prove the report is about a delivery we made


@dataclass(frozen=True)
class Tie:
    """The delivery a finding is about, and how we know."""

    delivery_id: int
    subscriber_id: int
    mailing_id: str
    email: str
    how: str  # verp, message-id, final-recipient


def _tie(delivery: inbound.DeliveryRef | None, how: str) -> Tie | None:
    if delivery is None:
        return None
    return Tie(delivery.id, delivery.subscriber_id, delivery.mailing_id, delivery.email, how)


def _ours(settings: Settings, address: str) -> bool:
    """Is address one of our VERP bounce addresses (bounces+...@domain), genuine or not?"""
    base = settings.delivery.bounce_address.lower()
    if not base or "@" not in address:
        return False
    local, _, domain = address.lower().partition("@")
    base_local, _, base_domain = base.partition("@")
    return domain == base_domain and local.startswith(base_local + "+")


def tie_report(
    db: Database, settings: Settings, verdict: Verdict, now: datetime
) -> tuple[Tie | None, str]:
    """The one delivery the whole report names (VERP, then Message-ID), or None and why not.

    A refusal reason starting with "refused" means the report must change nothing at all.
    """
    if _ours(settings, verdict.envelope_to):
        delivery_id = read_bounce_address(settings, verdict.envelope_to)
        if delivery_id is None:
            return None, f"refused: forged bounce address {verdict.envelope_to}"
        tie = _tie(inbound.delivery_by_id(db, delivery_id), "verp")
        if tie is None:
            return None, f"refused: bounce address names no delivery ({delivery_id})"
        return tie, ""
    if verdict.original_message_id:
        tie = _tie(inbound.delivery_by_message_id(db, verdict.original_message_id), "message-id")
        if tie is not None:
            return tie, ""
    return None, ""


def tie_recipient(db: Database, recipient: str, now: datetime) -> Tie | None:
    """The latest delivery to recipient in a mailing of the last RECENT_MAILING_DAYS days."""
    if not recipient:
        return None
    since = now - timedelta(days=RECENT_MAILING_DAYS)
    return _tie(inbound.latest_delivery_to(db, recipient, since), "final-recipient")


def tie_findings(
    db: Database, settings: Settings, verdict: Verdict, wanted: tuple[str, ...], now: datetime
) -> tuple[list[tuple[Finding, Tie]], str]:
    """Each finding of a class in wanted with the delivery it is about; untied ones dropped."""
    findings = [f for f in verdict.findings if f.bounce_class in wanted]
    tie, refusal = tie_report(db, settings, verdict, now)
    if refusal:
        return [], refusal
    if tie is not None:
        own = [f for f in findings if f.recipient == tie.email.lower()]
        chosen = own or sorted(findings, key=lambda f: f.bounce_class != "hard")[:1]
        if not chosen:
            return [], "names no failed recipient: nothing changed"
        return [(f, tie) for f in chosen], ""
    pairs = []
    for finding in findings:
        by_recipient = tie_recipient(db, finding.recipient, now)
        if by_recipient is not None:
            pairs.append((finding, by_recipient))
    return pairs, "" if pairs else "names no delivery of ours: nothing changed"
