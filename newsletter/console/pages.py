"""The console's pages: Overzicht (the instance at a glance), Logboek, Medewerkers."""

from __future__ import annotations

import math

from flask import Blueprint, render_template, request

from newsletter.console import context
from newsletter.console.auth import requires, signed_in
from newsletter.editorial.schedules import workflow_status
from newsletter.editorial.status import instance_status
from newsletter.errors import NewsletterError
from newsletter.issues.files import check_month
from newsletter.staff.accounts import accounts
from newsletter.store import audit

bp = Blueprint("pages", __name__)
PER_PAGE = 50


@bp.get("/")
@signed_in
def overview() -> str:
    """What `newsletter status` says, as a page."""
    settings = context.settings()
    db = context.db()
    return render_template(
        "overview.html.j2",
        status=instance_status(db, settings),
        workflow=workflow_status(db, settings),
    )


@bp.get("/logboek")
@signed_in
def log() -> tuple[str, int]:
    """The audit log, newest first, filtered by issue and/or account, a page at a time."""
    db = context.db()
    month = request.args.get("nummer", "").strip()
    actor = request.args.get("account", "").strip()
    problem = ""
    if month:
        try:
            check_month(month)
        except NewsletterError:
            problem = f"'{month}' is geen nummer; schrijf jaar en maand, bijvoorbeeld 2026-12."
    try:
        number = max(1, int(request.args.get("pagina", "1")))
    except ValueError:
        number = 1
    entries: list[audit.AuditEntry] = []
    total = 0
    if not problem:
        entries, total = audit.page(
            db,
            subject=f"issue-{month}" if month else None,
            actor=actor or None,
            limit=PER_PAGE,
            offset=(number - 1) * PER_PAGE,
        )
    pages = max(1, math.ceil(total / PER_PAGE))
    page = render_template(
        "log.html.j2",
        entries=entries,
        total=total,
        number=number,
        pages=pages,
        month=month,
        actor=actor,
        actors=audit.actors(db),
        problem=problem,
    )
    return page, 422 if problem else 200


@bp.get("/medewerkers")
@requires("beheerder")
def staff() -> str:
    """The staff accounts (beheerder only); they are added with `newsletter staff add`."""
    return render_template("staff.html.j2", accounts=accounts(context.db()))
