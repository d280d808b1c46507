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
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from newsletter import store
from newsletter.config import Settings
from newsletter.console.app import create_console
from newsletter.console.content_form import PROBLEMS, problem_text
from newsletter.content.items import COMMON_FIELDS, KIND_FIELDS, KINDS, FieldError
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
from tests.test_console import (
    PASSWORD,
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
