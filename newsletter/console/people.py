"""Mensen: find people, a person's page (what `subscribers show` gives, and their history),
themes and pause, unsubscribe at their request and re-subscribe (each with a reason), forget
(beheerder), export (beheerder).
The griffie-list import is in people_import.py. Who may do what: people_words.py."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request
from flask import url_for as flask_url_for
from werkzeug.wrappers import Response

from newsletter import clock
from newsletter.console import context
from newsletter.console.auth import current, requires
from newsletter.console.people_words import (
    CHANGE_PEOPLE,
    HOLDER_NAMES,
    MANAGE_LISTS,
    REPORT_KINDS,
    SEE_PEOPLE,
    STATUSES,
    dutch,
    outcome,
)
from newsletter.errors import NewsletterError
from newsletter.inbound.staff_unsubscribe import unsubscribe_at_request
from newsletter.people import privacy
from newsletter.people.lookup import search
from newsletter.people.preferences import resubscribe, set_preferences
from newsletter.people.roles import ROLES
from newsletter.staff.accounts import actor
from newsletter.store import audit, onboarding
from newsletter.store import subscribers as rows
from newsletter.store.subscribers import Subscriber

bp = Blueprint("people", __name__)
# What the person page shows in its own sections (the log's events: under Geschiedenis).
SHOWN = {
    "email",
    "subscriber",
    "suppression",
    "mandates",
    "deliveries",
    "bounces",
    "events",
    "inbound",
    "conversations",
    "onboarding",
    "outbox",
}
CONVERSATION_STATUSES = {
    "new": "nieuw",
    "open": "open",
    "waiting": "wacht op antwoord",
    "closed": "gesloten",
}
EXPORT_FORMATS = {"csv": ("text/csv; charset=utf-8", "csv"), "json": ("application/json", "json")}


def _me() -> str:
    account = current()
    assert account is not None  # requires() ran
    return actor(account)


def _filter(name: str, allowed: Any) -> str | None:
    value = request.args.get(name, "").strip()
    return value if value in allowed else None


@bp.get("/mensen")
@requires(*SEE_PEOPLE)
def index() -> str:
    """Search by name or e-mail, province, role and status; 50 a page, by name."""
    settings = context.settings()
    text = request.args.get("zoek", "").strip()[:200]
    province = _filter("provincie", settings.provinces)
    role = _filter("rol", ROLES)
    status = _filter("status", STATUSES)
    try:
        number = max(1, int(request.args.get("pagina", "1")))
    except ValueError:
        number = 1
    found = search(
        context.db(), settings, text, status=status, province=province, role=role, page=number
    )
    query = {"zoek": text or None, "provincie": province, "rol": role, "status": status}
    return render_template(
        "mensen/index.html.j2",
        found=found,
        query=query,
        statuses=STATUSES,
        roles=ROLES,
        may_manage=_may(MANAGE_LISTS),
    )


def _may(roles: tuple[str, ...]) -> bool:
    account = current()
    return account is not None and bool(set(roles) & set(account.roles))


def _subscriber(subscriber_id: int) -> Subscriber:
    found = rows.get(context.db(), subscriber_id)
    if found is None:
        abort(404)
    return found


@bp.get("/mensen/<int:subscriber_id>")
@requires(*SEE_PEOPLE)
def person(subscriber_id: int) -> str:
    """The person page; `?gesprek=N` (the Postvak's link) fills in the request to unsubscribe."""
    asked = request.args.get("gesprek", "").strip()
    return _person_page(_subscriber(subscriber_id), gesprek=asked if asked.isdigit() else "")


def _person_page(found: Subscriber, problems: dict[str, str] | None = None, **form: Any) -> Any:
    """The person page: everything `subscribers show` lists, their history from the log, and
    the forms; `problems` by field (Dutch) next to the fields, `form` what was typed."""
    db, settings = context.db(), context.settings()
    record = privacy.person_record(db, settings, found.email) or {}
    history, _ = audit.page(db, subject=f"subscriber:{found.id}", limit=100)
    away = onboarding.away_until(db, found.id, clock.today())
    page = render_template(
        "mensen/person.html.j2",
        person=found,
        record=record,
        others={k: len(v) for k, v in record.items() if k not in SHOWN and v},
        conversation_words=CONVERSATION_STATUSES,
        outcome=outcome,
        history=history,
        away=away,
        statuses=STATUSES,
        report_kinds=REPORT_KINDS,
        roles=ROLES,
        may_change=_may(CHANGE_PEOPLE),
        may_manage=_may(MANAGE_LISTS),
        problems=problems or {},
        form=form,
    )
    return (page, 422) if problems else page


def _back(found: Subscriber) -> Response:
    return redirect(flask_url_for("people.person", subscriber_id=found.id))


@bp.post("/mensen/<int:subscriber_id>/voorkeuren")
@requires(*CHANGE_PEOPLE)
def preferences(subscriber_id: int) -> Any:
    """Themes and pause, as the reader's own preferences page sets them."""
    found = _subscriber(subscriber_id)
    themes = request.form.getlist("themas")
    paused = request.form.get("pauze") == "ja"
    try:
        set_preferences(context.db(), context.settings(), found.id, themes, paused, _me())
    except NewsletterError as exc:
        return _person_page(found, {"voorkeuren": dutch(exc)})
    flash("De voorkeuren zijn opgeslagen.")
    return _back(found)


def _request_form() -> tuple[str, str, dict[str, str]]:
    """The reason and the conversation number of a (re-/un)subscribe form, and its problems."""
    reason = request.form.get("reden", "").strip()
    asked = request.form.get("gesprek", "").strip()
    problems = {}
    if asked and not asked.isdigit():
        problems["gesprek"] = "Vul het nummer van het gesprek in (alleen cijfers), of laat leeg."
    return reason, asked, problems


def _field(exc: NewsletterError) -> str:
    return "gesprek" if "--request" in str(exc) else "reden"


@bp.post("/mensen/<int:subscriber_id>/opnieuw-aanmelden")
@requires(*CHANGE_PEOPLE)
def resubscribe_person(subscriber_id: int) -> Any:
    """Subscribe again someone who unsubscribed by mistake: a reason, and the conversation."""
    found = _subscriber(subscriber_id)
    reason, asked, problems = _request_form()
    if not problems:
        try:
            resubscribe(context.db(), found.email, reason, _me(), int(asked) if asked else None)
        except NewsletterError as exc:
            problems[_field(exc)] = dutch(exc)
    if problems:
        return _person_page(found, problems, reden=reason, gesprek=asked)
    flash(f"{found.name} is weer aangemeld. De reden staat in het logboek.")
    return _back(found)


@bp.post("/mensen/<int:subscriber_id>/afmelden")
@requires(*CHANGE_PEOPLE)
def unsubscribe_person(subscriber_id: int) -> Any:
    """Unsubscribe someone at their own request: a reason, and their conversation; they get
    the same confirmation as when they unsubscribe by mail (subscribers unsubscribe)."""
    found = _subscriber(subscriber_id)
    reason, asked, problems = _request_form()
    if not problems:
        try:
            done = unsubscribe_at_request(
                context.db(),
                context.settings(),
                found.email,
                reason,
                _me(),
                int(asked) if asked else None,
            )
        except NewsletterError as exc:
            problems[_field(exc)] = dutch(exc)
    if problems:
        return _person_page(found, problems, reden=reason, gesprek=asked)
    sent = (
        f"{found.name} krijgt de bevestiging per e-mail."
        if done.confirmed
        else "De bevestiging per e-mail kon niet worden verstuurd: laat het de persoon weten."
    )
    flash(f"{found.name} is afgemeld. De reden staat in het logboek. {sent}")
    return _back(found)


@bp.get("/mensen/<int:subscriber_id>/vergeten")
@requires(*MANAGE_LISTS)
def forget_page(subscriber_id: int) -> str:
    """What forgetting this person erases, holder by holder, before a beheerder confirms."""
    found = _subscriber(subscriber_id)
    record = privacy.person_record(context.db(), context.settings(), found.email) or {}
    held = {k: v for k, v in record.items() if k not in {"email", "subscriber", "suppression"}}
    return render_template(
        "mensen/forget.html.j2", person=found, held=held, holder_names=HOLDER_NAMES
    )


@bp.post("/mensen/<int:subscriber_id>/vergeten")
@requires(*MANAGE_LISTS)
def forget(subscriber_id: int) -> Any:
    found = _subscriber(subscriber_id)
    if request.form.get("zeker") != "ja":
        record = privacy.person_record(context.db(), context.settings(), found.email) or {}
        held = {k: v for k, v in record.items() if k not in {"email", "subscriber", "suppression"}}
        problem = "Vink aan dat u deze persoon overal wilt wissen."
        page = render_template(
            "mensen/forget.html.j2",
            person=found,
            held=held,
            holder_names=HOLDER_NAMES,
            problem=problem,
        )
        return page, 422
    try:
        report = privacy.forget(context.db(), context.settings(), found.email, actor=_me())
    except NewsletterError as exc:
        flash(dutch(exc))
        return _back(found)
    erased = sum(report.erased.values()) + sum(report.files.values())
    flash(
        f"{found.name} is vergeten: {erased} gegevens en bestanden gewist. Alleen een "
        "versleutelde vingerafdruk van het adres blijft, zodat een import het overslaat."
    )
    return redirect(flask_url_for("people.index"))


@bp.post("/mensen/exporteren")
@requires(*MANAGE_LISTS)
def export() -> Response:
    """Every subscriber with every field and their mandates (as `subscribers export`)."""
    fmt = request.form.get("formaat", "csv")
    if fmt not in EXPORT_FORMATS:
        abort(400)
    text = privacy.export_text(context.db(), fmt, actor=_me())
    mimetype, extension = EXPORT_FORMATS[fmt]
    response = make_response(text)
    response.headers["Content-Type"] = mimetype
    stamp = clock.today().isoformat()
    response.headers["Content-Disposition"] = f'attachment; filename="abonnees-{stamp}.{extension}"'
    return response
