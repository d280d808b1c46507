"""Mail sign-in with OAuth2 (Microsoft 365, where IMAP and SMTP take no password): an access
token by the client-credentials flow from the [oauth2] token endpoint, and XOAUTH2.

The token is kept in this process until shortly before it expires (REFRESH_MARGIN), so the
connections of a send and the mailbox fetch of a tick ask the endpoint once; threads share it.
`sign_in` tries a cached token, and when the server refuses it (revoked, expired early) forgets
it and tries once more with a fresh one; a fresh token refused, a wrong secret or an endpoint
that cannot be reached each raise OAuth2Error: one line saying what failed and what to do.

Token lifetimes are real elapsed time at the provider, so the cache reads time.monotonic, not
clock.now (which --now may fix to another day).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from base64 import urlsafe_b64encode
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from newsletter.errors import ConfigError
from newsletter.settings import OAuth2

SECRET_ENV = "NEWSLETTER_OAUTH2_SECRET"
REFRESH_MARGIN = 120.0  # seconds before expiry a token is no longer handed out
TIMEOUT = 20.0
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class OAuth2Error(ConfigError):
    """No token, or a token the mail server refused: the message says what to fix."""


class Refused(Exception):
    """Raised by a sign-in attempt when the server refuses the token (its reply in the text)."""


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic()


_cache: dict[tuple[str, str, str], _Token] = {}
_lock = threading.Lock()
_monotonic: Callable[[], float] = time.monotonic


def _key(config: OAuth2) -> tuple[str, str, str]:
    return (config.token_url, config.client_id, config.scope)


def access_token(config: OAuth2) -> tuple[str, bool]:
    """A valid access token and whether it came from the cache (else fresh from the endpoint)."""
    with _lock:
        cached = _cache.get(_key(config))
        if cached is not None and _monotonic() < cached.expires_at - REFRESH_MARGIN:
            return cached.value, True
        token = _request_token(config)
        _cache[_key(config)] = token
        return token.value, False


def forget(config: OAuth2) -> None:
    """Drop the cached token (the server refused it): the next one is fetched fresh."""
    with _lock:
        _cache.pop(_key(config), None)


def sign_in(config: OAuth2, attempt: Callable[[str], None], server: str, user: str) -> None:
    """Call attempt(token) until the server takes a token: a cached one it refuses is replaced
    by a fresh one once; a fresh one it refuses raises OAuth2Error."""
    token, cached = access_token(config)
    try:
        attempt(token)
        return
    except Refused as exc:
        if not cached:
            raise _refused(config, server, user, str(exc)) from None
    forget(config)
    token, _ = access_token(config)
    try:
        attempt(token)
    except Refused as exc:
        raise _refused(config, server, user, str(exc)) from None


def _refused(config: OAuth2, server: str, user: str, reply: str) -> OAuth2Error:
    rights = "IMAP.AccessAsApp" if server.startswith("IMAP") else "SMTP.SendAsApp"
    return OAuth2Error(
        f"{server} refused the OAuth2 token of client {config.client_id} for {user} "
        f"({reply.strip() or 'no reason given'}); the token is expired or revoked, or the app "
        f"may not use this mailbox: check its {rights} permission and its access to {user}"
    )


def xoauth2(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Microsoft and Google define it."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def _request_token(config: OAuth2) -> _Token:
    import requests

    form = {"grant_type": "client_credentials", "client_id": config.client_id}
    if config.scope:
        form["scope"] = config.scope
    if config.certificate:
        form["client_assertion_type"] = ASSERTION_TYPE
        form["client_assertion"] = client_assertion(config)
    elif config.secret:
        form["client_secret"] = config.secret
    else:
        raise OAuth2Error(
            f"OAuth2 sign-in to mail as client {config.client_id} needs its secret: set "
            f"{SECRET_ENV}, or name a certificate in [oauth2] certificate"
        )
    started = _monotonic()
    try:
        response = requests.post(config.token_url, data=form, timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise OAuth2Error(
            f"cannot reach the OAuth2 token endpoint {config.token_url} ({_why(exc)}); check "
            "[oauth2] tenant or token_url, and that this machine can reach it"
        ) from None
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    token, lifetime = answer.get("access_token"), answer.get("expires_in", 3600)
    if response.status_code != 200 or not isinstance(token, str) or not token:
        error = str(answer.get("error") or f"HTTP {response.status_code}")
        detail = str(answer.get("error_description") or "").splitlines()[0:1]
        reason = f"{error}: {detail[0]}" if detail else error
        fix = (
            f"check [oauth2] client_id and {SECRET_ENV} (or the certificate)"
            if error in {"invalid_client", "unauthorized_client"} or response.status_code == 401
            else "check [oauth2] client_id, scope and the app registration"
        )
        raise OAuth2Error(
            f"the OAuth2 token endpoint {config.token_url} refused client "
            f"{config.client_id} ({reason}); {fix}"
        )
    try:
        seconds = float(lifetime)
    except (TypeError, ValueError):
        seconds = 3600.0
    return _Token(token, started + seconds)


def _why(exc: Exception) -> str:
    text = str(exc)
    for words in ("Connection refused", "timed out", "Name or service not known", "SSL"):
        if words.lower() in text.lower():
            return words.lower()
    return type(exc).__name__


def client_assertion(config: OAuth2) -> str:
    """A JWT signed with the app's private key (RFC 7523), as Microsoft Entra ID takes instead
    of a secret: x5t names the certificate uploaded to the app registration."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

    try:
        pem = Path(config.certificate).read_bytes()
        certificate = x509.load_pem_x509_certificate(pem)
        key = load_pem_private_key(pem, password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise OAuth2Error(
            f"[oauth2] certificate {config.certificate}: cannot read it ({exc}); give one PEM "
            "file with the app's private key (unencrypted) and its certificate"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise OAuth2Error(
            f"[oauth2] certificate {config.certificate}: the private key is not an RSA key; "
            "Microsoft Entra ID takes RSA certificates (RS256)"
        )
    der = certificate.public_bytes(Encoding.DER)
    thumbprint = hashlib.sha1(der).digest()
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "x5t": _b64(thumbprint)}
    claims = {
        "aud": config.token_url,
        "iss": config.client_id,
        "sub": config.client_id,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    }
    signing_input = ".".join(
        _b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _b64(data: bytes) -> str:
    return urlsafe_b64encode(data).decode("ascii").rstrip("=")
