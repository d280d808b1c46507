"""The public web endpoints: Flask's test client, and one real `newsletter serve` process."""

from __future__ import annotations

import email
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from email import policy
from pathlib import Path

import pytest

from newsletter import store
from newsletter.config import load_settings
from newsletter.issues.build import build_issue
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.transports import MemoryTransport
from newsletter.store import audit
from newsletter.tokens import PREFERENCES, UNSUBSCRIBE, make_token
from newsletter.web.public import create_app

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def client(settings, loaded):
    return create_app(settings).test_client()


def person(db, email="kees.sanders@gld.example") -> dict:
    return dict(next(db.query("select * from subscribers where email = ?", [email])))


def status(db, subscriber_id: int) -> str:
    return str(db.table("subscribers").get(subscriber_id)["status"])


def test_get_shows_one_button_and_never_unsubscribes(client, settings, loaded) -> None:
    kees = person(loaded)
    page = client.get(f"/afmelden/{make_token(settings, UNSUBSCRIBE, kees['id'])}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="nl">' in html and "Ja, meld mij af" in html
    assert html.count("<button") == 1 and 'method="post"' in html
    assert status(loaded, kees["id"]) == "active"


def test_rfc8058_one_click_post_without_cookies_unsubscribes_with_200(
    client, settings, loaded
) -> None:
    kees = person(loaded)
    url = f"/afmelden/{make_token(settings, UNSUBSCRIBE, kees['id'])}"
    for form in ({"List-Unsubscribe": "One-Click"},):
        response = client.post(url, data=form, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200 and "Location" not in response.headers
    assert status(loaded, kees["id"]) == "unsubscribed"
    assert "Set-Cookie" not in response.headers


def test_one_click_multipart_works_too(client, settings, loaded) -> None:
    petra = person(loaded, "petra.claessens@gld.example")
    response = client.post(
        f"/afmelden/{make_token(settings, UNSUBSCRIBE, petra['id'])}",
        data={"List-Unsubscribe": "One-Click"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert status(loaded, petra["id"]) == "unsubscribed"


def test_a_replayed_unsubscribe_is_harmless_and_audited_once(client, settings, loaded) -> None:
    kees = person(loaded)
    url = f"/afmelden/{make_token(settings, UNSUBSCRIBE, kees['id'])}"
    for _ in range(3):
        assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    events = audit.events(loaded, f"subscriber:{kees['id']}")
    assert [(e.actor, e.action) for e in events] == [("web", "unsubscribe")]
    assert "U bent afgemeld" in client.get(url).get_data(as_text=True)


@pytest.mark.parametrize(
    "case", ["tampered", "other-purpose", "revoked-key", "unknown-person", "garbage"]
)
def test_bad_tokens_get_a_friendly_400_and_change_nothing(case, settings, loaded, monkeypatch):
    kees = person(loaded)
    token = make_token(settings, UNSUBSCRIBE, kees["id"])
    if case == "tampered":
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    elif case == "other-purpose":
        token = make_token(settings, PREFERENCES, kees["id"])
    elif case == "revoked-key":
        monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "oude-sleutel-die-gelekt-is")
        token = make_token(load_settings(settings.project), UNSUBSCRIBE, kees["id"])
        monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "nieuwe-sleutel")
    elif case == "unknown-person":
        token = make_token(settings, UNSUBSCRIBE, 999_999)
    else:
        token = "%3Cscript%3E"
    client = create_app(load_settings(settings.project)).test_client()
    for response in (client.get(f"/afmelden/{token}"), client.post(f"/afmelden/{token}")):
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        assert "Deze link werkt niet" in html and "<script>" not in html
    assert status(loaded, kees["id"]) == "active"


def test_key_rotation_old_links_keep_working(settings, loaded, monkeypatch) -> None:
    kees = person(loaded)
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "sleutel-2026")
    token = make_token(load_settings(settings.project), UNSUBSCRIBE, kees["id"])
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "sleutel-2026,sleutel-2027")
    client = create_app(load_settings(settings.project)).test_client()
    assert client.get(f"/afmelden/{token}").status_code == 200


def test_preferences_need_the_csrf_field_and_save_themes_and_pause(client, settings, loaded):
    kees = person(loaded)
    url = f"/voorkeuren/{make_token(settings, PREFERENCES, kees['id'])}"
    page = client.get(url).get_data(as_text=True)
    assert "BAC Landelijk Gebied" in page and 'name="csrf"' in page
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    forged = client.post(url, data={"thema": ["landelijk-gebied"]})
    assert forged.status_code == 400
    saved = client.post(
        url, data={"csrf": csrf, "thema": ["landelijk-gebied", "digitalisering"], "pauze": "ja"}
    )
    assert saved.status_code == 200 and "Uw voorkeuren zijn opgeslagen" in saved.get_data(
        as_text=True
    )
    row = loaded.table("subscribers").get(kees["id"])
    assert row["status"] == "paused"
    assert store.loads(row["themes"]) == ["digitalisering", "landelijk-gebied"]


def test_archive_lists_only_sent_issues_with_feed_and_ics(client, settings, loaded, december):
    assert "nog geen nieuwsbrieven" in client.get("/archief/").get_data(as_text=True)
    rendered = build_issue(loaded, settings, "2026-12").rendered
    assert client.get("/archief/2026-12/").status_code == 404  # built but not sent: not public
    deliver_issue(loaded, settings, rendered, MemoryTransport)
    listing = client.get("/archief/").get_data(as_text=True)
    assert '<a href="2026-12/">Nieuwsbrief Statenleden december 2026</a>' in listing
    web = client.get("/archief/2026-12/")
    assert web.status_code == 200 and "Beste lezer" in web.get_data(as_text=True)
    ics = client.get("/archief/2026-12/agenda/2027-02-10-av.ics")
    assert ics.mimetype == "text/calendar" and b"BEGIN:VEVENT" in ics.data
    feed = client.get("/archief/feed.atom")
    assert feed.mimetype == "application/atom+xml"
    assert b"<title>Nieuwsbrief Statenleden december 2026</title>" in feed.data
    assert client.get("/archief/2026-12/agenda/..%2F..%2Fnewsletter.ics").status_code == 404


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unsubscribe_through_the_real_server_takes_effect_before_the_next_send(
    settings, loaded, december, instance
) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsletter",
            "--project",
            str(instance),
            "serve",
            "--port",
            str(port),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        kees = person(loaded)
        token = make_token(settings, UNSUBSCRIBE, kees["id"])
        url = f"{settings.local_url(port=port)}afmelden/{token}"
        with urllib.request.urlopen(url, timeout=10) as page:  # a link scanner's prefetch
            assert page.status == 200
        assert status(loaded, kees["id"]) == "active"
        request = urllib.request.Request(
            url,
            data=b"List-Unsubscribe=One-Click",
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and response.url == url  # no redirect
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(url[:-3] + "xyz", timeout=10)
        assert bad.value.code == 400
    finally:
        server.terminate()
        server.wait(timeout=10)
    outbox = MemoryTransport()
    deliver_issue(
        loaded, settings, build_issue(loaded, settings, "2026-12").rendered, lambda: outbox
    )
    recipients = {envelope.recipient for envelope, _ in outbox.sent}
    assert kees["email"] not in recipients and len(recipients) == 625


def csrf_of(page: str) -> str:
    return page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def confirm_path(mail) -> str:
    link = next(w for w in mail.get_content().split() if "/aanmelden/bevestig/" in w)
    return link.split("/nieuwsbrief", 1)[1]


def test_signup_is_double_opt_in_with_recorded_consent(settings, loaded, instance) -> None:
    client = create_app(settings).test_client()
    form = client.get("/aanmelden").get_data(as_text=True)
    assert '<label for="email">E-mailadres</label>' in form
    answer = client.post(
        "/aanmelden",
        data={
            "csrf": csrf_of(form),
            "naam": "Noor van Dijk",
            "email": "Noor.vanDijk@griffie.example",
            "provincie": "UT",
            "toestemming": "ja",
        },
    )
    assert answer.status_code == 200 and "bevestig uw aanmelding" in answer.get_data(as_text=True)
    row = person(loaded, "noor.vandijk@griffie.example")
    assert row["status"] == "pending" and row["consent_text"] == "aanmelden-2026-12"
    assert row["source"] == "web:aanmelden" and row["province"] == "UT"
    mails = sorted((instance / "outbox").glob("*.eml"))
    assert len(mails) == 1
    mail = email.message_from_bytes(mails[0].read_bytes(), policy=policy.default)
    assert mail["Subject"] == "Bevestig uw aanmelding voor de nieuwsbrief Statenleden"
    assert mail["To"] == "Noor van Dijk <noor.vandijk@griffie.example>"
    path = confirm_path(mail)
    assert "Aanmelding bevestigen" in client.get(path).get_data(as_text=True)
    assert person(loaded, "noor.vandijk@griffie.example")["status"] == "pending"  # GET: nothing
    done = client.post(path)
    assert "U bent aangemeld" in done.get_data(as_text=True)
    row = person(loaded, "noor.vandijk@griffie.example")
    assert row["status"] == "active" and row["consent_at"]
    actions = [e.action for e in audit.events(loaded, f"subscriber:{row['id']}")]
    assert actions == ["subscribe-request", "subscribe-confirm"]


def test_signup_link_expires_after_three_days(settings, loaded, instance) -> None:
    from newsletter import clock

    client = create_app(settings).test_client()
    form = client.get("/aanmelden").get_data(as_text=True)
    client.post(
        "/aanmelden",
        data={
            "csrf": csrf_of(form),
            "naam": "Sem Bos",
            "email": "sem.bos@griffie.example",
            "toestemming": "ja",
        },
    )
    path = confirm_path(
        email.message_from_bytes(
            next((instance / "outbox").glob("*.eml")).read_bytes(), policy=policy.default
        )
    )
    import time as _time

    real = _time.time
    try:
        _time.time = lambda: real() + 73 * 3600  # itsdangerous reads the wall clock
        assert client.post(path).status_code == 400
    finally:
        _time.time = real
    assert person(loaded, "sem.bos@griffie.example")["status"] == "pending"
    assert clock.now()  # the app's own clock is untouched


def test_signup_refuses_without_consent_or_csrf_and_says_nothing_about_who_is_listed(
    settings, loaded, instance
) -> None:
    client = create_app(settings).test_client()
    form = client.get("/aanmelden").get_data(as_text=True)
    no_consent = client.post(
        "/aanmelden",
        data={"csrf": csrf_of(form), "naam": "Sem Bos", "email": "sem.bos@griffie.example"},
    )
    assert no_consent.status_code == 422
    assert "Geef toestemming" in no_consent.get_data(as_text=True)
    assert (
        client.post(
            "/aanmelden", data={"naam": "x", "email": "x@y.example", "toestemming": "ja"}
        ).status_code
        == 400
    )
    listed = client.post(
        "/aanmelden",
        data={
            "csrf": csrf_of(form),
            "naam": "Kees Sanders",
            "email": "kees.sanders@gld.example",
            "toestemming": "ja",
        },
    )
    assert listed.status_code == 200 and "bevestig uw aanmelding" in listed.get_data(as_text=True)
    assert not (instance / "outbox").exists() or not list((instance / "outbox").glob("*.eml"))
    assert person(loaded)["status"] == "active"


def test_signing_up_an_unsubscribed_address_changes_nothing_until_the_owner_confirms(
    settings, loaded, instance
) -> None:
    kees = person(loaded)
    loaded.table("subscribers").update(kees["id"], {"status": "unsubscribed"})
    client = create_app(settings).test_client()
    form = client.get("/aanmelden").get_data(as_text=True)
    client.post(
        "/aanmelden",
        data={
            "csrf": csrf_of(form),
            "naam": "Bel 0900-1234 @@foo@@",
            "email": kees["email"],
            "toestemming": "ja",
        },
    )
    after = person(loaded)
    assert (after["name"], after["province"], after["status"]) == (
        kees["name"],
        kees["province"],
        "unsubscribed",
    )
    mail = email.message_from_bytes(
        next((instance / "outbox").glob("*.eml")).read_bytes(), policy=policy.default
    )
    assert "Bel 0900" not in mail.get_content()  # the stranger's text never reaches the owner
    assert client.post(confirm_path(mail)).status_code == 200
    assert person(loaded)["status"] == "active"


def test_web_pages_escape_what_readers_typed(settings, loaded) -> None:
    client = create_app(settings).test_client()
    form = client.get("/aanmelden").get_data(as_text=True)
    page = client.post(
        "/aanmelden", data={"csrf": csrf_of(form), "naam": '"><h1>INJECTED', "email": "geen-adres"}
    ).get_data(as_text=True)
    assert "<h1>INJECTED" not in page and "&#34;&gt;&lt;h1&gt;INJECTED" in page


def test_preferences_with_an_unknown_theme_or_for_a_bounced_reader_give_400(settings, loaded):
    kees = person(loaded)
    client = create_app(settings).test_client()
    url = f"/voorkeuren/{make_token(settings, PREFERENCES, kees['id'])}"
    csrf = csrf_of(client.get(url).get_data(as_text=True))
    assert client.post(url, data={"csrf": csrf, "thema": ["sport"]}).status_code == 400
    loaded.table("subscribers").update(kees["id"], {"status": "bounced"})
    assert client.post(url, data={"csrf": csrf}).status_code == 400
