"""Mensen and Onbestelbaar en afwezig in the staff console (issue #15): the demo's hard bounce,
complaint and out-of-office after a mailing; a wrong bounce undone with a reason; a person found
by name and re-subscribed with a reason; a griffie list previewed and confirmed (the store then
matches the preview exactly); forget after the page that lists what goes; role refusals over
plain HTTP; axe on every page at 1280 and 375 px.

One console process and one browser for the whole module; most assertions over plain HTTP.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter import clock
from newsletter.config import load_settings
from newsletter.demo import DEMO_NOW, copy_instance, demo_source, load_demo
from newsletter.inbound.processing import fetch_and_process
from newsletter.mail.messages import message_id
from newsletter.outbound import ledger
from newsletter.people.roles import ROLES
from newsletter.staff import accounts
from newsletter.store import audit
from newsletter.store import subscribers as rows
from tests.test_console import (
    PASSWORD,
    Console,
    axe_serious,
    browser,  # noqa: F401  (the module's one Chromium)
    free_port,
    sign_in,
    signed_in_session,
    start,
    stop,
    wait_for,
)

PATH = "/nieuwsbrief-console"
STAFF = {
    "kees@ipo.example": ("Kees Smit", ["inbox"]),
    "bea@ipo.example": ("Bea Visser", ["beheerder"]),
    "rob@ipo.example": ("Rob Jansen", ["redacteur"]),
}
MONTH = "2026-12"
BOUNCED = "petra.vandermeer@zh.example"  # the demo's hard bounce (03-onbestelbaar.eml)
AWAY = "julia.wijnands@ut.example"  # the demo's out-of-office (02-afwezig.eml)
COMPLAINED = "erik.zwart@zh.example"  # the demo's complaint (05-klacht.eml)


def _mailing(db: Any, settings: Any) -> None:
    """The December issue as `issue send` leaves it: one sent delivery per active subscriber."""
    mailing_id = f"issue-{MONTH}"
    ledger.create_mailing(db, mailing_id, "issue", "Nieuwsbrief december", "hash", MONTH)
    queued = [
        {
            "mailing_id": mailing_id,
            "subscriber_id": s.id,
            "email": s.email,
            "variant": s.province or "-",
            "status": "sent",
            "message_id": message_id(settings, mailing_id, s.id),
            "attempts": 1,
            "queued_at": clock.utc_iso(),
            "sent_at": clock.utc_iso(),
        }
        for s in rows.all_subscribers(db)
        if s.status == "active"
    ]
    ledger.queue(db, queued)
    ledger.set_mailing_status(db, mailing_id, "sent")


def _mailbox(db: Any, settings: Any, folder: Path) -> None:
    """The demo's out-of-office, hard bounce and complaint about that mailing, fetched and
    processed as tick does it."""
    target = folder / "mailbox" / "new"
    for part in ("new", "cur", "tmp"):
        (folder / "mailbox" / part).mkdir(parents=True, exist_ok=True)
    for n, name in enumerate(("02-afwezig.eml", "03-onbestelbaar.eml", "05-klacht.eml"), 1):
        first, text = (demo_source() / "mailbox-demo" / name).read_text("utf-8").split("\n", 1)
        address = first.split(":", 1)[1].strip()
        found = rows.find_by_email(db, address)
        assert found is not None
        values = {
            "message_id": message_id(settings, f"issue-{MONTH}", found.id),
            "email": address,
            "subject": "Nieuwsbrief december",
        }
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        (target / f"17645{n:05d}.M{n}.test").write_bytes(text.replace("\n", "\r\n").encode())
    _, processed = fetch_and_process(db, settings, clock.now())
    assert not processed.problems, processed.problems


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """The demo instance (lists imported), December sent, the demo's replies processed."""
    folder = tmp_path_factory.mktemp("mensen") / "instance"
    copy_instance(demo_source(), folder, fresh=False)
    config = folder / "newsletter.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'\n[console]\nbase_url = "http://intranet.ipo.example{PATH}"\n',
        encoding="utf-8",
    )
    clock.set_now(DEMO_NOW)
    settings, db = load_demo(folder)
    for address, (name, roles) in STAFF.items():
        accounts.add_account(db, address, name, roles, "test", PASSWORD)
    _mailing(db, settings)
    _mailbox(db, settings, folder)
    db.conn.close()
    port = free_port()
    process, log = start(folder, "console", "--port", str(port))
    running = Console(f"http://127.0.0.1:{port}{PATH}", folder, log)
    try:
        wait_for(running.url("/inloggen"), process)
        yield running
    finally:
        stop(process)


def subscriber(console: Console, address: str) -> Any:
    found = rows.find_by_email(console.db(), address)
    assert found is not None
    return found


# -- plain HTTP ---------------------------------------------------------------------------------


def test_roles_the_redacteur_sees_no_people_and_inbox_may_not_import_export_or_forget(
    console: Console,
) -> None:
    petra = subscriber(console, BOUNCED)
    rob, token = signed_in_session(console, "rob@ipo.example")
    assert ">Mensen<" not in rob.get(console.url("/"), timeout=10).text
    for path in ("/mensen", f"/mensen/{petra.id}", "/onbestelbaar"):
        assert rob.get(console.url(path), timeout=10).status_code == 403
    refused = rob.post(
        console.url(f"/onbestelbaar/{petra.id}/ongedaan"),
        data={"csrf_token": token, "reden": "werkt"},
        timeout=10,
    )
    assert refused.status_code == 403
    kees, token = signed_in_session(console, "kees@ipo.example")
    home = kees.get(console.url("/"), timeout=10).text
    assert ">Mensen<" in home and ">Onbestelbaar en afwezig<" in home
    assert kees.get(console.url("/mensen"), timeout=10).status_code == 200
    for path in ("/mensen/importeren", f"/mensen/{petra.id}/vergeten"):
        assert kees.get(console.url(path), timeout=10).status_code == 403
    for path in ("/mensen/exporteren", f"/mensen/{petra.id}/vergeten", "/mensen/importeren"):
        answer = kees.post(console.url(path), data={"csrf_token": token, "zeker": "ja"}, timeout=10)
        assert answer.status_code == 403, path
    assert "Lijst van de griffie importeren" not in kees.get(console.url("/mensen")).text
    assert subscriber(console, BOUNCED).status == "bounced"  # nothing happened


def test_search_by_name_province_role_and_status_a_page_at_a_time(console: Console) -> None:
    http, _ = signed_in_session(console, "kees@ipo.example")
    page = http.get(console.url("/mensen"), params={"zoek": "julia wijnands"}, timeout=10).text
    assert "1 persoon." in page and AWAY in page
    page = http.get(
        console.url("/mensen"), params={"provincie": "ZH", "status": "bounced"}, timeout=10
    ).text
    assert "1 persoon." in page and BOUNCED in page
    everyone = http.get(console.url("/mensen"), timeout=10).text
    total = int(re.search(r"(\d+) personen, pagina 1 van (\d+)", everyone)[1])  # type: ignore[index]
    assert total > 50 and everyone.count("<tr>") == 51  # a header and 50 people
    second = http.get(console.url("/mensen"), params={"pagina": 2}, timeout=10).text
    assert "Vorige pagina" in second
    avs = http.get(console.url("/mensen"), params={"rol": "av_lid"}, timeout=10).text
    people = avs.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert people and all("AV-lid" in row for row in people)


def test_the_bounces_page_shows_evidence_action_and_who_is_away(console: Console) -> None:
    http, _ = signed_in_session(console, "kees@ipo.example")
    page = http.get(console.url("/onbestelbaar"), timeout=10).text
    assert "<h3>Zuid-Holland (2)</h3>" in page
    # the hard bounce: the evidence line of the report, and what it did
    assert "harde bounce" in page and "5.1.10" in page and "adres op onbestelbaar gezet" in page
    assert "klacht" in page and "Feedback-Type: abuse" in page and "afgemeld na de klacht" in page
    # in Dutch, the mailing by its month (not issue-2026-12), no English note of processing
    assert "nieuwsbrief december 2026" in page and "issue-2026-12" not in page
    for english in ("auto-reply", "not answered", "back on", "marked bounced", "complaint by"):
        assert english not in page, english
    # the out-of-office: away until 16 December (back the day after "tot en met 15 december")
    away = page.split('id="afwezig"')[1].split("</table>")[0]
    assert "Julia Wijnands" in away and "16 december 2026" in away
    only = http.get(console.url("/onbestelbaar"), params={"provincie": "UT"}, timeout=10).text
    assert "Zuid-Holland" not in only.split("<h2>Wat terugkwam</h2>")[1]


def test_a_wrong_bounce_is_undone_with_a_reason_and_the_cli_refuses_a_second_time(
    console: Console,
) -> None:
    petra = subscriber(console, BOUNCED)
    http, token = signed_in_session(console, "kees@ipo.example")
    url = console.url(f"/onbestelbaar/{petra.id}/ongedaan")
    empty = http.post(url, data={"csrf_token": token, "reden": "  "}, timeout=10)
    assert empty.status_code == 422
    assert "Vul een reden in: hoe weet u dat het adres werkt?" in empty.text
    assert subscriber(console, BOUNCED).status == "bounced"
    done = http.post(
        url,
        data={"csrf_token": token, "reden": "Griffie ZH: adres werkt weer"},
        timeout=10,
    )
    assert done.status_code == 200 and "is weer actief; 1 bounce telt niet meer mee" in done.text
    assert subscriber(console, BOUNCED).status == "active"
    [event] = [
        e for e in audit.events(console.db(), f"subscriber:{petra.id}") if e.action == "undo-bounce"
    ]
    assert event.actor == "staff:kees@ipo.example"
    assert event.details == {"reason": "Griffie ZH: adres werkt weer", "bounces": 1}
    # the bounce stays as evidence, marked undone, and no longer counts
    assert "Ongedaan gemaakt door Kees Smit" in done.text
    person = http.get(console.url(f"/mensen/{petra.id}"), timeout=10).text
    assert "ongedaan gemaakt door Kees Smit" in person
    assert "onbestelbaar ongedaan gemaakt" in person  # the history, from the log
    assert (
        "reden: Griffie ZH: adres werkt weer" in person and "1 bounce telt niet meer mee" in person
    )
    assert "1 harde bounce" in person  # why it was marked, from the log
    assert "staff:kees" not in person


def test_a_persons_page_is_in_dutch_without_raw_records(console: Console) -> None:
    http, _ = signed_in_session(console, "kees@ipo.example")
    julia = http.get(console.url(f"/mensen/{subscriber(console, AWAY).id}"), timeout=10).text
    assert "<h2>Berichten aan het contactadres</h2>" in julia
    assert "niet beantwoord (automatisch antwoord)" in julia
    assert "<td>nieuwsbrief december 2026</td>" in julia
    erik = http.get(console.url(f"/mensen/{subscriber(console, COMPLAINED).id}"), timeout=10).text
    assert "het contactadres (automatisch)" in erik and "na een klacht (spam gemeld)" in erik
    for page in (julia, erik):
        for raw in ("Inbound", "Events", "Outbox", "Conversations", "actor:", "detail:", "how:"):
            assert raw not in page, raw


# -- import -----------------------------------------------------------------------------------


GRIFFIE = """voornaam;achternaam;aanhef;e-mail;provincie;rol
Noor;Bakker;mevrouw;noor.bakker@fr.example;FR;statenlid
Tjeerd;Hoekstra;heer;tjeerd.hoekstra@fr.example;FR;statenlid,av_lid
Sjoukje;Dijkstra;mevrouw;geen-adres;FR;statenlid
"""


def test_an_import_is_previewed_confirmed_exactly_and_its_rejects_downloaded(
    console: Console,
) -> None:
    http, token = signed_in_session(console, "bea@ipo.example")
    before = {s.email for s in rows.all_subscribers(console.db())}
    data = GRIFFIE.encode()
    preview = http.post(
        console.url("/mensen/importeren"),
        data={"csrf_token": token},
        files={"lijst": ("friesland 2027.csv", data, "text/csv")},
        timeout=30,
    )
    assert preview.status_code == 200, preview.text
    assert "Er is nog niets veranderd" in preview.text
    table = preview.text.split('id="wijzigingen"')[1].split("</table>")[0]
    shown = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td></tr>", table)
    assert [kind for kind, _ in shown] == [
        "nieuw",
        "nieuw",
        "functie erbij",
        "functie erbij",
        "functie erbij",
    ]
    rejected = preview.text.split('id="afgewezen"')[1].split("</table>")[0]
    assert "Regel 4, kolom e-mail: &#39;geen-adres&#39; is geen geldig e-mailadres" in rejected
    assert "2 nieuw, 0 bijgewerkt, 0 ongewijzigd, 3 functies erbij, 1 regel afgewezen." in (
        preview.text
    )
    for english in ("row ", "column", "is not a valid", "from 20", " regels afgewezen", "FR from"):
        assert english not in preview.text, english
    assert {s.email for s in rows.all_subscribers(console.db())} == before  # nothing yet
    digest = hashlib.sha256(data).hexdigest()
    assert re.search(rf'name="lijst" value="{digest}"', preview.text)
    plan = re.search(r'name="plan" value="([0-9a-f]+)"', preview.text)[1]  # type: ignore[index]
    # the rejects, as they were in the list with a reason column
    rejects = http.get(console.url(f"/mensen/importeren/{digest}/afgewezen.csv"), timeout=10)
    assert rejects.headers["Content-Disposition"].endswith('-afgewezen.csv"')
    [row] = list(csv.DictReader(io.StringIO(rejects.text.lstrip("\ufeff")), delimiter=";"))
    assert row["e-mail"] == "geen-adres" and row["reden"]
    # a plan that is not the previewed one is refused, and nothing changes
    wrong = http.post(
        console.url("/mensen/importeren/bevestigen"),
        data={"csrf_token": token, "lijst": digest, "plan": "0" * 64},
        timeout=30,
    )
    assert wrong.status_code == 409 and "de gegevens zijn intussen gewijzigd" in wrong.text
    assert {s.email for s in rows.all_subscribers(console.db())} == before
    done = http.post(
        console.url("/mensen/importeren/bevestigen"),
        data={"csrf_token": token, "lijst": digest, "plan": plan},
        timeout=30,
    )
    assert done.status_code == 200 and "De lijst is geïmporteerd: 2 nieuw" in done.text
    db = console.db()
    added = {s.email for s in rows.all_subscribers(db)} - before
    assert added == {"noor.bakker@fr.example", "tjeerd.hoekstra@fr.example"}
    held = sorted(
        (s.email, m.role, m.province)
        for s in rows.all_subscribers(db)
        if s.email in added
        for m in rows.mandates_of(db, s.id)
    )
    # the preview in Dutch ("Statenlid, Friesland, vanaf 5 december 2026"): as the store has it
    role_of = {label: key for key, label in ROLES.items()}
    province_of = {name: code for code, name in load_settings(console.folder).provinces.items()}
    previewed = sorted(
        (found[1], role_of[found[2]], province_of[found[3]])
        for kind, text in shown
        if kind == "functie erbij"
        for found in [re.fullmatch(r"(\S+): ([^,]+), ([^,]+), vanaf \d+ \w+ \d{4}", text)]
        if found
    )
    assert len(previewed) == 3 and held == previewed
    [event] = [e for e in audit.events(db, "import:friesland-2027.csv")]
    assert event.actor == "staff:bea@ipo.example"
    # imported: the uploaded list (personal data) is removed, so confirming again is refused
    assert not (console.folder / "build/imports" / digest).exists()
    changed = http.post(
        console.url("/mensen/importeren/bevestigen"),
        data={"csrf_token": token, "lijst": digest, "plan": plan},
        timeout=30,
    )
    assert changed.status_code == 409 and "veranderd of weg sinds de controle" in changed.text


def test_export_is_for_the_beheerder_and_in_the_log(console: Console) -> None:
    http, token = signed_in_session(console, "bea@ipo.example")
    answer = http.post(
        console.url("/mensen/exporteren"), data={"csrf_token": token, "formaat": "csv"}, timeout=30
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="abonnees-')
    assert AWAY in answer.text
    [event] = [e for e in audit.events(console.db(), "subscribers") if e.action == "export"]
    assert event.actor == "staff:bea@ipo.example"


# -- in Chromium ---------------------------------------------------------------------------------


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:  # noqa: F811
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, locale="nl-NL", bypass_csp=True
    )
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.mark.slow
def test_a_person_found_by_name_is_resubscribed_with_a_reason(page: Any, console: Console) -> None:
    erik = subscriber(console, COMPLAINED)
    assert erik.status == "unsubscribed"  # the complaint unsubscribed him
    sign_in(page, console, "kees@ipo.example")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Mensen").click()
    page.get_by_label("Naam, e-mailadres of nummer").fill("Zwart")
    page.get_by_role("button", name="Zoeken").click()
    page.get_by_role("link", name=erik.name).click()
    assert page.get_by_role("heading", name=erik.name, level=1).is_visible()
    page.get_by_role("button", name="Opnieuw aanmelden").click()  # no reason: refused
    assert page.get_by_text("Vul een reden in: wat vroeg de persoon").is_visible()
    assert page.get_by_label("Reden").get_attribute("aria-invalid") == "true"
    page.get_by_label("Reden").fill("Belde 2 december: klacht was per ongeluk, wil hem terug")
    page.get_by_role("button", name="Opnieuw aanmelden").click()
    assert page.get_by_role("status").filter(has_text="is weer aangemeld").is_visible()
    assert subscriber(console, COMPLAINED).status == "active"
    history = page.get_by_role("region", name="Geschiedenis uit het logboek")
    assert history.get_by_text("opnieuw aangemeld").is_visible()
    assert history.get_by_text("Kees Smit").first.is_visible()
    assert page.get_by_text("opnieuw aangemeld door Kees Smit:").is_visible()  # Toestemming
    assert "staff:kees" not in page.content()


@pytest.mark.slow
def test_forget_from_the_console_after_the_page_that_lists_what_goes(
    page: Any, console: Console
) -> None:
    julia = subscriber(console, AWAY)
    sign_in(page, console, "bea@ipo.example")
    page.goto(console.url(f"/mensen/{julia.id}"))
    page.get_by_role("link", name="Deze persoon vergeten").click()
    assert page.get_by_role("heading", name=f"{julia.name} vergeten").is_visible()
    assert page.get_by_text("Verzonden berichten: 1").is_visible()
    page.get_by_role("button", name="Definitief vergeten").click()  # not ticked: refused
    assert page.get_by_text("Vink aan dat u deze persoon overal wilt wissen.").is_visible()
    assert rows.find_by_email(console.db(), AWAY) is not None
    page.get_by_label("Ja, wis deze persoon overal").check()
    page.get_by_role("button", name="Definitief vergeten").click()
    assert page.get_by_role("status").filter(has_text="is vergeten").is_visible()
    assert rows.find_by_email(console.db(), AWAY) is None
    [event] = [e for e in audit.events(console.db(), "subscriber:forgotten")]
    assert event.actor == "staff:bea@ipo.example"


@pytest.mark.slow
def test_axe_finds_nothing_serious_on_each_page_at_1280_and_375(
    page: Any, console: Console
) -> None:
    petra = subscriber(console, BOUNCED)
    sign_in(page, console, "bea@ipo.example")
    page.goto(console.url("/mensen/importeren"))
    page.get_by_label("Bestand").set_input_files(
        files=[{"name": "fr.csv", "mimeType": "text/csv", "buffer": GRIFFIE.encode()}]
    )
    page.get_by_role("button", name="Controleren").click()
    assert page.get_by_role("heading", name="Controle van fr.csv").is_visible()
    pages: list[str | None] = [None]  # the import preview first (the answer to a POST)
    pages += [
        "/mensen",
        "/mensen?zoek=bakker",
        f"/mensen/{petra.id}",
        f"/mensen/{petra.id}/vergeten",
        "/mensen/importeren",
        "/onbestelbaar",
    ]
    for path in pages:
        if path is not None:
            page.goto(console.url(path))
        for width in (1280, 375):
            page.set_viewport_size({"width": width, "height": 800})
            problems = axe_serious(page)
            assert not problems, (path, width, problems)
            overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
            assert not overflow, (path, width)
