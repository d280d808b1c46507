"""Nummers in the staff console (issue #14): December from 'Nieuw nummer' to sent, as two staff
accounts do it in Chromium; the preview as a Gelderland reader; four-eyes refused in Dutch;
a test copy and the scheduled send received by an SMTP server on 127.0.0.1; the audit log by
account; role refusals over plain HTTP; axe on the list and issue pages at 1280 and 375 px.

One console process, one SMTP server and one browser for the whole module.
"""

from __future__ import annotations

import email
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller

from newsletter import clock, store
from newsletter.config import load_settings
from newsletter.demo import DEMO_NOW, copy_instance, demo_source, load_demo
from newsletter.staff import accounts
from newsletter.store import audit
from newsletter.store import workflow as rows
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
    "sanne@ipo.example": ("Sanne de Vries", ["redacteur", "eindredacteur"]),
    "pieter@ipo.example": ("Pieter Bakker", ["eindredacteur"]),
    "rob@ipo.example": ("Rob Jansen", ["redacteur"]),
}
MONTH = "2026-12"
LATE_SUBJECT = 'Woningbouw: provincies willen "regie" op de uitvoering'
SLOW = 240_000  # an approval runs the preflight's tools once (SpamAssassin, vnu, axe)


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
    """The demo instance (content synced, lists imported), mail to the SMTP sink, three staff."""
    folder = tmp_path_factory.mktemp("nummers") / "instance"
    copy_instance(demo_source(), folder, fresh=False)
    config = folder / "newsletter.toml"
    text = config.read_text(encoding="utf-8").replace(
        'transport = "outbox:outbox"', f'transport = "smtp://127.0.0.1:{sink[1]}"'
    )
    config.write_text(
        text + f'\n[console]\nbase_url = "http://intranet.ipo.example{PATH}"\n', encoding="utf-8"
    )
    _, db = load_demo(folder)
    for address, (name, roles) in STAFF.items():
        accounts.add_account(db, address, name, roles, "test", PASSWORD)
    db.conn.close()
    port = free_port()
    log = folder / "console.stderr"
    keep = ("NEWSLETTER_PREFLIGHT_CACHE",)  # the session's tool cache: approval is quicker
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_") or k in keep}
    env["NEWSLETTER_NOW"] = DEMO_NOW  # the console's moment: the demo's (and the tests')
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
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def status(page: Any) -> str:
    """The page's notice of what was done; else the refusals it shows (for the failure)."""
    page.wait_for_selector("p.melding[role=status], p.fout[role=alert]")
    done = page.locator("p.melding[role=status]")
    return str(done.inner_text() if done.count() else page.locator("p.fout").all_inner_texts())


def open_issue(page: Any, console: Console, month: str = MONTH) -> None:
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Nummers").click()
    page.get_by_role("link", name=month).click()
    assert page.get_by_role("heading", name=f"Nummer {month}", level=1).is_visible()


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Uitloggen").click()


@pytest.mark.slow
def test_december_from_new_issue_to_sent_by_two_accounts(
    page: Any, console: Console, sink: tuple[Sink, int]
) -> None:
    received = sink[0]
    sign_in(page, console, "sanne@ipo.example")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Nummers").click()
    assert page.get_by_role("heading", name="Nummers", level=1).is_visible()
    page.get_by_label("Maand (jaar-maand)").fill(MONTH)
    page.get_by_role("button", name="Nummer aanmaken").click()
    page.wait_for_url(console.url(f"/nummers/{MONTH}"))
    assert status(page).startswith("Het nummer is aangemaakt")
    # pre-filled as `issue new` does: the proposed items are in the file and on the page
    written = (console.folder / "content/issues" / f"{MONTH}.md").read_text(encoding="utf-8")
    proposed = re.findall(r"^    - (\S+)", written, flags=re.M)
    assert proposed
    assert page.get_by_text(f"({proposed[0]})").is_visible()
    assert "De inleiding is leeg" in page.get_by_role("alert").first.inner_text()

    # a BAC decision that came in late, through the form in Inhoud: a colon and a quote in
    # its subject, written as valid YAML and synced at once
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Inhoud").click()
    page.get_by_role("link", name="Nieuw item").click()
    page.get_by_role("link", name="BAC-besluit").click()
    page.get_by_label("BAC", exact=True).select_option(label="BAC Wonen & Bereikbaarheid")
    page.get_by_label("Datum van de vergadering").fill("2026-11-30")
    page.get_by_label("Nummer van het besluit").fill("WB-2026-09")
    page.get_by_label("Onderwerp").fill(LATE_SUBJECT)
    page.get_by_label("Samenvatting").fill("De BAC besprak de provinciale rol bij de woningbouw.")
    page.get_by_label("Besluiten").fill("stemt in met een gezamenlijke provinciale inzet.")
    page.get_by_label("Link").fill("https://www.ipo.example/wonen/2026-11-30")
    page.get_by_role("button", name="Opslaan").click()
    assert status(page).endswith(".md.") and LATE_SUBJECT in status(page)
    [late_file] = (console.folder / "content/bac").glob("2026-11-30-*.md")
    front = yaml.safe_load(late_file.read_text(encoding="utf-8").split("---")[1])
    assert front["subject"] == LATE_SUBJECT
    late = late_file.stem

    # ... added to December with the composing controls on the issue page
    open_issue(page, console)
    page.get_by_label("Soort").select_option(label="BAC-besluit")
    page.get_by_role("button", name="Items zoeken").click()
    page.get_by_label("Item (nieuwste eerst", exact=False).select_option(late)
    page.get_by_role("button", name="Toevoegen").click()
    assert status(page) == "Het item is aan het nummer toegevoegd."
    assert page.get_by_text(f"({late})").is_visible()
    written = (console.folder / "content/issues" / f"{MONTH}.md").read_text(encoding="utf-8")
    assert re.search(rf"^\s+- {late}$", written, flags=re.M)

    # a subject too long for a phone: the check says so and links to the field; fixed there,
    # the finding is gone
    page.get_by_label("Onderwerp", exact=True).fill(
        'Nieuwsbrief: december "2026", met de besluiten van alle BAC\'s en de AV van februari'
    )
    page.get_by_label("Inleiding (Markdown)").fill("De AV van **december** en de BAC's.")
    page.get_by_role("button", name="Tekst opslaan").click()
    assert status(page) == "Onderwerp, preheader en inleiding zijn opgeslagen."
    too_long = page.locator(".bevindingen li", has_text="Het onderwerp is lang")
    too_long.first.get_by_role("link", name="Naar het onderwerp").click()
    assert page.url.endswith("#subject")
    # the intro keeps a colon and a quote in the subject: saved into the file, valid YAML
    page.locator("#subject").fill('Nieuwsbrief: december "2026"')
    page.get_by_role("button", name="Tekst opslaan").click()
    assert status(page) == "Onderwerp, preheader en inleiding zijn opgeslagen."
    assert page.locator(".bevindingen li", has_text="Het onderwerp is lang").count() == 0
    assert page.locator(".inleiding strong").inner_text() == "december"
    assert page.get_by_text("(snelle controle", exact=False).is_visible()

    # preview as a Gelderland reader: the GLD variant with their salutation, in a sandbox
    db = console.db()
    page.get_by_label("Provincie").select_option("GLD")
    page.get_by_role("button", name="Voorbeeld tonen").click()
    page.wait_for_url(re.compile(r"provincie=GLD"))  # the page is new: wait for it, not the old
    reader_address = page.get_by_label("Lezer").locator("option").nth(1).get_attribute("value")
    assert reader_address and reader_address.endswith("@gld.example")
    page.get_by_label("Lezer").select_option(reader_address)
    page.get_by_role("button", name="Voorbeeld tonen").click()
    page.wait_for_url(re.compile("lezer=[^&]+"))
    reader = rows.reader(db, reader_address)
    assert reader is not None and reader.province == "GLD"
    salutation = reader.salutation or f"Beste {reader.name}"
    frame = page.frame_locator("iframe")
    assert frame.get_by_text(salutation, exact=False).first.is_visible()
    assert frame.get_by_text("Gelderland", exact=False).first.is_visible()
    iframe = page.locator("iframe")
    assert iframe.get_attribute("sandbox") == "" and iframe.get_attribute("width") == "375"
    src = iframe.get_attribute("src")
    http, _ = signed_in_session(console, "sanne@ipo.example")
    shown = http.get(console.base.removesuffix(PATH) + str(src), timeout=60)
    csp = shown.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "default-src 'none'" in csp and "script-src" not in csp
    assert "@@" not in shown.text and salutation in shown.text
    page.get_by_label("Weergave", exact=True).select_option("computer")
    page.get_by_role("button", name="Voorbeeld tonen").click()
    page.wait_for_url(re.compile("weergave=computer"))
    assert page.locator("iframe").get_attribute("width") == "800"

    # submit, then try to approve as the same account: refused in Dutch, next to the action
    page.get_by_role("button", name="Ter beoordeling indienen").click()
    assert status(page).startswith("Het nummer is ter beoordeling ingediend")
    assert page.get_by_role("button", name="Ter beoordeling indienen").count() == 0
    assert page.get_by_text("Goedkeuren duurt een minuut of twee").is_visible()
    approving = page.locator("#actie-goedkeuren form")
    assert approving.get_attribute("data-bezig") == "Bezig met controleren…"
    page.get_by_role("button", name="Goedkeuren").click()
    refusal = page.locator("#fout-goedkeuren")
    assert "zelf ter beoordeling ingediend" in refusal.inner_text()
    assert "vier ogen" in refusal.inner_text()
    sign_out(page)

    # Pieter approves, sends himself a test copy and schedules it
    sign_in(page, console, "pieter@ipo.example")
    open_issue(page, console)
    page.get_by_role("button", name="Goedkeuren").click(timeout=SLOW)
    page.wait_for_selector("p.melding", timeout=SLOW)
    assert status(page).startswith("Het nummer is goedgekeurd")
    assert page.get_by_text("goedgekeurd", exact=True).is_visible()
    page.get_by_role("button", name="Stuur mij een testversie").click()
    assert status(page) == "De testversie is verstuurd naar pieter@ipo.example."
    [(_, to, data)] = received.received
    test_copy = email.message_from_bytes(data, policy=policy.default)
    assert to == ["pieter@ipo.example"]
    assert test_copy["Subject"] == '[TEST] Nieuwsbrief: december "2026"'
    at = (
        (clock.parse_instant(DEMO_NOW) + timedelta(days=1))
        .astimezone(clock.AMSTERDAM)
        .replace(hour=9, minute=0, second=0, microsecond=0)
    )
    page.get_by_label("Verzenden op (datum en tijd)").fill(at.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Inplannen").click()
    assert status(page) == "Het nummer is ingepland."
    assert page.get_by_role("button", name="Niet meer inplannen").is_visible()

    # tick after the scheduled moment sends it, as the CLI's tick always does
    later = (at + timedelta(minutes=1)).isoformat()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    ticked = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsletter",
            "--project",
            str(console.folder),
            "--now",
            later,
            "tick",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    sent = [m for m in received.received if m[1] != ["pieter@ipo.example"]]
    assert sent, ticked.stderr
    gld = {m[1][0]: m[2] for m in sent if m[1][0].endswith("@gld.example")}
    assert reader_address in gld
    mail = email.message_from_bytes(gld[reader_address], policy=policy.default)
    assert mail["Subject"] == 'Nieuwsbrief: december "2026"'
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert salutation in html

    # the log, by account
    events = audit.events(db, f"issue-{MONTH}")
    by = {(e.actor, e.action) for e in events}
    assert ("staff:sanne@ipo.example", "review") in by
    assert ("staff:sanne@ipo.example", "approve-refused") in by
    assert ("staff:pieter@ipo.example", "approve") in by
    assert ("staff:pieter@ipo.example", "test-send") in by
    assert ("staff:pieter@ipo.example", "schedule") in by
    # tick sends it as the account that scheduled it (its role checked then): Pieter's
    assert ("staff:pieter@ipo.example", "state") in by
    assert not any(e.actor == "tick" for e in events)
    assert not any(a == "staff:sanne@ipo.example" and act == "approve" for a, act in by)

    # the report per province on the issue page
    page.reload()
    assert page.get_by_role("heading", name="Verslag van de verzending").is_visible()
    row = page.get_by_role("row", name=re.compile("^Gelderland"))
    assert row.get_by_role("cell").nth(4).inner_text() == str(len(gld))  # verzonden
    # one row per province: an AV member's own variant counts under theirs, unnamed
    assert "@" not in page.locator("main").inner_text().split("Verslag van de verzending")[1]
    texts = [
        email.message_from_bytes(m[2], policy=policy.default).get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for m in sent
    ]
    assert any("Woningbouw: provincies willen" in text for text in texts)  # the late item


def test_a_redacteur_cannot_approve_or_send_and_is_told_so_in_dutch(console: Console) -> None:
    http, token = signed_in_session(console, "rob@ipo.example")
    made = http.post(
        console.url("/nummers/nieuw"),
        data={"maand": "2027-01", "csrf_token": token},
        allow_redirects=False,
        timeout=60,
    )
    assert made.status_code == 302  # a redacteur composes
    for action in ("goedkeuren", "versturen", "inplannen", "testversie", "annuleren"):
        refused = http.post(
            console.url(f"/nummers/2027-01/{action}"),
            data={"csrf_token": token},
            allow_redirects=False,
            timeout=60,
        )
        assert refused.status_code == 403, action
        assert "Geen toegang" in refused.text and 'lang="nl"' in refused.text
    page = http.get(console.url("/nummers/2027-01"), timeout=60)
    assert "Goedkeuren</button>" not in page.text and "Nu versturen" not in page.text
    # without the CSRF token nothing is done at all
    bare = http.post(console.url("/nummers/2027-01/indienen"), data={}, timeout=60)
    assert bare.status_code == 403 and "Formulier geweigerd" in bare.text
    db = store.open_store(load_settings(console.folder))
    assert not [e for e in audit.events(db, "issue-2027-01") if e.actor == "staff:rob@ipo.example"]


def test_a_refused_action_redirects_and_shows_the_refusal_next_to_it(console: Console) -> None:
    """Redirect after POST: the refusal is shown next to the action on the issue page, and a
    reload does not post again (the journey checks the busy state and submit-once)."""
    http, token = signed_in_session(console, "sanne@ipo.example")
    made = http.post(
        console.url("/nummers/nieuw"),
        data={"maand": "2027-02", "csrf_token": token},
        allow_redirects=False,
        timeout=60,
    )
    assert made.status_code == 302
    url = console.url("/nummers/2027-02")
    assert "Ter beoordeling indienen</button>" in http.get(url, timeout=60).text
    refused = http.post(url + "/indienen", data={"csrf_token": token}, allow_redirects=False)
    assert refused.status_code == 302
    assert refused.headers["Location"].endswith("/nummers/2027-02#actie-indienen")
    shown = http.get(url, timeout=60)
    assert shown.status_code == 200
    action = shown.text.split('id="actie-indienen"')[1].split("</div>")[0]
    assert 'id="fout-indienen" class="fout" role="alert">De inleiding is leeg' in action
    assert 'class="melding"' not in shown.text  # a refusal is no notice of success
    again = http.get(url, timeout=60).text  # a reload: no second POST, the refusal is gone
    assert 'id="fout-indienen"' not in again
    script = http.get(console.url("/static/bezig.js"), timeout=10)
    assert script.status_code == 200 and "data-bezig" in script.text


def test_a_month_that_is_no_month_is_refused_next_to_the_field(console: Console) -> None:
    http, token = signed_in_session(console, "sanne@ipo.example")
    answer = http.post(
        console.url("/nummers/nieuw"), data={"maand": "december", "csrf_token": token}, timeout=60
    )
    assert answer.status_code == 422
    assert 'id="maandfout" class="fout" role="alert">Dat is geen maand' in answer.text
    assert not (Path(console.folder) / "content/issues/december.md").exists()


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 375])
def test_axe_finds_nothing_serious_on_the_list_and_issue_pages(
    browser: Any,  # noqa: F811
    console: Console,
    width: int,
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in(page, console, "sanne@ipo.example")
        found = {}
        for path in ("/nummers", "/nummers/2026-11"):
            page.goto(console.url(path))
            found[path] = axe_serious(page)
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= width, f"{path} overflows at {width} px ({wide})"
        assert found == {"/nummers": [], "/nummers/2026-11": []}
    finally:
        context.close()
