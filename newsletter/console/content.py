"""Inhoud: the items of every kind, filtered a page at a time, new and edit forms per kind
(sources/writer validates, writes and syncs), and the feeds with their last fetch."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from newsletter.console import context
from newsletter.console.auth import current, requires, signed_in
from newsletter.console.content_form import (
    KIND_NAMES,
    LABELS,
    Problem,
    form_from_values,
    hint,
    options,
    problem_text,
    values_from_form,
)
from newsletter.console.paging import requested
from newsletter.content.items import KINDS, SECTIONS
from newsletter.errors import ContentError
from newsletter.issues.files import placed_item_ids
from newsletter.sources.writer import FORMS, ChangedMeanwhile, ItemRefused, draft, save_item
from newsletter.staff.accounts import actor
from newsletter.store import items as stored

bp = Blueprint("content", __name__)
EDITORS = ("redacteur",)  # issue #14: redacteur writes content; inbox and others read it
NOT_PLACED = "geen"  # the "used in" filter's value for items in no issue yet


def may_edit() -> bool:
    account = current()
    return account is not None and bool(set(EDITORS) & set(account.roles))


def _day(name: str, label: str, problems: list[str]) -> date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        problems.append(f"{label}: '{raw}' is geen datum; schrijf bijvoorbeeld 2026-11-03.")
        return None


def _cursor(name: str) -> tuple[str, str] | None:
    """?na= or ?voor=: the (published, id) of a row, as "2026-11-30~item-id"; else None."""
    published, _, item_id = request.args.get(name, "").partition("~")
    try:
        date.fromisoformat(published)
    except ValueError:
        return None
    return (published, item_id) if item_id else None


@bp.get("/inhoud")
@signed_in
def items() -> tuple[str, int]:
    """The items, newest first, filtered by kind, theme, period, issue and title; the feeds."""
    settings, db = context.settings(), context.db()
    args = request.args
    kind = args.get("soort", "") if args.get("soort", "") in KINDS else ""
    theme = args.get("thema", "") if args.get("thema", "") in settings.themes else ""
    issue = args.get("nummer", "").strip()
    words = args.get("zoek", "").strip()[:200]
    problems: list[str] = []
    since = _day("van", "Van", problems)
    until = _day("tot", "Tot en met", problems)
    placed = placed_item_ids(settings)
    if issue and issue != NOT_PLACED and issue not in placed:
        problems.append(f"Er is geen nummer '{issue}'; kies er een uit de lijst.")
    paging = requested()
    rows: list[stored.ItemRow] = []
    total = 0
    if not problems:
        everywhere = [i for ids in placed.values() for i in ids]
        rows, total = stored.items_page(
            db,
            kind=kind or None,
            theme=theme or None,
            since=since,
            until=until,
            ids=placed[issue] if issue and issue != NOT_PLACED else None,
            not_ids=everywhere if issue == NOT_PLACED else (),
            title=words or None,
            limit=paging.per_page,
            offset=paging.offset,
            after=_cursor("na"),
            before=_cursor("voor"),
        )
    used_in: dict[str, list[str]] = {}
    for month, ids in placed.items():
        for item_id in ids:
            used_in.setdefault(item_id, []).append(month)
    feeds = [(feed, stored.feed_state(db, feed.name, feed.url)) for feed in settings.feeds]
    filters = {
        "soort": kind,
        "thema": theme,
        "van": args.get("van", "").strip(),
        "tot": args.get("tot", "").strip(),
        "nummer": issue,
        "zoek": words,
    }
    query = {k: v for k, v in filters.items() if v}
    page = render_template(
        "inhoud/list.html.j2",
        rows=rows,
        total=total,
        number=paging.number,
        pages=paging.pages(total),
        filters=filters,
        query=query,
        # "Vorige" and "Volgende" go on from this page's first and last row (keyset paging)
        earlier={**query, "voor": f"{rows[0].published}~{rows[0].id}"} if rows else query,
        later={**query, "na": f"{rows[-1].published}~{rows[-1].id}"} if rows else query,
        problems=problems,
        months=sorted(placed, reverse=True),
        not_placed=NOT_PLACED,
        used_in=used_in,
        feeds=feeds,
        kinds=KIND_NAMES,
        sections=SECTIONS,
        may_edit=may_edit(),
    )
    return page, 422 if problems else 200


@bp.get("/inhoud/nieuw")
@requires(*EDITORS)
def choose() -> str:
    """Which kind of item to add."""
    return render_template("inhoud/choose.html.j2", kinds=KIND_NAMES)


def _form(
    kind: str,
    shown: dict[str, Any],
    body: str,
    problems: list[Problem],
    *,
    item_id: str | None = None,
    version: str = "",
    notice: str = "",
) -> str:
    settings = context.settings()
    order = {spec.key: n for n, spec in enumerate(FORMS[kind])}
    problems = sorted(problems, key=lambda p: order.get(p.field, -1))  # as the form shows them
    by_field: dict[str, list[str]] = {}
    for problem in problems:
        by_field.setdefault(problem.field, []).append(problem.text)
    fields = [
        {
            "spec": spec,
            "label": LABELS.get(spec.key, spec.key),
            "hint": hint(spec),
            "options": options(spec, settings) if spec.shape == "choice" else [],
            "value": shown.get(spec.key, ""),
            "errors": by_field.get(spec.key, []),
        }
        for spec in FORMS[kind]
    ]
    on_form = {spec.key for spec in FORMS[kind]} | {"body"}
    elsewhere = [p for p in problems if p.field not in on_form]
    return render_template(
        "inhoud/form.html.j2",
        kind=kind,
        kind_name=KIND_NAMES[kind],
        fields=fields,
        body=body,
        problems=problems,
        elsewhere=elsewhere,
        labels=LABELS,
        item_id=item_id,
        version=version,
        notice=notice,
    )


def _save(kind: str, item_id: str | None) -> tuple[str, int] | Response:
    """The posted form through the library: saved and back to the list, or the form again
    with every problem next to its field (nothing written)."""
    account = current()
    assert account is not None
    values = values_from_form(FORMS[kind], request.form)
    body = request.form.get("tekst", "")
    version = request.form.get("versie", "")
    try:
        written = save_item(
            context.db(),
            context.settings(),
            kind,
            values,
            body,
            actor(account),
            item_id=item_id,
            version=version or None,
        )
    except ItemRefused as refused:
        problems = [problem_text(p) for p in refused.problems]
        shown = form_from_values(FORMS[kind], values)
        return _form(kind, shown, body, problems, item_id=item_id, version=version), 422
    except ChangedMeanwhile:
        notice = (
            "Iemand anders heeft dit item gewijzigd nadat u het formulier opende. Uw wijzigingen "
            "zijn niet opgeslagen. Open het item opnieuw en breng ze daarin aan."
        )
        shown = form_from_values(FORMS[kind], values)
        return _form(kind, shown, body, [], item_id=item_id, version=version, notice=notice), 409
    title = written.item.title
    if not written.changed:
        flash(f"Niets gewijzigd aan “{title}”.")
    else:
        flash(f"“{title}” is opgeslagen in {written.item.path}.")
    return redirect(url_for("content.items", soort=kind), code=303)


@bp.route("/inhoud/nieuw/<kind>", methods=["GET", "POST"])
@requires(*EDITORS)
def new(kind: str) -> Any:
    """A new item of this kind."""
    if kind not in FORMS:
        abort(404)
    if request.method == "POST":
        return _save(kind, None)
    return _form(kind, form_from_values(FORMS[kind], {}), "", [])


@bp.route("/inhoud/<item_id>/bewerken", methods=["GET", "POST"])
@requires(*EDITORS)
def edit(item_id: str) -> Any:
    """A stored item's file, in the form of its kind."""
    try:
        start = draft(context.db(), context.settings(), item_id)
    except ContentError as exc:
        known = stored.get_item(context.db(), item_id) is not None
        page = render_template("inhoud/unreadable.html.j2", item_id=item_id, error=str(exc))
        return page, 422 if known else 404
    if request.method == "POST":
        return _save(start.kind, item_id)
    shown = form_from_values(FORMS[start.kind], start.values)
    return _form(start.kind, shown, start.body, [], item_id=item_id, version=start.version)
