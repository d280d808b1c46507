"""The console app: create_console(settings) for any WSGI server; serve() runs it under waitress."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from flask import Flask, render_template
from jinja2 import select_autoescape
from werkzeug.exceptions import HTTPException

from newsletter.config import Settings, load_settings, require_secret
from newsletter.console import (
    auth,
    bounces,
    content,
    context,
    csrf,
    inbox,
    issues,
    oidc,
    pages,
    people,
    people_import,
    programme,
    reports,
    sending,
)
from newsletter.console.finding_words import variant_name
from newsletter.console.log_words import log_details, log_subject
from newsletter.console.people_words import CHANGE_PEOPLE, SEE_PEOPLE
from newsletter.console.plan_words import plan_text
from newsletter.console.present import (
    DELIVERY_STATES,
    MAILING_STATES,
    action,
    history_details,
    issue_of,
    issue_state,
    issue_title,
    mailing_name,
    moment,
    names_in,
    problem,
    server_reply,
    who,
)
from newsletter.dates import nl_date, nl_time
from newsletter.wsgi import mounted

HERE = Path(__file__).resolve().parent
COOKIE = "nieuwsbrief_console"
TITLES = {
    400: ("Dit verzoek klopt niet", "De pagina kreeg iets wat ze niet verwachtte."),
    401: ("Log eerst in", "Deze pagina is alleen voor ingelogde medewerkers."),
    403: ("Geen toegang", "Uw account heeft geen rol die deze pagina mag openen."),
    404: ("Pagina niet gevonden", "Deze pagina bestaat niet (meer)."),
    405: ("Dat kan hier niet", "Deze pagina werkt niet op deze manier."),
    413: ("Te groot", "Wat u stuurde is te groot."),
    429: ("Even wachten", "Te veel verzoeken; probeer het over een kwartier opnieuw."),
}
CSRF_REFUSED = (
    "Het formulier was verlopen of kwam niet van deze pagina. Ga terug, laad de pagina "
    "opnieuw en probeer het nog eens."
)


def _secret(settings: Settings) -> tuple[str, list[str]]:
    """The console's own cookie key from each signing key (newest, then older for rotation)."""
    keys = [
        hashlib.sha256(f"newsletter.console/{k}".encode()).hexdigest()
        for k in require_secret(settings)
    ]
    return keys[-1], keys[:-1][::-1]


def create_console(settings: Settings | None = None) -> Flask:
    """The console for one instance (default: NEWSLETTER_PROJECT or the current folder)."""
    settings = settings or load_settings(os.environ.get("NEWSLETTER_PROJECT", "."))
    app = Flask(
        "newsletter.console",
        root_path=str(HERE),
        template_folder="templates",
        static_folder="static",
        static_url_path="/static",
    )
    app.jinja_env.autoescape = select_autoescape(["html", "j2"])
    key, fallbacks = _secret(settings)
    app.secret_key = key
    app.config.update(
        SECRET_KEY_FALLBACKS=fallbacks,
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_PATH=settings.console.path + "/",  # the console's own path only
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.console.base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=1024 * 1024,
        SEND_FILE_MAX_AGE_DEFAULT=3600,
    )
    app.extensions[context.KEY] = settings
    app.teardown_appcontext(context.close)
    csrf.protect(app)
    app.before_request(auth.load_account)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(content.bp)
    app.register_blueprint(issues.bp)
    app.register_blueprint(programme.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(people.bp)
    app.register_blueprint(people_import.bp)
    app.register_blueprint(bounces.bp)
    app.register_blueprint(sending.bp)
    oidc.init(app, settings)  # sign-in with the organisation's account, when configured
    app.jinja_env.globals.update(
        settings=settings,
        current_account=auth.current,
        oidc_enabled=oidc.enabled,
        nl_date=nl_date,
        nl_time=nl_time,
        moment=moment,
        issue_state=issue_state,
        problem_text=problem,
        action_name=action,
        delivery_states=DELIVERY_STATES,
        mailing_states=MAILING_STATES,
        menu_roles={"programme.index": programme.VIEW, "reports.index": reports.VIEW},
        see_people=SEE_PEOPLE,
        change_people=CHANGE_PEOPLE,
        mailing_name=mailing_name,
        issue_of=issue_of,
        issue_title=issue_title,
        variant_name=lambda name: variant_name(name, context.settings()),
        server_reply=server_reply,
        who=lambda value: who(context.db(), value),
        names_in=lambda text: names_in(context.db(), text),
        plan_text=plan_text,
        log_details=lambda name, details: log_details(context.db(), name, details),
        log_subject=lambda subject: log_subject(context.db(), subject),
        history_details=lambda name, details: history_details(context.db(), name, details),
    )

    @app.after_request
    def headers(response: Any) -> Any:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not response.headers.get("Cache-Control"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(HTTPException)
    def error(exc: HTTPException) -> tuple[str, int]:
        code = exc.code or 500
        title, text = TITLES.get(code, ("Er ging iets mis", "Probeer het later opnieuw."))
        if code == 403 and exc.description == "csrf":
            title, text = "Formulier geweigerd", CSRF_REFUSED
        return render_template("error.html.j2", code=code, title=title, text=text), code

    return app


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the console under waitress, at the path of [console] base_url."""
    from waitress import serve as waitress_serve

    options: dict[str, Any] = {"ident": "nieuwsbrief"}
    if settings.console.trusted_proxy:
        options.update(
            trusted_proxy=settings.console.trusted_proxy,
            trusted_proxy_headers={"x-forwarded-for", "x-forwarded-proto"},
            clear_untrusted_proxy_headers=True,
        )
    app = mounted(create_console(settings), settings.console.path, "de console")
    waitress_serve(app, host=host, port=port, **options)
