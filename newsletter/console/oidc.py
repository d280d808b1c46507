"""Signing in with the organisation's account: OpenID Connect (authorization code) via Authlib.

Authlib sends the staff member to the provider (state and nonce in the signed session cookie),
exchanges the code and checks the ID token (issuer, audience, nonce, signature against the
provider's keys). Who that is here, and with which roles, staff.single_sign_on decides.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Blueprint, Flask, current_app, redirect, render_template, request, session
from flask import url_for as flask_url_for

from newsletter.config import Settings
from newsletter.configread import OIDC_SECRET_ENV
from newsletter.console import auth, context
from newsletter.errors import ConfigError
from newsletter.staff.single_sign_on import SingleSignOnRefused, sign_in_with_claims

bp = Blueprint("oidc", __name__)
NEXT_KEY = "oidc_volgende"
KEY = "newsletter.oidc"

REFUSED = {
    "unverified": (
        "Uw organisatieaccount gaf geen bevestigd e-mailadres door, dus we weten niet wie u "
        "bent. Vraag een beheerder van de nieuwsbrief om hulp."
    ),
    "domain": (
        "Met dit account kunt u hier niet inloggen: alleen organisatieaccounts met een "
        "e-mailadres van {domain} hebben toegang."
    ),
    "role": (
        "Uw organisatieaccount heeft geen rol in de nieuwsbrief: u zit niet in een groep die "
        "toegang geeft. Vraag een beheerder om u aan de juiste groep toe te voegen."
    ),
    "disabled": "Uw account is uitgeschakeld. Vraag een beheerder van de nieuwsbrief om hulp.",
}
FAILED = (
    "Inloggen met uw organisatieaccount is niet gelukt. Probeer het opnieuw, of log in met "
    "uw e-mailadres en wachtwoord."
)


def init(app: Flask, settings: Settings) -> None:
    """Register the OIDC sign-in when [console.oidc] is set; its client secret must be too."""
    oidc = settings.console.oidc
    if oidc is None:
        return
    if not oidc.client_secret:
        raise ConfigError(
            f"[console.oidc] is set but {OIDC_SECRET_ENV} is not: set it to the client secret "
            "of the console's app registration (or use --env-file)"
        )
    oauth = OAuth(app)
    oauth.register(
        "provider",
        client_id=oidc.client_id,
        client_secret=oidc.client_secret,
        server_metadata_url=f"{oidc.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": oidc.scope, "timeout": 10},
    )
    app.extensions[KEY] = oauth
    app.register_blueprint(bp)


def enabled() -> bool:
    """Whether the sign-in page offers the organisation's account."""
    return KEY in current_app.extensions


def _client() -> Any:
    return current_app.extensions[KEY].provider


def _callback_url() -> str:
    """Where the provider sends the staff member back: under [console] base_url when set (the
    address behind the proxy, registered with the provider), else this request's host."""
    base = context.settings().console.base_url
    if base:
        return base + flask_url_for("oidc.callback")[len(request.script_root) :]
    return flask_url_for("oidc.callback", _external=True)


@bp.get("/oidc/inloggen")
def start() -> Any:
    if auth.current() is not None:
        return redirect(flask_url_for("pages.overview"))
    session[NEXT_KEY] = request.args.get("volgende", "")
    try:
        return _client().authorize_redirect(_callback_url())
    except (OAuthError, requests.RequestException, ValueError) as exc:
        current_app.logger.warning("OIDC sign-in could not start: %s", exc)
        return _page(FAILED, 502)


@bp.get("/oidc/callback")
def callback() -> Any:
    nxt = str(session.pop(NEXT_KEY, "") or "")
    try:
        token = _client().authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        oidc = context.settings().console.oidc
        assert oidc is not None  # the blueprint exists only with it
        if oidc.claim not in claims or "email" not in claims:
            # Some providers put claims only in the userinfo answer, not in the ID token.
            claims = {**_client().userinfo(token=token), **claims}
    except (OAuthError, requests.RequestException, ValueError, KeyError) as exc:
        current_app.logger.warning("OIDC sign-in failed: %s", exc)
        return _page(FAILED, 401)
    db = context.db()
    try:
        account = sign_in_with_claims(db, claims, oidc, request.remote_addr or "unknown")
    except SingleSignOnRefused as refused:
        return _page(REFUSED[refused.reason].format(domain=oidc.allowed_domain), 403)
    return auth.begin_session(db, account, nxt)


def _page(problem: str, status: int) -> tuple[str, int]:
    return render_template(
        "signin.html.j2", problem=problem, notice="", email="", volgende=""
    ), status
