"""Composing an issue and sending it from the console (issue #14, "Nummers"): add, remove and
move items through issues.compose (the CLI's use case too), the file on disk as the source of
truth, the findings linked to what to fix, and "Nu versturen" in a worker of the console with a
progress page that refreshes itself and the report per province.

The library's rules run without a server; one console process (mail to an outbox folder, at two
messages a second so a send is still under way while the test looks) for the HTTP tests, and
one Chromium journey. Nothing here runs the external preflight tools: the approval before the
send runs the Python checks only.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import frontmatter
import pytest
import requests
from sqlite_utils import Database

from newsletter.config import Settings, load_settings
from newsletter.console.finding_words import shown
from newsletter.demo import DEMO_NOW, copy_instance, demo_source, load_demo, write_demo_issue
from newsletter.editorial import workflow
from newsletter.issues.compose import FieldError, Frozen, Move, Text, compose, read_draft
from newsletter.issues.files import read_issue_file
from newsletter.outbound.ledger import counts, create_mailing
from newsletter.preflight.model import Finding
from newsletter.sources.catalog import get_items
from newsletter.staff import accounts
from newsletter.store import audit
from newsletter.store import workflow as rows
from newsletter.store.workflow import IssueWorkflow
from tests.conftest import Runner
from tests.test_console import (
    PASSWORD,
    Console,
    axe_serious,
    browser,  # noqa: F401  (the module's one Chromium)
    free_port,
    sign_in,
    signed_in_session,
    stop,
    wait_for,
)

PATH = "/nieuwsbrief-console"
MONTH = "2026-12"
STAFF = {
    "sanne@ipo.example": ("Sanne de Vries", ["redacteur", "eindredacteur"]),
    "pieter@ipo.example": ("Pieter Bakker", ["eindredacteur"]),
    "rob@ipo.example": ("Rob Jansen", ["redacteur"]),
    "kees@ipo.example": ("Kees Smit", ["inbox"]),
}
BY = "staff:sanne@ipo.example"
NOW = "2026-12-01T07:30:00+00:00"


def no_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """The approval runs the Python checks; SpamAssassin, vnu and axe report nothing here."""
    monkeypatch.setattr(
        "newsletter.preflight.runner.run_external", lambda messages, files, settings: []
    )


def sections_on_disk(path: Path) -> dict[str, list[str]]:
    meta = frontmatter.loads(path.read_text(encoding="utf-8")).metadata
    return {k: list(v or []) for k, v in meta["sections"].items()}


# -- the library: issues.compose ---------------------------------------------------------------


def test_compose_adds_moves_and_removes_an_item_and_the_file_stays_valid(
    settings: Settings, loaded: Database, december: Path
) -> None:
    placed = read_draft(settings, MONTH).item_ids
    [extra] = [i for i in _newest(loaded) if i not in placed][:1]
    draft = compose(loaded, settings, MONTH, Move("add", extra, "uitgelicht"), BY)
    assert draft.sections["uitgelicht"][-1] == extra
    if len(draft.sections["uitgelicht"]) > 1:
        draft = compose(loaded, settings, MONTH, Move("up", extra), BY)
        assert draft.sections["uitgelicht"][-2] == extra
    assert read_issue_file(settings, MONTH).sections["uitgelicht"] == draft.sections["uitgelicht"]
    draft = compose(loaded, settings, MONTH, Move("remove", extra), BY)
    assert extra not in draft.item_ids
    # the intro survives every change, and every change is in the log by account
    assert read_issue_file(settings, MONTH).intro
    logged = [e for e in audit.events(loaded, f"issue-{MONTH}") if e.action == "compose"]
    assert [e.actor for e in logged] == [BY] * len(logged) and len(logged) >= 2


def test_compose_refuses_what_the_file_cannot_hold_and_changes_nothing(
    settings: Settings, loaded: Database, december: Path
) -> None:
    before = december.read_text(encoding="utf-8")
    first = read_draft(settings, MONTH).item_ids[0]
    refusals = [
        (Move("add", first), "item", "already in sections"),
        (Move("add", "bestaat-niet"), "item", "unknown item"),
        (Move("add", _newest(loaded)[-1], "voorpagina"), "section", "is not a section"),
        (Move("remove", "bestaat-niet"), "item", "is not in this issue"),
        (Text("Onderwerp", "", "Inleiding"), "preheader", "is empty"),
        (Text("Onder\nwerp", "Preheader", "Inleiding"), "subject", None),
    ]
    for change, field, words in refusals:  # words None: the header check says why
        with pytest.raises(FieldError, match=words) as refused:
            compose(loaded, settings, MONTH, change, BY)
        assert refused.value.field == field, change
    ids = next(ids for ids in read_draft(settings, MONTH).sections.values() if ids)
    with pytest.raises(FieldError, match="already the first"):
        compose(loaded, settings, MONTH, Move("up", ids[0]), BY)
    assert december.read_text(encoding="utf-8") == before


def test_a_subject_with_a_colon_and_quotes_is_written_as_valid_yaml(
    settings: Settings, loaded: Database, december: Path
) -> None:
    subject = 'Nieuwsbrief: december "2026" # niet: een commentaar'
    compose(loaded, settings, MONTH, Text(subject, "Preheader: kort", "De **AV**: ja."), BY)
    issue = read_issue_file(settings, MONTH)
    assert (issue.subject, issue.preheader, issue.intro) == (
        subject,
        "Preheader: kort",
        "De **AV**: ja.",
    )


def test_an_approved_or_sent_issue_is_frozen_for_the_console_and_the_cli_alike(
    settings: Settings, loaded: Database, december: Path, run: Runner
) -> None:
    # The stored state an approval leaves (the approval itself, with its checks, is in the
    # send test below and in test_workflow); then the state a begun send leaves.
    rows.upsert_issue(
        loaded, IssueWorkflow(MONTH, "approved", approved_hash="0" * 64, updated_at=NOW)
    )
    before = december.read_text(encoding="utf-8")
    item = read_draft(settings, MONTH).item_ids[0]
    with pytest.raises(Frozen, match="approved version is frozen"):
        compose(loaded, settings, MONTH, Move("remove", item), BY)
    with pytest.raises(Frozen):
        compose(loaded, settings, MONTH, Text("a", "b", "c"), BY)
    refused = run("issue", "compose", MONTH, "--remove", item)
    assert refused.exit_code != 0 and "frozen" in refused.output
    assert december.read_text(encoding="utf-8") == before
    rows.upsert_issue(
        loaded, IssueWorkflow(MONTH, updated_at=NOW)
    )  # revoked: a draft, and composing again
    compose(loaded, settings, MONTH, Move("remove", item), BY)
    create_mailing(loaded, f"issue-{MONTH}", "issue", "Onderwerp", "hash", MONTH)
    with pytest.raises(Frozen, match="is sending"):
        compose(loaded, settings, MONTH, Move("add", item), BY)
    assert item not in read_draft(settings, MONTH).item_ids


def test_issue_compose_on_the_command_line(
    settings: Settings, loaded: Database, december: Path, run: Runner
) -> None:
    extra = next(i for i in _newest(loaded) if i not in read_draft(settings, MONTH).item_ids)
    added = run("issue", "compose", MONTH, "--add", extra, "--section", "kennis")
    assert added.exit_code == 0, added.output
    assert extra in re.search(r"^kennis: (.*)$", added.output, re.M)[1]  # type: ignore[index]
    assert run("issue", "compose", MONTH, "--move", extra, "sideways").exit_code == 2
    assert run("issue", "compose", MONTH).exit_code == 2
    removed = run("issue", "compose", MONTH, "--remove", extra)
    assert removed.exit_code == 0 and extra not in removed.output
    actors = {e.actor for e in audit.events(loaded, f"issue-{MONTH}") if e.action == "compose"}
    assert actors == {"staff:sanne@ipo.example"}  # the OS user's account ([console] os_users)


def test_a_finding_names_the_item_or_the_field_to_fix_in_dutch(
    loaded: Database, settings: Settings, december: Path
) -> None:
    items = get_items(loaded, read_draft(settings, MONTH).item_ids)
    item = next(i for i in items.values() if i.path)

    def finding(check: str, message: str, **where: str) -> Finding:
        return Finding("error", check, "GLD", message, "fix it", **where)

    by_file = shown(finding("link-text", "link text 'hier'", item="x", source=item.path), items, "")
    assert (by_file.item_id, by_file.editable) == (item.id, True)
    assert by_file.what == "Een linktekst zegt niet waar de link heen gaat."
    by_title = shown(finding("img-alt", "no alt", item=item.title + " 3 dec"), items, "")
    assert by_title.item_id == item.id
    assert shown(finding("subject-caps", "caps"), items, "").field == "subject"
    assert shown(finding("preheader", "none"), items, "").field == "preheader"
    intro = '<p>Zie <a href="https://www.ipo.example/av">hier</a></p>'
    in_intro = shown(
        finding("link-text", "link text 'hier' (https://www.ipo.example/av)"), items, intro
    )
    assert (in_intro.field, in_intro.field_name) == ("intro", "de inleiding")
    assert shown(finding("axe-color", "axe serious"), items, "").what.startswith("Toegankelijkheid")


def _newest(db: Database) -> list[str]:
    from newsletter.sources.catalog import list_items

    return [i.id for i in list_items(db)]


# -- the console, over HTTP ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The demo instance with December written, four staff, mail into an outbox folder at two
    messages a second."""
    folder = tmp_path_factory.mktemp("samenstellen") / "instance"
    copy_instance(demo_source(), folder, fresh=False)
    config = folder / "newsletter.toml"
    text = config.read_text(encoding="utf-8").replace(
        'transport = "outbox:outbox"', 'transport = "outbox:outbox"\nrate_per_minute = 120'
    )
    config.write_text(
        text + f'\n[console]\nbase_url = "http://intranet.ipo.example{PATH}"\n', encoding="utf-8"
    )
    settings, db = load_demo(folder)
    write_demo_issue(db, settings)
    for address, (name, roles) in STAFF.items():
        accounts.add_account(db, address, name, roles, "test", PASSWORD)
    db.conn.close()
    port = free_port()
    log = folder / "console.stderr"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env["NEWSLETTER_NOW"] = DEMO_NOW
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsletter",
            "--project",
            str(folder),
            "console",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env=env,
    )
    running = Console(f"http://127.0.0.1:{port}{PATH}", folder, log)
    try:
        wait_for(running.url("/inloggen"), process)
        yield running
    finally:
        stop(process)


def issue_file(console: Console) -> Path:
    return console.folder / "content/issues" / f"{MONTH}.md"


def offered(page: str) -> list[str]:
    """The item ids in the page's "Item" list (the items that can be added)."""
    select = re.search(r'<select id="item" name="item"[^>]*>(.*?)</select>', page, re.S)
    return re.findall(r'<option value="([^"]+)"', select[1]) if select else []


def change(http: requests.Session, console: Console, token: str, **form: str) -> requests.Response:
    return http.post(
        console.url(f"/nummers/{MONTH}/samenstellen"),
        data={"csrf_token": token, **form},
        allow_redirects=False,
        timeout=60,
    )


@pytest.mark.slow
def test_items_are_added_moved_and_removed_from_the_issue_page(console: Console) -> None:
    http, token = signed_in_session(console, "rob@ipo.example")  # a redacteur composes
    page = http.get(console.url(f"/nummers/{MONTH}"), timeout=60).text
    candidates = offered(page)
    on_disk = sections_on_disk(issue_file(console))
    placed = [i for ids in on_disk.values() for i in ids]
    assert candidates and not set(candidates) & set(placed)
    for key, ids in on_disk.items():  # every section is listed with its items
        assert f'id="rubriek-{key}"' in page
        for item_id in ids:
            assert f'id="onderdeel-{item_id}"' in page
    extra = candidates[0]
    answer = change(http, console, token, wijziging="toevoegen", item=extra, rubriek="uitgelicht")
    assert answer.status_code == 302
    featured = sections_on_disk(issue_file(console))["uitgelicht"]
    assert featured[-1] == extra
    shown_page = http.get(console.url(f"/nummers/{MONTH}"), timeout=60).text
    assert "Het item is aan het nummer toegevoegd." in shown_page
    assert extra not in offered(shown_page)
    if len(featured) > 1:
        assert change(http, console, token, wijziging="omhoog", item=extra).status_code == 302
        assert sections_on_disk(issue_file(console))["uitgelicht"][-2] == extra
    assert change(http, console, token, wijziging="verwijderen", item=extra).status_code == 302
    assert extra not in str(sections_on_disk(issue_file(console)))
    # a refusal of the library, in Dutch next to the list; nothing written
    before = issue_file(console).read_text(encoding="utf-8")
    again = change(http, console, token, wijziging="verwijderen", item=extra)
    assert again.status_code == 422
    assert f"Het item &#39;{extra}&#39; staat niet (meer) in het nummer." in again.text
    assert issue_file(console).read_text(encoding="utf-8") == before
    db = console.db()
    assert {e.actor for e in audit.events(db, f"issue-{MONTH}") if e.action == "compose"} == {
        "staff:rob@ipo.example"
    }


@pytest.mark.slow
def test_the_items_to_add_are_filtered_by_kind_and_theme_newest_first(console: Console) -> None:
    http, _ = signed_in_session(console, "sanne@ipo.example")
    db = console.db()
    first = get_items(db, offered(http.get(console.url(f"/nummers/{MONTH}"), timeout=60).text))
    some = next(iter(first.values()))
    for query, wanted in (({"soort": some.kind}, "kind"), ({"thema": some.theme}, "theme")):
        page = http.get(console.url(f"/nummers/{MONTH}"), params=query, timeout=60).text
        ids = offered(page)
        items = get_items(db, ids)
        value = next(iter(query.values()))
        assert ids and {getattr(items[i], wanted) for i in ids} == {value}
        days = [items[i].published for i in ids]
        assert days == sorted(days, reverse=True)


@pytest.mark.slow
def test_who_may_compose_and_a_post_without_the_token(console: Console) -> None:
    for email in ("pieter@ipo.example", "kees@ipo.example"):
        http, token = signed_in_session(console, email)
        assert change(http, console, token, wijziging="verwijderen", item="x").status_code == 403
    page = http.get(console.url(f"/nummers/{MONTH}"), timeout=60).text
    assert "Item toevoegen" not in page and ">Verwijderen<span" not in page
    http, _ = signed_in_session(console, "sanne@ipo.example")
    bare = http.post(console.url(f"/nummers/{MONTH}/samenstellen"), data={}, timeout=60)
    assert bare.status_code == 403 and "Formulier geweigerd" in bare.text


@pytest.mark.slow
def test_a_file_edited_on_disk_shows_on_the_next_view_and_the_intro_preview(
    console: Console,
) -> None:
    http, token = signed_in_session(console, "sanne@ipo.example")
    path = issue_file(console)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace("\n---\n", "\n---\nOp schijf: *bewerkt*.\n\n", 1), encoding="utf-8"
    )
    page = http.get(console.url(f"/nummers/{MONTH}"), timeout=60).text
    assert "Op schijf: <em>bewerkt</em>." in page
    # the intro preview: without JavaScript a button, nothing saved
    draft = read_draft(load_settings(console.folder), MONTH)
    form = {"subject": draft.subject, "preheader": draft.preheader, "csrf_token": token}
    shown_page = http.post(
        console.url(f"/nummers/{MONTH}/tekst"),
        data={**form, "intro": "Een **nieuwe** inleiding", "voorbeeld": "1"},
        timeout=60,
    ).text
    region = re.search(r'<div id="inleiding-voorbeeld"[^>]*>(.*?)</div>', shown_page, re.S)
    assert region and "Een <strong>nieuwe</strong> inleiding" in region[1]
    assert "Op schijf" in path.read_text(encoding="utf-8")
    # the fragment the page's script asks for, sanitised as the e-mail will be
    fragment = http.post(
        console.url(f"/nummers/{MONTH}/inleiding"),
        data={"csrf_token": token, "intro": "*ja* <script>alert(1)</script>"},
        timeout=60,
    ).text
    assert "<em>ja</em>" in fragment and "<script" not in fragment
    path.write_text(text, encoding="utf-8")


@pytest.mark.slow
def test_a_finding_links_to_the_field_to_fix(console: Console) -> None:
    http, token = signed_in_session(console, "sanne@ipo.example")
    draft = read_draft(load_settings(console.folder), MONTH)
    caps = {"subject": "NIEUWSBRIEF VOOR STATENLEDEN", "preheader": draft.preheader}
    saved = http.post(
        console.url(f"/nummers/{MONTH}/tekst"),
        data={**caps, "intro": draft.intro, "csrf_token": token},
        allow_redirects=False,
        timeout=60,
    )
    assert saved.status_code == 302
    page = unescape(http.get(console.url(f"/nummers/{MONTH}"), timeout=60).text)
    assert "Het onderwerp staat in hoofdletters." in page
    assert '<a href="#subject">Naar het onderwerp</a>' in page and 'id="subject"' in page
    http.post(
        console.url(f"/nummers/{MONTH}/tekst"),
        data={
            "subject": draft.subject,
            "preheader": draft.preheader,
            "intro": draft.intro,
            "csrf_token": token,
        },
        timeout=60,
    )


# -- in Chromium ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_compose_in_the_browser_and_see_the_preview_change(
    browser: Any,  # noqa: F811
    console: Console,
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in(page, console, "sanne@ipo.example")
        page.goto(console.url(f"/nummers/{MONTH}"))
        choice = page.get_by_label(re.compile("^Item \\(nieuwste eerst"))
        item_id = choice.locator("option").first.get_attribute("value")
        title = get_items(console.db(), [item_id])[item_id].title
        choice.select_option(item_id)
        page.get_by_label("Rubriek", exact=True).select_option(label="Uitgelicht")
        page.get_by_role("button", name="Toevoegen", exact=True).click()
        assert page.locator("p.melding").inner_text() == "Het item is aan het nummer toegevoegd."
        featured = page.locator("#rubriek-uitgelicht + ol > li")
        assert title in featured.last.inner_text()
        frame = page.frame_locator("iframe")
        frame.get_by_text(title, exact=False).first.wait_for()  # the e-mail has the new item
        count = featured.count()
        if count > 1:
            page.get_by_role("button", name=f"Omhoog ({title})").click()
            assert page.locator("p.melding").inner_text() == "Het item staat nu een plaats hoger."
            assert (
                title in page.locator("#rubriek-uitgelicht + ol > li").nth(count - 2).inner_text()
            )
        page.get_by_role("button", name=f"Verwijderen ({title})").click()
        assert page.locator("p.melding").inner_text() == "Het item is uit het nummer gehaald."
        assert page.locator(f"#onderdeel-{item_id}").count() == 0
        frame = page.frame_locator("iframe")
        frame.locator("h1").wait_for()  # the new preview has loaded, without the item
        assert frame.get_by_text(title, exact=False).count() == 0
        # the intro preview follows the typing (the page's own script)
        page.get_by_label("Inleiding (Markdown)").fill("Dit is **vet** getypt.")
        page.locator("#inleiding-voorbeeld strong").filter(has_text="vet").wait_for()
    finally:
        context.close()


# -- sending: the worker, the progress page, pause, resume, cancel, the report -------------------


def look(http: requests.Session, console: Console) -> str:
    return http.get(console.url(f"/nummers/{MONTH}/verzending"), timeout=60).text


def until(what: Any, seconds: float = 120) -> Any:
    """Wait for what() to be true (the send is real and takes its time); never a timing claim."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError("it did not happen")


@pytest.mark.slow
def test_a_send_the_library_refuses_says_why_on_the_progress_page(console: Console) -> None:
    http, token = signed_in_session(console, "pieter@ipo.example")
    started = http.post(
        console.url("/nummers/2026-11/versturen"),
        data={"csrf_token": token},
        allow_redirects=False,
        timeout=60,
    )
    assert started.status_code == 302
    url = console.url("/nummers/2026-11/verzending")
    page = until(lambda: "niet goedgekeurd" in (p := http.get(url, timeout=60).text) and p)
    assert "Het nummer is niet goedgekeurd; alleen een goedgekeurd nummer wordt verstuurd." in page
    assert "refresh" not in page and not (console.folder / "outbox").exists()


@pytest.mark.slow
def test_send_now_runs_in_the_background_with_progress_pause_resume_cancel_and_report(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    no_tools(monkeypatch)
    settings, db = load_settings(console.folder), console.db()
    workflow.review(db, settings, MONTH, "sanne@ipo.example")
    workflow.approve(db, settings, MONTH, "pieter@ipo.example")
    http, token = signed_in_session(console, "pieter@ipo.example")
    mailing = f"issue-{MONTH}"

    def act(action: str) -> requests.Response:
        return http.post(
            console.url(f"/nummers/{MONTH}/{action}"),
            data={"csrf_token": token},
            allow_redirects=False,
            timeout=60,
        )

    started = act("versturen")
    assert started.status_code == 302
    assert started.headers["Location"].endswith(f"/nummers/{MONTH}/verzending")
    # the request returned while the send goes on; the page refreshes itself, without JS too
    until(lambda: counts(db, mailing).get("sent", 0) >= 2)
    page = look(http, console)
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in page
    assert "Berichten per status" in page and "Deze pagina ververst zichzelf" in page
    assert counts(db, mailing).get("queued", 0) > 0
    # a second "Nu versturen" does not start a second sender
    act("versturen")
    assert "Dit nummer wordt al verstuurd" in look(http, console)
    # the approved version is frozen: the library refuses, in Dutch on the page
    sanne, sanne_token = signed_in_session(console, "sanne@ipo.example")
    refused = change(sanne, console, sanne_token, wijziging="verwijderen", item="x")
    assert refused.status_code == 422 and "de inhoud ligt vast" in refused.text

    assert act("pauzeren").status_code == 302
    paused = until(lambda: "gepauzeerd" in (p := look(http, console)) and "refresh" not in p and p)
    assert "Hervatten</button>" in paused
    sent = counts(db, mailing)["sent"]
    assert act("hervatten").status_code == 302
    until(lambda: counts(db, mailing).get("sent", 0) > sent)
    assert act("annuleren").status_code == 302
    done = until(lambda: "refresh" not in (p := look(http, console)) and p)
    assert "geannuleerd" in done and "Verslag per provincie" in done
    assert re.search(r"<th scope=\"row\">Gelderland</th>(<td>\d+</td>){8}", done)
    final = counts(db, mailing)
    assert final.get("cancelled", 0) > 0 and final.get("queued", 0) == 0
    outbox = list((console.folder / "outbox").glob("*"))
    assert len(outbox) == final["sent"]  # each message once, never twice
    by = {(e.actor, e.action) for e in audit.events(db, mailing)}
    assert {("staff:pieter@ipo.example", a) for a in ("pause", "resume", "cancel")} <= by


@pytest.mark.slow
def test_axe_finds_nothing_serious_on_the_progress_page_at_1280_and_375_px(
    browser: Any,  # noqa: F811
    console: Console,
) -> None:
    found = {}
    for width in (1280, 375):
        context = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)
        context.set_default_timeout(30_000)
        page = context.new_page()
        try:
            sign_in(page, console, "pieter@ipo.example")
            page.goto(console.url(f"/nummers/{MONTH}/verzending"))
            assert page.get_by_role("heading", name=f"Verzending van nummer {MONTH}").is_visible()
            found[width] = axe_serious(page)
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, f"the progress page overflows at {width} px ({wide})"
        finally:
            context.close()
    assert found == {1280: [], 375: []}
