"""Postvak in the staff console (issue #15): an `inbox` account answers the demo's question with
a saved reply, checks the preview and sends it (received by an SMTP server on 127.0.0.1,
threaded); a colleague sees it closed with the answer; two sessions on one conversation (the
second answer is held); a follow-up date brings a conversation back under `tick --now`; the
sender's panel (mandates, the bounce of the last mailing); axe on each Postvak page; the reply
form by keyboard alone.

One console process, one SMTP server and one browser for the module; most checks over HTTP.
"""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from email import policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from newsletter import clock
from newsletter.demo import DEMO_NOW, copy_instance, demo_source, load_demo
from newsletter.inbound import processing
from newsletter.inbound.mailbox import maildir_folder
from newsletter.outbound import ledger
from newsletter.staff import accounts
from newsletter.store import audit
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
from tests.test_smtp import Sink

PATH = "/nieuwsbrief-console"
STAFF = {
    "kees@ipo.example": ("Kees Smit", ["inbox"]),
    "anna@ipo.example": ("Anna Bos", ["inbox"]),
    "rob@ipo.example": ("Rob Jansen", ["redacteur"]),
}
QUESTION_ID = "<c8a1f0e2.hdejong@nh.example>"
SECOND = """From: Lotte Claessens <lotte.claessens@dr.example>
To: IPO Statenleden <statenleden@ipo.example>
Subject: Stikstof en de BAC
Date: Tue, 01 Dec 2026 08:10:00 +0100
Message-ID: <vraag2.claessens@dr.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Wanneer bespreekt de BAC Landelijk Gebied de stikstofbank?
"""
THIRD = SECOND.replace("vraag2", "vraag3").replace("Stikstof en de BAC", "Waterschappen")


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[Sink, int]]:
    received = Sink()
    port = free_port()
    controller = Controller(received, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield received, port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, sink: tuple[Sink, int]) -> Iterator[Console]:
    """The demo instance with three questions in the mailbox, Hans de Jong's November issue
    bounced, and three staff accounts; mail goes to the SMTP sink."""
    folder = tmp_path_factory.mktemp("postvak") / "instance"
    copy_instance(demo_source(), folder, fresh=False)
    config = folder / "newsletter.toml"
    text = config.read_text(encoding="utf-8").replace(
        'transport = "outbox:outbox"', f'transport = "smtp://127.0.0.1:{sink[1]}"'
    )
    config.write_text(
        text + f'\n[console]\nbase_url = "http://intranet.ipo.example{PATH}"\n', encoding="utf-8"
    )
    settings, db = load_demo(folder)
    for address, (name, roles) in STAFF.items():
        accounts.add_account(db, address, name, roles, "test", PASSWORD)
    # the November issue, refused for Hans de Jong (what the engine records for a 550)
    hans = db.execute("select id from subscribers where email = 'hans.dejong@nh.example'")
    hans_id = hans.fetchone()[0]
    ledger.create_mailing(db, "issue-2026-11", "issue", "IPO Statenleden november", "x", "2026-11")
    ledger.queue(
        db,
        [
            {
                "mailing_id": "issue-2026-11",
                "subscriber_id": hans_id,
                "email": "hans.dejong@nh.example",
                "variant": "NH",
                "status": "queued",
                "message_id": "<nov.hans@ipo.example>",
                "attempts": 0,
                "queued_at": clock.utc_iso(),
            }
        ],
    )
    [row] = list(ledger.pending(db, "issue-2026-11", include_in_doubt=True))
    ledger.commit(db, [], claims=[(row, "bounces@ipo.example")])
    ledger.commit(
        db,
        [
            ledger.Outcome(
                row_id=row.id,
                status="failed",
                reply="550 5.1.1 mailbox unavailable",
                subscriber_id=hans_id,
                mailing_id="issue-2026-11",
                bounce="hard",
            )
        ],
    )
    target = maildir_folder(settings, settings.inbox.source) / "new"
    target.mkdir(parents=True, exist_ok=True)
    question = (demo_source() / "mailbox-demo" / "01-vraag-av.eml").read_text(encoding="utf-8")
    for n, message in enumerate((question, SECOND, THIRD), 1):
        (target / f"176457600{n}.M{n}P1.test").write_bytes(
            message.replace("\n", "\r\n").encode("utf-8")
        )
    processing.fetch_and_process(db, settings, clock.now())
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


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def number_of(console: Console, subject: str) -> int:
    db = console.db()
    row = db.execute("select id from conversations where subject = ?", [subject]).fetchone()
    return int(row[0])


def token_and_version(page_text: str) -> tuple[str, str]:
    token = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
    version = re.search(r'name="versie" value="(\d+)"', page_text)
    assert token and version, page_text
    return token[1], version[1]


def save_reply(console: Console) -> None:
    http, token = signed_in_session(console, "kees@ipo.example")
    answer = http.post(
        console.url("/postvak/standaardantwoorden"),
        data={
            "csrf_token": token,
            "titel": "Stukken AV",
            "tekst": "{aanhef},\n\nDe stukken voor de AV van {volgende_av} staan twee weken "
            "vooraf online. Toehoorders zijn welkom.",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    wrong = http.post(
        console.url("/postvak/standaardantwoorden"),
        data={"csrf_token": token, "titel": "Fout", "tekst": "Beste {voornaam}"},
        timeout=10,
    )
    assert wrong.status_code == 400 and "Onbekend invulveld" in wrong.text


@pytest.mark.slow
def test_an_inbox_account_answers_with_a_saved_reply_and_a_colleague_sees_it_closed(
    page: Any, console: Console, sink: tuple[Sink, int]
) -> None:
    save_reply(console)
    received = sink[0]
    before = len(received.received)
    sign_in(page, console, "kees@ipo.example")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Postvak").click()
    page.get_by_label("Status").select_option("new")
    page.get_by_role("button", name="Filteren").click()
    page.get_by_role("link", name="Vraag over de Algemene Vergadering van 10 februari").click()
    page.get_by_label("Standaardantwoord").select_option(label="Stukken AV")
    page.get_by_role("button", name="Invoegen").click()
    assert "Geachte heer De Jong," in page.get_by_label("Uw antwoord (Markdown)").input_value()
    page.get_by_role("button", name="Voorbeeld bekijken").click()
    text = page.get_by_label("Tekstversie").inner_text()
    assert "Met vriendelijke groet,\n\nKees Smit\nIPO" in text
    assert "Toehoorders zijn welkom." in text and "> Geachte redactie," in text
    assert "Kees Smit<br>" in page.locator(".html-voorbeeld").inner_html()
    page.get_by_role("button", name="Versturen").click()
    assert (
        "Antwoord verstuurd aan hans.dejong@nh.example"
        in page.get_by_role("status").first.inner_text()
    )
    sent = [m for m in received.received[before:] if "hans.dejong@nh.example" in m[1]]
    assert len(sent) == 1
    message = email.message_from_bytes(sent[0][2], policy=policy.default)
    assert message["In-Reply-To"] == QUESTION_ID and message["References"] == QUESTION_ID
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert "Met vriendelijke groet,\n\nKees Smit\n" in body
    page.get_by_role("button", name="Sluiten").click()

    number = number_of(console, "Vraag over de Algemene Vergadering van 10 februari")
    http, _ = signed_in_session(console, "anna@ipo.example")
    shown = http.get(console.url(f"/postvak/{number}"), timeout=10).text
    assert "<strong>gesloten</strong>" in shown and "Toehoorders zijn welkom." in shown
    assert "door kees@ipo.example" in shown and "verzonden" in shown
    events = [(e.actor, e.action) for e in audit.events(console.db(), f"conversation:{number}")]
    assert ("staff:kees@ipo.example", "reply") in events
    assert ("staff:kees@ipo.example", "close") in events


def test_two_advisers_see_each_other_and_the_second_answer_is_held(
    console: Console, sink: tuple[Sink, int]
) -> None:
    number = number_of(console, "Stikstof en de BAC")
    kees, _ = signed_in_session(console, "kees@ipo.example")
    anna, _ = signed_in_session(console, "anna@ipo.example")
    first = kees.get(console.url(f"/postvak/{number}"), timeout=10).text
    second = anna.get(console.url(f"/postvak/{number}"), timeout=10).text
    assert "Ook bezig met dit gesprek: Kees Smit" in second
    before = len(sink[0].received)
    for http, text, words in ((kees, first, "Volgende week."), (anna, second, "Binnenkort.")):
        token, version = token_and_version(text)
        answer = http.post(
            console.url(f"/postvak/{number}/antwoord"),
            data={"csrf_token": token, "versie": version, "tekst": words, "actie": "versturen"},
            allow_redirects=False,
            timeout=10,
        )
        if http is kees:
            assert answer.status_code == 302, answer.text
    assert answer.status_code == 409
    assert "Niet verzonden" in answer.text and "Binnenkort." in answer.text  # the text is kept
    assert len(sink[0].received) == before + 1
    shown = anna.get(console.url(f"/postvak/{number}"), timeout=10).text
    assert "Volgende week." in shown and "Binnenkort." not in shown
    # Kees signs out: Anna no longer sees him on the conversation
    token, _ = token_and_version(first)
    out = kees.post(console.url("/uitloggen"), data={"csrf_token": token}, timeout=10)
    assert out.status_code == 200 and "U bent uitgelogd." in out.text
    again = anna.get(console.url(f"/postvak/{number}"), timeout=10).text
    assert "Ook bezig met dit gesprek" not in again


def test_a_follow_up_date_brings_a_conversation_back_under_tick(console: Console) -> None:
    number = number_of(console, "Waterschappen")
    http, token = signed_in_session(console, "kees@ipo.example")
    wrong = http.post(
        console.url(f"/postvak/{number}/opvolgen"),
        data={"csrf_token": token, "opvolgen": "15-12-2026"},
        timeout=10,
    )
    assert wrong.status_code == 400 and "is geen datum" in wrong.text
    for path, data in (("opvolgen", {"opvolgen": "2026-12-08"}), ("sluiten", {})):
        done = http.post(
            console.url(f"/postvak/{number}/{path}"),
            data={"csrf_token": token, **data},
            allow_redirects=False,
            timeout=10,
        )
        assert done.status_code == 302
    listed = http.get(console.url("/postvak"), timeout=10).text
    assert "opvolgen op 8 december 2026" in listed
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    tick = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsletter",
            "--project",
            str(console.folder),
            "--now",
            "2026-12-08T09:00:00+01:00",
            "tick",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert f"follow-ups due: 1 (conversation {number})" in tick.stdout + tick.stderr
    listed = http.get(console.url("/postvak"), timeout=10).text
    rows = re.findall(r'<a href="[^"]*/postvak/(\d+)">', listed)
    assert rows[0] == str(number) and '<strong class="vlag">opvolgen</strong>' in listed
    shown = http.get(console.url(f"/postvak/{number}"), timeout=10).text
    assert "<strong>open</strong>" in shown


def test_the_sender_panel_shows_mandates_and_the_bounce_of_the_last_mailing(
    console: Console,
) -> None:
    number = number_of(console, "Vraag over de Algemene Vergadering van 10 februari")
    http, _ = signed_in_session(console, "kees@ipo.example")
    shown = http.get(console.url(f"/postvak/{number}"), timeout=10).text
    panel = shown[shown.index('<aside class="afzender"') :]
    # the question by its own date (its Date header, 09:12:40 +0100), not when it was fetched
    assert "Hans de Jong · 1 december 2026 9.12 uur</h3>" in shown
    assert "Statenlid, Noord-Holland: van 30 maart 2023, lopend" in panel
    assert "AV-lid, Noord-Holland: van 30 maart 2023, lopend" in panel
    assert "IPO Statenleden november: <strong>onbestelbaar (hard)</strong>" in panel
    assert "550 5.1.1 mailbox unavailable" in panel
    # a redacteur has no Postvak
    rob, _ = signed_in_session(console, "rob@ipo.example")
    assert rob.get(console.url("/postvak"), timeout=10).status_code == 403
    overview = rob.get(console.url("/"), timeout=10).text
    menu = overview.split('aria-label="Hoofdmenu"', 1)[1].split("</nav>", 1)[0]
    assert "Postvak" not in menu and "/postvak" not in overview  # no way in (the count is)


@pytest.mark.slow
def test_axe_finds_nothing_serious_on_the_postvak_pages(
    browser: Any,  # noqa: F811
    console: Console,
) -> None:
    number = number_of(console, "Stikstof en de BAC")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    page = context.new_page()
    sign_in(page, console, "kees@ipo.example")
    for width in (1280, 375):
        page.set_viewport_size({"width": width, "height": 900})
        for path in ("/postvak", f"/postvak/{number}", "/postvak/standaardantwoorden"):
            page.goto(console.url(path))
            assert axe_serious(page) == [], (path, width)
        page.goto(console.url(f"/postvak/{number}"))
        page.get_by_label("Uw antwoord (Markdown)").fill("Een **voorbeeld**.")
        page.get_by_role("button", name="Voorbeeld bekijken").click()
        assert axe_serious(page) == [], ("preview", width)
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow, ("the preview is wider than the screen", width)
    context.close()


@pytest.mark.slow
def test_the_reply_form_works_by_keyboard_alone(page: Any, console: Console) -> None:
    number = number_of(console, "Waterschappen")
    sign_in(page, console, "anna@ipo.example")
    page.goto(console.url(f"/postvak/{number}"))
    page.get_by_label("Standaardantwoord").focus()
    page.keyboard.press("Tab")  # Invoegen
    page.keyboard.press("Tab")  # the answer
    assert page.evaluate("document.activeElement.id") == "tekst"
    page.keyboard.type("Dat zoeken wij uit.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # Voorbeeld bekijken
    assert "Dat zoeken wij uit." in page.get_by_label("Tekstversie").inner_text()
    page.get_by_label("Uw antwoord (Markdown)").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Versturen"
    with page.expect_navigation():  # the preview page may show a status of its own (presence)
        page.keyboard.press("Enter")
    assert page.get_by_role("status").filter(has_text="Antwoord verstuurd").is_visible()
