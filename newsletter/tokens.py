"""Signed tokens for the links in mail (itsdangerous); several keys allow rotation."""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from .config import Settings, require_secret

UNSUBSCRIBE = "afmelden"
PREFERENCES = "voorkeuren"


def serializer(settings: Settings, purpose: str) -> URLSafeSerializer:
    # itsdangerous signs with the last key and accepts all of them: NEWSLETTER_SECRET_KEY=OLD,NEW.
    return URLSafeSerializer(list(require_secret(settings)), salt=f"newsletter.{purpose}")


def make_token(settings: Settings, purpose: str, subscriber_id: int) -> str:
    return str(serializer(settings, purpose).dumps(subscriber_id))


def read_token(settings: Settings, purpose: str, token: str) -> int | None:
    """The subscriber id in a token, or None when it is forged, damaged or for another purpose."""
    try:
        value = serializer(settings, purpose).loads(token)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None
