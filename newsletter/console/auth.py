"""Signing in and out, the signed-in account of each request, and the role checks."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from flask import Blueprint, abort, g, redirect, render_template, request, session
from flask import url_for as flask_url_for
from sqlite_utils import Database
from werkzeug.wrappers import Response

from newsletter.console import context
from newsletter.console.csrf import new_token
from newsletter.inbound import postvak
from newsletter.staff.accounts import (
    SignInRefused,
    end_session,
    resume_session,
    sign_in,
    start_session,
)
from newsletter.store.staff import StaffRow

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "sid"

bp = Blueprint("auth", __name__)

WRONG = "Het e-mailadres of het wachtwoord klopt niet. Probeer het opnieuw."
LIMITED = (
    "Te veel mislukte pogingen om in te loggen. Wacht een kwartier en probeer het dan opnieuw, "
    "of vraag een beheerder om een nieuw wachtwoord."
)


def current() -> StaffRow | None:
    """The signed-in account of this request, or None."""
    account: StaffRow | None = g.get("account")
    return account


def load_account() -> None:
    """Before each request: the account of the session cookie, if it is still in use."""
    g.account, g.expired = None, False
    token = session.get(SESSION_KEY)
    if not token or request.endpoint == "static":
        return
    idle = timedelta(minutes=context.settings().console.idle_minutes)
    state = resume_session(context.db(), str(token), idle)
    if state.account is None:
        session.pop(SESSION_KEY, None)
        g.expired = state.expired
    g.account = state.account


def signed_in(func: F) -> F:
    """The page needs a signed-in account; else the sign-in form, then back here."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current() is None:
            query: dict[str, Any] = {
                "volgende": request.script_root + request.full_path.rstrip("?")
            }
            if g.get("expired"):
                query["verlopen"] = "1"
            return redirect(flask_url_for("auth.signin", **query))
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def requires(*roles: str) -> Callable[[F], F]:
    """The page needs a signed-in account with one of these roles; others get a 403 page."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def check(*args: Any, **kwargs: Any) -> Any:
            account = current()
            assert account is not None  # signed_in runs first
            if not set(roles) & set(account.roles):
                abort(403, description="role")
            return func(*args, **kwargs)

        return signed_in(check)  # type: ignore[return-value]

    return decorate


def _safe_next(value: str | None) -> str:
    """Only a path on this console (never another site) to go to after signing in."""
    root = request.script_root + "/"
    if value and value.startswith(root) and not value.startswith("//") and "\\" not in value:
        return value
    return flask_url_for("pages.overview")


def begin_session(db: Database, account: StaffRow, nxt: str | None) -> Response:
    """A signed-in account (by password or single sign-on): a new session, a new CSRF token."""
    session.clear()
    session[SESSION_KEY] = start_session(db, account)
    new_token()
    return redirect(_safe_next(nxt))


@bp.route("/inloggen", methods=["GET", "POST"])
def signin() -> Any:
    nxt = request.values.get("volgende")
    if current() is not None:
        return redirect(_safe_next(nxt))
    problem, status, email = "", 200, ""
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        password = request.form.get("wachtwoord", "")
        db = context.db()
        try:
            account = sign_in(db, email, password, request.remote_addr or "unknown")
        except SignInRefused as refused:
            time.sleep(refused.delay)  # slows guessing; the limit stops it
            problem = LIMITED if refused.limited else WRONG
            status = 429 if refused.limited else 401
        else:
            return begin_session(db, account, nxt)
    notice = ""
    if request.args.get("verlopen"):
        notice = "Uw sessie is verlopen omdat u een tijd niets deed. Log opnieuw in."
    elif request.args.get("uitgelogd"):
        notice = "U bent uitgelogd."
    page = render_template(
        "signin.html.j2", problem=problem, notice=notice, email=email, volgende=nxt or ""
    )
    return page, status


@bp.post("/uitloggen")
def signout() -> Response:
    token = session.get(SESSION_KEY)
    account = current()
    if token:
        end_session(context.db(), str(token), account)
    if account is not None:
        postvak.signed_out(context.db(), account.email)
    session.clear()
    return redirect(flask_url_for("auth.signin", uitgelogd="1"))
