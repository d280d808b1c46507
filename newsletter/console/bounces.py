"""Onbestelbaar en afwezig: what came back from the last mailings (hard and soft bounces,
complaints, auto-replies) per province, with the evidence of each report and what it did; who
is away until when; undo a wrong bounce action with a reason (the same use case as
`subscribers undo-bounce`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request
from flask import url_for as flask_url_for

from newsletter.console import context
from newsletter.console.auth import current, requires
from newsletter.console.people_words import (
    CHANGE_PEOPLE,
    REPORT_KINDS,
    SEE_PEOPLE,
    STATUSES,
    TIED_BY,
    dutch,
    outcome,
)
from newsletter.errors import NewsletterError
from newsletter.inbound.bounce_view import overview, undo_bounce
from newsletter.staff.accounts import actor
from newsletter.store import subscribers as rows

bp = Blueprint("bounces", __name__)


def _page(problems: dict[int, str] | None = None, reasons: dict[int, str] | None = None) -> Any:
    settings = context.settings()
    province = request.values.get("provincie", "").strip().upper() or None
    if province not in settings.provinces:
        province = None
    found = overview(context.db(), settings, province)
    by_province: dict[str | None, list[Any]] = {}
    for report in found.reports:
        by_province.setdefault(report.province, []).append(report)
    account = current()
    page = render_template(
        "mensen/bounces.html.j2",
        found=found,
        by_province=by_province,
        province=province,
        kinds=REPORT_KINDS,
        tied_by=TIED_BY,
        outcome=outcome,
        statuses=STATUSES,
        may_change=account is not None and bool(set(CHANGE_PEOPLE) & set(account.roles)),
        problems=problems or {},
        reasons=reasons or {},
    )
    return (page, 422) if problems else page


@bp.get("/onbestelbaar")
@requires(*SEE_PEOPLE)
def index() -> Any:
    return _page()


@bp.post("/onbestelbaar/<int:subscriber_id>/ongedaan")
@requires(*CHANGE_PEOPLE)
def undo(subscriber_id: int) -> Any:
    """Undo the bounce action for one subscriber: active again, with the reason in the log."""
    found = rows.get(context.db(), subscriber_id)
    reason = request.form.get("reden", "").strip()
    if found is None:
        return _page({subscriber_id: "Deze persoon staat niet (meer) in de lijsten."})
    account = current()
    assert account is not None
    try:
        undone = undo_bounce(context.db(), found.email, reason, actor(account))
    except NewsletterError as exc:
        return _page({subscriber_id: dutch(exc)}, {subscriber_id: reason})
    flash(
        f"{found.name} ({undone.email}) is weer actief; {undone.bounces} "
        f"{'bounce telt' if undone.bounces == 1 else 'bounces tellen'} niet meer mee. "
        "De reden staat in het logboek."
    )
    back = request.form.get("provincie") or None
    return redirect(flask_url_for("bounces.index", provincie=back))
