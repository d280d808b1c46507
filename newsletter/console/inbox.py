"""Postvak: the contact mailbox as a shared inbox (issue #15). Every view calls the same use
cases as `newsletter inbox` (inbound/postvak.py, inbound/replies.py) with the signed-in
account as the actor; the library's English refusals are worded here in Dutch."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from newsletter.console import context
from newsletter.console.auth import current, requires
from newsletter.errors import NewsletterError
from newsletter.inbound import postvak
from newsletter.inbound.replies import Draft, ReplyHeld, send_reply
from newsletter.staff.accounts import accounts, actor
from newsletter.store.staff import StaffRow

bp = Blueprint("inbox", __name__)
ROLE = "inbox"
STATUS_WORDS = {
    "new": "nieuw",
    "open": "open",
    "waiting": "wacht op antwoord",
    "closed": "gesloten",
}
DELIVERY_WORDS = {
    "sent": "verzonden",
    "queued": "in de wachtrij",
    "sending": "wordt verzonden",
    "deferred": "wordt later opnieuw geprobeerd",
    "failed": "niet afgeleverd",
    "in-doubt": "onzeker",
    "skipped": "overgeslagen",
    "cancelled": "geannuleerd",
}
DUTCH = (
    ("the answer is empty", "Schrijf eerst een antwoord."),
    ("the note is empty", "Schrijf eerst een notitie."),
    ("the note is longer", "De notitie is te lang (meer dan 5000 tekens)."),
    ("has passed", "Die datum is al voorbij; kies vandaag of later."),
    ("the title is empty", "Geef het standaardantwoord een titel."),
    ("the title is longer", "De titel is te lang (meer dan 100 tekens)."),
    ("the text is empty", "Schrijf de tekst van het standaardantwoord."),
    (
        "unknown placeholder",
        "Onbekend invulveld; gebruik {aanhef}, {naam}, {provincie} of {volgende_av}.",
    ),
    ("exists", "Er is al een standaardantwoord met deze titel."),
    ("cannot answer", "Dit adres kan geen antwoord ontvangen."),
)


def dutch(exc: NewsletterError) -> str:
    text = str(exc)
    for english, words in DUTCH:
        if english in text:
            return words
    return f"Dat lukte niet ({text})."


def _account() -> StaffRow:
    account = current()
    assert account is not None
    return account


def _colleagues() -> list[StaffRow]:
    return [a for a in accounts(context.db()) if a.active and ROLE in a.roles]


@bp.get("/postvak")
@requires(ROLE)
def index() -> str:
    args = request.args
    status = args.get("status", "") if args.get("status", "") in STATUS_WORDS else ""
    theme = args.get("thema", "") if args.get("thema", "") in context.settings().themes else ""
    who = args.get("toegewezen", "") if args.get("toegewezen", "") in ("mij", "niemand") else ""
    words = args.get("zoek", "").strip()[:200]
    try:
        number = int(args.get("pagina", "1"))
    except ValueError:
        number = 1
    filters = postvak.Filters(
        status=status,
        theme=theme,
        assignee=_account().name if who == "mij" else "",
        unassigned=who == "niemand",
        search=words,
    )
    found = postvak.list_page(context.db(), filters, number)
    query = {
        k: v
        for k, v in {"status": status, "thema": theme, "toegewezen": who, "zoek": words}.items()
        if v
    }
    return render_template(
        "postvak/list.html.j2",
        page=found,
        query=query,
        status_words=STATUS_WORDS,
        today=date.today().isoformat(),
    )


def _view(
    number: int,
    text: str = "",
    draft: Draft | None = None,
    problems: dict[str, str] | None = None,
    held: bool = False,
    version: int | None = None,
) -> str:
    db, settings, account = context.db(), context.settings(), _account()
    view = postvak.open_view(db, number, account.email, account.name)
    return render_template(
        "postvak/conversation.html.j2",
        view=view,
        c=view.conversation,
        sender=postvak.sender(db, settings, view.conversation),
        saved=postvak.saved_replies(db),
        colleagues=_colleagues(),
        text=text,
        draft=draft,
        problems=problems or {},
        held=held,
        version=view.version if version is None else version,
        status_words=STATUS_WORDS,
        delivery_words=DELIVERY_WORDS,
    )


def _not_found(number: int) -> Any:
    return render_template(
        "error.html.j2",
        code=404,
        title="Gesprek niet gevonden",
        text=f"Er is geen gesprek {number}.",
    ), 404


@bp.get("/postvak/<int:number>")
@requires(ROLE)
def conversation(number: int) -> Any:
    db, settings = context.db(), context.settings()
    text, problems = "", {}
    chosen = request.args.get("standaard", "")
    try:
        if chosen:
            try:
                text = postvak.fill(db, settings, number, int(chosen))
            except (ValueError, NewsletterError):
                problems["standaard"] = "Kies een standaardantwoord uit de lijst."
        return _view(number, text=text, problems=problems)
    except NewsletterError:
        return _not_found(number)


def _version() -> int:
    try:
        return int(request.form.get("versie", ""))
    except ValueError:
        return -1


@bp.post("/postvak/<int:number>/antwoord")
@requires(ROLE)
def answer(number: int) -> Any:
    """`Voorbeeld bekijken` shows exactly what will be sent; `Versturen` sends that."""
    db, settings, account = context.db(), context.settings(), _account()
    text = request.form.get("tekst", "")
    version = _version()
    try:
        draft = postvak.preview(db, settings, number, text, actor(account), version)
    except NewsletterError as exc:
        try:
            return _view(number, text, problems={"tekst": dutch(exc)}, version=version), 400
        except NewsletterError:
            return _not_found(number)
    if request.form.get("actie") != "versturen":
        return _view(number, text, draft=draft, version=version)
    try:
        sent = send_reply(db, settings, draft)
    except ReplyHeld:
        return _view(number, text, held=True), 409
    except NewsletterError as exc:
        return _view(number, text, problems={"tekst": dutch(exc)}, version=version), 400
    state = DELIVERY_WORDS.get(sent.delivery, sent.delivery)
    if sent.delivery == "sent":
        flash(f"Antwoord verstuurd aan {sent.to}.")
    else:
        flash(f"Antwoord aan {sent.to} staat klaar in de verzendlijst ({state}).")
    return redirect(url_for("inbox.conversation", number=number))


def _act(number: int, done: str, step: Any) -> Any:
    try:
        step()
    except NewsletterError as exc:
        try:
            return _view(number, problems={"actie": dutch(exc)}), 400
        except NewsletterError:
            return _not_found(number)
    flash(done)
    return redirect(url_for("inbox.conversation", number=number))


@bp.post("/postvak/<int:number>/toewijzen")
@requires(ROLE)
def assign(number: int) -> Any:
    db, by = context.db(), actor(_account())
    names = {a.email: a.name for a in _colleagues()}
    chosen = names.get(request.form.get("aan", ""))
    if chosen is None:
        return _view(number, problems={"aan": "Kies een collega uit de lijst."}), 400
    return _act(number, f"Toegewezen aan {chosen}.", lambda: postvak.assign(db, number, chosen, by))


@bp.post("/postvak/<int:number>/notitie")
@requires(ROLE)
def note(number: int) -> Any:
    db, by = context.db(), actor(_account())
    text = request.form.get("notitie", "")
    try:
        postvak.add_note(db, number, text, by)
    except NewsletterError as exc:
        try:
            return _view(number, problems={"notitie": dutch(exc)}), 400
        except NewsletterError:
            return _not_found(number)
    flash("Notitie opgeslagen (alleen voor collega's, wordt nooit verstuurd).")
    return redirect(url_for("inbox.conversation", number=number))


@bp.post("/postvak/<int:number>/opvolgen")
@requires(ROLE)
def follow_up(number: int) -> Any:
    db, by = context.db(), actor(_account())
    raw = request.form.get("opvolgen", "").strip()
    try:
        day = date.fromisoformat(raw) if raw else None
    except ValueError:
        problem = f"'{raw}' is geen datum; schrijf bijvoorbeeld 2026-12-15."
        return _view(number, problems={"opvolgen": problem}), 400
    try:
        postvak.set_follow_up(db, number, day, by)
    except NewsletterError as exc:
        try:
            return _view(number, problems={"opvolgen": dutch(exc)}), 400
        except NewsletterError:
            return _not_found(number)
    flash(f"Opvolgen op {day.isoformat()}." if day else "Opvolgdatum verwijderd.")
    return redirect(url_for("inbox.conversation", number=number))


@bp.post("/postvak/<int:number>/sluiten")
@requires(ROLE)
def close(number: int) -> Any:
    db, by = context.db(), actor(_account())
    return _act(number, "Gesprek gesloten.", lambda: postvak.close(db, number, by))


@bp.post("/postvak/<int:number>/heropenen")
@requires(ROLE)
def reopen(number: int) -> Any:
    db, by = context.db(), actor(_account())
    return _act(number, "Gesprek heropend.", lambda: postvak.reopen(db, number, by))


@bp.route("/postvak/standaardantwoorden", methods=["GET", "POST"])
@requires(ROLE)
def saved_replies() -> Any:
    db, by = context.db(), actor(_account())
    problems: dict[str, str] = {}
    form = {"id": "", "titel": "", "tekst": ""}
    status = 200
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in form}
        reply_id = int(form["id"]) if form["id"].isdigit() else None
        try:
            if request.form.get("actie") == "verwijderen" and reply_id is not None:
                postvak.delete_saved_reply(db, reply_id, by)
                flash("Standaardantwoord verwijderd.")
            else:
                postvak.save_saved_reply(db, reply_id, form["titel"], form["tekst"], by)
                flash(f"Standaardantwoord '{' '.join(form['titel'].split())}' opgeslagen.")
            return redirect(url_for("inbox.saved_replies"))
        except NewsletterError as exc:
            field = "titel" if "title" in str(exc) or "exists" in str(exc) else "tekst"
            problems[field] = dutch(exc)
            status = 400
    elif request.args.get("bewerk", "").isdigit():
        for row in postvak.saved_replies(db):
            if row.id == int(request.args["bewerk"]):
                form = {"id": str(row.id), "titel": row.title, "tekst": row.body}
    page = render_template(
        "postvak/saved.html.j2",
        rows=postvak.saved_replies(db),
        form=form,
        problems=problems,
        placeholders=postvak.PLACEHOLDERS,
    )
    return page, status
