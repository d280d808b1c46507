"""Signed tokens for the links in mail (itsdangerous); several keys allow rotation."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from datetime import UTC

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

from newsletter.config import Settings, require_secret

UNSUBSCRIBE = "afmelden"
PREFERENCES = "voorkeuren"
PROGRAMME = "inwerkprogramma"  # stop one onboarding sequence, keep the newsletter (issue #16)


def programme_purpose(sequence: str) -> str:
    """The purpose of a link that stops this sequence only: a token for one sequence (or an
    unsubscribe or preferences token) does not work for another."""
    return f"{PROGRAMME}/{sequence}"


# `newsletter doctor` POSTs the one-click unsubscribe with a token of this purpose for id 0:
# signed like a real link, it names nobody, and the endpoint answers it without a change.
PROBE = "afmelden-proef"
PROBE_HEADER = "X-Newsletter-Probe"


def serializer(settings: Settings, purpose: str) -> URLSafeSerializer:
    return _serializer(require_secret(settings), purpose)


@functools.lru_cache(maxsize=16)
def _serializer(keys: tuple[str, ...], purpose: str) -> URLSafeSerializer:
    # itsdangerous signs with the last key and accepts all of them: NEWSLETTER_SECRET_KEY=OLD,NEW.
    # Made once per key set: two tokens per recipient are on the sending hot path.
    return URLSafeSerializer(list(keys), salt=f"newsletter.{purpose}")


def make_token(settings: Settings, purpose: str, subscriber_id: int) -> str:
    return str(serializer(settings, purpose).dumps(subscriber_id))


def read_token(settings: Settings, purpose: str, token: str) -> int | None:
    """The subscriber id in a token, or None when it is forged, damaged or for another purpose."""
    try:
        value = serializer(settings, purpose).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def _bounce_signature(settings: Settings, delivery_id: int) -> str:
    key = require_secret(settings)[-1].encode()
    digest = hmac.new(key, f"bounce/{delivery_id}".encode(), hashlib.sha256).hexdigest()
    return digest[:10]


def bounce_address(settings: Settings, delivery_id: int) -> str:
    """The envelope sender of one delivery: bounces+<id>-<signature>@domain (VERP).

    A bounce to it names exactly one delivery; the signature makes forged bounces detectable.
    """
    local, _, domain = settings.delivery.bounce_address.partition("@")
    return f"{local}+{delivery_id}-{_bounce_signature(settings, delivery_id)}@{domain}"


def read_bounce_address(settings: Settings, address: str) -> int | None:
    """The delivery id in a VERP address we made, or None when it is not ours or forged."""
    local, _, domain = address.strip().strip("<>").lower().partition("@")
    base_local, _, base_domain = settings.delivery.bounce_address.lower().partition("@")
    match = re.fullmatch(rf"{re.escape(base_local)}\+(\d+)-([0-9a-f]{{10}})", local)
    if not match or domain != base_domain:
        return None
    delivery_id = int(match[1])
    for key in require_secret(settings):  # any key still in rotation
        digest = hmac.new(key.encode(), f"bounce/{delivery_id}".encode(), hashlib.sha256)
        if hmac.compare_digest(digest.hexdigest()[:10], match[2]):
            return delivery_id
    return None


CONFIRM = "bevestigen"
CONFIRM_MAX_AGE = 72 * 3600  # a sign-up confirmation link works for three days


@functools.lru_cache(maxsize=16)
def _timed(keys: tuple[str, ...], purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(keys), salt=f"newsletter.{purpose}")


def make_timed_token(settings: Settings, purpose: str, subscriber_id: int) -> str:
    return str(_timed(require_secret(settings), purpose).dumps(subscriber_id))


def read_timed_token_issued(
    settings: Settings, purpose: str, token: str, max_age: int
) -> tuple[int, str] | None:
    """The id in a genuine token younger than max_age seconds, and when it was issued (UTC ISO,
    by the wall clock, as itsdangerous reads it); else None."""
    try:
        value, issued = _timed(require_secret(settings), purpose).loads(
            token, max_age=max_age, return_timestamp=True
        )
    except BadSignature:
        return None
    if not isinstance(value, int):
        return None
    return value, issued.astimezone(UTC).isoformat(timespec="seconds")


def read_timed_token(settings: Settings, purpose: str, token: str, max_age: int) -> int | None:
    """The id in a token that is genuine and younger than max_age seconds, else None."""
    try:
        value = _timed(require_secret(settings), purpose).loads(token, max_age=max_age)
    except BadSignature:  # SignatureExpired is a BadSignature too
        return None
    return value if isinstance(value, int) else None
