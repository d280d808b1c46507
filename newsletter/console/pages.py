"""The console's pages: Overzicht (the instance at a glance), Logboek, Medewerkers."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from newsletter.console import context
from newsletter.console.auth import requires, signed_in
from newsletter.console.paging import requested
from newsletter.editorial.schedules import workflow_status
from newsletter.editorial.status import instance_status
from newsletter.errors import NewsletterError
from newsletter.issues.files import check_month
from newsletter.staff.accounts import accounts_page
from newsletter.store import audit

bp = Blueprint("pages", __name__)


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
    """The audit log, newest first, filtered by issue, person and/or account, a page at a time."""
    db = context.db()
    month = request.args.get("nummer", "").strip()
    person = request.args.get("persoon", "").strip()[:200]
    actor = request.args.get("account", "").strip()
    problem = ""
    if month:
        try:
            check_month(month)
        except NewsletterError:
            problem = f"'{month}' is geen nummer; schrijf jaar en maand, bijvoorbeeld 2026-12."
    paging = requested()
    entries: list[audit.AuditEntry] = []
    total = 0
    if not problem:
        entries, total = audit.page(
            db,
            subject=f"issue-{month}" if month else None,
            actor=actor or None,
            person=person or None,
            limit=paging.per_page,
            offset=paging.offset,
        )
    filters = {"nummer": month, "persoon": person, "account": actor}
    page = render_template(
        "log.html.j2",
        entries=entries,
        total=total,
        number=paging.number,
        pages=paging.pages(total),
        month=month,
        person=person,
        actor=actor,
        query={k: v for k, v in filters.items() if v},
        actors=audit.actors(db),
        problem=problem,
    )
    return page, 422 if problem else 200


@bp.get("/medewerkers")
@requires("beheerder")
def staff() -> str:
    """The staff accounts (beheerder only), a page at a time; added with `newsletter staff add`."""
    paging = requested()
    rows, total = accounts_page(context.db(), paging.per_page, paging.offset)
    return render_template(
        "staff.html.j2",
        accounts=rows,
        total=total,
        number=paging.number,
        pages=paging.pages(total),
    )
