"""The console's issue page and preview reuse a build while nothing that goes into it changed
(issue #14, item 6), and never show a stale one: each kind of edit (through the console, the
CLI, a file changed on disk, a template, the people holding a mandate, the date) shows on the
next view. One real `newsletter console` for the module, plain HTTP with a signed-in session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
import requests

from newsletter import clock, store
from newsletter.config import builtin_templates, load_settings
from newsletter.demo import DEMO_NOW, load_demo, write_demo_issue
from newsletter.issues.files import read_issue_file
from newsletter.issues.memo import build_input
from newsletter.sources.catalog import get_items
from newsletter.staff import accounts
from newsletter.store import subscribers as people
from tests.test_console import (
    PASSWORD,
    Console,
    console_instance,
    running_console,
    signed_in_session,
)

pytestmark = pytest.mark.slow
MONTH = "2026-12"
EDITOR = "sanne@ipo.example"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The demo instance with its December issue and its own copy of the templates."""
    folder = console_instance(tmp_path_factory.mktemp("memo") / "instance")
    subprocess.run(["cp", "-r", str(builtin_templates()), str(folder / "templates")], check=True)
    config = folder / "newsletter.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "[paths]\n", '[paths]\ntemplates = "templates"\n', 1
        ),
        encoding="utf-8",
    )
    clock.set_now(DEMO_NOW)
    try:
        settings, db = load_demo(folder)
        write_demo_issue(db, settings)
    finally:
        clock.set_now(None)
    accounts.add_account(db, EDITOR, "Sanne de Vries", ["redacteur"], "test", PASSWORD)
    db.conn.close()
    with running_console(folder, now=DEMO_NOW) as running:
        yield running


@pytest.fixture(scope="module")
def http(console: Console) -> tuple[requests.Session, str]:
    return signed_in_session(console, EDITOR)


def preview(console: Console, http: tuple[requests.Session, str]) -> str:
    """The Gelderland reader's e-mail in the preview frame, as text to search."""
    answer = http[0].get(console.url(f"/nummers/{MONTH}/voorbeeld?provincie=GLD"), timeout=120)
    assert answer.status_code == 200
    return unescape(answer.text)


def cli(console: Console, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env["NEWSLETTER_NOW"] = DEMO_NOW
    command = [sys.executable, "-m", "newsletter", "--project", str(console.folder), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def issue_file(console: Console) -> Path:
    return console.folder / "content" / "issues" / f"{MONTH}.md"


def test_an_intro_saved_in_the_console_shows_in_the_next_preview(
    console: Console, http: tuple[requests.Session, str]
) -> None:
    assert "Kerstgroet uit de console" not in preview(console, http)
    draft = read_issue_file(load_settings(console.folder), MONTH)
    saved = http[0].post(
        console.url(f"/nummers/{MONTH}/tekst"),
        data={
            "subject": draft.subject,
            "preheader": draft.preheader,
            "intro": draft.intro + "\n\nKerstgroet uit de console.",
            "csrf_token": http[1],
        },
        allow_redirects=False,
        timeout=120,
    )
    assert saved.status_code == 302, saved.text[:500]
    assert "Kerstgroet uit de console" in preview(console, http)


def test_an_item_removed_with_the_cli_is_gone_from_the_next_preview(
    console: Console, http: tuple[requests.Session, str]
) -> None:
    settings = load_settings(console.folder)
    item_id = read_issue_file(settings, MONTH).sections["agenda"][0]
    title = get_items(store.open_store(settings), [item_id])[item_id].title
    assert title in preview(console, http)
    cli(console, "issue", "compose", MONTH, "--remove", item_id, "--by", EDITOR)
    assert title not in preview(console, http)


def test_an_item_file_edited_on_disk_and_synced_shows_in_the_next_preview(
    console: Console, http: tuple[requests.Session, str]
) -> None:
    settings = load_settings(console.folder)
    item_id = read_issue_file(settings, MONTH).sections["bac"][0]
    item = get_items(store.open_store(settings), [item_id])[item_id]
    path = settings.project / item.path  # relative to the instance folder
    assert item.title in preview(console, http)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(item.title, "Besluit met een nieuwe titel", 1), encoding="utf-8")
    cli(console, "content", "sync")
    shown = preview(console, http)
    assert "Besluit met een nieuwe titel" in shown and item.title not in shown


def test_an_issue_file_edited_on_disk_shows_in_the_preview_and_the_checks(
    console: Console, http: tuple[requests.Session, str]
) -> None:
    page = http[0].get(console.url(f"/nummers/{MONTH}"), timeout=120).text
    assert "onbekend.example" not in page
    path = issue_file(console)
    path.write_text(
        path.read_text(encoding="utf-8")
        + "\nZie ook [deze pagina](https://onbekend.example/pagina) over het najaar.\n",
        encoding="utf-8",
    )
    assert "deze pagina" in preview(console, http)
    page = http[0].get(console.url(f"/nummers/{MONTH}"), timeout=120).text
    assert "onbekend.example" in page  # the quick checks' finding: a host not allowed


def test_a_template_edited_on_disk_shows_in_the_next_preview(
    console: Console, http: tuple[requests.Session, str]
) -> None:
    assert "Uit uw eigen provincie:" not in preview(console, http)
    template = console.folder / "templates" / "email" / "issue.mjml.j2"
    text = template.read_text(encoding="utf-8")
    assert '<h2 id="uw-provincie">Uw provincie: ' in text
    template.write_text(
        text.replace(
            '<h2 id="uw-provincie">Uw provincie: ', '<h2 id="uw-provincie">Uit uw eigen provincie: '
        )
    )
    assert "Uit uw eigen provincie: Gelderland" in preview(console, http)


def test_a_new_av_member_shows_in_the_next_preview(
    console: Console, http: tuple[requests.Session, str]
) -> None:
    db = store.open_store(load_settings(console.folder))
    people.add_many(
        db,
        [
            people.Details(
                "wim.gerritsen@gld.example",
                "Wim Gerritsen",
                "Wim",
                "Gerritsen",
                "Geachte heer Gerritsen",
                "GLD",
            )
        ],
        status="active",
        source="test",
        at="2026-11-01T00:00:00Z",
    )
    assert "Wim Gerritsen" not in preview(console, http)
    found = people.find_by_email(db, "wim.gerritsen@gld.example")
    assert found is not None
    people.add_mandate(db, found.id, "av_lid", "GLD", "2026-11-15", "test")  # as an import does
    assert "Wim Gerritsen" in preview(console, http)


def test_an_input_seen_before_writes_its_build_again(
    console: Console, http: tuple[requests.Session, str]
) -> None:
    path = issue_file(console)
    before = path.read_bytes()
    preview(console, http)
    path.write_text(
        path.read_text(encoding="utf-8") + "\nEen zin die weer verdwijnt.\n", encoding="utf-8"
    )
    assert "Een zin die weer verdwijnt" in preview(console, http)
    path.write_bytes(before)  # back to what was built before: reused, and written again
    assert "Een zin die weer verdwijnt" not in preview(console, http)
    built = console.folder / "build" / "issues" / MONTH / "GLD.html"
    assert "Een zin die weer verdwijnt" not in built.read_text(encoding="utf-8")


def test_the_key_of_a_build_changes_with_the_date(console: Console) -> None:
    settings = load_settings(console.folder)
    db = store.open_store(settings)
    try:
        clock.set_now("2026-12-01T08:30:00+01:00")
        first = build_input(db, settings, MONTH).key
        clock.set_now("2026-12-01T17:00:00+01:00")
        assert build_input(db, settings, MONTH).key == first  # same day, same input
        clock.set_now("2026-12-02T08:30:00+01:00")
        assert build_input(db, settings, MONTH).key != first
    finally:
        clock.set_now(None)
        db.conn.close()
