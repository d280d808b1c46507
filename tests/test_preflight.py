"""Preflight (issue #8): the demo issue passes every check; seeded faults are found, with where."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest

from newsletter.config import Settings, load_settings
from newsletter.mail.messages import Recipient, make_skeleton
from newsletter.onboarding.programme import sample_messages
from newsletter.preflight import runner as preflight
from newsletter.preflight import tools
from newsletter.render.issue import Variant

IN_CI = os.environ.get("CI") == "true"
WORDS = " ".join(["De Algemene Vergadering besluit over het regionaal openbaar vervoer."] * 8)

GOOD_HTML = f"""<!doctype html>
<html lang="nl">
<head><title>Nieuwsbrief</title></head>
<body style="background-color:#eef1f4">
<div style="display:none">Het laatste uit het IPO voor Statenleden.</div>
<div lang="nl">
<table role="presentation"><tr><td style="background-color:#ffffff;color:#1a1a1a">
<h1>Nieuwsbrief Statenleden</h1>
<h2>Uitgelicht</h2>
<h3>Regionaal OV na 2027</h3>
<p>{WORDS}</p>
<!-- ITEM -->
<p><a href="https://www.ipo.example/besluiten/ov">Lees het besluit over Regionaal OV</a></p>
<p><a href="mailto:statenleden@ipo.example">statenleden@ipo.example</a></p>
</td></tr></table>
</div>
</body>
</html>
"""
GOOD_TEXT = """NIEUWSBRIEF STATENLEDEN

== Uitgelicht ==

* Regionaal OV na 2027
Lees het besluit: https://www.ipo.example/besluiten/ov

Vragen? statenleden@ipo.example
"""


def need(available: bool, what: str) -> None:
    """Skip without the tool, except in CI (.ci/run installs every tool): there it fails."""
    if not available:
        if IN_CI:
            pytest.fail(f"{what} is not installed, but CI installs it (.ci/run, make tools)")
        pytest.skip(f"{what} is not installed; see README 'Preflight checks'")


def have_browser() -> bool:
    return tools.browser_problem() is None


def have_vnu() -> bool:
    return tools.vnu_jar() is not None and shutil.which("java") is not None


def mail(
    settings: Settings,
    html: str = GOOD_HTML,
    text: str = GOOD_TEXT,
    subject: str = "Nieuwsbrief Statenleden december 2026",
) -> bytes:
    """A complete message the way the pipeline builds one."""
    skeleton = make_skeleton(settings, subject, Variant("TEST", html, text))
    return skeleton.build(
        Recipient(
            "lezer@voorbeeld.example",
            "Voorbeeld Lezer",
            "Beste lezer",
            "https://www.ipo.example/nieuwsbrief/afmelden/abc",
            "https://www.ipo.example/nieuwsbrief/voorkeuren/abc",
            "<test.1@ipo.example>",
        )
    )


def with_item(snippet: str) -> tuple[str, int]:
    """GOOD_HTML with snippet in the Uitgelicht item; and the line the snippet starts on."""
    html = GOOD_HTML.replace("<!-- ITEM -->", snippet)
    return html, html.splitlines().index(snippet.splitlines()[0]) + 1


def findings(settings: Settings, raw: bytes) -> list[preflight.Finding]:
    return preflight.check_message("TEST", raw, settings=settings, run_tools=False)


def only(found: list[preflight.Finding], check: str) -> preflight.Finding:
    matching = [f for f in found if f.check == check]
    assert len(matching) == 1, (check, found)
    return matching[0]


def test_a_well_made_message_has_no_findings(settings) -> None:
    assert findings(settings, mail(settings)) == []


@pytest.mark.parametrize(
    ("snippet", "check", "words"),
    [
        ('<img src="https://www.ipo.example/kaart.png" width="600" height="300">', "img-alt", ""),
        ('<p style="color:#aaaaaa">Lichtgrijze tekst</p>', "contrast", "#aaaaaa on #ffffff"),
        ('<p style="color:#777;background-color:#eee">Grijs op grijs</p>', "contrast", "3.86:1"),
        ('<p><a href="http://www.ipo.example/ov">Het OV-besluit</a></p>', "link-https", "http:"),
        ('<p><a href="https://localhost:8000/x">Het OV-besluit</a></p>', "link-host", "local"),
        ('<p><a href="https://evil.example/ov">Het OV-besluit</a></p>', "link-host", "allowed"),
        ('<p><a href="/besluiten/ov">Het OV-besluit</a></p>', "link-https", "absolute"),
        (
            '<p><a href="https://www.ipo.example/ov">https://www.ipo.example/ov</a></p>',
            "link-text-url",
            "bare URL",
        ),
        ('<p><a href="https://www.ipo.example/ov">Klik hier</a></p>', "link-text", "Klik hier"),
        (
            '<img src="https://www.ipo.example/p.gif?u=7" width="1" height="1" alt="">',
            "tracking-pixel",
            "p.gif",
        ),
        ("<table><tr><td>Indeling</td></tr></table>", "layout-table", "presentation"),
        ("<h5>Te diep</h5>", "heading-order", "<h5>"),
    ],
)
def test_a_seeded_fault_is_found_where_it_is(settings, snippet, check, words) -> None:
    html, line = with_item(snippet)
    found = only(findings(settings, mail(settings, html)), check)
    assert found.severity == "error"
    assert words in found.message
    assert (found.line, found.section, found.item) == (line, "Uitgelicht", "Regionaal OV na 2027")
    assert found.fix
    assert found.where == f"line {line}, in Uitgelicht › Regionaal OV na 2027"


@pytest.mark.parametrize(
    ("snippet", "colours"),
    [
        ('<p style="color:navy;background-color:black">Blauw op zwart</p>', "#000080 on #000000"),
        (
            '<table role="presentation"><tr><td bgcolor="#00395f"><p>Tekst</p></td></tr></table>',
            "#1a1a1a on #00395f",  # the colour of the cell around it, the background of its own
        ),
        ('<p style="color:rgb(150, 150, 150)">Grijs</p>', "#969696 on #ffffff"),
    ],
)
def test_contrast_walks_the_inlined_styles(settings, snippet, colours) -> None:
    html, _ = with_item(snippet)
    assert colours in only(findings(settings, mail(settings, html)), "contrast").message


def test_large_text_needs_3_to_1_and_hidden_text_nothing(settings) -> None:
    html, _ = with_item(
        '<p style="font-size:24px;color:#888888">Grote grijze tekst</p>'
        '<div style="display:none;color:#ffffff">onzichtbaar</div>'
    )
    assert findings(settings, mail(settings, html)) == []


def test_decorative_images_may_have_an_empty_alt(settings) -> None:
    html, line = with_item(
        '<img src="https://www.ipo.example/lijn.png" alt="" role="presentation" width="600">\n'
        '<img src="https://www.ipo.example/foto.png" alt="" width="600">'
    )
    found = only(findings(settings, mail(settings, html)), "img-alt-empty")
    assert (found.severity, found.line) == ("warning", line + 1)


def test_missing_list_unsubscribe_is_an_error_in_the_headers(settings) -> None:
    raw = re.sub(rb"List-Unsubscribe: [^\r]*\r\n", b"", mail(settings))
    found = only(findings(settings, raw), "header-missing")
    assert (found.severity, found.part, found.message) == (
        "error",
        "headers",
        "no List-Unsubscribe header",
    )


def test_a_message_can_be_required_to_carry_more_headers(settings) -> None:
    found = preflight.check_message(
        "welkom",
        mail(settings),
        settings=settings,
        run_tools=False,
        extra_required=["Auto-Submitted"],
    )
    assert only(found, "header-missing").message == "no Auto-Submitted header"


def test_a_duplicated_header_is_an_error(settings) -> None:
    raw = mail(settings).replace(
        b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\nSubject: Nog een\r\n"
    )
    found = only(findings(settings, raw), "header-duplicate")
    assert "Subject appears 2 times" in found.message


def test_list_unsubscribe_without_mailto_is_an_error(settings) -> None:
    raw = re.sub(rb", <mailto:[^>]+>", b"", mail(settings))
    assert "mailto" in only(findings(settings, raw), "list-unsubscribe").message


def test_an_all_caps_subject_is_an_error_and_a_long_one_a_warning(settings) -> None:
    assert only(findings(settings, mail(settings, subject="GRATIS NIEUWS")), "subject-caps")
    long = "Nieuwsbrief Statenleden december 2026 met alles over de begroting en het OV"
    assert only(findings(settings, mail(settings, subject=long)), "subject-length").severity == (
        "warning"
    )


def test_a_150_kb_body_is_clipped_by_gmail(settings) -> None:
    html = GOOD_HTML.replace("<!-- ITEM -->", f"<p>{WORDS}</p>\n" * 280)
    found = only(findings(settings, mail(settings, html)), "html-size")
    assert found.severity == "error"
    assert "102 KB" in found.message


def test_an_image_only_message_is_an_error(settings) -> None:
    html = (
        '<!doctype html><html lang="nl"><body><div style="display:none">Nieuws</div>'
        '<div lang="nl"><h1>Nieuws</h1><img src="https://www.ipo.example/flyer.png" '
        'width="600" height="900" alt="Flyer"></div></body></html>'
    )
    found = only(findings(settings, mail(settings, html, "Nieuws\n")), "image-only")
    assert found.severity == "error"


def test_a_message_without_a_text_part_is_an_error(settings) -> None:
    message = EmailMessage()
    for name, value in (
        ("From", "IPO Statenleden <statenleden@ipo.example>"),
        ("To", "lezer@voorbeeld.example"),
        ("Subject", "Nieuwsbrief"),
    ):
        message[name] = value
    message.set_content(GOOD_HTML, subtype="html")
    found = findings(settings, message.as_bytes())
    assert only(found, "text-part-missing").part == "message"
    assert only(found, "multipart").severity == "error"
    assert {f.message for f in found if f.check == "header-missing"} >= {
        "no List-Unsubscribe header",
        "no Date header",
    }


def test_the_text_part_must_carry_the_items_and_links(settings) -> None:
    text = GOOD_TEXT.replace("* Regionaal OV na 2027\n", "").replace(
        "https://www.ipo.example/besluiten/ov", ""
    )
    found = findings(settings, mail(settings, text=text))
    assert "Regionaal OV na 2027" in only(found, "text-part-item").message
    assert "besluiten/ov" in only(found, "text-part-link").message


def test_lang_on_html_and_on_a_wrapper(settings) -> None:
    html = GOOD_HTML.replace('<html lang="nl">', "<html>").replace('<div lang="nl">', "<div>")
    found = findings(settings, mail(settings, html))
    assert only(found, "lang").severity == "error"
    assert only(found, "lang-wrapper").severity == "error"


def test_no_preheader_is_a_warning(settings) -> None:
    html = GOOD_HTML.replace(
        '<div style="display:none">Het laatste uit het IPO voor Statenleden.</div>', ""
    )
    assert only(findings(settings, mail(settings, html)), "preheader").severity == "warning"


def test_allowed_hosts_come_from_newsletter_toml(settings, instance) -> None:
    config = instance / "newsletter.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[preflight]\nallowed_hosts = ["evil.example"]\n',
        encoding="utf-8",
    )
    settings = load_settings(instance)  # newsletter.toml is read when settings are loaded
    html, _ = with_item('<p><a href="https://evil.example/ov">Het OV-besluit</a></p>')
    text = GOOD_TEXT + "Het OV-besluit: https://evil.example/ov\n"
    assert findings(settings, mail(settings, html, text)) == []


@pytest.mark.parametrize("command", ["check", "send"])
def test_a_bad_allowed_hosts_setting_stops_before_anything_is_built(
    run, instance, december, command
) -> None:
    config = instance / "newsletter.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + '\n[preflight]\nallowed_hosts = "ipo.nl"\n',
        encoding="utf-8",
    )
    result = run("issue", command, "2026-12")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {config}: [preflight] allowed_hosts: must be a list of host names, "
        'e.g. allowed_hosts = ["ipo.nl", "rijksoverheid.nl"]\n'
    )
    assert not (instance / "build").exists()


@pytest.mark.slow
def test_a_missing_tool_is_a_warning_that_says_how_to_install_it(settings, monkeypatch) -> None:
    monkeypatch.setenv("NEWSLETTER_VNU_JAR", "/nonexistent/vnu.jar")
    monkeypatch.setenv("CHROMIUM", "/nonexistent/chromium")
    real_which = shutil.which
    monkeypatch.setattr(
        tools.shutil, "which", lambda name: None if name == "spamassassin" else real_which(name)
    )
    html, _ = with_item('<img src="https://www.ipo.example/kaart.png">')
    report = preflight.check_messages({"TEST": mail(settings, html)}, settings=settings)
    assert [t.ran for t in report.tools] == [False, False, False]
    missing = {f.message: f.fix for f in report.findings if f.check == "tool-missing"}
    assert missing == {
        "SpamAssassin not run: spamassassin is not installed": "install it: "
        + tools.INSTALL["spamassassin"],
        "Nu HTML checker not run: vnu.jar not found under " + str(tools.TOOLS): "install it: "
        + tools.INSTALL["vnu"],
        "axe-core (Chromium) not run: Chromium is not installed": "install it: "
        + tools.INSTALL["chromium"],
    }
    assert {f.check for f in report.errors} == {"img-alt"}  # the rest still ran


@pytest.mark.slow
def test_a_tool_that_breaks_is_a_warning_and_the_rest_still_runs(
    settings, tmp_path, monkeypatch
) -> None:
    need(shutil.which("java") is not None, "Java")
    (tmp_path / "vnu.jar").write_bytes(b"not a jar")
    monkeypatch.setenv("NEWSLETTER_VNU_JAR", str(tmp_path / "vnu.jar"))
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-chromium"))  # no browser needed here
    html, _ = with_item('<img src="https://www.ipo.example/kaart.png">')
    report = preflight.check_messages({"TEST": mail(settings, html)}, settings=settings)
    failed = only(report.findings, "tool-failed")
    assert failed.severity == "warning"
    assert failed.message.startswith("Nu HTML checker not run: it failed (NewsletterError: ")
    assert "img-alt" in {f.check for f in report.errors}


# -- the real tools ----------------------------------------------------------------------------


@pytest.mark.slow
def test_spamassassin_scores_a_spammy_message_above_the_limit_and_names_the_rules(settings):
    need(shutil.which("spamassassin") is not None, "SpamAssassin")
    raw = re.sub(rb"Date: [^\r]*\r\n", b"", mail(settings, subject="GRATIS GELD VOOR U"))
    run = tools.run_spamassassin({"spam": raw, "good": mail(settings)}, None)
    assert run.ran
    [problem] = run.issues["spam"]
    score = float(re.search(r"scores (-?[\d.]+)", problem.message)[1])  # type: ignore[index]
    assert score > tools.SPAM_LIMIT
    assert "MISSING_DATE" in problem.message and "MISSING_DATE" in problem.fix
    assert run.issues["good"] == []


@pytest.mark.slow
def test_spamassassin_in_batches_gives_each_message_its_own_score(settings, monkeypatch):
    need(shutil.which("spamassassin") is not None, "SpamAssassin")
    monkeypatch.setattr(tools, "SPAM_BATCH", 1)  # a process per core even for four messages
    # A low limit, so both bad messages report their rules (the list headers of a newsletter
    # earn MAILING_LIST_MULTI -1, which leaves the capital subject near the real limit of 2).
    monkeypatch.setattr(tools, "SPAM_LIMIT", 1.0)
    no_date = re.sub(rb"Date: [^\r]*\r\n", b"", mail(settings))
    spammy = re.sub(rb"Date: [^\r]*\r\n", b"", mail(settings, subject="GRATIS GELD VOOR U"))
    messages = {"good": mail(settings), "spam": spammy, "no-date": no_date, "ok": mail(settings)}
    run = tools.run_spamassassin(messages, None)
    assert run.ran
    assert run.issues["good"] == run.issues["ok"] == []
    [spam] = run.issues["spam"]
    [undated] = run.issues["no-date"]
    assert "MISSING_DATE" in undated.message and "SUBJ_ALL_CAPS" not in undated.message
    assert "MISSING_DATE" in spam.message and spam.message != undated.message


@pytest.mark.slow
def test_the_nu_checker_finds_an_error_in_bad_html(settings, tmp_path):
    need(have_vnu(), "the Nu HTML checker (make tools) or Java")
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!doctype html>\n<html lang="nl"><head><title>x</title></head><body>\n'
        '<p id="a">een</p>\n<p id="a">twee</p>\n</body></html>\n',
        encoding="utf-8",
    )
    good = tmp_path / "good.html"
    good.write_text(
        '<!doctype html>\n<html lang="nl"><head><title>x</title></head>'
        "<body><p>ok</p></body></html>",
        encoding="utf-8",
    )
    run = tools.run_vnu({"bad": bad, "good": good}, None)
    assert run.ran
    assert [(i.line, "Duplicate ID" in i.message) for i in run.issues["bad"]] == [(4, True)]
    assert run.issues["good"] == []


@pytest.mark.slow
def test_two_processes_checking_the_same_page_at_once_run_the_checker_once(tmp_path) -> None:
    """An approval in the console while tick sends the same version: the one that comes second
    waits for the first one's results instead of checking the same pages again."""
    need(have_vnu(), "the Nu HTML checker (make tools) or Java")
    shims, calls = tmp_path / "bin", tmp_path / "java-calls"
    shims.mkdir()
    java = shims / "java"  # the real java, a little slower, counting its starts
    java.write_text(
        f'#!/bin/sh\necho started >> {calls}\nsleep 3\nexec {shutil.which("java")} "$@"\n'
    )
    java.chmod(0o755)
    page = tmp_path / "page.html"
    page.write_text(
        '<!doctype html>\n<html lang="nl"><head><title>x</title></head><body>\n'
        '<p id="a">een</p>\n<p id="a">twee</p>\n</body></html>\n',
        encoding="utf-8",
    )
    check = (
        "import sys; from pathlib import Path; from newsletter.preflight import toolcache, tools; "
        "run = tools.run_vnu({'page': Path(sys.argv[1])}, toolcache.Cache(Path(sys.argv[2]))); "
        "print([i.line for i in run.issues['page']])"
    )
    env = {**os.environ, "PATH": f"{shims}:{os.environ['PATH']}"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", check, str(page), str(tmp_path / "cache.json")],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    answers = [process.communicate(timeout=300)[0] for process in processes]
    assert answers == ["[4]\n", "[4]\n"]  # both report the duplicate id on line 4
    assert calls.read_text().splitlines() == ["started"]


@pytest.fixture(scope="session")
def axe_run(tmp_path_factory) -> tools.ToolRun:
    """One browser launch: a faulty email and a faulty web page."""
    need(have_browser(), "Chromium with playwright")
    folder = tmp_path_factory.mktemp("axe")
    page = folder / "bad.html"
    page.write_text(
        '<!doctype html><html lang="nl"><head><title>x</title></head><body>'
        '<p style="color:#cccccc;background:#ffffff">Lichtgrijze tekst</p>'
        '<img src="https://www.ipo.example/kaart.png"></body></html>',
        encoding="utf-8",
    )
    return tools.run_axe({"mail": (page, True), "web": (page, False)}, None)


def test_axe_finds_missing_alt_and_low_contrast(axe_run) -> None:
    checks = {i.check: i for i in axe_run.issues["mail"]}
    assert checks["axe-image-alt"].severity == "error"
    assert checks["axe-color-contrast"].severity == "error"
    assert "1.6" in checks["axe-color-contrast"].fix
    assert "axe-region" not in checks  # landmarks are not asked of mail


def test_axe_asks_landmarks_of_web_pages(axe_run) -> None:
    checks = {i.check: i.severity for i in axe_run.issues["web"]}
    assert checks["axe-region"] == "warning"


# -- the demo issue and the commands -------------------------------------------------------


@pytest.mark.slow
def test_the_demo_issue_passes_every_check_with_every_tool(settings, loaded, december) -> None:
    report = preflight.check_issue(
        loaded, settings, "2026-12", onboarding_samples=lambda: sample_messages(loaded, settings)
    )
    assert report.errors == []
    assert report.names[:13] == [*settings.provinces, "ALG"]
    assert {"web:2026-12", "web:archief", "web:aanmelden"} <= set(report.names)
    steps = [n for n in report.names if n.startswith("onboarding:av-lid:")]
    assert len(steps) == 10  # the nine steps and the merged message of the catch-up rule
    ran = {t.tool: t.ran for t in report.tools}
    need(all(ran.values()), f"every preflight tool ({ran})")
    spam = next(t for t in report.tools if t.tool == "SpamAssassin")
    assert re.search(r"GLD -?\d", spam.note)


@pytest.mark.slow
def test_issue_check_prints_tools_and_summary_and_json(run, december) -> None:
    result = run("issue", "check", "2026-12")
    assert result.exit_code == 0, result.output
    last = result.stdout.splitlines()[-1]
    assert re.fullmatch(
        r"Preflight 2026-12: 0 errors, \d+ warnings in 26 messages and pages.*", last
    )
    data = json.loads(run("issue", "check", "2026-12", "--json").stdout)
    assert data["errors"] == 0 and data["month"] == "2026-12"
    assert [t["tool"] for t in data["tools"]] == [  # the issue, then the onboarding steps
        "SpamAssassin",
        "Nu HTML checker",
        "axe-core (Chromium)",
    ] * 2


def seed_vague_link(december: Path) -> None:
    december.write_text(
        december.read_text(encoding="utf-8")
        + "\nMeer over het OV: [klik hier](https://www.ipo.example/ov).\n",
        encoding="utf-8",
    )


def test_issue_send_refuses_an_issue_with_an_error(run, instance, loaded, december) -> None:
    """Without the approval step ([workflow] require_approval = false) the check still stands
    between the files and the readers."""
    config = instance / "newsletter.toml"
    config.write_text(
        config.read_text().replace("require_approval = true", "require_approval = false")
    )
    seed_vague_link(december)
    sent = run("issue", "send", "2026-12")
    assert sent.exit_code == 2
    # 13 mailed variants and the web version
    assert sent.stderr == (
        "Error: issue 2026-12 has 14 preflight errors (link-text); nothing was sent. Run "
        "'newsletter issue check 2026-12' for where and how to fix them\n"
    )
    assert loaded.table("deliveries").count == 0
    assert not (instance / "outbox").exists()


def test_approve_refuses_an_issue_with_an_error_and_not_one_with_warnings(
    run, instance, loaded, december
) -> None:
    text = december.read_text(encoding="utf-8")
    seed_vague_link(december)
    assert run("issue", "review", "2026-12", "--by", "Sanne de Vries").exit_code == 0
    refused = run("issue", "approve", "2026-12", "--by", "Joris Bakker")
    assert refused.exit_code == 2
    assert "preflight errors (link-text); the issue was not approved" in refused.stderr
    assert "approved" not in run("status").stdout.split("issue 2026-12:")[1].splitlines()[0]
    # Only warnings (as the demo issue has: what some e-mail programs do not support): approved,
    # and sendable. (The same version as other tests approve: its tool results are known.)
    december.write_text(text, encoding="utf-8")
    assert run("issue", "review", "2026-12", "--by", "Sanne de Vries").exit_code == 0
    approved = run("issue", "approve", "2026-12", "--by", "Joris Bakker")
    assert approved.exit_code == 0, approved.output
    sent = run("issue", "send", "2026-12")
    assert sent.exit_code == 0, sent.output
    assert "626 sent now" in sent.stdout
    # Said (every frozen variant was checked), and not blocking.
    assert re.search(r"Warning: Preflight 2026-12: 0 errors, [1-9]\d* warnings", sent.stderr)


@pytest.mark.slow
def test_issue_check_without_the_tools_still_reports_errors_and_how_to_install(
    run, december, tmp_path, monkeypatch
) -> None:
    seed_vague_link(december)
    monkeypatch.setenv("PATH", str(tmp_path))  # no spamassassin, no java
    monkeypatch.setenv("CHROMIUM", str(tmp_path / "no-chromium"))
    check = run("issue", "check", "2026-12")
    assert check.exit_code == 1
    lines = check.stdout.splitlines()
    assert "  SpamAssassin: not run: spamassassin is not installed" in lines
    assert f"    install: {tools.INSTALL['spamassassin']}" in lines
    assert f"    install: {tools.INSTALL['chromium']}" in lines
    variants = "GR, FR, DR, OV, FL, GLD, UT, NH, ZH, ZLD, NB, LI, ALG, web:2026-12:"
    vague = lines[lines.index(variants) + 1]  # once for all 14
    assert re.fullmatch(
        r"  error link-text: line \d+: link text 'klik hier' does not say where it goes "
        r"\(https://www.ipo.example/ov\)",
        vague,
    ), vague
    assert lines[-1] == (
        "Preflight 2026-12: 14 errors, 8 warnings in 26 messages and pages; not run: "
        "SpamAssassin, Nu HTML checker, axe-core (Chromium)"
    )


@pytest.mark.slow
def test_issue_preview_writes_each_variant_and_screenshots(run, settings, december) -> None:
    result = run("issue", "preview", "2026-12")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "build/issues/2026-12/preview/GR.html"
    assert len(lines) == 14
    gld = (settings.project / "build/issues/2026-12/preview/GLD.html").read_text(encoding="utf-8")
    assert "@@" not in gld and "Geachte lezer" in gld
    need(have_browser(), "Chromium with playwright")
    shots = run("issue", "preview", "2026-12", "--screenshot")
    assert shots.exit_code == 0, shots.output
    paths = shots.stdout.splitlines()
    assert paths[:2] == [
        "build/issues/2026-12/screenshots/GR-375.png",
        "build/issues/2026-12/screenshots/GR-1200.png",
    ]
    assert len(paths) == 28
    png = Path(settings.project / paths[0]).read_bytes()
    assert png.startswith(b"\x89PNG")


def test_a_faulty_onboarding_step_is_found_and_tick_does_not_send_it(
    settings, loaded, december, instance
) -> None:
    from datetime import datetime

    from newsletter import clock
    from newsletter.onboarding import programme as onboarding
    from newsletter.outbound.transports.memory import MemoryTransport

    step = instance / "content" / "onboarding" / "av-lid" / "01-welkom.md"
    step.write_text(
        step.read_text(encoding="utf-8") + "\nMeer: [klik hier](http://www.ipo.example/av).\n",
        encoding="utf-8",
    )
    report = preflight.check_issue(
        loaded,
        settings,
        "2026-12",
        run_tools=False,
        onboarding_samples=lambda: sample_messages(loaded, settings),
    )
    found = {(f.name, f.check) for f in report.errors}
    assert ("onboarding:av-lid:welkom", "link-text") in found
    assert ("onboarding:av-lid:welkom", "link-https") in found
    now = datetime(2026, 12, 1, 9, 5, tzinfo=clock.AMSTERDAM)
    relay = MemoryTransport()
    due = onboarding.run_due(loaded, settings, now, lambda: relay)
    assert relay.sent == []  # the welcomes were due, and not one went
    assert due.failed
    reply = loaded.execute(
        "select last_reply from deliveries where mailing_id = 'onboarding-av-lid-welkom' limit 1"
    ).fetchone()[0]
    assert reply.startswith("not sent: preflight: ") and "01-welkom.md" in reply


@pytest.mark.parametrize(
    "snippet",
    [
        '<img src="https://www.ipo.example/o.gif" style="display:none" alt="">',
        '<div style="visibility:hidden"><img src="https://www.ipo.example/o.gif" alt=""></div>',
        '<img src="https://www.ipo.example/o.gif" width="0 !important" alt="">',
        '<img src="https://www.ipo.example/o.gif" style="max-height:0;overflow:hidden" alt="">',
        '<img src="https://www.ipo.example/o.gif" style="opacity:0.01" alt="">',
    ],
)
def test_a_tracking_pixel_hidden_by_css_is_an_error(settings, snippet) -> None:
    html, _ = with_item(snippet)
    assert only(findings(settings, mail(settings, html=html)), "tracking-pixel").severity == "error"


def test_a_link_missing_from_the_text_part_is_found_even_inside_a_longer_link(settings) -> None:
    page = "https://www.ipo.example/nieuwsbrief/archief/2026-12/"
    html, _ = with_item(f'<p><a href="{page}">De webversie van deze nieuwsbrief</a></p>')
    text = GOOD_TEXT + f"\nAgenda: {page}agenda/av.ics\n"  # only the longer address
    found = only(findings(settings, mail(settings, html=html, text=text)), "text-part-link")
    assert page in found.message
    ok = GOOD_TEXT + f"\nDe webversie: {page}.\n"  # at the end of a sentence: that is fine
    assert [f for f in findings(settings, mail(settings, html=html, text=ok))] == []


def test_a_phone_link_is_fine(settings) -> None:
    html, _ = with_item('<p>Bel <a href="tel:+31703888888">070 388 88 88</a>.</p>')
    text = GOOD_TEXT + "\nBel 070 388 88 88.\n"
    assert findings(settings, mail(settings, html=html, text=text)) == []


def test_the_size_counts_the_html_as_sent(settings) -> None:
    # 93 KB of text with many characters quoted-printable must escape ("=" and accents):
    # under the limit decoded, over it on the wire.
    filler = "<p>" + ("é=ü " * 8000) + "</p>"
    html, _ = with_item(filler)
    assert len(html.encode()) < 96 * 1024
    found = only(findings(settings, mail(settings, html=html)), "html-size")
    assert found.severity == "error" and "as sent" in found.message


@pytest.mark.slow
def test_an_image_in_a_template_passes_the_nu_checker(settings, tmp_path) -> None:
    """premailer used to turn MJML's img { height: auto } into height="auto" (invalid)."""
    import mjml

    from newsletter.render.issue import inline_css

    source = (
        '<mjml lang="nl"><mj-head><mj-title>Kaart</mj-title></mj-head>'
        "<mj-body><mj-section><mj-column><mj-image "
        'src="https://www.ipo.example/kaart.png" alt="Kaart van de twaalf provincies" '
        'width="600px" height="400px" /></mj-column></mj-section></mj-body></mjml>'
    )
    html = inline_css(mjml.mjml2html(source, fonts={}))
    assert 'height="auto"' not in html
    need(have_vnu(), "the Nu HTML checker (make tools) or Java")
    folder = tmp_path / "Fryslân"  # an accent in the path: vnu's report must still be placed
    folder.mkdir()
    (folder / "image.html").write_text(html, encoding="utf-8")
    (folder / "bad.html").write_text(
        '<!doctype html><html lang="nl"><head><title>x</title></head><body>'
        '<p id="a">a</p><p id="a">b</p></body></html>',
        encoding="utf-8",
    )
    run = tools.run_vnu({"image": folder / "image.html", "bad": folder / "bad.html"}, None)
    assert run.ran and run.issues["image"] == []
    assert any("Duplicate ID" in i.message for i in run.issues["bad"])


# -- the web pages preflight checks are the pages the web serves ------------------------------


def test_the_archive_page_checked_is_byte_for_byte_the_page_served(
    settings, loaded, december
) -> None:
    from newsletter.issues.build import build_issue
    from newsletter.outbound.issue_mail import deliver_issue
    from newsletter.outbound.transports import MemoryTransport
    from newsletter.web.public import create_app

    rendered = build_issue(loaded, settings, "2026-12").rendered
    deliver_issue(loaded, settings, rendered, MemoryTransport)  # now the archive lists it
    served = create_app(settings).test_client().get("/archief/")
    checked = preflight.web_pages(settings, rendered)["web:archief"]
    assert served.status_code == 200
    assert '<a href="2026-12/">Nieuwsbrief Statenleden december 2026</a>' in checked
    assert checked.encode("utf-8") == served.data


def test_the_sign_up_page_checked_is_the_page_served_but_for_its_csrf_token(
    settings, loaded, december
) -> None:
    from newsletter.issues.build import build_issue
    from newsletter.web.public import create_app

    rendered = build_issue(loaded, settings, "2026-12").rendered
    served = create_app(settings).test_client().get("/aanmelden").get_data(as_text=True)
    checked = preflight.web_pages(settings, rendered)["web:aanmelden"]
    token = re.compile(r'name="csrf" value="[^"]*"')
    assert token.search(checked) and token.sub("", checked) == token.sub("", served)
