"""Sign-up with double opt-in, for people not on a griffie list (griffie staff, for instance).

The request makes a `pending` subscriber and mails a signed link that expires; only the click
(a POST from the page it opens: link scanners only GET) makes them active. Consent is recorded:
which text, when, from where.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError
from sqlite_utils import Database

from newsletter import clock
from newsletter.addresses import canonical_address
from newsletter.config import Settings, require_secret
from newsletter.errors import HeaderError, NewsletterError
from newsletter.headers import check_header_value
from newsletter.mail.compose import compose
from newsletter.outbound.transports import Envelope, send_one
from newsletter.store import audit, transaction
from newsletter.store import subscribers as rows
from newsletter.store.subscribers import Details
from newsletter.tokens import CONFIRM, make_timed_token

CONSENT_VERSION = "aanmelden-2026-12"
CONSENT_TEXT = (
    "Ik wil de nieuwsbrief Statenleden van het IPO ontvangen. Het IPO bewaart daarvoor mijn naam, "
    "e-mailadres en provincie, en gebruikt ze alleen voor deze nieuwsbrief. Afmelden kan altijd, "
    "met de link onderaan elke nieuwsbrief."
)


PER_CLIENT_PER_HOUR = 5  # confirmation mails one client address may cause in an hour


class SignupError(NewsletterError):
    """What the reader typed cannot be used; the message is Dutch, for the form."""


@dataclass(frozen=True)
class Signup:
    subscriber_id: int | None  # None: nothing to confirm (already subscribed, or refused)
    email: str


def request_signup(
    db: Database,
    settings: Settings,
    name: str,
    address: str,
    province: str | None,
    source: str,
    client: str | None = None,
) -> Signup:
    """Record a pending sign-up and mail the confirmation link; refusals look the same outside.

    `client`: the address the request came from (web: the reader's IP). At most one mail per
    address per hour and PER_CLIENT_PER_HOUR per client, so the form cannot be used to flood a
    stranger's mailbox (issue #13); a request over a limit sends nothing and looks the same.
    """
    name = " ".join(name.split())
    if not name or len(name) > 120:
        raise SignupError("Vul uw naam in.")
    try:
        check_header_value(name, "naam")
    except HeaderError:
        raise SignupError("Uw naam bevat tekens die wij niet kunnen gebruiken.") from None
    try:
        email = canonical_address(address)
    except EmailNotValidError:
        raise SignupError("Dit e-mailadres klopt niet; controleer het.") from None
    if province and province not in settings.provinces:
        raise SignupError("Kies een provincie uit de lijst.")
    now = clock.utc_iso()
    hour_ago = clock.utc_iso(clock.now() - timedelta(hours=1))
    client_key = _client_key(settings, client) if client else None
    with transaction(db):  # the limits are checked and the request recorded under one lock
        known = rows.find_by_email(db, email)
        # Someone who was forgotten, bounced or is already subscribed gets no mail; the page
        # they see is the same, so the form tells nobody who is on the list.
        if rows.find_suppression(db, settings, email) is not None or (
            known and known.status in {"active", "paused", "bounced", "erased"}
        ):
            return Signup(None, email)
        if known and rows.signup_requests_since(db, hour_ago, subscriber_id=known.id):
            return Signup(None, email)  # one confirmation an hour is enough
        if client_key and (
            rows.signup_requests_since(db, hour_ago, client=client_key) >= PER_CLIENT_PER_HOUR
        ):
            return Signup(None, email)
        if known is None:
            details = Details(
                email,
                name,
                name.split(" ")[0],
                name.partition(" ")[2],
                f"Beste {name}",
                province or None,
            )
            subscriber_id = rows.add(
                db,
                details,
                status="pending",
                themes=(),
                source=source,
                consent_text=CONSENT_VERSION,
                created_at=now,
                updated_at=now,
            )
        else:
            # Someone known (pending, or unsubscribed earlier): nothing about them changes
            # until the owner of the address confirms; the mail uses the name we have.
            subscriber_id = known.id
            name = known.name
        extra = {"client": client_key} if client_key else {}
        audit.record(
            db,
            "web",
            "subscribe-request",
            f"subscriber:{subscriber_id}",
            consent=CONSENT_VERSION,
            source=source,
            **extra,
        )
    send_confirmation(settings, subscriber_id, name, email)
    return Signup(subscriber_id, email)


def _client_key(settings: Settings, client: str) -> str:
    """A client address as the audit log keeps it: keyed, so the log holds no IP address."""
    key = require_secret(settings)[-1].encode()
    return hmac.new(key, b"newsletter.client/" + client.encode(), hashlib.sha256).hexdigest()[:32]


def send_confirmation(settings: Settings, subscriber_id: int, name: str, email: str) -> None:
    """The one mail a pending subscriber gets: the link that confirms."""
    token = make_timed_token(settings, CONFIRM, subscriber_id)
    link = f"{settings.base_url}/aanmelden/bevestig/{token}"
    message = compose(
        settings,
        to_address=email,
        to_name=name,
        subject="Bevestig uw aanmelding voor de nieuwsbrief Statenleden",
        text=(
            f"Beste {name},\n\n"
            "U hebt zich aangemeld voor de nieuwsbrief Statenleden van het IPO. Bevestig dat met\n"
            f"deze link (drie dagen geldig):\n\n{link}\n\n"
            "Hebt u zich niet aangemeld? Dan hoeft u niets te doen: zonder bevestiging ontvangt u\n"
            "niets van ons.\n\n"
            f"Interprovinciaal Overleg\n{settings.sender_address}\n"
        ),
        auto_submitted="auto-generated",
    )
    send_one(
        settings.transport,
        settings.project,
        Envelope(settings.sender_address, email, str(message["Message-ID"])),
        message.as_bytes(),
    )


def confirm_signup(db: Database, subscriber_id: int, asked_at: str | None = None) -> bool:
    """Pending becomes active, consent time recorded; True when this changed anything.

    `asked_at`: when the link was issued; someone who unsubscribed after it stays unsubscribed.
    """
    with transaction(db):
        changed = rows.confirm(db, subscriber_id, CONSENT_VERSION, clock.utc_iso(), asked_at)
        if changed:
            audit.record(
                db,
                "web",
                "subscribe-confirm",
                f"subscriber:{subscriber_id}",
                consent=CONSENT_VERSION,
            )
    return changed
