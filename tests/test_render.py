"""Rendering: golden files, Dutch dates, variants, markers that survive premailer."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest

from newsletter.dates import nl_date, nl_time, nl_when
from newsletter.issues.build import build_issue
from newsletter.render.issue import MARKERS, inline_css, marker
from tests.golden import GOLDEN, render_demo, rendered_files


def test_rendered_december_issue_matches_the_golden_files(tmp_path: Path) -> None:
    files = rendered_files(render_demo(tmp_path / "instance"))
    for name, text in files.items():
        expected = (GOLDEN / name).read_text(encoding="utf-8")
        if text != expected:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(True),
                    text.splitlines(True),
                    f"golden/{name}",
                    "rendered",
                    n=2,
                )
            )
            pytest.fail(f"{name} differs; review and run 'make golden' if intended:\n{diff[:4000]}")


@pytest.fixture
def rendered(settings, december, loaded):
    return build_issue(loaded, settings, "2026-12").rendered


def test_one_variant_per_province_plus_general_and_web(rendered, settings) -> None:
    assert set(rendered.variants) == {*settings.provinces, "ALG", "WEB"}


def test_province_variant_names_that_provinces_av_members_and_griffiecontactpersoon(
    rendered, loaded
) -> None:
    av_gld = [
        r["name"]
        for r in loaded.query(
            "select s.name from subscribers s join mandates m on m.subscriber_id = s.id "
            "where m.role = 'av_lid' and m.province = 'GLD'"
        )
    ]
    av_ut = [
        r["name"]
        for r in loaded.query(
            "select s.name from subscribers s join mandates m on m.subscriber_id = s.id "
            "where m.role = 'av_lid' and m.province = 'UT' and m.starts_on <= '2026-12-01'"
        )
    ]
    html = rendered.variants["GLD"].html
    assert "Uw provincie: Gelderland" in html
    assert len(av_gld) == 2 and all(name in html for name in av_gld)
    assert not any(name in html for name in av_ut if name not in av_gld)
    assert "Uw provincie" not in rendered.variants["ALG"].html


def test_web_version_has_no_personal_data_or_markers(rendered) -> None:
    web = rendered.variants["WEB"]
    assert "@@" not in web.html and "@@" not in web.text
    assert "Uw provincie" not in web.html
    assert "Beste lezer" in web.html
    assert "afmelden" not in web.html.lower().replace("aanmelden", "")


def test_html_is_dutch_inlined_and_has_presentation_tables(rendered) -> None:
    html = rendered.variants["GLD"].html
    assert html.count('lang="nl"') >= 2  # <html> and the wrapper (webmail drops <html>)
    assert 'role="presentation"' in html
    assert "fonts.googleapis" not in html  # no third-party requests from our mail
    assert re.search(r'<h2 style="[^"]*color:#00395f', html), "CSS must be inlined by premailer"
    assert html.count("<h1") == 1


def test_personal_markers_survive_css_inlining() -> None:
    html = (
        f"<html><head><style>a {{ color: red; }}</style></head><body>"
        f'<a href="{marker("afmelden_url")}">afmelden</a> {marker("aanhef")}</body></html>'
    )
    inlined = inline_css(html)
    assert f'href="{marker("afmelden_url")}"' in inlined
    assert marker("aanhef") in inlined
    assert 'style="color:red"' in inlined


def test_every_marker_in_the_variants_is_known(rendered) -> None:
    for variant in rendered.variants.values():
        for text in (variant.html, variant.text):
            assert set(re.findall(r"@@([a-z_]+)@@", text)) <= set(MARKERS)


def test_text_part_carries_the_same_links_as_the_html(rendered) -> None:
    variant = rendered.variants["GLD"]
    html_links = {
        link
        for link in re.findall(r'href="([^"]+)"', variant.html)
        if not link.startswith(("mailto:", "#"))  # "#": the overview's anchors
    }
    text_links = set(re.findall(r"https://\S+|@@[a-z_]+@@", variant.text))
    assert len(html_links) > 20
    assert {link.replace("&amp;", "&") for link in html_links} <= text_links


def test_meetings_and_events_get_an_ics_file_with_amsterdam_times(rendered) -> None:
    ics = rendered.calendar["2027-02-10-av"].decode()
    assert (
        "DTSTART;TZID=Europe/Amsterdam:20270210T123000" in ics
    )  # the programme starts 12.30 (#16)
    assert "DTEND;TZID=Europe/Amsterdam:20270210T163000" in ics
    assert "BEGIN:VTIMEZONE" in ics
    html = rendered.variants["GLD"].html
    assert re.search(r">In uw agenda<span [^>]*> Algemene Vergadering op 10 februari 2027<", html)
    assert "/archief/2026-12/agenda/2027-02-10-av.ics" in rendered.variants["GLD"].text


def test_build_writes_web_version_ics_and_previews(settings, december, loaded) -> None:
    build_issue(loaded, settings, "2026-12")
    web = settings.build_dir / "archief" / "2026-12"
    assert (web / "index.html").read_text().count("Nieuwsbrief Statenleden december 2026") >= 1
    assert sorted(p.name for p in (web / "agenda").glob("*.ics")) == [
        "2026-12-09-kennissessie-stikstof.ics",
        "2027-01-14-kennissessie-digitaal.ics",
        "2027-01-19-technische-briefing.ics",
        "2027-01-26-technische-briefing.ics",
        "2027-02-10-av.ics",
    ]
    assert (settings.build_dir / "issues" / "2026-12" / "ZLD.html").exists()


def test_dutch_dates_and_times() -> None:
    assert nl_date("2026-11-03") == "3 november 2026"
    assert nl_date("2026-11-03", weekday=True) == "dinsdag 3 november 2026"
    assert nl_time("2026-11-03T14:00:00+01:00") == "14.00 uur"
    assert nl_time("2026-11-03T09:05:00+01:00") == "9.05 uur"
    assert nl_when("2026-11-03T14:00:00+01:00", "2026-11-03T16:30:00+01:00") == (
        "dinsdag 3 november 2026, 14.00–16.30 uur"
    )
    # Stored in UTC, shown in Amsterdam time.
    assert nl_time("2026-06-23T12:00:00+00:00") == "14.00 uur"
