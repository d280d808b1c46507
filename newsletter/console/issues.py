"""Nummers: the monthly issues, one page each (contents, preview, checks, the workflow actions).

Every action calls the same use case as the CLI with the signed-in account as the actor
(staff:<email>); a refusal of the library is shown in Dutch next to the action.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    get_flashed_messages,
    make_response,
    redirect,
    render_template,
    request,
)
from flask import url_for as flask_url_for
from markupsafe import escape

from newsletter import clock
from newsletter.console import compose as composing
from newsletter.console import context, sending
from newsletter.console.auth import current, requires, signed_in
from newsletter.console.issue_preview import frame_document, framing_page, preview_html
from newsletter.console.issue_words import ACTIONS, DONE, STATES, dutch
from newsletter.console.paging import requested
from newsletter.content.items import SECTIONS
from newsletter.editorial.approval import approve, review, state_of
from newsletter.editorial.copies import send_test
from newsletter.editorial.draft_check import quick_check
from newsletter.editorial.schedules import schedule, unschedule
from newsletter.errors import ContentError, NewsletterError
from newsletter.issues.compose import FieldError, Move, Text, compose, read_draft
from newsletter.issues.files import check_month, create_issue, issue_files
from newsletter.outbound.ledger import change_mailing, mailing_report
from newsletter.outbound.send import mailing_id_for
from newsletter.people.privacy import list_people
from newsletter.preflight.runner import PreflightReport, check_issue
from newsletter.sanitize import markdown_to_html
from newsletter.sources.catalog import get_items
from newsletter.staff import permissions
from newsletter.staff.accounts import actor
from newsletter.store import workflow as rows

bp = Blueprint("issues", __name__, url_prefix="/nummers")
VIEWS = {"telefoon": ("Telefoon (375 px)", 375), "computer": ("Computer (800 px)", 800)}
WEB_VIEW = "web"
READERS = 200  # the readers of a province to choose from for the preview (by name)
# The actions that check every variant first (a minute or two): what the page says before the
# click, and what the button says after it (bezig.js; without JavaScript the note suffices).
BUSY = "Bezig met controleren…"
SLOW = {
    "goedkeuren": (
        "Goedkeuren duurt een minuut of twee: eerst worden alle versies van het nummer "
        "gecontroleerd (SpamAssassin, de Nu-checker en axe). Laat deze pagina open tot hij "
        "vanzelf verdergaat."
    ),
    "versturen": (
        "Voor het verzenden worden eerst alle versies van het nummer opnieuw gecontroleerd; dat "
        "duurt een minuut of twee. De voortgangspagina laat zien wanneer het verzenden begint."
    ),
}
REFUSED = "fout-"  # the flash category of a refused action: fout-<action>, shown next to it
NO_PREVIEW = "<!doctype html><html lang='nl'><title>Geen voorbeeld</title><p>{}</p>"


def _month(month: str) -> str:
    try:
        return check_month(month, context.settings())
    except ContentError:
        abort(404)


def _next_month() -> str:
    today = clock.today()
    first = date(today.year, today.month, 1) + timedelta(days=32)
    return f"{first.year:04d}-{first.month:02d}"


@bp.get("")
@signed_in
def index() -> str:
    """Every month with an issue file or a workflow row, newest first, with its state."""
    return _index_page({}, "")


def _index_page(problem: dict[str, str], value: str) -> str:
    """A page of the months (one file or row each, a dozen a year: the list of names is small),
    with the state looked up for the months on this page only."""
    settings, db = context.settings(), context.db()
    months = sorted({p.stem for p in issue_files(settings)} | rows.all_months(db), reverse=True)
    paging = requested()
    shown = months[paging.offset : paging.offset + paging.per_page]
    issues = [(m, STATES.get(s, s)) for m in shown for s in [state_of(db, m)]]
    return render_template(
        "issues.html.j2",
        issues=issues,
        total=len(months),
        number=paging.number,
        pages=paging.pages(len(months)),
        problem=problem,
        value=value or _next_month(),
    )


@bp.post("/nieuw")
@requires("redacteur")
def new() -> Any:
    """`issue new MONTH`: the file pre-filled with the items published since the last issue."""
    month = request.form.get("maand", "").strip()
    try:
        create_issue(context.db(), context.settings(), check_month(month, context.settings()))
    except NewsletterError as exc:
        return _index_page({"maand": dutch(exc)}, month), 422
    flash(DONE["nieuw"])
    return redirect(flask_url_for("issues.issue", month=month))


def _report(month: str, state: str) -> dict[str, Any] | None:
    if state not in ("sending", "sent", "cancelled"):
        return None
    try:
        return dict(mailing_report(context.db(), mailing_id_for(month)))
    except NewsletterError:
        return None


def _issue_page(
    month: str,
    problems: dict[str, str] | None = None,
    check: PreflightReport | None = None,
    text: dict[str, str] | None = None,
    intro_preview: str | None = None,
) -> Any:
    settings, db = context.settings(), context.db()
    flashed: list[tuple[str, str]] = get_flashed_messages(with_categories=True)  # type: ignore[assignment]
    refused = {
        category.removeprefix(REFUSED): str(message)
        for category, message in flashed
        if category.startswith(REFUSED)
    }
    status = 422 if problems else 200
    problems = {**refused, **(problems or {})}
    state = state_of(db, month)
    try:
        draft = read_draft(settings, month)
    except ContentError as exc:
        if not issue_path_exists(month):
            abort(404)
        draft, file_problem = None, dutch(exc)
    else:
        file_problem = ""
    items = get_items(db, [i for ids in draft.sections.values() for i in ids]) if draft else {}
    if check is None and draft is not None:
        try:  # the fast Python checks on every variant (made once per input); tools on request
            check = quick_check(db, settings, month)[1]
        except NewsletterError as exc:
            file_problem = file_problem or dutch(exc)
    province = request.args.get("provincie", "GLD")
    if province not in settings.provinces:
        province = next(iter(settings.provinces))
    readers = list_people(db, settings, status="active", province=province, limit=READERS)
    reader = request.args.get("lezer", "")
    if reader and reader not in {r["email"] for r in readers}:
        reader = ""
    intro_html = markdown_to_html(draft.intro) if draft and draft.intro else ""
    account = current()
    roles = set(account.roles) if account else set()
    view = request.args.get("weergave", "telefoon")
    if view not in (*VIEWS, WEB_VIEW):
        view = "telefoon"
    page = render_template(
        "issue.html.j2",
        month=month,
        state=state,
        state_name=STATES.get(state, state),
        draft=draft,
        intro_html=intro_html,
        intro_preview=intro_preview,
        section_names=SECTIONS,
        items=items,
        file_problem=file_problem,
        check=check,
        problems=problems or {},
        text=text,
        provinces=settings.provinces,
        province=province,
        readers=readers,
        reader=reader,
        view=view,
        views=VIEWS,
        actions=ACTIONS,
        slow=SLOW,
        busy=BUSY,
        report=_report(month, state),
        roles=roles,
        may=lambda action: permissions.allowed(current(), action),  # type: ignore[arg-type]
        default_moment=_next_moment(),
        sending_now=sending.running(month),
        **composing.context(
            db, settings, month, draft, items, check, intro_html, "redacteur" in roles
        ),
    )
    return framing_page(page, status)


def issue_path_exists(month: str) -> bool:
    settings = context.settings()
    return month in {p.stem for p in issue_files(settings)} | rows.all_months(context.db())


def _next_moment() -> str:
    tomorrow = clock.now().astimezone(clock.AMSTERDAM) + timedelta(days=1)
    return tomorrow.strftime("%Y-%m-%dT09:00")


@bp.get("/<month>")
@signed_in
def issue(month: str) -> Any:
    return _issue_page(_month(month))


@bp.get("/<month>/voorbeeld")
@signed_in
def preview(month: str) -> Any:
    """The e-mail (or the web version) alone, for the sandboxed frame of the issue page."""
    month = _month(month)
    settings = context.settings()
    try:
        shown = preview_html(
            context.db(),
            settings,
            month,
            request.args.get("provincie", ""),
            request.args.get("lezer", ""),
            request.args.get("weergave") == WEB_VIEW,
        )
        html = shown.html
    except NewsletterError as exc:
        html = NO_PREVIEW.format(escape(dutch(exc)))
    return frame_document(html, settings)


@bp.post("/<month>/controle")
@signed_in
def full_check(month: str) -> Any:
    """`issue check`: every check, the external tools too (SpamAssassin, Nu checker, axe)."""
    month = _month(month)
    try:
        report = check_issue(context.db(), context.settings(), month)
    except NewsletterError as exc:
        return _issue_page(month, {"controle": dutch(exc)})
    return _issue_page(month, check=report)


@bp.post("/<month>/tekst")
@requires("redacteur")
def edit_text(month: str) -> Any:
    """Subject, preheader and intro (Markdown) written into the issue file; or, with the
    preview button, the intro shown as it will read (nothing saved)."""
    month = _month(month)
    form = {k: request.form.get(k, "") for k in ("subject", "preheader", "intro")}
    if "voorbeeld" in request.form:
        return _issue_page(month, text=form, intro_preview=markdown_to_html(form["intro"]))
    change = Text(form["subject"], form["preheader"], form["intro"])
    try:
        compose(context.db(), context.settings(), month, change, _by())
    except FieldError as exc:
        return _issue_page(month, {exc.field: dutch(exc)}, text=form)
    except NewsletterError as exc:
        return _issue_page(month, {"tekst": dutch(exc)}, text=form)
    flash(DONE["tekst"])
    return redirect(flask_url_for("issues.issue", month=month))


def _by() -> str:
    account = current()
    assert account is not None  # requires() ran
    return actor(account)


@bp.post("/<month>/inleiding")
@requires("redacteur")
def intro_preview(month: str) -> Any:
    """The intro's Markdown as HTML, for the live preview under the field (nothing saved)."""
    _month(month)
    response = make_response(markdown_to_html(request.form.get("intro", "")))
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


@bp.post("/<month>/samenstellen")
@requires("redacteur")
def change_items(month: str) -> Any:
    """Add, remove or move one item of the issue (issues.compose: the CLI's use case)."""
    month = _month(month)
    change = composing.CHANGES.get(request.form.get("wijziging", ""))
    if change is None:
        abort(400)
    item_id = request.form.get("item", "").strip()
    move = Move(change, item_id, request.form.get("rubriek", "").strip())
    try:
        compose(context.db(), context.settings(), month, move, _by())
    except FieldError as exc:
        key = "toevoegen" if change == "add" else "samenstellen"
        if exc.field == "section":
            key = "rubriek"
        return _issue_page(month, {key: dutch(exc)})
    except NewsletterError as exc:
        return _issue_page(month, {"samenstellen": dutch(exc)})
    flash(composing.DONE[change])
    anchor = f"#onderdeel-{item_id}" if change in ("up", "down") else "#inhoud-kop"
    return redirect(flask_url_for("issues.issue", month=month) + anchor)


@bp.post("/<month>/<action>")
@signed_in
def act(month: str, action: str) -> Any:
    """One workflow action, by the signed-in account, through the CLI's own use case."""
    month = _month(month)
    if action not in ACTIONS:
        abort(404)
    account = current()
    assert account is not None
    if not permissions.allowed(account, ACTIONS[action][1]):
        abort(403, description="role")
    db, settings, by = context.db(), context.settings(), actor(account)
    try:
        if action == "indienen":
            review(db, settings, month, by)
        elif action == "goedkeuren":
            approve(db, settings, month, by)
        elif action == "testversie":
            send_test(db, settings, month, [account.email], None, settings.transport, by)
        elif action == "inplannen":
            schedule(db, settings, month, request.form.get("moment", ""), by)
        elif action == "niet-inplannen":
            unschedule(db, month, by)
        elif action == "versturen":
            busy = sending.start(settings, month, by)
            if busy:
                flash(busy)
            else:
                flash(DONE[action])
            return redirect(flask_url_for("sending.page", month=month))
        else:
            change_mailing(db, mailing_id_for(month), ACTIONS[action][1], by)
            if action == "hervatten":  # go on now, in this process, as "Nu versturen" does
                sending.start(settings, month, by, wait=10)
    except NewsletterError as exc:
        return _refused(month, action, dutch(exc))
    except OSError as exc:  # a relay that does not answer (test copy)
        return _refused(month, action, f"De mailserver antwoordde niet: {exc}")
    flash(DONE[action].format(email=account.email))
    if action in ("pauzeren", "hervatten", "annuleren"):
        return redirect(flask_url_for("sending.page", month=month))
    return redirect(flask_url_for("issues.issue", month=month))


def _refused(month: str, action: str, text: str) -> Any:
    """A refused action: back to the issue page (a reload does not post again), with the
    refusal in Dutch next to the action."""
    flash(text, REFUSED + action)
    return redirect(flask_url_for("issues.issue", month=month) + f"#actie-{action}")
