"""Rapporten in the staff console (issue #15, item 6): the demo's December mailing per province
matches the ledger's own report (mailing_report), the CSV download and `issue report --csv`
hold the same numbers, the inline SVG chart renders with its title and text alternative;
role refusals; axe at 1280 and 375 px.

One demo instance, one console process and one browser for the module.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from newsletter.cli.main import cli
from newsletter.config import load_settings
from newsletter.outbound.ledger import mailing_report
from tests.test_console import (
    Console,
    axe_serious,
    browser,  # noqa: F401  (the module's one Chromium)
    sign_in,
    signed_in_session,
)
from tests.test_console_programme import demo_console, text_of

MAILING = "issue-2026-12"


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    yield from demo_console(tmp_path_factory, "rapporten")


def table_rows(page: str, caption: str) -> dict[str, list[int]]:
    """The rows of the table with this caption: row header -> numbers."""
    table = re.search(rf"<caption[^>]*>{caption}</caption>(.*?)</table>", page, re.S)
    assert table, caption
    rows = {}
    for row in re.findall(r"<tr><th scope=\"row\">(.*?)</th>(.*?)</tr>", table[1], re.S):
        rows[row[0]] = [int(v) for v in re.findall(r"<td>(\d+)</td>", row[1])]
    return rows


@pytest.mark.slow
def test_the_report_per_province_matches_the_ledger_and_the_csv(console: Console) -> None:
    http, _ = signed_in_session(console, "rob@ipo.example")  # a redacteur may read reports
    listing = http.get(console.url("/rapporten"), timeout=10)
    assert listing.status_code == 200 and MAILING in listing.text
    page = http.get(console.url(f"/rapporten/{MAILING}"), timeout=10)
    assert page.status_code == 200
    ledger = mailing_report(console.db(), MAILING)
    shown = table_rows(page.text, "Per provincie")
    names = load_settings(console.folder).provinces
    per_province = ledger["per_province"]
    assert isinstance(per_province, dict)
    assert len(shown) == len(per_province) + 1  # and the total
    for code, counts in per_province.items():
        sent, delivered, bounced, *_ = shown[names.get(code, code)]
        assert sent == counts.get("sent", 0) + counts.get("failed", 0)
        assert delivered + bounced == sent
    total = shown["Totaal"]
    counts = ledger["counts"]
    assert isinstance(counts, dict)
    assert total[0] == counts["sent"] == 626
    assert total[2] == sum(ledger["bounces"].values()) == 1  # type: ignore[union-attr]
    assert total[3] == ledger["complaints"] == 1
    assert total[4] == 2  # the demo's unsubscribe by mail and the complaint's
    # the chart: inline SVG with a title and desc naming the table beside it
    svg = re.search(r"<svg role=\"img\" aria-labelledby=\"([^\"]+)\"(.*?)</svg>", page.text, re.S)
    assert svg and '<title id="grafiek-provincie-titel">Per provincie</title>' in svg[2]
    assert "<desc" in svg[2] and svg[2].count("<rect") >= 5 * len(per_province)
    assert "<script" not in page.text
    # the CSV: the same numbers, from the same function as `issue report --csv`
    download = http.get(console.url(f"/rapporten/{MAILING}/csv"), timeout=10)
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in download.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    by_key = {(r["group"], r["key"]): r for r in rows}
    for code in per_province:
        row = by_key[("province", code)]
        assert [
            int(row[m]) for m in ("sent", "delivered", "bounced", "complaints", "unsubscribes")
        ] == shown[names.get(code, code)]
    assert int(by_key[("total", "")]["sent"]) == 626
    assert int(by_key[("day", "2026-12-01")]["unsubscribes"]) == 2
    result = CliRunner().invoke(
        cli, ["--project", str(console.folder), "issue", "report", "2026-12", "--csv"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.replace("\r\n", "\n") == download.text.replace("\r\n", "\n")


@pytest.mark.slow
def test_roles_are_refused(console: Console) -> None:
    http, _ = signed_in_session(console, "kees@ipo.example")  # inbox only
    for path in ("/rapporten", f"/rapporten/{MAILING}", f"/rapporten/{MAILING}/csv"):
        assert http.get(console.url(path), timeout=10).status_code == 403, path
    rob, _ = signed_in_session(console, "rob@ipo.example")
    assert rob.get(console.url("/rapporten/geen-verzending"), timeout=10).status_code == 404


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
        sign_in(page, console, "pieter@ipo.example")
        page.wait_for_url(console.url("/"))
        page.get_by_role("navigation", name="Hoofdmenu").get_by_role(
            "link", name="Rapporten"
        ).click()
        page.wait_for_url(console.url("/rapporten"))
        found = {"list": axe_serious(page)}
        page.goto(console.url(f"/rapporten/{MAILING}"))
        page.get_by_role("img", name="Per provincie").wait_for()
        found["mailing"] = axe_serious(page)
        wide = page.evaluate("document.documentElement.scrollWidth")
        assert wide <= width, f"the report overflows at {width} px ({wide})"
        assert "Afmeldingen" in text_of(page.content())
        assert found == {"list": [], "mailing": []}
    finally:
        context.close()
