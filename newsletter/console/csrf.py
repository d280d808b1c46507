"""CSRF: one token per browser session, in every form, checked on every POST (the one helper)."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token() -> str:
    """The session's token (made on first use); templates put it in a hidden field."""
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return str(session[FIELD])


def new_token() -> str:
    """A fresh token, e.g. after signing in (a token seen before sign-in is not reused)."""
    session[FIELD] = secrets.token_urlsafe(32)
    return str(session[FIELD])


def protect(app: Flask) -> None:
    """Refuse (403) any request that changes something without the session's token."""

    @app.before_request
    def check() -> None:
        if request.method in SAFE:
            return
        sent = request.form.get(FIELD) or request.headers.get(HEADER) or ""
        expected = str(session.get(FIELD, ""))
        if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
            abort(403, description="csrf")

    app.jinja_env.globals["csrf_token"] = csrf_token
