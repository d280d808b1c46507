"""The console's loose ends after issues #14 and #15, on the demo as `newsletter demo` leaves
it: staff unsubscribe someone at their own request (from the Postvak, with a reason, the
conversation and the same confirmation e-mail as by mail; the CLI does the same use case);
every page the demo beheerder can reach says nothing in English or as a raw id; an uploaded
griffie list is removed once imported or cancelled, and one left over after a day.

One demo console (tests.test_console_programme.demo_console) and one browser for the module;
most checks over plain HTTP.
"""

from __future__ import annotations

import csv
import email
import html
import io
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import policy
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from click.testing import CliRunner

from newsletter import store
from newsletter.cli.main import cli
from newsletter.config import load_settings
from newsletter.console.log_words import TICK_JOBS
from newsletter.outbound import ledger
from newsletter.people import import_upload
from newsletter.store import audit
from newsletter.store import subscribers as rows
from newsletter.tick import JOBS
from tests.test_console import (
    Console,
    axe_serious,
    browser,  # noqa: F401  (the module's one Chromium)
    sign_in,
    signed_in_session,
)
from tests.test_console_programme import demo_console

PATH = "/nieuwsbrief-console"
HANS = "hans.dejong@nh.example"  # asks about the AV in the demo's mailbox (a conversation)
CONSOLE_NOW = datetime.fromisoformat("2026-12-01T09:10:00+01:00")  # demo_console's moment
GRIFFIE = "griffie@fr.example"  # asks to unsubscribe someone else
# What staff must never read on a console page: English states, raw ids, Python values.
NEVER = ("bounced", "pending", "scheduled", "draft", "None", "True", "False", "mailing-",
         "issue-20", "stale", "working days", "planned for", "stopped by", "sent now",
         "sent before", "recipients", "mandates added", "hard bounce", "staff:", "subscriber:",
         "import:", "saved reply", "saved-reply:", "Subscribers", "mandate", "sessions_ended",
         "already_sent")  # fmt: skip


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    yield from demo_console(tmp_path_factory, "tidy")


def conversation_of(console: Console, address: str) -> int:
    found = console.db().execute(
        "select id from conversations where correspondent_email = ?", [address]
    )
    return int(found.fetchone()[0])


def person(console: Console, address: str) -> Any:
    found = rows.find_by_email(console.db(), address)
    assert found is not None
    return found


def newest_mail(console: Console, to: str) -> email.message.EmailMessage:
    outbox = sorted((console.folder / "outbox").glob("*.eml"), key=lambda p: p.stat().st_mtime)
    for path in reversed(outbox):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if to in str(message["To"]):
            return message  # type: ignore[return-value]
    raise AssertionError(f"no mail to {to} in the outbox")


def text_of(page: str) -> str:
    """What a person reads: the text of the page, its title included, scripts and styles out."""
    page = re.sub(r"<(script|style)\b[^>]*>.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


# -- plain HTTP ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_staff_unsubscribe_only_with_a_reason_and_only_at_the_persons_own_request(
    console: Console,
) -> None:
    hans = person(console, HANS)
    asked = conversation_of(console, HANS)
    griffie = conversation_of(console, GRIFFIE)
    url = console.url(f"/mensen/{hans.id}/afmelden")
    rob, token = signed_in_session(console, "rob@ipo.example")  # a redacteur: no people
    assert rob.post(url, data={"csrf_token": token, "reden": "x"}, timeout=10).status_code == 403
    kees, token = signed_in_session(console, "kees@ipo.example")  # inbox: the same role as
    empty = kees.post(url, data={"csrf_token": token, "reden": " "}, timeout=10)  # resubscribe
    assert empty.status_code == 422
    assert "Vul een reden in: wat vroeg de persoon, wanneer en hoe?" in text_of(empty.text)
    other = kees.post(
        url, data={"csrf_token": token, "reden": "Griffie vraagt het", "gesprek": griffie}
    )
    assert other.status_code == 422
    assert f"Gesprek {griffie} is met {GRIFFIE}, niet met deze persoon" in text_of(other.text)
    assert 'id="gesprek"' in other.text and 'aria-invalid="true"' in other.text
    assert person(console, HANS).status == "active"  # nothing changed
    assert not [e for e in audit.events(console.db(), f"subscriber:{hans.id}")
                if e.action == "unsubscribe"]  # fmt: skip
    # the CLI: the same use case, the same refusal, and the same role rule
    cli = subprocess.run(
        [sys.executable, "-m", "newsletter", "--project", str(console.folder), "subscribers",
         "unsubscribe", "Hans de Jong", "--reason", "Griffie", "--request", str(griffie),
         "--by", "rob@ipo.example"],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
    )  # fmt: skip
    assert cli.returncode == 2 and "needs one of the roles inbox" in cli.stderr
    assert asked != griffie


@pytest.mark.slow
def test_from_the_postvak_an_adviser_unsubscribes_the_sender_who_gets_the_confirmation(
    browser: Any,  # noqa: F811
    console: Console,
) -> None:
    hans = person(console, HANS)
    asked = conversation_of(console, HANS)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        sign_in(page, console, "kees@ipo.example")
        page.goto(console.url(f"/postvak/{asked}"))
        page.get_by_role("link", name="Afmelden op dit verzoek…").click()
        assert page.get_by_role("heading", name="Afmelden").is_visible()
        assert page.get_by_label("Nummer van het gesprek in het postvak").input_value() == str(
            asked
        )
        assert axe_serious(page) == []
        page.get_by_label("Reden").fill("Mailde op 1 december: haal mij van de lijst")
        page.get_by_role("button", name="Afmelden", exact=True).click()
        status = page.get_by_role("status").filter(has_text="is afgemeld")
        assert "Hans de Jong krijgt de bevestiging per e-mail." in status.inner_text()
        assert page.get_by_role("heading", name="Opnieuw aanmelden").is_visible()
        history = page.get_by_role("region", name="Geschiedenis uit het logboek").inner_text()
        assert "door een medewerker, op verzoek van de persoon" in history
        assert f"op verzoek in gesprek {asked}" in history and "Kees Smit" in history
    finally:
        context.close()
    db = console.db()
    assert person(console, HANS).status == "unsubscribed"
    [event] = [e for e in audit.events(db, f"subscriber:{hans.id}") if e.action == "unsubscribe"]
    assert event.actor == "staff:kees@ipo.example"
    assert event.details == {
        "how": "staff",
        "reason": "Mailde op 1 december: haal mij van de lijst",
        "conversation": asked,
    }
    # the reader gets the same confirmation as an unsubscribe by mail, threaded to their question
    mail = newest_mail(console, HANS)
    assert mail["Subject"] == "Afgemeld voor de nieuwsbrief Statenleden"
    question = db.execute(
        "select message_id from conversation_messages where conversation_id = ? "
        "and direction = 'in' order by id desc",
        [asked],
    ).fetchone()[0]
    assert mail["In-Reply-To"] == question
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "U hebt ons gevraagd u af te melden" in body and "Beantwoord dan deze e-mail" in body
    # the CLI undoes it by name, the same way (and says so in the log)
    cli = subprocess.run(
        [sys.executable, "-m", "newsletter", "--project", str(console.folder), "subscribers",
         "resubscribe", "Hans de Jong", "--reason", "Toch weer graag", "--by", "kees@ipo.example"],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert person(console, HANS).status == "active"


@pytest.mark.slow
def test_the_logboek_says_in_dutch_what_a_send_and_an_import_did_an_old_row_too(
    console: Console,
) -> None:
    db = console.db()
    with store.transaction(db):  # rows as the log kept them before the counts were data
        audit.record(db, "send", "send", "issue-2026-11", summary="issue-2026-11: 312 sent now, "
                     "0 sent before, 0 deferred, 0 failed of 312 recipients")  # fmt: skip
        audit.record(db, "import:oud.csv", "import", "import:oud.csv", summary="Subscribers: "
                     "3 added, 0 updated, 0 unchanged, 3 mandates added")  # fmt: skip
    http, _ = signed_in_session(console, "sanne@ipo.example")

    def log(**query: str) -> str:
        return text_of(http.get(console.url("/logboek"), params=query, timeout=10).text)

    # the demo's send of December, worded from the counts the send engine stored
    december = log(nummer="2026-12")
    assert (
        "het verzenden (automatisch) verzonden Nummer december 2026 "
        "Aan 626 van 626 ontvangers verzonden" in december
    )
    assert "Pieter Bakker goedgekeurd Nummer december 2026 redacteur Sanne de Vries" in december
    imported = log(account="import:drenthe.csv")
    assert (
        "de import van drenthe.csv lijst geïmporteerd lijst drenthe.csv "
        "47 toegevoegd, 0 bijgewerkt, 0 ongewijzigd, 50 functies toegevoegd" in imported
    )
    # an old row: what it is, in Dutch, and none of its English
    november = log(nummer="2026-11")
    assert "Verzonden (de aantallen zijn bij deze oudere regel niet apart bewaard)" in november
    assert "sent now" not in november
    old = log(account="import:oud.csv")
    assert "Lijst geïmporteerd (de aantallen zijn bij deze oudere regel niet apart bewaard)" in old
    assert "Subscribers" not in old
    # the CLI's log still prints the line it printed when it sent
    cli = subprocess.run(
        [sys.executable, "-m", "newsletter", "--project", str(console.folder), "log",
         "--issue", "2026-12"],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")},
    )  # fmt: skip
    assert "issue-2026-12: 626 sent now, 0 sent before, 0 deferred, 0 failed" in cli.stdout
    assert set(TICK_JOBS) == {name for name, _ in JOBS}  # the tick's jobs all have Dutch names


@pytest.mark.slow
def test_every_page_the_demo_beheerder_reaches_is_in_dutch_without_raw_ids(
    console: Console,
) -> None:
    db = console.db()
    # an issue under way, so the Overzicht lists a mailing
    ledger.create_mailing(db, "issue-2027-01", "issue", "Nieuwsbrief januari", "hash", "2027-01")
    ledger.set_mailing_status(db, "issue-2027-01", "sending")
    http, _ = signed_in_session(console, "sanne@ipo.example")  # every role: every page
    home = http.get(console.url("/"), timeout=10).text
    assert f'href="{PATH}/nummers/2027-01">Nummer januari 2027</a>' in home
    reports = http.get(console.url("/rapporten"), timeout=10).text
    assert f'href="{PATH}/nummers/2026-12">nummer december 2026</a>' in reports
    seen: set[str] = set()
    shapes: Counter[str] = Counter()
    queue, found = ["/"], []
    while queue and len(seen) < 120:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        answer = http.get(console.url(path), allow_redirects=False, timeout=30)
        if answer.status_code != 200 or "text/html" not in answer.headers["Content-Type"]:
            continue
        text = text_of(answer.text)
        for word in NEVER:
            if re.search(
                rf"(?<![\w-]){re.escape(word)}" + ("" if word[-1] in "-0" else r"\b"), text
            ):
                found.append(f"{path}: '{word}'")
        # Dutch text quotes with “…”, not with straight quotes (a page's own words, that is:
        # the Postvak shows what people wrote as they wrote it)
        if not path.startswith("/postvak/"):
            found += [f"{path}: {q}" for q in re.findall(r'"[^"]{0,60}"', text)]
        for link in re.findall(r'href="([^"#]+)"', answer.text):
            target = urlsplit(urljoin(console.url(path), html.unescape(link)))
            if not target.path.startswith(PATH + "/") and target.path != PATH:
                continue
            relative = target.path.removeprefix(PATH) or "/"
            if relative.startswith("/static") or relative.endswith((".csv", "/csv")):
                continue
            shape = re.sub(r"\d+", "N", relative) + re.sub(r"=[^&]*", "", target.query)
            shapes[shape] += 1
            if shapes[shape] <= 2:  # two of each kind of page is enough
                queue.append(relative + (f"?{target.query}" if target.query else ""))
    expected = {"/", "/mensen", "/postvak", "/inwerken", "/rapporten", "/logboek", "/nummers"}
    assert expected <= seen, expected - seen
    assert len(seen) > 30
    assert not found, found


@pytest.mark.slow
def test_an_uploaded_list_is_removed_once_imported_or_cancelled_or_a_day_old(
    console: Console,
) -> None:
    settings = load_settings(console.folder)
    kept = settings.build_dir / "imports"
    # one left over from a preview nobody confirmed, two days ago
    old = kept / ("0" * 64)
    old.mkdir(parents=True, exist_ok=True)
    (old / "oud.csv").write_text("email;naam\nx@gld.example;X\n", encoding="utf-8")
    two_days = (CONSOLE_NOW - timedelta(days=2)).timestamp()  # by the console's clock
    os.utime(old / "oud.csv", (two_days, two_days))
    http, token = signed_in_session(console, "sanne@ipo.example")
    data = "e-mail;naam;provincie\nnoor.visser@gld.example;Noor Visser;GLD\ngeen-adres;Geen;GLD\n"

    def upload() -> tuple[str, str]:
        preview = http.post(
            console.url("/mensen/importeren"),
            data={"csrf_token": token},
            files={"lijst": ("gelderland.csv", data.encode(), "text/csv")},
            timeout=30,
        )
        assert preview.status_code == 200, preview.text
        digest = re.search(r'name="lijst" value="([0-9a-f]{64})"', preview.text)
        plan = re.search(r'name="plan" value="([0-9a-f]+)"', preview.text)
        assert digest and plan
        return digest[1], plan[1]

    digest, _ = upload()
    assert (kept / digest / "gelderland.csv").is_file()
    assert not old.exists()  # the next upload removed the day-old one
    # the rejects, with the reason in Dutch
    rejects = http.get(console.url(f"/mensen/importeren/{digest}/afgewezen.csv"), timeout=10)
    [row] = list(csv.DictReader(io.StringIO(rejects.text.lstrip("\ufeff")), delimiter=";"))
    assert row["reden"] == "Regel 3, kolom e-mail: 'geen-adres' is geen geldig e-mailadres"
    cancelled = http.post(
        console.url("/mensen/importeren/annuleren"),
        data={"csrf_token": token, "lijst": digest},
        timeout=10,
    )
    assert cancelled.status_code == 200 and "Het importeren is geannuleerd" in cancelled.text
    assert not (kept / digest).exists()
    assert rows.find_by_email(console.db(), "noor.visser@gld.example") is None
    digest, plan = upload()
    done = http.post(
        console.url("/mensen/importeren/bevestigen"),
        data={"csrf_token": token, "lijst": digest, "plan": plan},
        timeout=30,
    )
    assert done.status_code == 200 and "De lijst is geïmporteerd" in done.text
    assert not (kept / digest).exists()
    assert rows.find_by_email(console.db(), "noor.visser@gld.example") is not None
    # the tick removes what is left after a day, too (its retention job)
    digest, _ = upload()
    for path in (kept / digest).iterdir():
        os.utime(path, (two_days, two_days))
    retention = dict(JOBS)["retention"]
    result = retention(console.db(), settings, CONSOLE_NOW)
    assert result is not None and "uploaded lists older than a day removed: 1" in result.line
    assert not (kept / digest).exists()
    assert import_upload.remove_old_uploads(settings, CONSOLE_NOW) == 0


def test_resubscribe_and_unsubscribe_take_the_same_reason_and_request_options() -> None:
    runner = CliRunner()
    helps = {
        command: runner.invoke(cli, ["subscribers", command, "--help"], terminal_width=200)
        for command in ("resubscribe", "unsubscribe")
    }
    for command, shown in helps.items():
        assert shown.exit_code == 0
        assert "--reason TEXT  " in shown.output and "[required]" in shown.output
        assert "What the person asked, when and how (logged)." in shown.output
        missing = runner.invoke(cli, ["subscribers", command, "someone@gld.example"])
        assert missing.exit_code == 2 and "Missing option '--reason'" in missing.output
    # the conversation is the person's own for an unsubscribe: nobody goes on another's word
    assert "CONVERSATION_ID  The conversation in the contact" in helps["resubscribe"].output
    assert "Their own conversation in the contact mailbox" in helps["unsubscribe"].output
