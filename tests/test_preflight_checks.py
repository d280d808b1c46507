"""The Python checks of preflight, one by one (issue #12): each fault seeded into the demo issue's
message is found with the code, severity and words a user acts on; the clean counterpart passes.

Pure and fast: the December issue is rendered once, a fault is put into its HTML, text part or
headers, and only the Python checks run (no SpamAssassin, no Nu checker, no Chromium).
"""

from __future__ import annotations

import email
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from newsletter.config import Settings, load_settings
from newsletter.mail.messages import make_skeleton
from newsletter.preflight.checks import SIZE_ERROR, SIZE_WARNING, check_page, python_checks
from newsletter.preflight.headers import REQUIRED_HEADERS, SUBJECT_WARNING
from newsletter.preflight.model import Finding, contrast, parse_color
from newsletter.preflight.runner import sample_recipient
from newsletter.render.issue import WEB, Variant
from tests.golden import render_demo

ITEM = ("Uitgelicht", "Regionaal OV na 2027")
ITEM_SOURCE = "content/papers/2026-11-20-regionaal-ov.md"
# The body of the Uitgelicht item "Regionaal OV na 2027" (before its button): snippets go
# right after it.
ITEM_END = "Infrastructuur en Waterstaat.</p>"
AS_IS = policy.SMTP.clone(max_line_length=None)  # no refolding of the headers it copies
PREHEADER = re.compile(r'<div style="display:none[^"]*">[^<]*</div>')


@dataclass(frozen=True)
class Demo:
    """The GLD variant of the demo's December issue, and what it takes to mail it."""

    settings: Settings
    subject: str
    html: str
    text: str
    web: str  # the web version
    sources: dict[str, str]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("preflight-checks") / "instance"
    rendered = render_demo(folder)
    variant = rendered.variants["GLD"]
    assert ITEM_END in variant.html
    return Demo(
        load_settings(folder),
        rendered.issue.subject,
        variant.html,
        variant.text,
        rendered.variants[WEB].html,
        {item.title: item.path for item in rendered.issue.items if item.path},
    )


def build(
    demo: Demo,
    html: str | None = None,
    text: str | None = None,
    subject: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    """The message a sample reader gets, the way the pipeline builds it."""
    variant = Variant("GLD", demo.html if html is None else html, text or demo.text)
    skeleton = make_skeleton(demo.settings, subject or demo.subject, variant, extra_headers)
    return skeleton.build(sample_recipient(demo.settings, "GLD"))


def check(demo: Demo, raw: bytes, extra_required: Sequence[str] = ()) -> list[Finding]:
    found, _ = python_checks(
        "GLD", raw, settings=demo.settings, sources=demo.sources, extra_required=extra_required
    )
    return found


def located(demo: Demo, snippet: str, text_extra: str = "") -> tuple[list[Finding], int]:
    """The findings of the demo message with snippet in the Uitgelicht item (and text_extra at
    the end of the text part, for a link the text must carry too); and the snippet's line."""
    raw = build(
        demo, demo.html.replace(ITEM_END, ITEM_END + "\n" + snippet, 1), demo.text + text_extra
    )
    found, html = python_checks("GLD", raw, settings=demo.settings, sources=demo.sources)
    assert html is not None
    return found, html[: html.index(snippet)].count("\n") + 1


def seeded(demo: Demo, snippet: str, text_extra: str = "") -> list[Finding]:
    return located(demo, snippet, text_extra)[0]


def one(found: list[Finding], code: str) -> Finding:
    matching = [f for f in found if f.check == code]
    assert len(matching) == 1, (code, found)
    return matching[0]


def codes(found: list[Finding]) -> set[str]:
    return {f.check for f in found}


def replace_header(raw: bytes, name: str, value: bytes | None) -> bytes:
    """raw with the header name (and its folded lines) written with value, or taken out."""
    pattern = rb"(?m)^" + re.escape(name.encode()) + rb":.*\r\n(?:[ \t].*\r\n)*"
    line = b"" if value is None else name.encode() + b": " + value + b"\r\n"
    out, count = re.subn(pattern, lambda _: line, raw, count=1)
    assert count == 1, name
    return out


def without_header(raw: bytes, name: str) -> bytes:
    return replace_header(raw, name, None)


def with_header(raw: bytes, line: str) -> bytes:
    """raw with one more header line, after MIME-Version."""
    return raw.replace(b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\n" + line.encode() + b"\r\n")


# -- the clean message -----------------------------------------------------------------------


def test_the_demo_message_passes_every_python_check(demo) -> None:
    assert check(demo, build(demo)) == []


def test_the_demo_web_version_passes_as_a_page(demo) -> None:
    assert check_page("web:2026-12", demo.web, settings=demo.settings) == []


# -- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REQUIRED_HEADERS)
def test_a_missing_required_header_is_an_error_that_names_it(demo, name) -> None:
    found = one(check(demo, without_header(build(demo), name)), "header-missing")
    assert (found.severity, found.part, found.message) == ("error", "headers", f"no {name} header")
    assert found.where == "headers"
    assert "make_skeleton" in found.fix


def test_a_required_header_twice_is_an_error_that_says_how_often(demo) -> None:
    raw = with_header(build(demo), "From: Iemand Anders <iemand@ipo.example>")
    found = one(check(demo, raw), "header-duplicate")
    assert (found.severity, found.part) == ("error", "headers")
    assert found.message == "From appears 2 times; it must appear exactly once"
    assert "extra_headers" in found.fix


def test_a_header_allowed_once_may_appear_once_but_not_twice(demo) -> None:
    once = with_header(build(demo), "Cc: a@ipo.example")
    assert "header-duplicate" not in codes(check(demo, once))
    twice = with_header(once, "Cc: b@ipo.example")
    found = one(check(demo, twice), "header-duplicate")
    assert (found.severity, found.message, found.fix) == (
        "error",
        "Cc appears more than once",
        "keep one",
    )


def test_onboarding_mail_needs_auto_submitted_and_passes_with_it(demo) -> None:
    found = check(demo, build(demo), extra_required=["Auto-Submitted"])
    assert one(found, "header-missing").message == "no Auto-Submitted header"
    raw = build(demo, extra_headers={"Auto-Submitted": "auto-generated"})
    assert check(demo, raw, extra_required=["Auto-Submitted"]) == []


@pytest.mark.parametrize(
    "value",
    [
        b"<https://www.ipo.example/nieuwsbrief/afmelden/abc>",  # no mailto
        b"<mailto:statenleden@ipo.example?subject=afmelden>",  # no https
        b"<http://www.ipo.example/afmelden/abc>, <mailto:statenleden@ipo.example>",  # http
        b"https://www.ipo.example/afmelden/abc, mailto:statenleden@ipo.example",  # no <>
    ],
)
def test_list_unsubscribe_needs_an_https_and_a_mailto_url(demo, value) -> None:
    raw = replace_header(build(demo), "List-Unsubscribe", value)
    found = one(check(demo, raw), "list-unsubscribe")
    assert (found.severity, found.part) == ("error", "headers")
    assert "needs an <https://…> and a <mailto:…> URL" in found.message
    assert value.decode()[:40] in found.message
    assert found.fix.startswith("write List-Unsubscribe: <https://")


def test_an_encoded_word_list_unsubscribe_is_an_error(demo) -> None:
    """Mail apps read List-Unsubscribe as it is (an encoded-word is not allowed in it, RFC 2047
    section 5): encoded, it has no URL they can use, even though it decodes to a good one.
    Python's own generator does this to a long List-Unsubscribe when it re-serialises a message."""
    message = email.message_from_bytes(build(demo), policy=policy.default)
    raw = message.as_bytes(policy=policy.SMTP)
    assert b"List-Unsubscribe: =?utf-8?q?=3Chttps" in raw
    found = one(check(demo, raw), "list-unsubscribe")
    assert found.severity == "error"
    assert found.message.startswith("List-Unsubscribe '=?utf-8?q?=3Chttps")
    assert "needs an <https://…> and a <mailto:…> URL" in found.message


@pytest.mark.parametrize("value", [b"One-Click", b"List-Unsubscribe=OneClick", b"ja"])
def test_list_unsubscribe_post_must_be_one_click(demo, value) -> None:
    raw = replace_header(build(demo), "List-Unsubscribe-Post", value)
    found = one(check(demo, raw), "list-unsubscribe-post")
    assert (found.severity, found.message) == (
        "error",
        f"List-Unsubscribe-Post is '{value.decode()}'",
    )
    assert "List-Unsubscribe=One-Click (RFC 8058)" in found.fix


def as_single_part(raw: bytes, subtype: str, content: str) -> bytes:
    """The demo message's headers with one body part instead of multipart/alternative."""
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    message.clear_content()
    message.set_content(content, subtype=subtype)
    return message.as_bytes(policy=AS_IS)


def test_an_html_only_message_misses_its_text_part(demo) -> None:
    found = check(demo, as_single_part(build(demo), "html", demo.html))
    multipart = one(found, "multipart")
    assert (multipart.severity, multipart.part) == ("error", "message")
    assert multipart.message == "the message is text/html, not multipart/alternative"
    missing = one(found, "text-part-missing")
    assert (missing.severity, missing.message) == ("error", "the message has no text/plain part")
    assert "multipart/alternative" in missing.fix


def test_a_text_only_message_misses_its_html_part(demo) -> None:
    raw = as_single_part(build(demo), "plain", demo.text)
    found = check(demo, raw)
    assert codes(found) == {"multipart", "html-part-missing"}
    assert one(found, "html-part-missing").message == "the message has no text/html part"
    assert python_checks("GLD", raw, settings=demo.settings)[1] is None


def test_a_blank_text_part_counts_as_missing(demo) -> None:
    found = check(demo, build(demo, text=" \n"))
    assert one(found, "text-part-missing").severity == "error"


def test_a_subject_over_70_characters_is_a_warning_and_70_is_fine(demo) -> None:
    fits = ("Nieuwsbrief Statenleden december 2026: OV, stikstof en de begroting " * 2)[
        :SUBJECT_WARNING
    ]
    assert "subject-length" not in codes(check(demo, build(demo, subject=fits)))
    found = one(check(demo, build(demo, subject=fits + "x")), "subject-length")
    assert found.severity == "warning"
    assert found.message == "the subject is 71 characters; phones show about 70"
    assert "subject: in the issue file" in found.fix


def test_the_subject_is_measured_as_the_reader_sees_it_not_as_encoded(demo) -> None:
    subject = "Één nieuwsbrief over café’s, woningbouw en de begroting — december"
    raw = build(demo, subject=subject)
    assert b"Subject: =?utf-8?" in raw and len(subject) <= SUBJECT_WARNING
    assert "subject-length" not in codes(check(demo, raw))


@pytest.mark.parametrize(
    "subject", ["NIEUWSBRIEF STATENLEDEN DECEMBER 2026", "ÉÉN NIEUWSBRIEF VOOR ALLE STATEN"]
)
def test_a_subject_in_capitals_is_an_error_also_when_encoded(demo, subject) -> None:
    found = one(check(demo, build(demo, subject=subject)), "subject-caps")
    assert found.severity == "error"
    assert found.message == f"the subject '{subject}' is in capitals"
    assert "sentence case" in found.fix


@pytest.mark.parametrize("subject", ["IPO en BIJ12 over de AV van februari", "AV 2027", "IPO"])
def test_acronyms_in_a_normal_subject_are_fine(demo, subject) -> None:
    assert "subject-caps" not in codes(check(demo, build(demo, subject=subject)))


# -- the HTML: language, headings, tables ----------------------------------------------------


@pytest.mark.parametrize("html_tag", ["<html", '<html lang="en"'])
def test_the_html_element_needs_lang_nl(demo, html_tag) -> None:
    html = demo.html.replace('<html lang="nl"', html_tag, 1)
    found = one(check(demo, build(demo, html)), "lang")
    assert (found.severity, found.message) == ("error", 'the <html> element has no lang="nl"')
    assert '<mjml lang="nl">' in found.fix


def test_lang_nl_nl_is_dutch_too(demo) -> None:
    html = demo.html.replace('<html lang="nl"', '<html lang="nl-NL"', 1)
    assert check(demo, build(demo, html)) == []


def test_a_mail_needs_lang_nl_inside_the_body_but_a_web_page_does_not(demo) -> None:
    html = demo.html.replace('role="article" lang="nl"', 'role="article"', 1)
    assert html != demo.html
    found = one(check(demo, build(demo, html)), "lang-wrapper")
    assert found.severity == "error"
    assert "webmail removes <html>" in found.message
    assert check_page("web", html, settings=demo.settings) == []


def test_a_second_h1_is_an_error_where_it_is(demo) -> None:
    found, line = located(demo, "<h1>Nog een titel</h1>")
    finding = one(found, "headings")
    assert (finding.severity, finding.message) == (
        "error",
        "2 <h1> headings; a message has exactly one",
    )
    assert finding.line == line  # the second one, a new title: so no longer in the item
    assert "keep one <h1>" in finding.fix


def test_a_hidden_h1_does_not_count(demo) -> None:
    found = seeded(demo, '<div style="display:none"><h1>Verborgen titel</h1></div>')
    assert "headings" not in codes(found)


def test_a_skipped_heading_level_is_an_error_and_the_next_level_is_fine(demo) -> None:
    found = one(seeded(demo, "<h5>Te diep</h5>"), "heading-order")
    assert (found.severity, found.message) == ("error", "<h5> 'Te diep' follows <h3>")
    assert found.fix == "use <h4> here, or add the missing level above it"
    assert "heading-order" not in codes(seeded(demo, "<h4>Een niveau dieper</h4>"))


def test_a_layout_table_needs_role_presentation(demo) -> None:
    found = one(seeded(demo, "<table><tr><td>Indeling</td></tr></table>"), "layout-table")
    assert (found.severity, found.message) == ("error", '<table> without role="presentation"')
    assert (found.section, found.item) == ITEM
    ok = '<table role="presentation"><tr><td>Indeling</td></tr></table>'
    assert "layout-table" not in codes(seeded(demo, ok))


def test_a_data_table_with_headers_is_fine(demo) -> None:
    table = (
        "<table><tr><th>Provincie</th><th>Zetels</th></tr><tr><td>GLD</td><td>55</td></tr></table>"
    )
    assert "layout-table" not in codes(seeded(demo, table))


# -- images ----------------------------------------------------------------------------------

IMAGE = "https://www.ipo.example/beeld/ov-kaart.png"


def test_an_image_without_alt_is_an_error_that_says_where_it_is(demo) -> None:
    found_all, line = located(demo, f'<img src="{IMAGE}" width="600" height="300">')
    found = one(found_all, "img-alt")
    assert found.severity == "error"
    assert found.message == f"<img src='{IMAGE}'> has no alt text"
    assert found.fix.startswith('add alt="what the image shows or says"')
    assert found.where == f"line {line}, in Uitgelicht › Regionaal OV na 2027 ({ITEM_SOURCE})"


def test_an_image_with_alt_text_passes(demo) -> None:
    found = seeded(demo, f'<img src="{IMAGE}" width="600" alt="Kaart van de OV-concessies">')
    assert not codes(found) & {"img-alt", "img-alt-empty", "tracking-pixel", "image-only"}


@pytest.mark.parametrize(
    ("attributes", "code"),
    [
        ('alt=""', "img-alt-empty"),
        ('alt="  "', "img-alt-empty"),
        ('alt="" role="presentation"', None),
        ('alt="" aria-hidden="true"', None),
    ],
)
def test_an_empty_alt_is_a_warning_unless_the_image_is_decoration(demo, attributes, code) -> None:
    found = seeded(demo, f'<img src="{IMAGE}" width="600" {attributes}>')
    if code is None:
        assert not codes(found) & {"img-alt", "img-alt-empty"}
    else:
        finding = one(found, code)
        assert finding.severity == "warning"
        assert "not marked decorative" in finding.message
        assert 'role="presentation"' in finding.fix


@pytest.mark.parametrize(
    "attributes",
    ['width="1" height="1"', 'width="0"', 'style="width:1px;height:1px"', 'height="1px"'],
)
def test_a_tracking_pixel_is_an_error(demo, attributes) -> None:
    found = one(
        seeded(demo, f'<img src="https://www.ipo.example/o.gif" {attributes} alt="">'),
        "tracking-pixel",
    )
    assert found.severity == "error"
    assert "open-tracking pixel" in found.message and "o.gif" in found.message
    assert "AVG" in found.fix


def test_a_normal_sized_image_is_no_tracking_pixel(demo) -> None:
    found = seeded(demo, f'<img src="{IMAGE}" width="600" height="300" alt="Kaart">')
    assert "tracking-pixel" not in codes(found)


def test_a_remote_image_with_a_query_string_is_a_warning(demo) -> None:
    found = one(
        seeded(demo, f'<img src="{IMAGE}?ontvanger=17" width="600" alt="Kaart">'), "image-query"
    )
    assert found.severity == "warning"
    assert "can track who opens the mail" in found.message
    assert found.fix == "link the image without ?… parameters"


def test_an_image_over_http_is_an_error(demo) -> None:
    src = IMAGE.replace("https:", "http:")
    found = one(seeded(demo, f'<img src="{src}" width="600" alt="Kaart">'), "link-https")
    assert (found.severity, found.message) == ("error", f"image uses http: {src}")
    assert found.fix == "use the https:// address"


def test_a_message_said_only_in_images_is_an_error(demo) -> None:
    html = (
        '<!doctype html><html lang="nl"><body><div style="display:none">Nieuws</div>'
        '<div lang="nl"><h1>Nieuws</h1>'
        f'<img src="{IMAGE}" width="600" alt="Flyer"><img src="{IMAGE}" width="600" alt="Flyer">'
        "</div></body></html>"
    )
    found = one(check(demo, build(demo, html, "Nieuws\n")), "image-only")
    assert found.severity == "error"
    assert found.message.startswith("2 images and only ")
    assert "readers without images" in found.message
    assert "write the message as text" in found.fix


def test_little_text_for_the_images_is_a_warning(demo) -> None:
    words = " ".join(["Het OV in de provincie."] * 10)  # 50 words, and 1 in the <h1>
    html = (
        '<!doctype html><html lang="nl"><body><div style="display:none">Nieuws</div>'
        f'<div lang="nl"><h1>Nieuws</h1><p>{words}</p>'
        f'<img src="{IMAGE}" width="600" alt="Kaart"><img src="{IMAGE}" width="600" alt="Kaart">'
        "</div></body></html>"
    )
    found = one(check(demo, build(demo, html, "Nieuws\n")), "little-text")
    assert (found.severity, found.message) == ("warning", "51 words for 2 images")


# -- links -----------------------------------------------------------------------------------


def link(href: str, label: str = "Het besluit over het regionaal OV") -> str:
    return f'<p><a href="{href}">{label}</a></p>'


@pytest.mark.parametrize(
    ("href", "code", "words"),
    [
        ("http://www.ipo.example/ov", "link-https", "link uses http: http://www.ipo.example/ov"),
        ("/besluiten/ov", "link-https", "not an absolute https:// URL"),
        ("ftp://www.ipo.example/ov", "link-https", "not an absolute https:// URL"),
        ("https://localhost:8000/ov", "link-host", "local or numeric host"),
        ("https://127.0.0.1/ov", "link-host", "local or numeric host"),
        ("https://evil.example/ov", "link-host", "points to evil.example, which is not an allowed"),
        ("https://notipo.example/ov", "link-host", "points to notipo.example"),
        ("https://ipo.example.evil.example/ov", "link-host", "points to ipo.example.evil.example"),
    ],
)
def test_a_link_to_a_host_not_allowed_is_an_error(demo, href, code, words) -> None:
    found = one(seeded(demo, link(href), f"\nHet besluit: {href}\n"), code)
    assert found.severity == "error"
    assert words in found.message
    assert (found.section, found.item) == ITEM


def test_an_unknown_host_is_told_how_to_allow_it(demo) -> None:
    href = "https://www.provincie.example/ov"
    found = one(seeded(demo, link(href), f"\nHet besluit: {href}\n"), "link-host")
    assert "add it to [preflight] allowed_hosts in newsletter.toml" in found.fix
    assert "www.provincie.example" in found.fix


@pytest.mark.parametrize(
    "href",
    [
        "https://www.ipo.example/ov",
        "https://ipo.example/ov",
        "https://zoek.officielebekendmakingen.nl/stcrt-2026-1.html",  # a subdomain of one allowed
        "https://www.rijksoverheid.nl/onderwerpen/openbaar-vervoer",
    ],
)
def test_a_link_to_an_allowed_host_passes(demo, href) -> None:
    assert seeded(demo, link(href), f"\nHet besluit: {href}\n") == []


def test_mailto_and_tel_links_need_no_host(demo) -> None:
    snippet = (
        '<p>Mail <a href="mailto:ov@provincie.example">ov@provincie.example</a> of bel '
        '<a href="tel:+31703888888">070 388 88 88</a>.</p>'
    )
    assert seeded(demo, snippet, "\nMail ov@provincie.example of bel 070 388 88 88.\n") == []


def test_a_link_to_an_anchor_is_a_warning_in_mail_and_fine_on_a_page(demo) -> None:
    found = one(seeded(demo, link("#agenda", "Naar de agenda")), "link-anchor")
    assert found.severity == "warning"
    assert found.message == "link to '#agenda' inside the message; many mail apps ignore it"
    assert found.fix == "link to the web version instead"
    page = demo.html.replace(ITEM_END, ITEM_END + link("#agenda", "Naar de agenda"), 1)
    assert "link-anchor" not in codes(check_page("web", page, settings=demo.settings))


def test_a_web_page_may_link_relatively_but_not_to_another_host(demo) -> None:
    page = demo.html.replace(ITEM_END, ITEM_END + link("/archief/"), 1)
    assert check_page("web", page, settings=demo.settings) == []
    page = demo.html.replace(ITEM_END, ITEM_END + link("https://evil.example/"), 1)
    assert one(check_page("web", page, settings=demo.settings), "link-host").severity == "error"


@pytest.mark.parametrize("label", ["Klik hier", "lees meer", "Lees verder…", "meer info", "Link"])
def test_a_link_text_that_does_not_say_where_it_goes_is_an_error(demo, label) -> None:
    href = "https://www.ipo.example/ov"
    found = one(seeded(demo, link(href, label), f"\n{href}\n"), "link-text")
    assert found.severity == "error"
    assert found.message == f"link text '{label}' does not say where it goes ({href})"
    assert "write what the reader finds there" in found.fix


def test_a_link_without_text_is_an_error_and_an_image_alt_is_text(demo) -> None:
    href = "https://www.ipo.example/ov"
    found = one(seeded(demo, f'<p><a href="{href}"> </a></p>', f"\n{href}\n"), "link-text")
    assert found.message == f"a link to {href} has no text"
    image = f'<img src="{IMAGE}" width="600" alt="Kaart van het regionaal OV">'
    assert seeded(demo, f'<p><a href="{href}">{image}</a></p>', f"\n{href}\n") == []


def test_a_bare_url_as_link_text_is_an_error(demo) -> None:
    href = "https://www.ipo.example/ov"
    found = one(seeded(demo, link(href, href), f"\n{href}\n"), "link-text-url")
    assert (found.severity, found.message) == ("error", f"link text is a bare URL '{href}'")
    assert found.fix == "write what the reader finds there instead of the address"


def test_the_text_of_a_hidden_link_is_not_judged(demo) -> None:
    href = "https://www.ipo.example/ov"
    snippet = f'<div style="display:none"><a href="{href}">klik hier</a></div>'
    assert "link-text" not in codes(seeded(demo, snippet, f"\n{href}\n"))


# -- contrast --------------------------------------------------------------------------------


def test_text_in_too_low_a_contrast_is_an_error_with_a_colour_that_passes(demo) -> None:
    found = one(seeded(demo, '<p style="color:#999999">Lichtgrijze tekst</p>'), "contrast")
    assert found.severity == "error"
    assert found.message == (
        "text 'Lichtgrijze tekst' is #999999 on #ffffff: contrast 2.85:1, needs 4.5:1"
    )
    assert (found.section, found.item) == ITEM
    suggested = re.search(r"e\.g\. (#[0-9a-f]{6}) on #ffffff", found.fix)
    assert suggested, found.fix
    ratio = contrast(parse_color(suggested[1]), parse_color("#ffffff"))  # type: ignore[arg-type]
    assert ratio >= 4.5


def test_light_text_on_a_dark_background_gets_a_lighter_suggestion(demo) -> None:
    snippet = '<p style="color:#335577;background-color:#00395f">Blauw op blauw</p>'
    found = one(seeded(demo, snippet), "contrast")
    assert "#335577 on #00395f" in found.message
    suggested = re.search(r"e\.g\. (#[0-9a-f]{6}) on #00395f", found.fix)
    assert suggested, found.fix
    ratio = contrast(parse_color(suggested[1]), parse_color("#00395f"))  # type: ignore[arg-type]
    assert ratio >= 4.5


def test_just_enough_contrast_passes(demo) -> None:
    assert seeded(demo, '<p style="color:#767676">Grijs, maar leesbaar (4.54:1)</p>') == []


def test_large_text_needs_3_to_1_and_normal_text_4_5(demo) -> None:
    grey = "#949494"  # 3.03:1 on white
    assert seeded(demo, f'<p style="font-size:24px;color:{grey}">Grote tekst</p>') == []
    assert seeded(demo, f'<p style="font-size:19px;font-weight:bold;color:{grey}">Vet</p>') == []
    found = one(
        seeded(demo, f'<p style="font-size:18px;color:{grey}">Kleine tekst</p>'), "contrast"
    )
    assert "needs 4.5:1" in found.message


def test_the_same_colours_in_one_section_are_reported_once(demo) -> None:
    snippet = '<p style="color:#aaaaaa">Een</p><p style="color:#aaaaaa">Twee</p>'
    one(seeded(demo, snippet), "contrast")


def test_hidden_text_has_no_contrast_to_check(demo) -> None:
    assert seeded(demo, '<p style="display:none;color:#ffffff">Onzichtbaar</p>') == []


# -- preheader, text part, size --------------------------------------------------------------


def test_a_missing_preheader_is_a_warning(demo) -> None:
    html, count = PREHEADER.subn("", demo.html, count=1)
    assert count == 1
    found = one(check(demo, build(demo, html)), "preheader")
    assert (found.severity, found.message) == (
        "warning",
        "no preheader (hidden preview text at the top of the body)",
    )
    assert "preheader: in the issue file" in found.fix


def test_a_visible_first_text_is_no_preheader(demo) -> None:
    html = PREHEADER.sub("<div>Het laatste uit het IPO voor Statenleden.</div>", demo.html, count=1)
    assert one(check(demo, build(demo, html)), "preheader").severity == "warning"


def test_an_item_missing_from_the_text_part_is_an_error_where_it_is(demo) -> None:
    title = "Kennissessie: stikstof en vergunningverlening"
    text = demo.text.replace(title, "")  # the item, and its lines in the overview and Voor u
    assert text != demo.text
    found = one(check(demo, build(demo, text=text)), "text-part-item")
    assert found.severity == "error"
    assert found.message == f"'{title}' is in the HTML but not in the text part"
    assert (found.section, found.item) == ("Agenda", title)
    assert found.source == "content/events/2026-12-09-kennissessie-stikstof.md"
    assert "templates/email/*.txt.j2" in found.fix


def test_a_title_in_the_text_part_may_differ_in_case_spacing_and_soft_hyphens(demo) -> None:
    text = demo.text.replace("* Regionaal OV na 2027\n", "* REGIONAAL  OV\nna 2027\n", 1)
    assert check(demo, build(demo, text=text)) == []
    html = demo.html.replace(">Regionaal OV na 2027</h3>", ">Regio\u00adnaal OV na 2027</h3>", 1)
    assert check(demo, build(demo, html)) == []


def test_a_link_in_the_html_missing_from_the_text_part_is_an_error(demo) -> None:
    href = "https://www.ipo.example/position-papers/regionaal-ov-na-2027"
    text = demo.text.replace(href, "", 1)
    found = one(check(demo, build(demo, text=text)), "text-part-link")
    assert found.severity == "error"
    assert found.message == f"the link {href} is in the HTML but not in the text part"
    assert found.fix == "add the link to the text template, written out in full"
    assert (found.section, found.item) == ITEM


def test_a_mail_link_in_the_html_must_be_in_the_text_as_the_address(demo) -> None:
    snippet = '<p><a href="mailto:ov@ipo.example?subject=OV">Mail de OV-redactie</a></p>'
    found = one(seeded(demo, snippet), "text-part-link")
    assert "ov@ipo.example" in found.message and "subject" not in found.message
    assert seeded(demo, snippet, "\nMail de OV-redactie: ov@ipo.example\n") == []


def wire_size(raw: bytes) -> int:
    """The HTML part as sent (quoted-printable), which is what Gmail counts."""
    message = message_from_bytes(raw, policy=policy.default)
    html = next(p for p in message.walk() if p.get_content_type() == "text/html")
    return len(str(html.get_payload()).encode())


def grow(demo: Demo, size: int) -> str:
    """The demo HTML with paragraphs added in the item until it is about size bytes as sent
    (the filler is plain ASCII: it grows the same on the wire)."""
    paragraph = "<p>" + " ".join(["De Algemene Vergadering besluit over het OV."] * 20) + "</p>\n"
    missing = size - wire_size(build(demo))
    filler = paragraph * (missing // len(paragraph.encode()) + 1)
    return demo.html.replace(ITEM_END, ITEM_END + "\n" + filler, 1)


def test_a_message_over_the_gmail_clipping_size_is_an_error(demo) -> None:
    html = grow(demo, SIZE_ERROR + 2048)
    found = one(check(demo, build(demo, html)), "html-size")
    assert found.severity == "error"
    assert re.fullmatch(
        r"the HTML is \d+ KB as sent; Gmail clips messages above 102 KB", found.message
    )
    assert "shorten the issue" in found.fix


def test_a_message_close_to_the_gmail_clipping_size_is_a_warning(demo) -> None:
    html = grow(demo, SIZE_WARNING + 4096)
    assert wire_size(build(demo, html)) < SIZE_ERROR
    found = one(check(demo, build(demo, html)), "html-size")
    assert found.severity == "warning"
    assert "close to Gmail's 102 KB clipping" in found.message


def test_the_demo_message_is_well_under_the_size_limit(demo) -> None:
    assert len(demo.html.encode()) < SIZE_WARNING
    assert "html-size" not in codes(check(demo, build(demo)))


def test_findings_name_the_message_they_are_about(demo) -> None:
    found, _ = python_checks(
        "welkom-1", without_header(build(demo), "Date"), settings=demo.settings
    )
    assert [f.name for f in found] == ["welkom-1"]
