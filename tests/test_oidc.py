"""Signing in to the console with the organisation's account (issue #14): OpenID Connect against
a real provider (oidc-provider from npm, tests/oidc/server.mjs) on 127.0.0.1, the console as a
real `newsletter console` process, Chromium clicking through the provider's own login page.

The provider's groups claim maps to console roles in [console.oidc]; a user in a domain that is
not allowed, or without a mapped group, is refused in Dutch. One provider, one console and one
browser for the module. The [console.oidc] settings themselves are tested without a browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from newsletter import store
from newsletter.config import load_settings
from newsletter.demo import copy_instance, demo_source
from newsletter.errors import ConfigError
from newsletter.settings import Oidc
from newsletter.staff.single_sign_on import (
    SingleSignOnRefused,
    mapped_roles,
    sign_in_with_claims,
)
from newsletter.store import audit
from newsletter.store import staff as staff_rows
from tests.test_console import axe_serious, browser, free_port, page, stop, wait_for

__all__ = ["browser", "page"]  # one Chromium for the module, started as test_console does

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "oidc" / "server.mjs"
TOOLS = ROOT / "tools"
IN_CI = os.environ.get("CI") == "true"
OIDC_TABLE = """
[console]
base_url = "http://127.0.0.1:{console_port}"

[console.oidc]
issuer = "http://127.0.0.1:{provider_port}"
client_id = "console"
allowed_domain = "ipo.example"
claim = "groups"
scope = "openid email profile groups"
roles = {{ redactie = ["redacteur"], eindredactie = ["eindredacteur"] }}
"""
BUTTON = "Inloggen met uw organisatieaccount"


# -- the settings and the rule, without a provider --------------------------------------------


def write_oidc(folder: Path, console_port: int = 8001, provider_port: int = 9000) -> Path:
    config = folder / "newsletter.toml"
    table = OIDC_TABLE.format(console_port=console_port, provider_port=provider_port)
    config.write_text(config.read_text(encoding="utf-8") + table, encoding="utf-8")
    return config


def test_console_oidc_is_read_with_its_secret_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "instance"
    copy_instance(demo_source(), folder, fresh=False)
    write_oidc(folder)
    monkeypatch.setenv("NEWSLETTER_OIDC_CLIENT_SECRET", "s3cret")
    oidc = load_settings(folder).console.oidc
    assert oidc is not None
    assert (oidc.issuer, oidc.client_id, oidc.allowed_domain, oidc.claim) == (
        "http://127.0.0.1:9000",
        "console",
        "ipo.example",
        "groups",
    )
    assert oidc.roles == {"redactie": ("redacteur",), "eindredactie": ("eindredacteur",)}
    assert oidc.client_secret == "s3cret" and "s3cret" not in repr(oidc)


def test_wrong_console_oidc_settings_are_refused_naming_the_key(tmp_path: Path) -> None:
    folder = tmp_path / "instance"
    copy_instance(demo_source(), folder, fresh=False)
    config = write_oidc(folder)
    text = config.read_text(encoding="utf-8")
    for old, new, says in [
        ('["redacteur"]', '["hoofdredacteur"]', "unknown role 'hoofdredacteur'"),
        ('"http://127.0.0.1:9000"', '"http://login.example"', "must be an https:// URL"),
        ('allowed_domain = "ipo.example"', 'allowed_domain = "ipo"', "is not a domain"),
        ('claim = "groups"', 'claims = "groups"', "'claims' is not a known setting"),
        ('scope = "openid email profile groups"', 'scope = "email"', "must include openid"),
    ]:
        config.write_text(text.replace(old, new), encoding="utf-8")
        with pytest.raises(ConfigError, match=r"\[console\.oidc\]") as raised:
            load_settings(folder)
        assert says in str(raised.value)


OIDC = Oidc(
    issuer="https://login.example",
    client_id="console",
    allowed_domain="ipo.example",
    roles={"redactie": ("redacteur",), "eindredactie": ("eindredacteur",)},
)


def claims(email: str, *groups: str, verified: bool = True, name: str = "Anna de Wit") -> dict:
    return {"email": email, "email_verified": verified, "name": name, "groups": list(groups)}


def test_a_signed_in_user_becomes_an_account_with_the_mapped_roles_and_keeps_in_step(
    db: Any,
) -> None:
    anna = sign_in_with_claims(db, claims("Anna@IPO.example", "redactie", "other"), OIDC, "1.2.3.4")
    assert (anna.email, anna.name, anna.roles) == (
        "anna@ipo.example",
        "Anna de Wit",
        ("redacteur",),
    )
    # the next sign-in matches the same account; the provider's groups decide the roles
    again = sign_in_with_claims(
        db, claims("anna@ipo.example", "eindredactie", "redactie"), OIDC, ""
    )
    assert again.id == anna.id and again.roles == ("redacteur", "eindredacteur")
    assert mapped_roles({"groups": "eindredactie"}, OIDC) == ("eindredacteur",)
    actions = [(e.actor, e.action) for e in audit.events(db)]
    assert ("oidc", "staff-add") in actions and ("oidc", "staff-roles") in actions
    assert actions.count(("staff:anna@ipo.example", "signin")) == 2


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        (claims("bob@elders.example", "redactie"), "domain"),
        (claims("bob@ipo.example.evil.example", "redactie"), "domain"),
        (claims("bob@ipo.example", "kantine"), "role"),
        (claims("bob@ipo.example"), "role"),
        (claims("bob@ipo.example", "redactie", verified=False), "unverified"),
        ({"groups": ["redactie"]}, "unverified"),
    ],
)
def test_a_user_outside_the_domain_without_a_mapped_group_or_unverified_is_refused(
    db: Any, given: dict, reason: str
) -> None:
    with pytest.raises(SingleSignOnRefused) as refused:
        sign_in_with_claims(db, given, OIDC, "1.2.3.4")
    assert refused.value.reason == reason
    assert staff_rows.all_staff(db) == []
    [event] = [e for e in audit.events(db) if e.action == "signin-refused"]
    assert reason in str(event.detail)


def test_a_disabled_account_does_not_sign_in_through_the_provider(db: Any) -> None:
    anna = sign_in_with_claims(db, claims("anna@ipo.example", "redactie"), OIDC, "")
    staff_rows.disable(db, anna.id)
    with pytest.raises(SingleSignOnRefused) as refused:
        sign_in_with_claims(db, claims("anna@ipo.example", "redactie"), OIDC, "")
    assert refused.value.reason == "disabled"


# -- against the real provider, in Chromium -------------------------------------------------


@dataclass
class Running:
    base: str
    folder: Path

    def db(self) -> Any:
        return store.open_store(load_settings(self.folder))


def _provider_problem() -> str:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (TOOLS / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider is not in tools/ (make tools)"
    return ""


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    problem = _provider_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"the OpenID provider is missing in CI: {problem}")
        pytest.skip(problem)
    console_port, provider_port = free_port(), free_port()
    folder = tmp_path_factory.mktemp("oidc") / "instance"
    copy_instance(demo_source(), folder, fresh=False)
    write_oidc(folder, console_port, provider_port)
    callback = f"http://127.0.0.1:{console_port}/oidc/callback"
    provider = subprocess.Popen(
        ["node", str(SERVER), str(provider_port), callback, str(TOOLS.resolve())],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env["NEWSLETTER_OIDC_CLIENT_SECRET"] = "console-secret"
    log = folder / "console.stderr"
    command = [sys.executable, "-m", "newsletter", "--project", str(folder), "console"]
    console = subprocess.Popen(
        [*command, "--port", str(console_port)],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env=env,
    )
    try:
        assert provider.stdout is not None
        assert provider.stdout.readline().startswith("ready "), "the provider did not start"
        wait_for(f"http://127.0.0.1:{console_port}/inloggen", console)
        yield Running(f"http://127.0.0.1:{console_port}", folder)
    finally:
        stop(console)
        provider.terminate()
        provider.wait(timeout=10)


def through_the_provider(page: Any, running: Running, login: str) -> None:
    """Click the button, sign in on the provider's development login page, give consent."""
    page.goto(running.base + "/inloggen")
    page.get_by_role("link", name=BUTTON).click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any")
    page.locator("button[type=submit]").click()
    consent = page.locator("button[type=submit]")
    if "/interaction/" in page.url and consent.count():
        consent.first.click()
    page.wait_for_url(f"{running.base}/**")


@pytest.mark.slow
def test_the_sign_in_page_offers_the_organisation_account_accessibly(
    browser: Any, page: Any, running: Running
) -> None:
    for width in (1280, 375):
        context = browser.new_context(viewport={"width": width, "height": 800}, bypass_csp=True)
        checked = context.new_page()  # axe is injected as a script: only here the CSP is off
        checked.goto(running.base + "/inloggen")
        button = checked.get_by_role("link", name=BUTTON)
        assert button.is_visible() and checked.get_by_label("E-mailadres").is_visible()
        assert axe_serious(checked) == [], width
        context.close()
    page.goto(running.base + "/inloggen")
    page.keyboard.press("Tab")  # reachable with the keyboard alone
    for _ in range(6):
        if page.evaluate("document.activeElement.textContent.trim()") == BUTTON:
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == BUTTON


@pytest.mark.slow
def test_signing_in_with_the_organisation_account_lands_on_overzicht_with_the_mapped_role(
    page: Any, running: Running
) -> None:
    through_the_provider(page, running, "eindredactrice@ipo.example")
    assert page.get_by_role("heading", name="Overzicht", level=1).is_visible()
    assert page.locator(".wie").inner_text() == "eindredactrice (eindredacteur)"
    account = staff_rows.by_email(running.db(), "eindredactrice@ipo.example")
    assert account is not None and account.roles == ("eindredacteur",)
    # a colleague in the redactie group: another account, with the role that group maps to
    page.context.clear_cookies()
    through_the_provider(page, running, "anna@ipo.example")
    assert page.locator(".wie").inner_text() == "anna (redacteur)"
    signins = audit.page(running.db(), actor="staff:anna@ipo.example")[0]
    assert [e.action for e in signins] == ["signin"]


@pytest.mark.slow
def test_a_user_of_another_domain_is_refused_in_dutch(page: Any, running: Running) -> None:
    through_the_provider(page, running, "jan@elders.example")
    alert = page.get_by_role("alert")
    assert alert.inner_text() == (
        "Met dit account kunt u hier niet inloggen: alleen organisatieaccounts met een "
        "e-mailadres van ipo.example hebben toegang."
    )
    assert page.get_by_role("heading", name="Inloggen").is_visible()
    assert staff_rows.by_email(running.db(), "jan@elders.example") is None


@pytest.mark.slow
def test_a_user_without_a_mapped_group_is_refused_in_dutch(page: Any, running: Running) -> None:
    through_the_provider(page, running, "geengroep@ipo.example")
    assert (
        page.get_by_role("alert")
        .inner_text()
        .startswith("Uw organisatieaccount heeft geen rol in de nieuwsbrief")
    )
    assert staff_rows.by_email(running.db(), "geengroep@ipo.example") is None
    page.goto(running.base + "/")
    assert page.get_by_role("heading", name="Inloggen").is_visible()  # not signed in
