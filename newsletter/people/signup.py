"""Sign-up with double opt-in, for people not on a griffie list (griffie staff, for instance).

The request makes a `pending` subscriber and mails a signed link that expires; only the click
(a POST from the page it opens: link scanners only GET) makes them active. Consent is recorded:
which text, when, from where.
"""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError
from sqlite_utils import Database

from newsletter import clock
from newsletter.addresses import canonical_address
from newsletter.config import Settings
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


class SignupError(NewsletterError):
    """What the reader typed cannot be used; the message is Dutch, for the form."""


@dataclass(frozen=True)
class Signup:
    subscriber_id: int | None  # None: nothing to confirm (already subscribed, or refused)
    email: str


def request_signup(
    db: Database, settings: Settings, name: str, address: str, province: str | None, source: str
) -> Signup:
    """Record a pending sign-up and mail the confirmation link; refusals look the same outside."""
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
    known = rows.find_by_email(db, email)
    # Someone who was forgotten, bounced or is already subscribed gets no mail; the page they
    # see is the same, so the form tells nobody who is on the list.
    if rows.find_suppression(db, settings, email) is not None or (
        known and known.status in {"active", "paused", "bounced", "erased"}
    ):
        return Signup(None, email)
    now = clock.utc_iso()
    with transaction(db):
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
        audit.record(
            db,
            "web",
            "subscribe-request",
            f"subscriber:{subscriber_id}",
            consent=CONSENT_VERSION,
            source=source,
        )
    send_confirmation(settings, subscriber_id, name, email)
    return Signup(subscriber_id, email)


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


def confirm_signup(db: Database, subscriber_id: int) -> bool:
    """Pending becomes active, consent time recorded; True when this changed anything."""
    with transaction(db):
        changed = rows.confirm(db, subscriber_id, CONSENT_VERSION, clock.utc_iso())
        if changed:
            audit.record(
                db,
                "web",
                "subscribe-confirm",
                f"subscriber:{subscriber_id}",
                consent=CONSENT_VERSION,
            )
    return changed
