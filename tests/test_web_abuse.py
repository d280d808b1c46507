"""Abuse limits on the public pages (issue #13, item 8): sign-up mail is rate-limited per
address and per client (over HTTP against a real `newsletter serve`), an old confirmation link
does not undo a later unsubscribe, redirects never follow the Host header, and a preferences
form's CSRF value belongs to that reader's form only."""

from __future__ import annotations

import email
import http.cookiejar
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest

from newsletter import clock
from newsletter.config import load_settings
from newsletter.errors import ConfigError
from newsletter.tokens import PREFERENCES, UNSUBSCRIBE, make_token
from newsletter.web.public import create_app
from tests.test_busy import start_server
from tests.test_web import confirm_path, csrf_of, free_port

SENT_PAGE = "bevestig uw aanmelding"


@pytest.fixture
def serve(instance: Path) -> Iterator[str]:
    """A real `newsletter serve` for the instance; its base URL."""
    port = free_port()
    server = start_server(instance, port)
    try:
        yield f"http://127.0.0.1:{port}{load_settings(instance).path}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def sign_up(base: str, address: str, forwarded_for: str | None = None) -> tuple[int, str]:
    """One reader filling in the form: GET it (for the session and CSRF value), then POST."""
    # The session cookie is Secure (base_url is https); the test server speaks plain http.
    jar = http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(secure_protocols=("http",)))
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with opener.open(urllib.request.Request(f"{base}/aanmelden", headers=headers)) as form:
        csrf = csrf_of(form.read().decode())
    data = urllib.parse.urlencode(
        {"csrf": csrf, "naam": "Een Vreemde", "email": address, "toestemming": "ja"}
    ).encode()
    request = urllib.request.Request(f"{base}/aanmelden", data=data, headers=headers)
    with opener.open(request, timeout=10) as answer:
        return answer.status, answer.read().decode()


def mails(instance: Path) -> list[Path]:
    return sorted((instance / "outbox").glob("*.eml"))


def test_twenty_signups_of_one_address_send_one_confirmation(instance, loaded, serve) -> None:
    before = len(mails(instance))
    for n in range(20):
        written = " Slachtoffer@Elders.example " if n % 2 else "slachtoffer@elders.example"
        status, page = sign_up(serve, written)
        assert status == 200 and SENT_PAGE in page  # the same page every time
    assert len(mails(instance)) - before == 1


def test_one_client_causes_a_bounded_number_of_confirmations_an_hour(
    instance, loaded, serve
) -> None:
    before = len(mails(instance))
    for n in range(20):  # X-Forwarded-For from an untrusted peer is anyone's to write
        status, page = sign_up(serve, f"vreemde{n}@elders.example", f"198.51.100.{n}")
        assert status == 200 and SENT_PAGE in page
    sent = len(mails(instance)) - before
    assert 1 <= sent <= 5


@pytest.fixture
def behind_proxy(instance: Path) -> Path:
    config = instance / "newsletter.toml"
    config.write_text(
        config.read_text() + '\n[web]\ntrusted_proxies = ["127.0.0.1"]\n', encoding="utf-8"
    )
    return instance


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    behind_proxy, loaded, serve
) -> None:
    before = len(mails(behind_proxy))
    for n in range(8):  # eight readers behind the proxy: each gets their mail
        assert sign_up(serve, f"lezer{n}@elders.example", f"203.0.113.{n}")[0] == 200
    assert len(mails(behind_proxy)) - before == 8
    for n in range(8, 20):  # one of them, many times: bounded
        sign_up(serve, f"lezer{n}@elders.example", "192.0.2.1, 203.0.113.1")
    assert len(mails(behind_proxy)) - before == 8 + 4  # 203.0.113.1 had used one of its five


def test_a_confirmation_link_does_not_undo_a_later_unsubscribe(settings, loaded, instance):
    client = create_app(settings).test_client()
    form = client.get("/aanmelden").get_data(as_text=True)
    client.post(
        "/aanmelden",
        data={
            "csrf": csrf_of(form),
            "naam": "Noor van Dijk",
            "email": "noor@griffie.example",
            "toestemming": "ja",
        },
    )
    mail = email.message_from_bytes(mails(instance)[-1].read_bytes(), policy=policy.default)
    path = confirm_path(mail)
    assert "Aanmelding bevestigen" in client.get(path).get_data(as_text=True)  # a good link
    noor = loaded.execute("select id from subscribers where email = 'noor@griffie.example'")
    noor_id = noor.fetchone()[0]
    # Later (the link is signed by the wall clock), Noor unsubscribes.
    clock.set_now(datetime.now(UTC) + timedelta(minutes=5))
    unsubscribe = f"/afmelden/{make_token(settings, UNSUBSCRIBE, noor_id)}"
    assert client.post(unsubscribe).status_code == 200
    client.post(path)  # the old confirmation link, clicked afterwards
    status = loaded.execute("select status from subscribers where id = ?", [noor_id])
    assert status.fetchone()[0] == "unsubscribed"


def test_archive_redirects_go_to_base_url_whatever_the_host_header(settings, loaded) -> None:
    client = create_app(settings).test_client()
    for path in ("/archief", "/archief/2026-11"):
        answer = client.get(path, headers={"Host": "aanvaller.example"})
        location = answer.headers.get("Location", "")
        assert "aanvaller.example" not in location
        if answer.status_code in (301, 302, 307, 308):
            assert location.startswith(settings.base_url + "/archief/")
    assert client.get("/archief").headers["Location"] == f"{settings.base_url}/archief/"


def test_one_readers_csrf_value_does_not_work_on_another_readers_form(settings, loaded):
    client = create_app(settings).test_client()
    ids = [r[0] for r in loaded.execute("select id from subscribers where status = 'active'")]
    mine, theirs = (f"/voorkeuren/{make_token(settings, PREFERENCES, i)}" for i in ids[:2])
    csrf = csrf_of(client.get(mine).get_data(as_text=True))
    client.get(theirs)  # the same browser session opened the other form too
    forged = client.post(theirs, data={"csrf": csrf, "pauze": "ja"})
    assert forged.status_code == 400
    status = loaded.execute("select status from subscribers where id = ?", [ids[1]])
    assert status.fetchone()[0] == "active"
    own = client.post(mine, data={"csrf": csrf, "pauze": "ja"})
    assert own.status_code == 200


def test_trusted_proxies_must_be_addresses(instance) -> None:
    config = instance / "newsletter.toml"
    config.write_text(config.read_text() + '\n[web]\ntrusted_proxies = ["proxy"]\n')
    with pytest.raises(ConfigError, match=r"\[web\] trusted_proxies: 'proxy' is not an IP"):
        load_settings(instance)
