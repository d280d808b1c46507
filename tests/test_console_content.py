"""Inhoud (issue #14, item 4): the library's content-file writer (sources/writer) and the
console's Inhoud pages: the list with its filters and pages, the forms per kind with the
library's validation shown in Dutch next to the field, the feeds, and who may edit.

The writer is tested in-process; the pages through a real `newsletter console` process in
Chromium (one process and one browser for the module), found by role and label, axe at 1280
and 375 px.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlite_utils import Database

from newsletter import store
from newsletter.config import Settings, load_settings
from newsletter.console.app import create_console
from newsletter.console.content_form import PROBLEMS, problem_text
from newsletter.content.items import COMMON_FIELDS, KIND_FIELDS, KINDS, FieldError
from newsletter.demo import copy_instance, demo_source
from newsletter.sources.catalog import stored_row, sync_content
from newsletter.sources.files import content_files, read_item_file
from newsletter.sources.writer import (
    FOLDERS,
    FORMS,
    ChangedMeanwhile,
    ItemRefused,
    check_values,
    draft,
    save_item,
)
from newsletter.staff import accounts
from newsletter.store import audit
from newsletter.store import items as stored
from tests import test_console as console_tests
from tests.test_console import (
    PASSWORD,
    PATH,
    Console,
    axe_serious,
    free_port,
    sign_in,
    start,
    stop,
    wait_for,
)

ACTOR = "staff:rob@ipo.example"
TITLE = 'Stikstof: de "nieuwe" rekenregels van \'t Rijk'
# One complete, valid item of each kind, as a form posts it (text, lists of lines).
VALID: dict[str, dict[str, Any]] = {
    "bac_decision": {
        "bac": "landelijk-gebied",
        "meeting_date": "2026-12-03",
        "number": "LG-2026-12",
        "subject": TITLE,
        "summary": "De BAC besprak: de rekenregels.",
        "decisions": ["stemt in met de inbreng;", "vraagt BIJ12 om een 'notitie'."],
        "link": "https://www.ipo.example/bac/landelijk-gebied/2026-12-03",
        "published": "2026-12-04",
        "section": "uitgelicht",
        "featured": True,
    },
    "av_meeting": {
        "title": "Algemene Vergadering: begroting",
        "date": "2027-03-10",
        "start_time": "14.00",
        "end_time": "16.30",
        "place": "Provinciehuis Utrecht",
        "theme": "financien-openbaar-bestuur",
        "summary": "De AV over de begroting.",
        "agenda": ["Opening", "Begroting 2028: vaststellen"],
        "programme": [{"time": "12.30", "title": "Inloop: lunch"}, "Formele vergadering"],
        "registration": "https://www.ipo.example/av/aanmelden",
        "question_deadline": "2027-03-03 12.00",
    },
    "position_paper": {
        "title": "Energie: ruimte voor het net",
        "date": "2026-12-01",
        "theme": "klimaat-leefomgeving",
        "summary": "De provincies vragen om snellere procedures.",
        "link": "https://www.ipo.example/position-papers/net",
        "audience": "Tweede Kamer",
    },
    "event": {
        "event_type": "kennissessie",
        "title": 'Kennissessie: "digitale" weerbaarheid',
        "date": "2027-01-20",
        "start_time": "16.00",
        "end_time": "17.30",
        "place": "Online (Teams)",
        "theme": "algemeen",
        "summary": "Wat provincies doen.",
        "registration": "https://www.ipo.example/kennis/digitaal",
    },
    "news": {
        "title": "Nieuw: het overdrachtsdossier",
        "date": "2026-12-02",
        "theme": "algemeen",
        "summary": "Het dossier is klaar.",
        "link": "https://www.ipo.example/nieuws/dossier",
    },
}


def files_of(settings: Settings) -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in content_files(settings)}


@pytest.fixture
def synced(settings: Settings, db: Database) -> Database:
    assert not sync_content(db, settings).errors
    return db


# -- the writer (library) --------------------------------------------------------------------


def test_a_title_with_a_colon_and_quotes_round_trips_through_the_file(
    settings: Settings, synced: Database
) -> None:
    written = save_item(synced, settings, "bac_decision", VALID["bac_decision"], "", ACTOR)
    assert written.created and written.changed
    assert written.path.parent == settings.content_dir / "bac"
    assert written.path.name == "2026-12-03-stikstof-de-nieuwe-rekenregels-van-t-rijk.md"
    text = written.path.read_text(encoding="utf-8")
    assert text.startswith("---\nkind: bac_decision\n")
    # read back by the same reader `content sync` uses: every value as it was given
    item, warnings = read_item_file(written.path, settings)
    assert warnings == []
    assert item.title == TITLE
    assert item.summary == "De BAC besprak: de rekenregels."
    assert item.fields["decisions"] == VALID["bac_decision"]["decisions"]
    assert item.published == date(2026, 12, 4) and item.featured and item.section == "uitgelicht"
    # stored at once, equal to what the file says: a full sync finds nothing to do
    row = stored.get_item(synced, item.id)
    assert row is not None and row.content_hash == item.content_hash()
    report = sync_content(synced, settings)
    assert (report.added, report.updated, report.errors) == (0, 0, [])
    # logged as the account's
    [entry] = [e for e in audit.events(synced) if e.action == "content-add"]
    assert (entry.actor, entry.subject) == (ACTOR, f"item:{item.id}")
    assert entry.details == {"kind": "bac_decision", "path": "content/bac/" + written.path.name}
    # no temporary file is left beside it
    assert [p.name for p in written.path.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_written_valid_and_its_form_asks_for_what_the_kind_reads(
    kind: str, settings: Settings, synced: Database
) -> None:
    keys = {spec.key for spec in FORMS[kind]}
    assert KIND_FIELDS[kind] <= keys <= KIND_FIELDS[kind] | COMMON_FIELDS
    written = save_item(synced, settings, kind, VALID[kind], "Meer *tekst*.", ACTOR)
    assert written.path.parent.name == FOLDERS[kind]
    item, warnings = read_item_file(written.path, settings)
    assert warnings == [] and item.kind == kind and item.body_text.strip() == "Meer tekst."
    assert item.title == VALID[kind].get("title", VALID[kind].get("subject"))
    again = draft(synced, settings, item.id)
    assert again.kind == kind and again.body.strip() == "Meer *tekst*."
    # the form's required marks are the kind's: without a required field the library refuses
    # the item naming that field; without an optional one it takes it
    meta = {"kind": kind, **VALID[kind]}
    for spec in FORMS[kind]:
        without = {k: v for k, v in meta.items() if k != spec.key}
        if spec.required:
            with pytest.raises(ItemRefused) as refused:
                check_values(settings, "form", "nieuw-item", without, "")
            assert [(p.field, p.problem) for p in refused.value.problems] == [(spec.key, "missing")]
        else:
            check_values(settings, "form", "nieuw-item", without, "")


def test_invalid_input_is_refused_naming_every_field_and_nothing_is_written(
    settings: Settings, synced: Database
) -> None:
    before = files_of(settings)
    items_before = len(stored.find_items(synced))
    values = {
        **VALID["bac_decision"],
        "meeting_date": "2026-02-30",
        "link": "www.ipo.example",
        "bac": "geen-bac",
        "summary": "  ",
    }
    with pytest.raises(ItemRefused) as refused:
        save_item(synced, settings, "bac_decision", values, "", ACTOR)
    problems = {p.field: p for p in refused.value.problems}
    assert {k: p.problem for k, p in problems.items()} == {
        "bac": "unknown",
        "meeting_date": "not-date",
        "summary": "missing",
        "link": "not-url",
    }
    assert problems["meeting_date"].value == "2026-02-30"
    assert "field 'meeting_date'" in str(refused.value)
    assert files_of(settings) == before
    assert len(stored.find_items(synced)) == items_before
    assert [e for e in audit.events(synced) if e.action.startswith("content")] == []
    with pytest.raises(ItemRefused):
        save_item(
            synced, settings, "bac_decision", {**VALID["bac_decision"], "subject": ""}, "", "x"
        )
    assert files_of(settings) == before


def test_an_edit_keeps_what_the_form_does_not_show_and_refuses_a_file_changed_meanwhile(
    settings: Settings, synced: Database
) -> None:
    item_id = "2026-11-20-bestuur"  # a hand-written news item with section: bestuur
    start = draft(synced, settings, item_id)
    assert start.kind == "news" and start.values["section"] == "bestuur"
    values = {**start.values, "title": "Bestuur: vergadering van 19 november", "link": ""}
    written = save_item(
        synced, settings, "news", values, start.body, ACTOR, item_id=item_id, version=start.version
    )
    assert not written.created and written.changed and written.path == start.path
    item, _ = read_item_file(start.path, settings)
    assert item.title == "Bestuur: vergadering van 19 november"
    assert item.section == "bestuur" and item.link == ""
    assert "link:" not in start.path.read_text(encoding="utf-8")  # emptied: left out
    stored_row_now = stored.get_item(synced, item_id)
    assert stored_row_now is not None and stored_row_now.title == item.title
    [entry] = [e for e in audit.events(synced) if e.action == "content-edit"]
    assert (entry.actor, entry.subject) == (ACTOR, f"item:{item_id}")
    # the same values again: nothing written, nothing logged
    again = draft(synced, settings, item_id)
    same = save_item(synced, settings, "news", again.values, again.body, ACTOR, item_id=item_id)
    assert not same.changed
    # a form opened on the old version does not overwrite the file changed since
    text = start.path.read_text(encoding="utf-8")
    with pytest.raises(ChangedMeanwhile):
        save_item(
            synced, settings, "news", values, "", ACTOR, item_id=item_id, version=start.version
        )
    assert start.path.read_text(encoding="utf-8") == text
    assert len([e for e in audit.events(synced) if e.action == "content-edit"]) == 1


def test_a_new_item_with_the_name_of_an_existing_one_gets_its_own_file(
    settings: Settings, synced: Database
) -> None:
    first = save_item(synced, settings, "news", VALID["news"], "", ACTOR)
    second = save_item(synced, settings, "news", VALID["news"], "", ACTOR)
    assert first.path != second.path and second.path.stem == first.path.stem + "-2"
    report = sync_content(synced, settings)
    assert report.errors == [] and (report.added, report.updated) == (0, 0)


def test_the_librarys_field_errors_read_as_dutch_next_to_their_field() -> None:
    def error(field: str, problem: str, value: Any = None) -> FieldError:
        return FieldError(f"x.md: field '{field}' ...", field, problem, value)

    assert problem_text(error("meeting_date", "not-date", "2026-02-30")).text == (
        "'2026-02-30' is geen datum. Schrijf jaar-maand-dag, bijvoorbeeld 2026-11-03."
    )
    assert problem_text(error("subject", "missing")).text.startswith("Vul het onderwerp in")
    assert problem_text(error("place", "missing")).text == "Dit veld is verplicht; vul het in."
    # a time inside the programme belongs next to the programme
    assert problem_text(error("time", "not-time", "25.00")).field == "programme"
    # every problem the library names has a Dutch sentence
    documented = re.findall(r"[a-z]+(?:-[a-z]+)?", FieldError.__doc__.split("Problems:")[1])  # type: ignore[union-attr]
    assert set(documented) == set(PROBLEMS)


# -- the list at size (in-process) -----------------------------------------------------------


def test_the_list_pages_through_ten_thousand_items_quickly(
    settings: Settings, synced: Database
) -> None:
    bac = next(p for p in content_files(settings) if p.parent.name == "bac")
    item, _ = read_item_file(bac, settings)
    with store.transaction(synced):
        for n in range(10_000):
            copy = replace(item, id=f"bulk-{n:05d}", title=f"Bulk {n}")
            stored.save_item(synced, stored_row(copy))
    accounts.add_account(synced, "rob@ipo.example", "Rob", ["redacteur"], "test", PASSWORD)
    client = create_console(settings).test_client()
    page = client.get("/inloggen")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    form = {"email": "rob@ipo.example", "wachtwoord": PASSWORD, "csrf_token": token[1]}
    assert client.post("/inloggen", data=form).status_code == 302
    timings = []
    for query in ("", "?pagina=150", "?soort=bac_decision&thema=landelijk-gebied", "?nummer=geen"):
        started = time.perf_counter()
        answer = client.get("/inhoud" + query)
        timings.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.text
    first = client.get("/inhoud?zoek=Bulk").text
    assert "10000 items, pagina 1 van 200." in first
    assert len(re.findall(r'href="/inhoud/bulk-\d+/bewerken"', first)) == 50
    last = client.get("/inhoud?zoek=Bulk&pagina=200").text
    assert "pagina 200 van 200" in last and "Vorige pagina" in last
    assert "Volgende pagina" not in last
    found = client.get("/inhoud?soort=bac_decision&zoek=Bulk+999").text
    assert "Bulk 9999" in found and "11 items." in found  # 999 and 9990-9999
    assert max(timings) < 1.0, timings


# -- the pages, through a real console process -----------------------------------------------

STAFF = {
    "rob@ipo.example": ("Rob Jansen", ["redacteur"]),
    "kees@ipo.example": ("Kees Smit", ["inbox"]),
}


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A demo instance with its content synced, a redacteur and an inbox account, and its
    console on a free port under its base URL's path."""
    folder = tmp_path_factory.mktemp("inhoud") / "instance"
    copy_instance(demo_source(), folder, fresh=False)
    config = folder / "newsletter.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'\n[console]\nbase_url = "http://intranet.ipo.example{PATH}"\n',
        encoding="utf-8",
    )
    settings = load_settings(folder)
    db = store.open_store(settings)
    assert not sync_content(db, settings).errors
    for email, (name, roles) in STAFF.items():
        accounts.add_account(db, email, name, roles, "test", PASSWORD)
    db.conn.close()
    port = free_port()
    process, log = start(folder, "console", "--port", str(port))
    running = Console(f"http://127.0.0.1:{port}{PATH}", folder, log)
    try:
        wait_for(running.url("/inloggen"), process)
        yield running
    finally:
        stop(process)


# one Chromium for the module and a fresh 1280 px page per test, as in test_console.py
browser = console_tests.browser
page = console_tests.page


def bac_form(page: Any, subject: str, meeting_date: str) -> None:
    """Fill the BAC decision form by its labels."""
    page.get_by_label("BAC", exact=True).select_option(label="BAC Landelijk Gebied")
    page.get_by_label("Datum van de vergadering").fill(meeting_date)
    page.get_by_label("Nummer van het besluit").fill("LG-2026-12")
    page.get_by_label("Onderwerp").fill(subject)
    page.get_by_label("Samenvatting").fill("De BAC besprak: de nieuwe rekenregels.")
    page.get_by_label("Besluiten").fill("stemt in met de inbreng;\nvraagt BIJ12 om een notitie.")
    page.get_by_label("Link", exact=True).fill("https://www.ipo.example/bac/lg/2026-12-03")


@pytest.mark.slow
def test_a_redacteur_filters_adds_a_bac_decision_and_finds_it_in_the_list_and_on_disk(
    page: Any, console: Console
) -> None:
    sign_in(page, console, "rob@ipo.example")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Inhoud").click()
    page.wait_for_url(console.url("/inhoud"))
    assert page.get_by_role("heading", name="Inhoud", level=1).is_visible()
    # filter by kind: only BAC decisions, all of the demo's
    page.get_by_label("Soort").select_option(label="BAC-besluit")
    page.get_by_role("button", name="Filteren").click()
    page.wait_for_url(re.compile(r"soort=bac_decision"))
    assert page.get_by_role("status").filter(has_text="11 items.").is_visible()
    kinds = page.get_by_role("region", name="Items").locator("tbody tr td:nth-child(2)")
    assert set(kinds.all_inner_texts()) == {"BAC-besluit"}
    # the feeds and their last fetch are on the same page
    feeds = page.get_by_role("region", name="Feeds")
    assert feeds.get_by_role("cell", name="ipo-nieuws", exact=True).is_visible()
    assert feeds.get_by_role("cell", name="gelukt", exact=True).is_visible()
    # add a BAC decision through the form, a colon and quotes in its subject
    page.get_by_role("link", name="Nieuw item").click()
    page.get_by_role("link", name="BAC-besluit").click()
    assert page.get_by_role("heading", name="BAC-besluit toevoegen").is_visible()
    bac_form(page, TITLE, "2026-12-03")
    page.get_by_role("button", name="Opslaan").click()
    page.wait_for_url(re.compile(r"/inhoud\?soort=bac_decision$"))
    assert page.get_by_role("status").filter(has_text="is opgeslagen").is_visible()
    assert page.get_by_role("status").filter(has_text="12 items.").is_visible()
    link = page.get_by_role("region", name="Items").get_by_role("link", name=TITLE)
    assert link.is_visible()
    # on disk, valid YAML the reader takes back as written; in the store; in the log by account
    settings = load_settings(console.folder)
    path = settings.content_dir / "bac" / "2026-12-03-stikstof-de-nieuwe-rekenregels-van-t-rijk.md"
    item, warnings = read_item_file(path, settings)
    assert item.title == TITLE and warnings == []
    db = console.db()
    assert stored.get_item(db, item.id) is not None
    adds = [e for e in audit.events(db) if e.action == "content-add"]
    assert [(e.actor, e.subject) for e in adds] == [("staff:rob@ipo.example", f"item:{item.id}")]
    # and it opens again in its form, the subject as it was typed
    link.click()
    assert page.get_by_label("Onderwerp").input_value() == TITLE
    page.get_by_label("Samenvatting").fill("Bijgewerkt: de rekenregels.")
    page.get_by_role("button", name="Opslaan").click()
    assert page.get_by_role("status").filter(has_text="is opgeslagen").is_visible()
    assert read_item_file(path, settings)[0].summary == "Bijgewerkt: de rekenregels."


@pytest.mark.slow
def test_an_invalid_date_is_shown_in_dutch_next_to_the_field_and_nothing_is_written(
    page: Any, console: Console
) -> None:
    settings = load_settings(console.folder)
    before = files_of(settings)
    sign_in(page, console, "rob@ipo.example")
    page.goto(console.url("/inhoud/nieuw/bac_decision"))
    bac_form(page, 'Regionaal OV: "concessies"', "2026-02-30")
    page.get_by_role("button", name="Opslaan").click()
    field = page.get_by_label("Datum van de vergadering")
    message = "'2026-02-30' is geen datum. Schrijf jaar-maand-dag, bijvoorbeeld 2026-11-03."
    assert field.get_attribute("aria-invalid") == "true"
    described = field.get_attribute("aria-describedby").split()
    assert page.locator(f"#{described[-1]}").inner_text() == message
    summary = page.get_by_role("alert")
    assert summary.get_by_role("heading", name="Het item is niet opgeslagen").is_visible()
    summary.get_by_role("link", name="Datum van de vergadering").click()
    assert page.evaluate("location.hash") == "#veld-meeting_date"
    # what was typed is still there; nothing was written
    assert page.get_by_label("Onderwerp").input_value() == 'Regionaal OV: "concessies"'
    assert files_of(settings) == before


@pytest.mark.slow
def test_an_inbox_account_reads_the_list_but_may_not_edit(page: Any, console: Console) -> None:
    sign_in(page, console, "kees@ipo.example")
    page.goto(console.url("/inhoud"))
    assert page.get_by_role("heading", name="Inhoud", level=1).is_visible()
    assert page.get_by_role("link", name="Nieuw item").count() == 0
    assert page.get_by_role("region", name="Items").get_by_role("link").count() == 0
    for path in (
        "/inhoud/nieuw",
        "/inhoud/nieuw/bac_decision",
        "/inhoud/2026-11-20-bestuur/bewerken",
    ):
        answer = page.goto(console.url(path))
        assert answer.status == 403
        assert page.get_by_role("heading", name="Geen toegang").is_visible()
    # a posted form is refused before anything is written
    settings = load_settings(console.folder)
    before = files_of(settings)
    http = requests.Session()
    token = re.search(r'name="csrf_token" value="([^"]+)"', http.get(console.url("/inloggen")).text)
    assert token
    form = {"email": "kees@ipo.example", "wachtwoord": PASSWORD, "csrf_token": token[1]}
    http.post(console.url("/inloggen"), data=form, timeout=10)
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', http.get(console.url("/")).text)
    assert fresh
    posted = {**{k: str(v) for k, v in VALID["news"].items()}, "csrf_token": fresh[1]}
    refused = http.post(console.url("/inhoud/nieuw/news"), data=posted, timeout=10)
    assert refused.status_code == 403 and "Geen toegang" in refused.text
    assert files_of(settings) == before


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 375])
def test_axe_finds_nothing_serious_on_the_inhoud_pages(
    browser: Any, console: Console, width: int
) -> None:
    context = browser.new_context(
        viewport={"width": width, "height": 900}, locale="nl-NL", bypass_csp=True
    )
    page = context.new_page()
    try:
        sign_in(page, console, "rob@ipo.example")
        pages = [
            "/inhoud",
            "/inhoud?soort=event&van=2026-13-01",
            "/inhoud/nieuw",
            "/inhoud/nieuw/av_meeting",
            "/inhoud/2026-11-20-bestuur/bewerken",
        ]
        for path in pages:
            page.goto(console.url(path))
            assert axe_serious(page) == [], path
            # nothing wider than the screen but the tables' own scrolling regions
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, (path, overflow)
        page.goto(console.url("/inhoud/nieuw/event"))
        page.get_by_role("button", name="Opslaan").click()
        assert page.get_by_role("alert").is_visible()
        assert axe_serious(page) == [], "form with errors"
    finally:
        context.close()
