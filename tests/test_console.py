"""The staff console as staff use it (issue #14): `newsletter console` as a real process under
waitress, served under its base URL's path; Chromium through Playwright finds everything by
role and label; axe on every page at 1280 and 375 px; CSRF and session expiry over plain HTTP.

One console process and one browser for the whole module (make test stays quick).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from newsletter import store
from newsletter.config import load_settings
from newsletter.demo import copy_instance, demo_source
from newsletter.preflight import tools
from newsletter.staff import accounts
from newsletter.store import audit
from newsletter.store import staff as staff_rows

IN_CI = os.environ.get("CI") == "true"
PASSWORD = "correct horse battery staple"
PATH = "/nieuwsbrief-console"
STAFF = {
    "sanne@ipo.example": ("Sanne de Vries", ["redacteur", "eindredacteur"]),
    "pieter@ipo.example": ("Pieter Bakker", ["eindredacteur"]),
    "rob@ipo.example": ("Rob Jansen", ["redacteur"]),
    "bea@ipo.example": ("Bea Visser", ["beheerder"]),
    "kees@ipo.example": ("Kees Smit", ["inbox"]),
}
SERIOUS = {"serious", "critical"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped: {process.stderr.read()!r}")  # type: ignore[union-attr]
        try:
            requests.get(url, timeout=1, allow_redirects=False)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"nothing answered at {url}")


@dataclass
class Console:
    """The running console: its address (under the path) and the instance folder."""

    base: str
    folder: Path
    stderr: Path

    def url(self, path: str = "/") -> str:
        return self.base + path

    def db(self) -> Any:
        return store.open_store(load_settings(self.folder))


def start(folder: Path, *args: str, now: str | None = None) -> tuple[subprocess.Popen[bytes], Path]:
    """`newsletter --project folder ARGS` (at the moment `now`, when given)."""
    log = folder / f"{args[0]}.stderr"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    if now:
        env["NEWSLETTER_NOW"] = now
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--project", str(folder), *args],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env=env,
    )
    return process, log


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def console_instance(folder: Path) -> Path:
    """A copy of the demo instance in folder, its console under PATH (idle timeout 30 min)."""
    copy_instance(demo_source(), folder, fresh=False)
    config = folder / "newsletter.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'\n[console]\nbase_url = "http://intranet.ipo.example{PATH}"\nidle_timeout = "30m"\n',
        encoding="utf-8",
    )
    return folder


@contextlib.contextmanager
def running_console(folder: Path, now: str | None = None) -> Iterator[Console]:
    """`newsletter console` for the instance on a free port (at the moment `now`, when
    given), until the block ends."""
    port = free_port()
    process, log = start(folder, "console", "--port", str(port), now=now)
    running = Console(f"http://127.0.0.1:{port}{PATH}", folder, log)
    try:
        wait_for(running.url("/inloggen"), process)
        yield running
    finally:
        stop(process)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A demo instance with five staff accounts and a long log, its console on a free port."""
    folder = console_instance(tmp_path_factory.mktemp("console") / "instance")
    db = store.open_store(load_settings(folder))
    for email, (name, roles) in STAFF.items():
        accounts.add_account(db, email, name, roles, "test", PASSWORD)
    for n in range(60):  # more than one page of the log
        audit.record(db, "tick", "tick", "tick", failed=[], n=n)
    audit.record(db, "cli:joris", "approve", "issue-2026-12")
    db.conn.close()
    with running_console(folder) as running:
        yield running


# -- plain HTTP: no browser ----------------------------------------------------------------


def signed_in_session(console: Console, email: str) -> tuple[requests.Session, str]:
    """A requests session signed in as email; and the CSRF token of its pages."""
    http = requests.Session()
    page = http.get(console.url("/inloggen"), timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    answer = http.post(
        console.url("/inloggen"),
        data={"email": email, "wachtwoord": PASSWORD, "csrf_token": token[1]},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text
    home = http.get(console.url("/"), timeout=10)
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', home.text)
    assert home.status_code == 200 and fresh
    return http, fresh[1]


def test_served_under_the_base_urls_path_and_not_at_the_root(console: Console) -> None:
    root = console.base.removesuffix(PATH)
    assert requests.get(root + "/inloggen", timeout=10).status_code == 404
    page = requests.get(console.url("/"), allow_redirects=False, timeout=10)
    assert page.status_code == 302
    assert page.headers["Location"].endswith(f"{PATH}/inloggen?volgende={PATH}/")
    stderr = console.stderr.read_text(encoding="utf-8")
    assert "development server" not in stderr.lower()
    assert "Staff console on http://127.0.0.1:" in stderr and f"{PATH}/" in stderr


def test_a_post_without_the_csrf_token_or_with_a_wrong_one_is_refused(console: Console) -> None:
    http = requests.Session()
    page = http.get(console.url("/inloggen"), timeout=10)
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and f"Path={PATH}/" in cookie
    assert "Secure" not in cookie  # plain http here; Secure when base_url is https
    form = {"email": "sanne@ipo.example", "wachtwoord": PASSWORD}
    for extra in ({}, {"csrf_token": "vervalst"}):
        refused = http.post(
            console.url("/inloggen"), data={**form, **extra}, allow_redirects=False, timeout=10
        )
        assert refused.status_code == 403
        assert "Formulier geweigerd" in refused.text and 'lang="nl"' in refused.text
    # no cookie at all (another site's form): refused too
    bare = requests.post(console.url("/inloggen"), data=form, allow_redirects=False, timeout=10)
    assert bare.status_code == 403
    # signed in, sign-out without the token is refused and the session goes on
    http, token = signed_in_session(console, "sanne@ipo.example")
    out = http.post(console.url("/uitloggen"), data={}, allow_redirects=False, timeout=10)
    assert out.status_code == 403
    assert http.get(console.url("/"), allow_redirects=False, timeout=10).status_code == 200
    out = http.post(
        console.url("/uitloggen"), data={"csrf_token": token}, allow_redirects=False, timeout=10
    )
    assert out.status_code == 302
    assert http.get(console.url("/"), allow_redirects=False, timeout=10).status_code == 302


def test_an_idle_session_expires(console: Console) -> None:
    http, _ = signed_in_session(console, "kees@ipo.example")
    db = console.db()
    account = staff_rows.by_email(db, "kees@ipo.example")
    assert account is not None
    [session] = staff_rows.sessions_of(db, account.id)
    # 29 idle minutes: still signed in (and the use starts the idle time again)
    staff_rows.touch_session(db, session.id, datetime.now(UTC) - timedelta(minutes=29))
    assert http.get(console.url("/"), allow_redirects=False, timeout=10).status_code == 200
    staff_rows.touch_session(db, session.id, datetime.now(UTC) - timedelta(minutes=31))
    expired = http.get(console.url("/logboek"), allow_redirects=False, timeout=10)
    assert expired.status_code == 302
    assert "verlopen=1" in expired.headers["Location"]
    again = http.get(urljoin(console.url("/"), expired.headers["Location"]), timeout=10)
    assert "Uw sessie is verlopen" in again.text and "<h1>Inloggen</h1>" in again.text
    assert staff_rows.sessions_of(db, account.id) == []


def test_the_public_app_does_not_serve_the_console_and_runs_under_waitress(
    console: Console,
) -> None:
    port = free_port()
    process, log = start(console.folder, "serve", "--port", str(port))
    try:
        public = load_settings(console.folder).local_url(port=port)  # under /nieuwsbrief/
        wait_for(f"{public}archief/", process)
        assert requests.get(f"{public}archief/", timeout=10).status_code == 200
        for path in ("inloggen", f"{PATH[1:]}/inloggen", "logboek"):
            assert requests.get(f"{public}{path}", timeout=10).status_code == 404
    finally:
        stop(process)
    assert "development server" not in log.read_text(encoding="utf-8").lower()


# -- in Chromium -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    problem = tools.browser_problem()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"Chromium with playwright is missing in CI: {problem.note}")
        pytest.skip(f"Chromium with playwright is not installed: {problem.note}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=str(tools.chromium_path()),
            # A sandboxed preview frame runs in its own process; right after Playwright scrolls,
            # Chromium may route the click to that frame's old place and lose it (the month
            # journey's submit button below the preview). People do not click that fast.
            args=[*tools.CHROMIUM_ARGS, "--disable-features=IsolateSandboxedIframes"],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="nl-NL")
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def sign_in(page: Any, console: Console, email: str, password: str = PASSWORD) -> None:
    page.goto(console.url("/inloggen"))
    page.get_by_label("E-mailadres").fill(email)
    page.get_by_label("Wachtwoord").fill(password)
    page.get_by_role("button", name="Inloggen").click()


def axe_serious(page: Any) -> list[str]:
    script = tools.axe_script()
    assert script is not None
    page.add_script_tag(content=script.read_text(encoding="utf-8"))
    result = page.evaluate("o => axe.run(document, o)", tools.WEB_AXE)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} {[n['html'][:80] for n in v['nodes']]}"
        for v in result["violations"]
        if v["impact"] in SERIOUS
    ]


@pytest.mark.slow
def test_sign_in_by_label_see_overzicht_and_sign_out(page: Any, console: Console) -> None:
    page.goto(console.url("/logboek"))
    assert page.get_by_role("heading", name="Inloggen").is_visible()
    page.get_by_label("E-mailadres").fill("Sanne@IPO.example")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    # back to the page asked for, under the path
    page.wait_for_url(console.url("/logboek"))
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Overzicht").click()
    page.wait_for_url(console.url("/"))
    assert page.get_by_role("heading", name="Overzicht", level=1).is_visible()
    for section in ("Nummers", "Verzending", "Postvak", "Tick"):
        assert page.get_by_role("heading", name=section, level=2).is_visible()
    # what `newsletter status` says: the fixture's ticks, the demo key's configuration problem
    assert page.get_by_text(
        re.compile(r"^Laatst gedraaid op .*; alle taken in orde\.$")
    ).is_visible()
    assert page.get_by_text("Dit is een demo-instantie (demo = true)", exact=False).is_visible()
    assert page.get_by_text("Er is geen nummer ingepland.").is_visible()
    assert page.get_by_text("Sanne de Vries").is_visible()
    # the stylesheet is the app's own, served under the path (no CDN)
    header = page.locator("header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert header == "rgb(11, 60, 102)"
    page.get_by_role("button", name="Uitloggen").click()
    assert page.get_by_role("status").filter(has_text="U bent uitgelogd.").is_visible()
    page.goto(console.url("/"))
    assert page.get_by_role("heading", name="Inloggen").is_visible()
    # both are in the log, by account
    db = console.db()
    mine = audit.page(db, actor="staff:sanne@ipo.example")[0]
    assert {"signin", "signout"} <= {e.action for e in mine}


@pytest.mark.slow
def test_a_wrong_password_is_refused_in_dutch_and_the_sixth_quick_failure_is_limited(
    page: Any, console: Console
) -> None:
    for attempt in range(accounts.ACCOUNT_LIMIT):
        sign_in(page, console, "pieter@ipo.example", f"fout wachtwoord {attempt}")
        alert = page.get_by_role("alert")
        assert alert.inner_text() == (
            "Het e-mailadres of het wachtwoord klopt niet. Probeer het opnieuw."
        )
        # next to the form, and tied to its fields
        assert page.get_by_label("E-mailadres").get_attribute("aria-describedby") == "aanmeldfout"
        assert page.get_by_label("E-mailadres").input_value() == "pieter@ipo.example"
        assert page.get_by_label("Wachtwoord").input_value() == ""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        sign_in(page, console, "pieter@ipo.example")  # the right password, now too late
    assert answer.value.status == 429
    assert (
        page.get_by_role("alert")
        .inner_text()
        .startswith("Te veel mislukte pogingen om in te loggen.")
    )
    assert page.get_by_role("heading", name="Inloggen").is_visible()


@pytest.mark.slow
def test_a_redacteur_cannot_open_a_beheerder_page(page: Any, console: Console) -> None:
    sign_in(page, console, "rob@ipo.example")
    page.wait_for_url(console.url("/"))
    menu = page.get_by_role("navigation", name="Hoofdmenu")
    assert menu.get_by_role("link", name="Medewerkers").count() == 0
    response = page.goto(console.url("/medewerkers"))
    assert response.status == 403
    assert page.get_by_role("heading", name="Geen toegang").is_visible()
    assert page.get_by_text("Uw account heeft geen rol die deze pagina mag openen.").is_visible()
    page.get_by_role("button", name="Uitloggen").click()
    sign_in(page, console, "bea@ipo.example")
    page.get_by_role("navigation", name="Hoofdmenu").get_by_role("link", name="Medewerkers").click()
    assert page.get_by_role("heading", name="Medewerkers").is_visible()
    assert page.get_by_role("cell", name="rob@ipo.example").is_visible()


@pytest.mark.slow
def test_logboek_filters_by_account_and_issue_and_pages(page: Any, console: Console) -> None:
    sign_in(page, console, "sanne@ipo.example")
    page.get_by_role("link", name="Logboek").click()
    assert page.get_by_role("heading", name="Logboek").is_visible()
    assert page.get_by_role("link", name="Volgende pagina").is_visible()
    assert len(page.get_by_role("row").all()) == 51  # the header and 50 events
    page.get_by_role("link", name="Volgende pagina").click()
    assert page.get_by_role("link", name="Vorige pagina").is_visible()
    page.get_by_label("Account").select_option("staff:sanne@ipo.example")
    page.get_by_role("button", name="Filteren").click()
    actors = page.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert actors and set(actors) == {"Sanne de Vries"}  # a colleague by name, not an id
    assert "ingelogd" in page.locator("tbody").inner_text()
    page.get_by_label("Account").select_option("")
    page.get_by_label("Nummer (jaar-maand)").fill("2026-12")
    page.get_by_role("button", name="Filteren").click()
    rows = page.locator("tbody tr").all_inner_texts()
    assert len(rows) == 1 and "joris (op de opdrachtregel)" in rows[0] and "goedgekeurd" in rows[0]
    page.get_by_label("Nummer (jaar-maand)").fill("december")
    page.get_by_role("button", name="Filteren").click()
    assert "geen nummer" in page.get_by_role("alert").inner_text()


@pytest.mark.slow
def test_keyboard_alone_can_sign_in(page: Any, console: Console) -> None:
    page.goto(console.url("/inloggen"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Naar de inhoud"
    page.keyboard.press("Enter")  # the skip link: the next Tab is inside the main content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # focus is visible
    page.keyboard.type("sanne@ipo.example")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "wachtwoord"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(console.url("/"))
    assert page.get_by_role("heading", name="Overzicht").is_visible()


@pytest.mark.slow
@pytest.mark.parametrize("width", [1280, 375])
def test_axe_finds_nothing_serious_on_each_page_and_nothing_overflows(
    browser: Any, console: Console, width: int
) -> None:
    # The console's CSP allows no inline script: only axe's own context may bypass it.
    context = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    found = {}
    page.goto(console.url("/inloggen"))
    sign_in(page, console, "nobody@ipo.example", "fout wachtwoord")  # with its error shown
    found["inloggen"] = axe_serious(page)
    sign_in(page, console, "bea@ipo.example")
    for name, path in (
        ("overzicht", "/"),
        ("logboek", "/logboek"),
        ("medewerkers", "/medewerkers"),
        ("404", "/bestaat-niet"),
    ):
        page.goto(console.url(path))
        found[name] = axe_serious(page)
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= width, f"{name} is {overflow} px wide at {width} px"
    context.close()
    assert found == {name: [] for name in found}, found
