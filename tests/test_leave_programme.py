"""Leaving the onboarding programme without leaving the newsletter (issue #16, item 6).

Every onboarding step carries "Alleen stoppen met het inwerkprogramma": a link signed for the
member and the sequence. Its GET shows one button and changes nothing (mail scanners open
links); its POST stops that enrolment through onboarding's own stop, logged as the reader. The
demo on 1 December 2026: tick enrols Zoe Mulder (appointed 26 November) and sends her welcome.
Most checks run over Flask's test client; the app on a real port and one Chromium run do the
reader's journey and axe on both pages.
"""

from __future__ import annotations

import base64
import email
import json
import re
import threading
from dataclasses import replace
from datetime import datetime
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from sqlite_utils import Database
from werkzeug.serving import make_server

from newsletter import clock
from newsletter.config import Settings
from newsletter.issues.build import build_issue
from newsletter.onboarding import programme as onboarding
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.transports import MemoryTransport
from newsletter.preflight import tools
from newsletter.store import audit
from newsletter.tokens import UNSUBSCRIBE, make_token, programme_purpose
from newsletter.web.public import create_app

ZOE, HANS = "zoe.mulder@nb.example", "hans.deboer@ut.example"
LINK_TEXT = "Alleen stoppen met het inwerkprogramma"
FIRST_TICK = datetime(2026, 12, 1, 9, 5, tzinfo=clock.AMSTERDAM)


def tick(db: Database, settings: Settings, now: datetime) -> dict[str, EmailMessage]:
    """The onboarding job of tick at `now`: who got which step message."""
    clock.set_now(now)
    relay = MemoryTransport()
    report = onboarding.run_due(db, settings, now, lambda: relay)
    assert not report.failed
    return {
        envelope.recipient: email.message_from_bytes(data, policy=policy.default)
        for envelope, data in relay.sent
    }


def leave_link(message: EmailMessage) -> str:
    """The footer's "Alleen stoppen" link, the same in the HTML and the text part."""
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    [href] = re.findall(rf'<a href="([^"]+)"[^>]*>{LINK_TEXT}</a>', html)
    assert f"{LINK_TEXT}: {href}\n" in text
    return str(href)


def enrolment(db: Database, settings: Settings, address: str) -> dict[str, Any]:
    [row] = [r for r in onboarding.status_rows(db, settings, clock.now()) if r["email"] == address]
    return row


def subscriber_id(db: Database, address: str) -> int:
    return int(db.execute("select id from subscribers where email = ?", [address]).fetchone()[0])


def stops_in_log(db: Database) -> list[audit.AuditEntry]:
    return [e for e in audit.events(db) if e.action == "onboarding-stop"]


@pytest.fixture
def welcomed(settings: Settings, loaded: Database) -> dict[str, EmailMessage]:
    """The first tick of 1 December: Zoe's and Hans's first step messages."""
    mails = tick(loaded, settings, FIRST_TICK)
    assert {ZOE, HANS} <= mails.keys()
    return mails


def test_the_link_asks_first_then_stops_only_the_programme_and_the_newsletter_still_comes(
    settings, loaded, december, welcomed
) -> None:
    message = welcomed[ZOE]
    link = leave_link(message)
    assert link.startswith(f"{settings.base_url}/inwerkprogramma/av-lid/")
    # The header keeps meaning everything (RFC 8058 one-click unsubscribes from all of it).
    assert message["List-Unsubscribe"].startswith(f"<{settings.base_url}/afmelden/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    before = enrolment(loaded, settings, ZOE)
    assert (before["status"], before["next_step"]) == ("active", "werkwijze")
    due = datetime.fromisoformat(before["next_at"])

    client = create_app(settings).test_client()
    path = link.removeprefix(settings.base_url)
    page = client.get(path)  # what a link scanner or the reader's first click does
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h1>Stoppen met het inwerkprogramma</h1>" in html
    assert html.count("<button") == 1 and "Ja, stop het inwerkprogramma" in html
    assert "De maandelijkse nieuwsbrief Statenleden blijft u wel ontvangen." in html
    assert enrolment(loaded, settings, ZOE)["status"] == "active" and not stops_in_log(loaded)

    done = client.post(path)  # the button: a plain form post, no cookie needed
    html = done.get_data(as_text=True)
    assert done.status_code == 200
    assert "<h1>Het inwerkprogramma is gestopt</h1>" in html
    assert f"geen e-mails van het inwerkprogramma meer op {ZOE}" in html
    assert "De maandelijkse nieuwsbrief Statenleden blijft u wel ontvangen" in html
    assert f'<a href="mailto:{settings.sender_address}">' in html
    assert "dan melden wij u weer aan voor het inwerkprogramma" in html
    after = enrolment(loaded, settings, ZOE)
    assert after["status"] == "stopped" and after["next_step"] is None
    assert after["stopped_reason"] == (
        "stopped by the reader: gestopt via de link in het inwerkprogramma"
    )
    [entry] = stops_in_log(loaded)
    assert (entry.actor, entry.subject) == ("reader", f"subscriber:{subscriber_id(loaded, ZOE)}")
    assert entry.details == {
        "sequence": "av-lid",
        "reason": "gestopt via de link in het inwerkprogramma",
    }
    # A second click (or a replayed post) shows the same page and logs nothing again.
    again = client.post(path)
    assert again.status_code == 200 and "Het inwerkprogramma is gestopt" in again.get_data(True)
    assert len(stops_in_log(loaded)) == 1
    # Hans follows the programme as before.
    assert enrolment(loaded, settings, HANS)["status"] == "active"

    # The day the next step was due, tick sends her nothing; the newsletter still goes to her.
    assert ZOE not in tick(loaded, settings, due)
    assert enrolment(loaded, settings, ZOE)["status"] == "stopped"  # tick did not re-enrol her
    assert loaded.execute("select status from subscribers where email = ?", [ZOE]).fetchone() == (
        "active",
    )
    outbox = MemoryTransport()
    deliver_issue(
        loaded, settings, build_issue(loaded, settings, "2026-12").rendered, lambda: outbox
    )
    assert ZOE in {envelope.recipient for envelope, _ in outbox.sent}


def _forged(token: str, other_id: int) -> str:
    """A member's genuine token with its payload changed to someone else's id."""
    payload = base64.urlsafe_b64encode(json.dumps(other_id).encode()).rstrip(b"=").decode()
    return f"{payload}.{token.split('.', 1)[1]}"


def test_forged_or_other_tokens_get_the_dutch_page_and_change_nothing(
    settings, loaded, welcomed
) -> None:
    zoe, hans = subscriber_id(loaded, ZOE), subscriber_id(loaded, HANS)
    hans_link = leave_link(welcomed[HANS]).removeprefix(settings.base_url)
    hans_token = hans_link.rsplit("/", 1)[1]
    genuine = make_token(settings, programme_purpose("av-lid"), zoe)
    other_instance = replace(settings, secret_keys=("a-key-that-is-not-this-instances-0123",))
    elsewhere = make_token(other_instance, programme_purpose("av-lid"), zoe)
    refused = {
        "Hans's token, changed to name Zoe": (
            f"/inwerkprogramma/av-lid/{_forged(hans_token, zoe)}"
        ),
        "signed with another key": f"/inwerkprogramma/av-lid/{elsewhere}",
        "her unsubscribe token": (
            f"/inwerkprogramma/av-lid/{make_token(settings, UNSUBSCRIBE, zoe)}"
        ),
        "made for another sequence": (
            f"/inwerkprogramma/av-lid/{make_token(settings, programme_purpose('griffie'), zoe)}"
        ),
        "her token under another sequence": f"/inwerkprogramma/griffie/{genuine}",
        "damaged": f"/inwerkprogramma/av-lid/{genuine[:-2]}",
        "the preview's": "/inwerkprogramma/av-lid/testexemplaar",
    }
    client = create_app(settings).test_client()
    for case, path in refused.items():
        for response in (client.get(path), client.post(path)):
            html = response.get_data(as_text=True)
            assert response.status_code == 400, case
            assert "<h1>Deze link werkt niet</h1>" in html and '<html lang="nl">' in html, case
            assert "<button" not in html, case
    assert enrolment(loaded, settings, ZOE)["status"] == "active"
    assert enrolment(loaded, settings, HANS)["status"] == "active"
    assert not stops_in_log(loaded)
    # Hans's own link stops Hans, and only Hans.
    assert client.post(hans_link).status_code == 200
    assert enrolment(loaded, settings, HANS)["status"] == "stopped"
    assert enrolment(loaded, settings, ZOE)["status"] == "active"
    assert [e.subject for e in stops_in_log(loaded)] == [f"subscriber:{hans}"]


def test_a_member_who_left_the_newsletter_too_is_not_promised_it(settings, loaded, welcomed):
    client = create_app(settings).test_client()
    path = leave_link(welcomed[ZOE]).removeprefix(settings.base_url)
    unsubscribe_path = f"/afmelden/{make_token(settings, UNSUBSCRIBE, subscriber_id(loaded, ZOE))}"
    assert client.post(unsubscribe_path).status_code == 200
    html = client.post(path).get_data(as_text=True)
    assert "Het inwerkprogramma is gestopt" in html
    assert "nieuwsbrief" not in html.split("<main", 1)[1].split("</main>", 1)[0]


def axe_serious(page: Any, script: str) -> list[str]:
    page.add_script_tag(content=script)
    result = page.evaluate("o => axe.run(document, o)", tools.WEB_AXE)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} {[n['html'][:80] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.mark.slow
def test_the_reader_follows_the_link_in_chromium_and_axe_finds_nothing_serious(
    settings, loaded, welcomed
) -> None:
    """The public app on a real port (in this process: `newsletter serve` itself is tested in
    test_web.py), the link from her e-mail opened in Chromium at 375 px, the button clicked."""
    problem = tools.browser_problem()
    if problem is not None:
        pytest.skip(problem.note)
    from playwright.sync_api import sync_playwright

    script = tools.axe_script()
    assert script is not None
    server = make_server("127.0.0.1", 0, create_app(settings), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    link = leave_link(welcomed[ZOE]).replace(
        settings.base_url, f"http://127.0.0.1:{server.server_port}"
    )
    found: dict[str, list[str]] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(tools.chromium_path()), args=tools.CHROMIUM_ARGS
            )
            # The pages' CSP allows no script: only axe's own may bypass it.
            context = browser.new_context(
                viewport={"width": 375, "height": 800}, locale="nl-NL", bypass_csp=True
            )
            context.set_default_timeout(15_000)
            page = context.new_page()
            page.goto(link)
            heading = page.get_by_role("heading", name="Stoppen met het inwerkprogramma")
            assert heading.is_visible()
            found["vraag"] = axe_serious(page, script.read_text(encoding="utf-8"))
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            assert enrolment(loaded, settings, ZOE)["status"] == "active"
            page.get_by_role("button", name="Ja, stop het inwerkprogramma").click()
            assert page.get_by_role("heading", name="Het inwerkprogramma is gestopt").is_visible()
            assert page.get_by_role("status").inner_text().startswith("U ontvangt geen e-mails")
            found["gestopt"] = axe_serious(page, script.read_text(encoding="utf-8"))
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            browser.close()
    finally:
        server.shutdown()
    assert found == {"vraag": [], "gestopt": []}, found
    assert enrolment(loaded, settings, ZOE)["status"] == "stopped"
