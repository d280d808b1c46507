"""The public web endpoints (Flask app factory, any WSGI server; `newsletter serve` for one).

/afmelden/<token>    GET: a page with one button, never unsubscribes (mail scanners prefetch
                     links); POST: unsubscribes, the page's button and RFC 8058 one-click alike
                     (urlencoded or multipart, no cookies, 200 without a redirect).
/voorkeuren/<token>  themes and pause (CSRF-protected form)
/archief/            sent issues, each web version, its .ics files, and an Atom feed
Tokens are signed per purpose (tokens.py); a bad one gets a friendly 400 page, never a 500.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
from io import BytesIO
from ipaddress import IPv4Network, IPv6Network, ip_address
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from flask import Flask, abort, g, redirect, request, send_file, session
from sqlite_utils import Database
from werkzeug.exceptions import HTTPException

from newsletter import clock, store
from newsletter.config import Settings, load_settings, require_secret
from newsletter.errors import NewsletterError
from newsletter.issues.archive import archived_issues
from newsletter.issues.files import MONTH
from newsletter.people import unsubscribe_queue
from newsletter.people.preferences import reader, set_preferences, unsubscribe
from newsletter.people.signup import CONSENT_TEXT, SignupError, confirm_signup, request_signup
from newsletter.render.issue import WEB, item_ics
from newsletter.render.web import archive_page, render_page, signup_page, web_environment
from newsletter.sources.catalog import row_to_item
from newsletter.store import workflow as frozen_versions
from newsletter.store.busy import is_locked, with_retries
from newsletter.store.items import announced_calendar_item
from newsletter.store.reports import SentIssue
from newsletter.tokens import (
    CONFIRM,
    CONFIRM_MAX_AGE,
    PREFERENCES,
    UNSUBSCRIBE,
    make_token,
    read_timed_token_issued,
    read_token,
)

BAD_LINK = 400


def create_app(settings: Settings | None = None) -> Flask:
    """The app for one instance (default: NEWSLETTER_PROJECT or the current folder)."""
    settings = settings or load_settings(os.environ.get("NEWSLETTER_PROJECT", "."))
    app = Flask(__name__, template_folder=str(settings.templates_dir / "web"), static_folder=None)
    app.secret_key = require_secret(settings)[-1]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    pages = web_environment(settings)  # render/web.py: the same pages preflight checks

    def db() -> Database:
        if "db" not in g:
            g.db = store.open_store(settings)
        db_: Database = g.db
        return db_

    @app.before_request
    def replay_queued() -> None:
        """Unsubscribes queued while the store was busy are written by the next request."""
        if unsubscribe_queue.pending(settings):
            unsubscribe_queue.replay(db(), settings)

    @app.teardown_appcontext
    def close(_: BaseException | None) -> None:
        connection = g.pop("db", None)
        if connection is not None:
            connection.conn.close()

    @app.after_request
    def headers(response: Any) -> Any:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; "
            "form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")  # tokens stay ours
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(HTTPException)
    def error(exc: HTTPException) -> tuple[str, int]:
        return render_page(pages, "error.html.j2", code=exc.code), exc.code or 500

    def subscriber_for(purpose: str, token: str) -> int:
        subscriber_id = read_token(settings, purpose, token)
        if subscriber_id is None or reader(db(), subscriber_id) is None:
            abort(BAD_LINK)
        return subscriber_id

    def preferences_url(subscriber_id: int) -> str:
        """The reader's own preferences page: the unsubscribe page offers it (issue #16)."""
        return f"{settings.base_url}/voorkeuren/{make_token(settings, PREFERENCES, subscriber_id)}"

    def csrf_token(form: str) -> str:
        """The CSRF value of one form: bound to the browser's session and to `form` (the
        reader's token for preferences), so one reader's value does not work on another's."""
        if "csrf" not in session:
            session["csrf"] = secrets.token_urlsafe(24)
        return _csrf_value(app.secret_key, str(session["csrf"]), form)

    def check_csrf(form: str) -> None:
        sent = request.form.get("csrf", "")
        nonce = session.get("csrf")
        if not sent or not nonce:
            abort(BAD_LINK)
        if not hmac.compare_digest(sent, _csrf_value(app.secret_key, str(nonce), form)):
            abort(BAD_LINK)

    def client_address() -> str:
        """The reader's IP: the socket peer, or what a trusted proxy put in X-Forwarded-For."""
        return forwarded_client(
            request.environ.get("REMOTE_ADDR", ""),
            request.headers.getlist("X-Forwarded-For"),
            settings.web.trusted_proxies,
        )

    @app.get("/afmelden/<token>")
    def unsubscribe_page(token: str) -> str:
        subscriber_id = subscriber_for(UNSUBSCRIBE, token)
        return render_page(
            pages,
            "unsubscribe.html.j2",
            person=reader(db(), subscriber_id),
            done=False,
            preferences_url=preferences_url(subscriber_id),
        )

    @app.post("/afmelden/<token>")
    def unsubscribe_post(token: str) -> tuple[str, int]:
        subscriber_id = subscriber_for(UNSUBSCRIBE, token)
        how = "one-click" if request.form.get("List-Unsubscribe") == "One-Click" else "page"
        try:
            with_retries(db(), lambda: unsubscribe(db(), subscriber_id, "web", how))
        except sqlite3.OperationalError as exc:
            if not is_locked(exc):
                raise
            # Still locked after the retries: kept in a file and written later, so the reader
            # sees the same page and the unsubscribe is never lost (issue #13).
            unsubscribe_queue.enqueue(settings, token, how, clock.utc_iso())
        return render_page(
            pages,
            "unsubscribe.html.j2",
            person=reader(db(), subscriber_id),
            done=True,
            preferences_url=preferences_url(subscriber_id),
        ), 200

    @app.route("/voorkeuren/<token>", methods=["GET", "POST"])
    def preferences(token: str) -> str:
        subscriber_id = subscriber_for(PREFERENCES, token)
        saved = False
        if request.method == "POST":
            check_csrf(f"{PREFERENCES}/{token}")
            try:
                with_retries(
                    db(),
                    lambda: set_preferences(
                        db(),
                        settings,
                        subscriber_id,
                        request.form.getlist("thema"),
                        request.form.get("pauze") == "ja",
                        "web",
                    ),
                )
            except NewsletterError:  # an unknown theme, or a subscription no longer theirs
                abort(BAD_LINK)
            saved = True
        return render_page(
            pages,
            "preferences.html.j2",
            person=reader(db(), subscriber_id),
            themes=[t for t in settings.themes.values() if t.bac],
            csrf=csrf_token(f"{PREFERENCES}/{token}"),
            saved=saved,
        )

    @app.route("/aanmelden", methods=["GET", "POST"])
    def signup() -> tuple[str, int]:
        values = {"naam": "", "email": "", "provincie": ""}
        problem = ""
        if request.method == "POST":
            check_csrf("aanmelden")
            values = {k: request.form.get(k, "").strip() for k in values}
            if request.form.get("toestemming") != "ja":
                problem = "Geef toestemming om u aan te melden."
            else:
                try:
                    with_retries(
                        db(),
                        lambda: request_signup(
                            db(),
                            settings,
                            values["naam"],
                            values["email"],
                            values["provincie"] or None,
                            "web:aanmelden",
                            client_address(),
                        ),
                    )
                except SignupError as exc:
                    problem = str(exc)
                else:
                    return render_page(pages, "signup_sent.html.j2", email=values["email"]), 200
        return signup_page(
            pages,
            settings,
            values=values,
            problem=problem,
            consent=CONSENT_TEXT,
            csrf=csrf_token("aanmelden"),
        ), 422 if problem else 200

    @app.route("/aanmelden/bevestig/<token>", methods=["GET", "POST"])
    def signup_confirm(token: str) -> str:
        read = read_timed_token_issued(settings, CONFIRM, token, CONFIRM_MAX_AGE)
        if read is None or reader(db(), read[0]) is None:
            abort(BAD_LINK)
        subscriber_id, asked_at = read
        if request.method == "POST":  # a GET only shows the button: scanners prefetch links
            with_retries(db(), lambda: confirm_signup(db(), subscriber_id, asked_at))
        return render_page(pages, "signup_confirm.html.j2", person=reader(db(), subscriber_id))

    def archived(month: str) -> Path:
        issues = archived_issues(db(), settings)
        if not MONTH.match(month) or month not in {i.issue_month for i in issues}:
            abort(404)  # drafts and unsent issues are not public
        return settings.build_dir / "archief" / month

    # Werkzeug's own redirect to the trailing slash builds its URL from the Host header, which
    # anyone can set: these redirects go to base_url instead (issue #13).
    app.url_map.merge_slashes = False

    @app.get("/archief")
    def archive_slash() -> Any:
        return redirect(f"{settings.base_url}/archief/", 308)

    @app.get("/archief/<month>")
    def archive_issue_slash(month: str) -> Any:
        archived(month)  # 404 for what is not archived
        return redirect(f"{settings.base_url}/archief/{month}/", 308)

    @app.get("/archief/")
    def archive() -> str:
        return archive_page(pages, archived_issues(db(), settings))

    @app.get("/archief/<month>/")
    def archive_issue(month: str) -> Any:
        folder = archived(month)
        variant = frozen_versions.frozen_variant(db(), month, WEB)
        frozen = variant.html if variant else None  # what was approved, not a later build
        response = (
            app.response_class(frozen, mimetype="text/html")
            if frozen is not None
            else send_file(folder / "index.html", mimetype="text/html")
        )
        # The web version is a mail layout: it needs its own inline styles, nothing else.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'"
        )
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    @app.get("/archief/<month>/agenda/<name>.ics")
    def archive_ics(month: str, name: str) -> Any:
        path = archived(month) / "agenda" / f"{name}.ics"
        frozen = frozen_versions.frozen_ics(db(), month, name)  # approved, not a later build
        if frozen is None and ("/" in name or not path.is_file()):
            abort(404)
        return send_file(
            BytesIO(frozen) if frozen is not None else path,
            mimetype="text/calendar",
            as_attachment=True,
            download_name=f"{name}.ics",
        )

    @app.get("/agenda/<item_id>.ics")
    def agenda_ics(item_id: str) -> Any:
        """Any AV meeting or event of the calendar (public information), for onboarding mail."""
        row = announced_calendar_item(db(), item_id, clock.today())  # announced ones only
        if row is None:
            abort(404)
        return app.response_class(
            item_ics(settings, row_to_item(row)),
            mimetype="text/calendar",
            headers={"Content-Disposition": f'attachment; filename="{item_id}.ics"'},
        )

    @app.get("/archief/feed.atom")
    def archive_feed() -> Any:
        return app.response_class(
            atom_feed(settings, archived_issues(db(), settings)), mimetype="application/atom+xml"
        )

    return app


def _csrf_value(secret: str | bytes | None, nonce: str, form: str) -> str:
    key = secret.encode() if isinstance(secret, str) else bytes(secret or b"")
    message = f"newsletter.csrf/{nonce}/{form}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def forwarded_client(
    peer: str, forwarded: list[str], trusted: tuple[IPv4Network | IPv6Network, ...]
) -> str:
    """The client's address: the socket peer, unless that is a trusted proxy; then the last
    address in X-Forwarded-For that is not one (the ones before it anyone can write)."""

    def is_trusted(address: str) -> bool:
        try:
            ip = ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in trusted)

    if not is_trusted(peer):
        return peer
    hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop):
            return hop
    return hops[0] if hops else peer


def atom_feed(settings: Settings, issues: list[SentIssue]) -> str:
    """The archive as Atom: one entry per sent issue, linking to its web version."""
    base = settings.base_url
    updated = max((str(i.finished_at or i.started_at) for i in issues), default=clock.utc_iso())
    entries = "".join(
        f"""  <entry>
    <id>{escape(base)}/archief/{i.issue_month}/</id>
    <title>{escape(i.subject)}</title>
    <link rel="alternate" type="text/html" href="{escape(base)}/archief/{i.issue_month}/"/>
    <updated>{escape(str(i.finished_at or i.started_at))}</updated>
  </entry>
"""
        for i in issues
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="nl">
  <id>{escape(base)}/archief/</id>
  <title>{escape(settings.name)}: archief van de nieuwsbrief</title>
  <link rel="self" href="{escape(base)}/archief/feed.atom"/>
  <link rel="alternate" type="text/html" href="{escape(base)}/archief/"/>
  <author>
    <name>Interprovinciaal Overleg</name>
    <email>{escape(settings.sender_address)}</email>
  </author>
  <updated>{escape(updated)}</updated>
{entries}</feed>
"""


def serve(settings: Settings, host: str, port: int) -> None:
    """Run the app under waitress, a production WSGI server (put a reverse proxy in front)."""
    from waitress import serve as waitress_serve

    # X-Forwarded-For is judged by the app itself ([web] trusted_proxies), so waitress must pass
    # it on rather than drop it for a peer it was not told about.
    waitress_serve(
        create_app(settings),
        host=host,
        port=port,
        ident="nieuwsbrief",
        clear_untrusted_proxy_headers=False,
    )
