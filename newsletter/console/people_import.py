"""Mensen > Lijst importeren (beheerder): upload a griffie list, see exactly what it changes
(the same dry run as `subscribers import --dry-run`), confirm, and download the rejected rows.

The upload is kept by its SHA-256; the confirmation names that hash and the preview's plan, so
it applies exactly the previewed file with exactly the previewed changes, or is refused."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, make_response, redirect, render_template, request
from flask import url_for as flask_url_for
from werkzeug.wrappers import Response

from newsletter.console import context
from newsletter.console import import_words as words
from newsletter.console.auth import current, requires
from newsletter.console.people_words import CHANGES, MANAGE_LISTS, dutch
from newsletter.errors import NewsletterError
from newsletter.people import import_upload
from newsletter.people.imports import ImportReport
from newsletter.staff.accounts import actor

bp = Blueprint("people_import", __name__)


def _options() -> tuple[str | None, bool]:
    """The province for rows without one, and whether the list replaces the province's."""
    province = request.values.get("provincie", "").strip().upper() or None
    if province is not None and province not in context.settings().provinces:
        province = None
    return province, request.values.get("vervangen") == "ja"


def _form(problem: str = "", status: int = 200) -> tuple[str, int]:
    province, replace = _options()
    page = render_template(
        "mensen/import.html.j2", problem=problem, province=province, replace=replace
    )
    return page, status


def _preview(
    upload: import_upload.Upload, report: ImportReport, notice: str = "", status: int = 200
) -> tuple[str, int]:
    province, replace = _options()
    settings = context.settings()
    groups: dict[str, list[str]] = {kind: [] for kind in CHANGES}
    for change in report.changes:
        groups.setdefault(change.kind, []).append(words.change_text(settings, change))
    page = render_template(
        "mensen/preview.html.j2",
        upload=upload,
        report=report,
        groups=groups,
        changes=CHANGES,
        plan=report.plan_digest(),
        province=province,
        replace=replace,
        notice=notice,
        summary=words.summary(report),
        warnings=[words.warning_text(w) for w in report.warnings],
        held_back=words.held_back_text(settings, report),
        rejected=[words.rejected_text(line) for line in report.rejected],
    )
    return page, status


@bp.get("/mensen/importeren")
@requires(*MANAGE_LISTS)
def form() -> tuple[str, int]:
    return _form()


@bp.post("/mensen/importeren")
@requires(*MANAGE_LISTS)
def upload() -> tuple[str, int]:
    """Keep the uploaded file and show what importing it would change; nothing changes yet."""
    sent = request.files.get("lijst")
    if sent is None or not sent.filename:
        return _form("Kies het bestand met de lijst van de griffie (CSV).", 422)
    settings = context.settings()
    province, replace = _options()
    try:
        kept = import_upload.keep_upload(settings, sent.read(), sent.filename)
        report = import_upload.preview(context.db(), settings, kept, province, replace)
    except NewsletterError as exc:
        return _form(dutch(exc), 422)
    return _preview(kept, report)


@bp.post("/mensen/importeren/bevestigen")
@requires(*MANAGE_LISTS)
def confirm() -> Any:
    """Apply exactly the previewed file and plan (refused, with the new preview, otherwise)."""
    settings = context.settings()
    province, replace = _options()
    digest = request.form.get("lijst", "")
    account = current()
    assert account is not None
    try:
        report = import_upload.confirm(
            context.db(),
            settings,
            digest,
            province,
            replace,
            request.form.get("plan", ""),
            actor(account),
        )
    except import_upload.PlanChanged as changed:
        kept = import_upload.find_upload(settings, digest)
        return _preview(kept, changed.report, dutch(changed), 409)
    except NewsletterError as exc:
        return _form(dutch(exc), 409)
    flash(f"De lijst is geïmporteerd: {words.summary(report, done=True)}.")
    return redirect(flask_url_for("people.index"))


@bp.post("/mensen/importeren/annuleren")
@requires(*MANAGE_LISTS)
def cancel() -> Response:
    """Leave everything as it was, and remove the uploaded file (it holds personal data)."""
    import_upload.discard(context.settings(), request.form.get("lijst", ""))
    flash("Het importeren is geannuleerd; er is niets veranderd en het bestand is verwijderd.")
    return redirect(flask_url_for("people.index"))


@bp.get("/mensen/importeren/<digest>/afgewezen.csv")
@requires(*MANAGE_LISTS)
def rejects(digest: str) -> Response:
    """The rejected rows as they were in the list, with a 'reden' column: fix and import."""
    province, _ = _options()
    try:
        name, text = import_upload.rejects(context.settings(), digest, province, words.reason_text)
    except NewsletterError as exc:
        flash(dutch(exc))
        return redirect(flask_url_for("people_import.form"))
    response = make_response(text)
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
