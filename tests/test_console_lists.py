"""The console's lists a page at a time (issue #14): Logboek by person, issue and account;
Medewerkers, Nummers and Inhoud paginated in the store, with "Vorige", "Pagina 2 van 3" and
"Volgende" that keep the filters. One real `newsletter console` under waitress for the module,
plain HTTP with a signed-in session (the pages' axe checks are in test_console.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from html import unescape

import pytest
from sqlite_utils import Database

from newsletter import store
from newsletter.config import Settings, load_settings
from newsletter.sources.catalog import stored_row
from newsletter.sources.files import content_files, read_item_file
from newsletter.staff import accounts
from newsletter.store import audit, transaction
from newsletter.store import items as stored
from newsletter.store import staff as staff_rows
from newsletter.store import subscribers as people
from newsletter.store.subscribers import Details
from tests.test_console import (
    PASSWORD,
    PATH,
    Console,
    console_instance,
    running_console,
    signed_in_session,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """120 staff accounts, 56 issue files (the demo's 2026-11 and 55 more), two readers with
    60 and 3 log entries about them."""
    folder = console_instance(tmp_path_factory.mktemp("lists") / "instance")
    settings = load_settings(folder)
    db = store.open_store(settings)
    accounts.add_account(db, "bea@ipo.example", "Bea Visser", ["beheerder"], "test", PASSWORD)
    with transaction(db):  # one commit, straight into the store: no 119 password hashes
        for n in range(119):
            staff_rows.add(db, f"m{n:03d}@ipo.example", f"Mede Werker {n}", ("inbox",), "x")
    issues = settings.content_dir / "issues"
    issues.mkdir(parents=True, exist_ok=True)
    for n in range(55):
        (issues / f"{2020 + n // 12}-{n % 12 + 1:02d}.md").write_text("", encoding="utf-8")
    with transaction(db):
        people.add_many(
            db,
            [
                Details(
                    "Anna.Jansen@GLD.example", "Anna Jansen", "Anna", "Jansen", "Beste Anna", "GLD"
                ),
                Details("kees@ut.example", "Kees de Boer", "Kees", "de Boer", "Beste Kees", "UT"),
            ],
            status="active",
            source="test",
            at="2026-11-01T00:00:00Z",
        )
    anna = people.find_by_email(db, "anna.jansen@gld.example")
    kees = people.find_by_email(db, "kees@ut.example")
    assert anna and kees
    with transaction(db):
        for n in range(60):
            audit.record(db, "web", "preferences", f"subscriber:{anna.id}", n=n)
        for n in range(3):
            audit.record(db, "staff:bea@ipo.example", "unsubscribe", f"subscriber:{kees.id}", n=n)
        audit.record(db, "tick", "tick", "tick", failed=[])
    add_copies(db, settings, 110, "2026-10-01")  # one day: the order among them is by id
    db.conn.close()
    with running_console(folder) as running:
        yield running


def add_copies(
    db: Database, settings: Settings, count: int, published: str, first: int = 0
) -> None:
    """Copies of a BAC decision, "Kopie <n>", all published on one day."""
    bac = next(p for p in content_files(settings) if p.parent.name == "bac")
    item, _ = read_item_file(bac, settings)
    day = date.fromisoformat(published)
    with transaction(db):
        for n in range(first, first + count):
            copy = replace(item, id=f"kopie-{n:03d}", title=f"Kopie {n}", published=day)
            stored.save_item(db, stored_row(copy))


def nav(page: str) -> dict[str, str]:
    """The page navigation: its links by name (Vorige/Volgende) and where it says we are."""
    block = re.search(r'<nav class="paginas"[^>]*>(.*?)</nav>', page, re.S)
    if block is None:
        return {}
    found = {
        label: unescape(href)
        for href, label in re.findall(r'<a href="([^"]+)"[^>]*>(Vorige|Volgende)</a>', block[1])
    }
    here = re.search(r'<li aria-current="page">(Pagina \d+ van \d+)</li>', block[1])
    return {**found, "hier": here[1] if here else ""}


def rows(page: str) -> int:
    return len(re.findall(r"<tr>", page.split("<tbody>", 1)[-1]))


def item_ids(page: str) -> list[str]:
    """The copies on a page of Inhoud, by their titles ("Kopie 7" is kopie-007)."""
    titles = re.findall(r">Kopie (\d+)<", page.split("<tbody>", 1)[-1])
    return [f"kopie-{int(n):03d}" for n in titles]


def test_inhoud_goes_on_from_the_last_row_shown_when_items_come_in_meanwhile(
    console: Console,
) -> None:
    http, _ = signed_in_session(console, "bea@ipo.example")
    first = http.get(console.url("/inhoud"), params={"zoek": "Kopie"}, timeout=10).text
    assert "110 items, pagina 1 van 3." in first
    assert item_ids(first) == [f"kopie-{n:03d}" for n in range(50)]  # ties: by id
    # Five newer items arrive while the editor reads page 1: "Volgende" goes on after the
    # last row shown (counting from the start again would show five rows twice).
    db = console.db()
    add_copies(db, load_settings(console.folder), 5, "2026-10-02", first=200)
    following = nav(first)["Volgende"]
    assert "zoek=Kopie" in following and "pagina=2" in following and "na=2026-10-01" in following
    second = http.get(console.url(following.removeprefix(PATH)), timeout=10).text
    assert item_ids(second) == [f"kopie-{n:03d}" for n in range(50, 100)]
    assert nav(second)["hier"] == "Pagina 2 van 3"  # 115 now
    third = http.get(console.url(nav(second)["Volgende"].removeprefix(PATH)), timeout=10).text
    assert item_ids(third) == [f"kopie-{n:03d}" for n in range(100, 110)]
    assert "Volgende" not in nav(third)
    back = http.get(console.url(nav(third)["Vorige"].removeprefix(PATH)), timeout=10).text
    assert item_ids(back) == item_ids(second) and nav(back)["hier"] == "Pagina 2 van 3"
    # A page asked for by number alone counts from the start (the newest five first now).
    by_number = http.get(console.url("/inhoud"), params={"zoek": "Kopie", "pagina": 3}).text
    assert item_ids(by_number) == [f"kopie-{n:03d}" for n in range(95, 110)]
    broken = http.get(console.url("/inhoud"), params={"zoek": "Kopie", "na": "gisteren~x"})
    assert broken.status_code == 200 and len(item_ids(broken.text)) == 50


def test_medewerkers_a_page_of_fifty_at_a_time(console: Console) -> None:
    http, _ = signed_in_session(console, "bea@ipo.example")
    first = http.get(console.url("/medewerkers"), timeout=10).text
    assert "120 accounts, pagina 1 van 3." in first and rows(first) == 50
    links = nav(first)
    assert links["hier"] == "Pagina 1 van 3" and "Vorige" not in links
    assert links["Volgende"] == f"{PATH}/medewerkers?pagina=2"
    last = http.get(console.url("/medewerkers?pagina=3"), timeout=10).text
    assert rows(last) == 20 and nav(last)["hier"] == "Pagina 3 van 3"
    assert "Volgende" not in nav(last) and nav(last)["Vorige"] == f"{PATH}/medewerkers?pagina=2"
    beyond = http.get(console.url("/medewerkers?pagina=9"), timeout=10)
    assert beyond.status_code == 200 and rows(beyond.text) == 0
    assert http.get(console.url("/medewerkers?pagina=x"), timeout=10).status_code == 200


def test_nummers_paginated_newest_first(console: Console) -> None:
    http, _ = signed_in_session(console, "bea@ipo.example")
    answer = http.get(console.url("/nummers"), timeout=10)
    first = answer.text
    assert answer.status_code == 200, re.sub(r"<[^>]+>", " ", first)[-2000:]
    assert "56 nummers, pagina 1 van 2." in first and rows(first) == 50
    assert first.index(">2026-11<") < first.index(">2024-07<")  # the newest first
    second = http.get(console.url(nav(first)["Volgende"].removeprefix(PATH)), timeout=10).text
    assert rows(second) == 6 and ">2020-01<" in second and nav(second)["hier"] == "Pagina 2 van 2"


def test_logboek_by_person_by_address_or_name_and_paged_with_the_filter(console: Console) -> None:
    http, _ = signed_in_session(console, "bea@ipo.example")
    by_address = http.get(
        console.url("/logboek"), params={"persoon": "ANNA.jansen@gld.example"}, timeout=10
    ).text
    assert "60 gebeurtenissen, pagina 1 van 2." in by_address and rows(by_address) == 50
    assert 'id="persoon" name="persoon" value="ANNA.jansen@gld.example"' in by_address
    following = nav(by_address)["Volgende"]
    assert "persoon=ANNA.jansen@gld.example" in following and "pagina=2" in following
    second = http.get(console.url(following.removeprefix(PATH)), timeout=10).text
    assert rows(second) == 10 and nav(second)["hier"] == "Pagina 2 van 2"
    assert "persoon=ANNA.jansen@gld.example" in nav(second)["Vorige"]
    by_name = http.get(console.url("/logboek"), params={"persoon": "de boer"}, timeout=10).text
    assert "3 gebeurtenissen." in by_name and "Pagina" not in nav(by_name).get("hier", "")
    both = http.get(
        console.url("/logboek"),
        params={"persoon": "Kees", "account": "staff:bea@ipo.example"},
        timeout=10,
    ).text
    assert "3 gebeurtenissen." in both
    nobody = http.get(console.url("/logboek"), params={"persoon": "niemand"}, timeout=10).text
    assert "0 gebeurtenissen." in nobody
    wildcard = http.get(console.url("/logboek"), params={"persoon": "%"}, timeout=10).text
    assert "0 gebeurtenissen." in wildcard  # a LIKE wildcard is a plain character
