"""Inwerkprogramma in the staff console (issue #15, item 5): the demo's new AV members with
their dated timeline and the reason for each date; a step previewed with the member's own
aanhef; enrol by hand with a start date (the timeline follows it); stop with a reason, in the
log by account; role refusals; axe at 1280 and 375 px.

One demo instance (`newsletter demo`, the preflight's external tools left out), one console
process and one browser for the module; most checks over plain HTTP.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsletter import clock, store
from newsletter.config import load_settings
from newsletter.demo import DEMO_NOW, run_demo
from newsletter.onboarding.programme import enrolments
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
    start,
    stop,
    wait_for,
)

PATH = "/nieuwsbrief-console"
STAFF = {
    "rob@ipo.example": ("Rob Jansen", ["redacteur"]),
    "kees@ipo.example": ("Kees Smit", ["inbox"]),
}
# The demo's two new AV members (subscribers/demo/): enrolled from their mandate by tick.
ZOE, HANS = "zoe.mulder@nb.example", "hans.deboer@ut.example"


_DEMO_RUNS: list[Path] = []


def _demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `newsletter demo` per test process, copied for each module that asks."""
    if not _DEMO_RUNS:
        folder = tmp_path_factory.mktemp("demo-run") / "instance"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("newsletter.preflight.runner.run_external", lambda m, f, s: [])
            clock.set_now(DEMO_NOW)
            try:
                summary = run_demo(folder)
            finally:
                clock.set_now(None)
        assert not summary.failed, summary.problems
        _DEMO_RUNS.append(folder)
    return _DEMO_RUNS[0]


def demo_console(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Console]:
    """`newsletter demo` into a fresh folder (December sent, the mailbox processed, the
    onboarding steps of 09.05 sent; the preflight's external tools left out, they are not what
    is tested), two more staff accounts, and its console under a path on a free port."""
    folder = tmp_path_factory.mktemp(name) / "instance"
    shutil.copytree(_demo_run(tmp_path_factory), folder)
    config = folder / "newsletter.toml"
    config.write_text(
        re.sub(
            r"^\[console\].*$",
            f'[console]\nbase_url = "http://intranet.ipo.example{PATH}"',
            config.read_text(encoding="utf-8"),
            count=1,
            flags=re.M,
        ),
        encoding="utf-8",
    )
    db = store.open_store(load_settings(folder))
    for address, (person, roles) in STAFF.items():
        accounts.add_account(db, address, person, roles, "test", PASSWORD)
    for address in ("sanne@ipo.example", "pieter@ipo.example"):
        accounts.reset_password(db, address, "test", PASSWORD)
    db.conn.close()
    port = free_port()
    # after the demo's onboarding tick of 09.05
    process, log = start(folder, "console", "--port", str(port), now="2026-12-01T09:10:00+01:00")
    running = Console(f"http://127.0.0.1:{port}{PATH}", folder, log)
    try:
        wait_for(running.url("/inloggen"), process)
        yield running
    finally:
        stop(process)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    yield from demo_console(tmp_path_factory, "inwerken")


def text_of(page: str) -> str:
    """The page's text, tags out and entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def enrolment_id(console: Console, email: str) -> int:
    db = console.db()
    person = db.execute("select id from subscribers where email = ?", [email]).fetchone()
    return next(e.id for e in enrolments(db) if e.subscriber_id == person[0])


@pytest.mark.slow
def test_the_demo_members_are_listed_with_their_dated_timeline_and_reasons(
    console: Console,
) -> None:
    http, _ = signed_in_session(console, "rob@ipo.example")  # a redacteur may look
    page = http.get(console.url("/inwerken"), timeout=10)
    assert page.status_code == 200
    text = text_of(page.text)
    assert "2 leden" in text
    assert "Zoë Mulder" in text and "Hans de Boer" in text
    # Zoë (appointed 26 November): the welcome went at 09.05, "werkwijze" is next, with the
    # plan's own reason for its date (three working days, moved past the welcome's day)
    assert "Start: 26 november 2026" in text
    assert "Volgende: Hoe het IPO werkt" in text or "Volgende:" in text
    assert "start 26 november 2026 + 3 werkdagen" in text
    assert "verzonden" in text
    # Hans (imported six weeks after appointment): the steps whose moment passed are skipped
    assert "overgeslagen" in text and "verouderd: gepland voor" in text
    # an enrol form is for an eindredacteur only
    assert "Met de hand inschrijven" not in text


@pytest.mark.slow
def test_a_step_preview_greets_the_member_with_their_own_aanhef(console: Console) -> None:
    http, _ = signed_in_session(console, "sanne@ipo.example")
    number = enrolment_id(console, ZOE)
    page = http.get(console.url(f"/inwerken/{number}?stap=werkwijze"), timeout=10)
    assert page.status_code == 200
    frame = re.search(r'<iframe title="([^"]+)" sandbox="" src="([^"]+)"', page.text)
    assert frame and "werkwijze" in frame[1]
    assert "frame-src 'self'" in page.headers["Content-Security-Policy"]
    shown = http.get(console.url("").removesuffix(PATH) + html.unescape(frame[2]), timeout=10)
    assert shown.status_code == 200
    assert "sandbox" in shown.headers["Content-Security-Policy"]
    assert "Geachte mevrouw Mulder," in shown.text
    assert "/afmelden/testexemplaar" in shown.text  # a click in a preview unsubscribes no one


@pytest.mark.slow
def test_enrol_by_hand_with_a_start_date_and_the_timeline_follows(console: Console) -> None:
    db = console.db()
    person = db.execute(
        "select s.email from subscribers s where s.status = 'active' and s.province = 'GLD' "
        "and not exists (select 1 from onboarding_enrolments e where e.subscriber_id = s.id) "
        "order by s.id limit 1"
    ).fetchone()
    email = person[0]
    refused, token = signed_in_session(console, "rob@ipo.example")
    answer = refused.post(
        console.url("/inwerken/inschrijven"),
        data={"email": email, "start": "2027-01-11", "csrf_token": token},
        timeout=10,
    )
    assert answer.status_code == 403  # a redacteur may not enrol
    http, token = signed_in_session(console, "pieter@ipo.example")
    wrong = http.post(
        console.url("/inwerken/inschrijven"),
        data={"email": "niemand@nergens.example", "start": "2027-01-11", "csrf_token": token},
        timeout=10,
    )
    assert wrong.status_code == 422
    assert "Dit e-mailadres staat niet in de lijst" in text_of(wrong.text)
    done = http.post(
        console.url("/inwerken/inschrijven"),
        data={"email": email, "start": "2027-01-11", "csrf_token": token},
        timeout=10,
    )
    assert done.status_code == 200 and "vanaf 11-01-2027" in text_of(done.text)
    text = text_of(done.text)
    assert "Start: 11 januari 2027 (met de hand ingeschreven)" in text
    assert "start 11 januari 2027" in text  # every date reasons from the start given
    [event] = [
        e
        for e in audit.events(console.db())
        if e.action == "onboarding-enrol" and e.actor.startswith("staff:")
    ]
    assert event.actor == "staff:pieter@ipo.example"


@pytest.mark.slow
def test_stop_with_a_reason_is_logged_by_account(console: Console) -> None:
    number = enrolment_id(console, HANS)
    http, token = signed_in_session(console, "pieter@ipo.example")
    empty = http.post(
        console.url(f"/inwerken/{number}/stoppen"),
        data={"reden": " ", "csrf_token": token},
        timeout=10,
    )
    assert empty.status_code == 422 and "Geef een reden op." in text_of(empty.text)
    done = http.post(
        console.url(f"/inwerken/{number}/stoppen"),
        data={"reden": "Benoeming ingetrokken", "csrf_token": token},
        timeout=10,
    )
    assert done.status_code == 200
    text = text_of(done.text)
    assert "Het inwerkprogramma van Hans de Boer is gestopt." in text
    assert "Gestopt: gestopt door een medewerker: Benoeming ingetrokken" in text
    assert "Inwerkprogramma stoppen" not in text  # nothing left to stop
    [event] = [e for e in audit.events(console.db()) if e.action == "onboarding-stop"]
    assert event.actor == "staff:pieter@ipo.example"
    assert event.details["reason"] == "Benoeming ingetrokken"


@pytest.mark.slow
def test_roles_are_refused(console: Console) -> None:
    http, token = signed_in_session(console, "kees@ipo.example")  # inbox only
    assert http.get(console.url("/inwerken"), timeout=10).status_code == 403
    assert f'href="{PATH}/inwerken"' not in http.get(console.url("/"), timeout=10).text  # menu
    number = enrolment_id(console, ZOE)
    assert (
        http.get(console.url(f"/inwerken/{number}/voorbeeld?stap=welkom"), timeout=10).status_code
        == 403
    )
    rob, token = signed_in_session(console, "rob@ipo.example")
    stopped = rob.post(
        console.url(f"/inwerken/{number}/stoppen"),
        data={"reden": "x", "csrf_token": token},
        timeout=10,
    )
    assert stopped.status_code == 403
    # no CSRF token: refused before the view
    pieter, _ = signed_in_session(console, "pieter@ipo.example")
    assert (
        pieter.post(
            console.url(f"/inwerken/{number}/stoppen"), data={"reden": "x"}, timeout=10
        ).status_code
        == 403
    )


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 375])
def test_axe_finds_no_serious_violations(
    browser: Any,  # noqa: F811
    console: Console,
    width: int,
) -> None:
    context = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_in(page, console, "sanne@ipo.example")
        page.wait_for_url(console.url("/"))
        page.get_by_role("navigation", name="Hoofdmenu").get_by_role(
            "link", name="Inwerkprogramma"
        ).click()
        page.wait_for_url(console.url("/inwerken"))
        found = {"list": axe_serious(page)}
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"the list overflows at {width} px ({wide})"
        page.get_by_role("link", name="Zoë Mulder").click()
        page.get_by_role("heading", name="Zoë Mulder").wait_for()
        frame = page.frame_locator("iframe")
        frame.get_by_text("Geachte mevrouw Mulder,").wait_for()
        found["member"] = axe_serious(page)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"the member page overflows at {width} px ({wide})"
        assert found == {"list": [], "member": []}
    finally:
        context.close()


def test_the_cli_stops_with_a_reason_too(tmp_path: Path) -> None:
    """`onboarding stop EMAIL --reason` is the same use case (covered in depth above)."""
    from click.testing import CliRunner

    from newsletter.cli.main import cli

    result = CliRunner().invoke(cli, ["onboarding", "stop", "--help"])
    assert result.exit_code == 0 and "--reason" in result.output
