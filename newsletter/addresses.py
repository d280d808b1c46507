"""E-mail addresses: the one normalisation every lookup uses, the stored form, the keyed hash.

Foundation: store/ normalises with normalise_email before every lookup by address, so
"find a subscriber by e-mail" means the same thing everywhere.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from email_validator import EmailNotValidError, validate_email

from newsletter.config import Settings, require_secret


def normalise_email(raw: str) -> str:
    """Trim, NFKC and lowercase an address (we never rely on case-sensitive local parts)."""
    return unicodedata.normalize("NFKC", raw).strip().lower()


def canonical_address(raw: str) -> str:
    """The address as we store and send it, or EmailNotValidError (the caller words it).

    ASCII only: a non-ASCII local part needs SMTPUTF8, which relays do not all offer, and an
    internationalised domain is kept in its punycode (xn--) form, which every header can carry.
    A quoted local part ("jan.de vries"@example.nl) is valid and accepted, but not one with a
    backslash escape in it: what needs escaping is no address a person really has.
    """
    normalised = normalise_email(raw)
    if "\\" in normalised.rpartition("@")[0]:
        raise EmailNotValidError("the part before the @ holds a backslash")
    result = validate_email(
        normalised, check_deliverability=False, allow_smtputf8=False, allow_quoted_local=True
    )
    return str(result.ascii_email).lower()


def email_hashes(settings: Settings, address: str) -> tuple[str, ...]:
    """The suppression key of an address under every secret key in rotation, newest last.

    Keyed (HMAC-SHA256), so the list of hashes cannot be turned back into addresses by hashing
    guesses without the instance's secret key.
    """
    message = b"newsletter.suppression/" + normalise_email(address).encode()
    return tuple(
        hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
        for key in require_secret(settings)
    )


def email_hash(settings: Settings, address: str) -> str:
    """The suppression key to store: a person can be refused later without keeping their address."""
    return email_hashes(settings, address)[-1]
