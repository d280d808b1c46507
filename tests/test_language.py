"""Correct Dutch everywhere a reader looks, and facts that agree (issue #16).

One demo instance for the module: the December issue (every variant, HTML and text part),
the onboarding step messages (merged ones too), the public web pages and the confirmations
and replies the composer makes are rendered once; a short list of forbidden forms and house
spellings is held over all of them, each failure naming the right form.
"""

from __future__ import annotations

import email
import html as htmllib
import re
import shutil
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest
from icalendar import Calendar

from newsletter import clock
from newsletter.demo import DEMO_NOW, copy_instance, demo_source, load_demo, write_demo_issue
from newsletter.inbound.processing import confirmation_message
from newsletter.inbound.replies import ACK_TEXT, salutation_for
from newsletter.issues.build import build_issue
from newsletter.onboarding.messages import sample_messages
from newsletter.preflight import clients
from newsletter.render.issue import WEB, RenderedIssue
from newsletter.render.web import render_page, web_environment
from newsletter.store import subscribers
from newsletter.tokens import PREFERENCES, UNSUBSCRIBE, make_token
from newsletter.web.public import create_app

# (forbidden pattern, the right form). Patterns run over visible text, never over URLs.
FORBIDDEN = [
    (r"(?<![\w./@-])[Mm]ail(s|en)?\b(?![@.-]\w)", "e-mail (e-mails, e-mailen): never 'mail'"),
    (r"\bkomen u\b[^.]*\btegen", "U komt BAC, AAC en P&C vanaf nu vaak tegen"),
    (r"P&C: waar staan we(?!\?)", "P&C: waar staan we?"),
    (r"P&C klankbordgroep", "P&C-klankbordgroep"),
    (r"P&C cyclus", "P&C-cyclus"),
    (r"\bIPO bestuur", "IPO-bestuur"),
    (r"\bAV lid\b|\bAV leden\b", "AV-lid, AV-leden"),
    (r"[Ee]-mail adres", "e-mailadres"),
    (r"\b[Bb]uddy\b", "mentor"),
    (r"\bmatch\b", "iemand die bij u past"),
    (r"\bLobby\b", "Belangenbehartiging en standpunten"),
    (r"[Bb]ij haar of hem", "the griffiecontactpersoon's name"),
    (r"zetten wij (het|u) (terug|weer op de lijst)", "dan melden wij u weer aan"),
    (r"Niets aangevinkt", "Vinkt u niets aan, dan ontvangt u alle onderwerpen"),
    (r"als betrokkene bij", "omdat u betrokken bent bij Provinciale Staten van ..."),
    (r"\bBeste (heer|mevrouw)\b", "Geachte heer/mevrouw ..., as every other message"),
    (r"In deze eerste e-?mail|U bent nu een week", "a step text that reads well merged"),
    (
        r"\b\d{1,2} (Januari|Februari|Maart|April|Mei|Juni|Juli|Augustus|September|Oktober|"
        r"November|December)\b",
        "month names in lower case: 1 december 2026",
    ),
    (r"\b\d{1,2}:\d{2} uur", "times as 14.00 uur"),
]


def visible(markup: str) -> str:
    """The text a reader sees in HTML: no tags, no hidden preheader, no <style>."""
    markup = re.sub(r"(?is)<(style|script|head)\b.*?</\1>", " ", markup)
    markup = re.sub(r"(?s)<!--.*?-->", " ", markup)
    return htmllib.unescape(re.sub(r"<[^>]+>", " ", markup))


def plain(text: str) -> str:
    """A text part without its URLs and addresses."""
    return re.sub(r"\S+@\S+|https?://\S+", " ", text)


def problems(name: str, text: str) -> list[str]:
    text = re.sub(r"\s+", " ", text)
    return [
        f"{name}: '{m[0]}' -> {right}"
        for pattern, right in FORBIDDEN
        for m in re.finditer(pattern, text)
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """The demo instance with the December issue built."""
    clock.set_now(DEMO_NOW)
    folder = tmp_path_factory.mktemp("language") / "instance"
    copy_instance(demo_source(), folder, fresh=False)
    settings, db = load_demo(folder)
    write_demo_issue(db, settings)
    rendered = build_issue(db, settings, "2026-12").rendered
    yield settings, db, rendered
    clock.set_now(None)
    shutil.rmtree(folder, ignore_errors=True)


def message_texts(raw: bytes) -> tuple[str, str]:
    message = email.message_from_bytes(raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    markup = message.get_body(("html",)).get_content()
    return plain(text), visible(markup)


def rendered_texts(world: tuple) -> dict[str, str]:
    settings, db, rendered = world
    clock.set_now(DEMO_NOW)
    texts: dict[str, str] = {}
    for key, variant in rendered.variants.items():
        texts[f"issue {key} html"] = visible(variant.html)
        texts[f"issue {key} text"] = plain(variant.text)
    for name, raw in sample_messages(db, settings).items():
        texts[f"{name} text"], texts[f"{name} html"] = message_texts(raw)
    kees = subscribers.find_by_email(db, "kees.sanders@gld.example")
    assert kees is not None
    client = create_app(settings).test_client()
    afmelden = f"/afmelden/{make_token(settings, UNSUBSCRIBE, kees.id)}"
    pages = {
        "afmelden": client.get(afmelden),
        "voorkeuren": client.get(f"/voorkeuren/{make_token(settings, PREFERENCES, kees.id)}"),
        "aanmelden": client.get("/aanmelden"),
        "archief": client.get("/archief/"),
        "afgemeld": client.post(afmelden),
    }
    for name, response in pages.items():
        texts[f"web {name}"] = visible(response.get_data(as_text=True))
    env = web_environment(settings)
    texts["web aanmelden verstuurd"] = visible(
        render_page(env, "signup_sent.html.j2", email="a@b.example")
    )
    texts["web aanmelding bevestigd"] = visible(
        render_page(env, "signup_confirm.html.j2", person=kees)
    )
    message = confirmation_message(settings, kees.name, kees.email, "", kees.salutation or "")
    texts["confirmation of an unsubscribe"] = plain(message.get_content())
    texts["acknowledgement"] = plain(
        ACK_TEXT.format(salutation=salutation_for(db, kees.email, kees.name), mailbox=settings.name)
    )
    return texts


def test_every_rendered_text_is_free_of_forbidden_forms(world) -> None:
    texts = rendered_texts(world)
    assert len([n for n in texts if n.startswith("onboarding")]) >= 18  # 9 steps, 2 parts
    found = [p for name, text in texts.items() for p in problems(name, text)]
    assert not found, "\n".join(found[:40])


def test_the_list_catches_what_the_reader_found() -> None:
    seeded = (
        "BAC, AAC en P&C komen u vanaf nu vaak tegen. Uw buddy. De P&C klankbordgroep. "
        "Antwoord op deze mail. Niets aangevinkt is alles. P&C: waar staan we"
    )
    found = problems("seeded", seeded)
    assert len(found) == 6, found
    assert "-> P&C-klankbordgroep" in " ".join(found)
    assert not problems("addresses", "Stuur een e-mail naar statenleden@ipo.example.")


def test_decisions_name_their_body_by_its_kind(world) -> None:
    text = world[2].variants["GLD"].text
    bod = text.split("-- BOD Werkgeverszaken --")[1].split("Lees het besluit")[0]
    assert "Het BOD:" in bod and "De BAC:" not in bod
    digital = text.split("-- Digitalisering --")[1].split("Lees het besluit")[0]
    assert "Het bestuurlijk aanspreekpunt:" in digital
    assert "De BAC:\n1. stemt in met de gezamenlijke provinciale inbreng" in text


def test_the_acknowledgement_greets_as_every_other_message(world) -> None:
    _, db, _ = world
    kees = subscribers.find_by_email(db, "kees.sanders@gld.example")
    assert kees is not None and kees.salutation
    assert salutation_for(db, kees.email, kees.name) == kees.salutation
    assert salutation_for(db, "onbekend@elders.example", "") == "Geachte heer, mevrouw"


# -- facts that must agree --------------------------------------------------------------------


def test_the_av_ics_runs_from_the_programme_start(world) -> None:
    rendered: RenderedIssue = world[2]
    [ics] = [data for item_id, data in rendered.calendar.items() if item_id.endswith("-av")]
    event = next(c for c in Calendar.from_ical(ics).walk("VEVENT"))
    start = event.decoded("dtstart")
    assert (start.hour, start.minute) == (12, 30)  # "12.30 uur: Inloop met lunch", not 14.00
    assert event.decoded("dtend").hour == 16


def test_an_av_member_is_not_listed_to_themselves(world) -> None:
    rendered: RenderedIssue = world[2]
    key = rendered.variant_key("GLD", (), "Kees.Sanders@gld.example")
    assert key == "GLD;kees.sanders@gld.example"
    text = rendered.variant(key).text
    block = text.split("== Uw provincie: Gelderland ==")[1]
    assert "U vertegenwoordigt Gelderland in de AV samen met:" in block
    assert "Petra Claessens" in block and "Kees Sanders" not in block
    assert "Uw AV-leden" not in block
    # Any other reader of Gelderland still sees both AV members.
    assert rendered.variant_key("GLD", (), "iemand@gld.example") == "GLD"
    assert "Kees Sanders" in rendered.variants["GLD"].text


def test_the_web_version_neither_links_to_itself_nor_asks_for_a_reply(world) -> None:
    rendered: RenderedIssue = world[2]
    web = rendered.variants[WEB]
    for part in (web.html, web.text):
        assert "Beantwoord deze e-mail" not in part
        assert "Lees deze nieuwsbrief op de website" not in part
    assert f'href="{rendered.web_url}"' not in web.html
    assert "Lees deze nieuwsbrief op de website" in rendered.variants["GLD"].text


def test_the_unsubscribe_page_links_to_the_readers_preferences(world) -> None:
    settings, db, _ = world
    petra = subscribers.find_by_email(db, "petra.claessens@gld.example")
    assert petra is not None
    client = create_app(settings).test_client()
    page = client.get(f"/afmelden/{make_token(settings, UNSUBSCRIBE, petra.id)}")
    link = re.search(r'href="([^"]*/voorkeuren/[^"]+)"', page.get_data(as_text=True))
    assert link, "no link to the preferences page"
    path = link[1].removeprefix(settings.base_url)
    preferences = client.get(path)
    assert preferences.status_code == 200 and petra.email in preferences.get_data(as_text=True)


def test_preferences_with_no_choice_tick_nothing_and_say_it_means_all(world) -> None:
    settings, db, _ = world
    ilse = next(s for s in subscribers.all_subscribers(db) if s.status == "active" and not s.themes)
    page = (
        create_app(settings)
        .test_client()
        .get(f"/voorkeuren/{make_token(settings, PREFERENCES, ilse.id)}")
    )
    body = page.get_data(as_text=True)
    assert "Vinkt u niets aan, dan ontvangt u alle onderwerpen." in body
    assert not re.search(r'name="thema"[^>]*checked', body)


def test_previews_are_rendered_for_a_sample_reader(world) -> None:
    settings, _, rendered = world
    folder: Path = settings.build_dir / "issues" / rendered.issue.month
    previews = sorted(folder.glob("*.html")) + sorted(folder.glob("*.txt"))
    assert len(previews) == 2 * (len(settings.provinces) + 1)
    for path in previews:
        content = path.read_text(encoding="utf-8")
        assert "@@" not in content, path.name
        assert "Geachte lezer" in content and "/afmelden/" in content


# -- caniemail: what the main clients do not support --------------------------------------------

needs_data = pytest.mark.skipif(clients.data_file() is None, reason="make tools: caniemail data")


@needs_data
def test_client_support_names_a_known_unsupported_feature_by_client() -> None:
    sample = '<!doctype html><html lang="nl"><body><div style="display:flex">x</div></body></html>'
    findings = clients.client_findings({"sample": sample})
    by_client = {f.message.split(" does not")[0]: f for f in findings}
    assert "display:flex" in by_client["Outlook (Windows)"].message
    assert all(f.severity == "warning" and f.check == "client-support" for f in findings)
    assert "Apple Mail" not in by_client  # Apple Mail supports flex and the doctype


@needs_data
def test_client_support_on_the_demo_issue_is_reported_once_per_client(world) -> None:
    rendered: RenderedIssue = world[2]
    htmls = {k: v.html for k, v in rendered.variants.items() if k != WEB}
    findings = clients.client_findings(htmls)
    outlook = [f for f in findings if f.message.startswith("Outlook (Windows)")]
    assert len(outlook) == 1 and "@media" in outlook[0].message  # not 13 times
    assert all(f.severity == "warning" for f in findings)


@needs_data
def test_client_support_reads_selectors_after_a_long_run_of_inline_styles() -> None:
    # An issue's inline styles, joined, are one long run without braces before its <style>.
    inline = "".join(f'<td style="padding:{n}px;color:#000">x</td>' for n in range(300))
    sample = (
        f"<!doctype html><html><body><table><tr>{inline}</tr></table>"
        "<style>a:hover { color: red } p::first-line { color: red }</style></body></html>"
    )
    known = clients.load_features(clients.data_file())  # type: ignore[arg-type]
    used = clients.features_used(sample, known)
    assert {"css-pseudo-class-hover", "css-pseudo-element-first-line", "css-padding"} <= used


def test_client_support_without_the_data_is_a_warning(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NEWSLETTER_CANIEMAIL", str(tmp_path / "missing.json"))
    [finding] = clients.client_findings({"GLD": "<p>x</p>"})
    assert finding.severity == "warning" and "make tools" in finding.fix
