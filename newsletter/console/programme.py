"""Inwerkprogramma: the new AV members in the onboarding programme, each with their dated
timeline (the plan `onboarding plan` computes, with the reason for each date), what was sent
and what comes next, and what holds them; a step previewed as the member gets it; enrol by
hand and stop with a reason (the CLI's own use cases, by the signed-in account).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask import url_for as flask_url_for
from markupsafe import escape

from newsletter import clock
from newsletter.console import context
from newsletter.console.auth import current, requires
from newsletter.console.issue_preview import frame_document, framing_page, message_html
from newsletter.console.issue_words import dutch
from newsletter.errors import NewsletterError
from newsletter.onboarding import overview
from newsletter.onboarding.messages import preview_message
from newsletter.onboarding.programme import enrol, stop
from newsletter.staff.accounts import actor

bp = Blueprint("programme", __name__, url_prefix="/inwerken")
# Who may do what here (the one place): everyone in the editorial team sees the programme; an
# eindredacteur enrols and stops.
VIEW = ("redacteur", "eindredacteur")
MANAGE = ("eindredacteur",)
PER_PAGE = 10
STATES = {
    "planned": "gepland",
    "waiting": "wacht op een datum",
    "left out": "vervalt",
    "queued": "in de wachtrij",
    "sending": "wordt verzonden",
    "sent": "verzonden",
    "failed": "mislukt",
    "deferred": "uitgesteld",
    "in-doubt": "onzeker",
    "merged": "meegestuurd",
    "skipped": "overgeslagen",
}
HOLDS = {"paused": "gepauzeerd", "unsubscribed": "afgemeld", "bounced": "adres onbereikbaar"}
NO_PREVIEW = "<!doctype html><html lang='nl'><title>Geen voorbeeld</title><p>{}</p>"
# The library's refusals for these actions, in Dutch (the rest: issue_words.dutch).
REFUSALS = [
    ("not a subscriber", "Dit e-mailadres staat niet in de lijst. Voeg de persoon eerst toe."),
    ("only active readers are enrolled", "Alleen actieve lezers kunnen worden ingeschreven."),
    ("not enrolled", "Deze persoon volgt het inwerkprogramma niet."),
    ("stopped already", "Het inwerkprogramma van deze persoon is al gestopt."),
    ("give a reason", "Geef een reden op."),
    ("at most 300 printable", "Schrijf de reden op één regel van hoogstens 300 tekens."),
    ("not a day inside any Statenperiode", "Die datum ligt buiten de Statenperiodes."),
]


def state_name(state: str) -> str:
    if state.startswith("with "):
        return f"met stap {state[5:]}"
    return STATES.get(state, state)


def _dutch(exc: NewsletterError) -> str:
    text = str(exc)
    return next((nl for key, nl in REFUSALS if key in text), None) or dutch(exc)


def _today() -> date:
    return clock.now().astimezone(clock.AMSTERDAM).date()


def _may_manage() -> bool:
    account = current()
    return account is not None and bool(set(MANAGE) & set(account.roles))


def _page_number() -> int:
    try:
        return max(int(request.args.get("pagina", "1")), 1)
    except ValueError:
        return 1


def _index_page(problems: dict[str, str] | None = None, form: dict[str, str] | None = None) -> Any:
    page = _page_number()
    found, total = overview.members(context.db(), context.settings(), _today(), page, PER_PAGE)
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    html = render_template(
        "inwerken/list.html.j2",
        members=found,
        total=total,
        page=page,
        pages=pages,
        problems=problems or {},
        form=form or {"start": _today().isoformat()},
        may_manage=_may_manage(),
        state_name=state_name,
        holds=HOLDS,
        provinces=context.settings().provinces,
    )
    return html, 422 if problems else 200


@bp.get("")
@requires(*VIEW)
def index() -> Any:
    return _index_page()


@bp.post("/inschrijven")
@requires(*MANAGE)
def enrol_by_hand() -> Any:
    """`onboarding enroll EMAIL --start DAY`, by the signed-in account."""
    form = {k: request.form.get(k, "").strip() for k in ("email", "start")}
    try:
        start = date.fromisoformat(form["start"]) if form["start"] else None
    except ValueError:
        return _index_page({"start": "Dat is geen datum; kies een dag."}, form)
    if not form["email"]:
        return _index_page({"email": "Vul het e-mailadres in."}, form)
    account = current()
    assert account is not None
    try:
        enrolment, changed = enrol(
            context.db(), context.settings(), form["email"], start, None, actor(account)
        )
    except NewsletterError as exc:
        return _index_page({"email": _dutch(exc)}, form)
    flash(
        f"{form['email']} volgt het inwerkprogramma vanaf {enrolment.starts_on:%d-%m-%Y}."
        if changed
        else f"{form['email']} volgde het inwerkprogramma al vanaf deze datum."
    )
    return redirect(flask_url_for("programme.member", enrolment_id=enrolment.id))


def _found(enrolment_id: int) -> overview.MemberTimeline:
    try:
        return overview.member(context.db(), context.settings(), enrolment_id, _today())
    except NewsletterError:
        abort(404)


def _member_page(enrolment_id: int, problems: dict[str, str] | None = None) -> Any:
    settings = context.settings()
    found = _found(enrolment_id)
    keys = [p.key for p in found.steps if not p.merged_into]
    step = request.args.get("stap", "")
    if step not in keys:
        step = found.next.key if found.next else (keys[0] if keys else "")
    page = render_template(
        "inwerken/member.html.j2",
        m=found,
        step=step,
        problems=problems or {},
        may_manage=_may_manage(),
        state_name=state_name,
        holds=HOLDS,
        provinces=settings.provinces,
    )
    return framing_page(page, 422 if problems else 200)


@bp.get("/<int:enrolment_id>")
@requires(*VIEW)
def member(enrolment_id: int) -> Any:
    return _member_page(enrolment_id)


@bp.get("/<int:enrolment_id>/voorbeeld")
@requires(*VIEW)
def preview(enrolment_id: int) -> Any:
    """One step as the member gets it (their aanhef and name), for the sandboxed frame."""
    settings, db = context.settings(), context.db()
    try:
        found = overview.member(db, settings, enrolment_id, _today())
        raw, _ = preview_message(
            db, settings, request.args.get("stap", ""), found.email, found.enrolment.sequence
        )
        html = message_html(raw)
    except NewsletterError as exc:
        html = NO_PREVIEW.format(escape(_dutch(exc)))
    return frame_document(html, settings)


@bp.post("/<int:enrolment_id>/stoppen")
@requires(*MANAGE)
def stop_enrolment(enrolment_id: int) -> Any:
    """`onboarding stop EMAIL --reason TEXT`, by the signed-in account."""
    settings, db = context.settings(), context.db()
    found = _found(enrolment_id)
    account = current()
    assert account is not None
    try:
        stop(
            db,
            settings,
            found.email,
            request.form.get("reden", ""),
            found.enrolment.sequence,
            actor(account),
        )
    except NewsletterError as exc:
        return _member_page(enrolment_id, {"reden": _dutch(exc)})
    flash(f"Het inwerkprogramma van {found.name} is gestopt.")
    return redirect(flask_url_for("programme.member", enrolment_id=enrolment_id))
