"""clean_html, markdown_to_html and html_to_text: what outside HTML and staff Markdown become in
the HTML and the plain-text part of a mail."""

from __future__ import annotations

import pytest

from newsletter.sanitize import clean_html, html_to_text, markdown_to_html

# clean_html ---------------------------------------------------------------------------------


def test_clean_html_keeps_harmless_markup():
    html = (
        "<h3>Besluit</h3><p>De AV heeft <strong>ingestemd</strong> met <em>het plan</em>.</p>"
        "<ul><li>een</li></ul><ol><li>twee</li></ol><blockquote>citaat</blockquote>"
    )
    assert clean_html(html) == html


def test_clean_html_removes_scripts_and_styles_with_their_content():
    cleaned = clean_html(
        "<p>Welkom</p><script>alert('gestolen')</script><style>p{display:none}</style>"
        "<noscript>schakel javascript in</noscript>"
    )
    assert cleaned == "<p>Welkom</p>"


def test_clean_html_removes_event_handlers_and_style_attributes():
    cleaned = clean_html('<p onclick="steel()" style="color:red" class="x" id="y">Tekst</p>')
    assert cleaned == "<p>Tekst</p>"


def test_clean_html_removes_images_so_tracking_pixels_never_load():
    cleaned = clean_html(
        '<p>Nieuws<img src="https://tracker.example/p.gif?u=1" width="1" height="1"></p>'
    )
    assert cleaned == "<p>Nieuws</p>"


def test_clean_html_removes_iframes_forms_and_embedded_objects():
    cleaned = clean_html(
        '<p>Tekst</p><iframe src="https://kwaad.example/"></iframe>'
        '<form action="https://kwaad.example/"><input name="wachtwoord"></form>'
        '<object data="https://kwaad.example/x.swf"></object><embed src="x.swf">'
    )
    assert cleaned == "<p>Tekst</p>"


def test_clean_html_removes_comments():
    assert clean_html("<p>Zichtbaar<!-- verborgen opmerking --></p>") == "<p>Zichtbaar</p>"


@pytest.mark.parametrize(
    "href",
    ["https://www.ipo.example/nieuws", "http://archief.ipo.example/2026", "HTTPS://IPO.example/"],
)
def test_clean_html_keeps_absolute_web_links_and_opens_them_safely(href):
    cleaned = clean_html(f'<a href="{href}">nieuws</a>')
    assert cleaned == f'<a href="{href}" rel="noopener noreferrer">nieuws</a>'


def test_clean_html_keeps_the_query_string_of_a_link():
    cleaned = clean_html('<a href="https://www.ipo.example/zoek?q=wonen&amp;p=2">zoek</a>')
    assert 'href="https://www.ipo.example/zoek?q=wonen&amp;p=2"' in cleaned


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "mailto:info@ipo.example",
        "ftp://bestanden.ipo.example/",
        "/nieuws/relatief",
        "../kaart.html",
        "#anker",
        "//elders.example/pad",
        "https:/zonder-host",
    ],
)
def test_clean_html_drops_every_link_that_is_not_an_absolute_web_address(href):
    cleaned = clean_html(f'<p>Lees <a href="{href}">meer</a>.</p>')
    assert "href" not in cleaned
    assert "meer" in cleaned  # the words stay


def test_clean_html_drops_a_relative_link_whatever_the_order_of_the_attributes():
    cleaned = clean_html('<a title="Kaart" href="/kaart.html">kaart</a>')
    assert "href" not in cleaned
    assert cleaned == "kaart"  # a link that goes nowhere is its text alone, title and all


def test_clean_html_keeps_a_web_link_after_another_attribute():
    cleaned = clean_html('<a title="Kaart" href="https://kaart.ipo.example/">kaart</a>')
    assert 'href="https://kaart.ipo.example/"' in cleaned


# markdown_to_html ---------------------------------------------------------------------------


def test_markdown_becomes_paragraphs_emphasis_lists_and_links():
    html = markdown_to_html(
        "Eerste alinea met **nadruk** en *cursief*.\n\n"
        "- een\n- twee\n\n"
        "1. eerst\n2. dan\n\n"
        "Zie [de site](https://www.ipo.example/)."
    )
    assert "<p>Eerste alinea met <strong>nadruk</strong> en <em>cursief</em>.</p>" in html
    assert "<ul>\n<li>een</li>\n<li>twee</li>\n</ul>" in html
    assert "<ol>\n<li>eerst</li>\n<li>dan</li>\n</ol>" in html
    assert '<a href="https://www.ipo.example/" rel="noopener noreferrer">de site</a>' in html


def test_raw_html_in_markdown_is_shown_as_text_not_passed_through():
    html = markdown_to_html(
        'Hallo <script>alert(1)</script> en <b onclick="steel()">vet</b>.\n\n'
        '<div class="x">blok</div>\n\n'
        '<img src="https://tracker.example/p.gif">'
    )
    for tag in ("<script", "<b ", "<b>", "<div", "<img"):
        assert tag not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '&lt;div class="x"&gt;blok&lt;/div&gt;' in html


def test_markdown_links_and_images_obey_the_same_rules_as_feed_html():
    html = markdown_to_html(
        "[klik](javascript:alert(1)) [relatief](/pad) [goed](https://www.ipo.example/)\n\n"
        "![pixel](https://tracker.example/p.gif)"
    )
    assert html.count("href=") == 1  # neither the javascript: nor the relative link
    assert 'href="https://www.ipo.example/"' in html
    # ... and what they linked is plain text, not an <a> without href (the Nu checker's error)
    assert html.count("<a") == 1 and "klik" in html and "relatief" in html
    assert "<img" not in html and "tracker.example" not in html


@pytest.mark.parametrize("text", ["", "   \n\n  "])
def test_empty_markdown_gives_no_html(text):
    assert markdown_to_html(text) == ""


# html_to_text -------------------------------------------------------------------------------


def test_paragraphs_and_headings_become_blocks_separated_by_a_blank_line():
    text = html_to_text("<h3>Besluit</h3><p>Eerste alinea.</p><p>Tweede   alinea.</p>")
    assert text == "Besluit\n\nEerste alinea.\n\nTweede alinea."


def test_an_unordered_list_gets_dashes():
    assert html_to_text("<ul><li>wonen</li><li>water</li></ul>") == "- wonen\n\n- water"


def test_an_ordered_list_is_numbered_and_each_list_starts_at_one():
    text = html_to_text(
        "<ol><li>agenda</li><li>besluiten</li></ol><p>tussendoor</p><ol><li>rondvraag</li></ol>"
    )
    assert text == "1. agenda\n\n2. besluiten\n\ntussendoor\n\n1. rondvraag"


def test_a_bullet_list_inside_a_numbered_list_does_not_take_numbers():
    text = html_to_text(
        "<ol><li>Wonen<ul><li>starters</li><li>ouderen</li></ul></li><li>Water</li></ol>"
        "<ul><li>daarna</li></ul>"
    )
    assert text == "1. Wonen\n\n- starters\n\n- ouderen\n\n2. Water\n\n- daarna"


def test_a_link_is_written_as_text_then_address():
    text = html_to_text('<p>Lees het <a href="https://www.ipo.example/besluit">besluit</a>.</p>')
    assert text == "Lees het besluit (https://www.ipo.example/besluit)."


def test_a_link_whose_text_is_its_address_is_written_once():
    text = html_to_text(
        '<p>Zie <a href="https://www.ipo.example/">https://www.ipo.example/</a></p>'
    )
    assert text == "Zie https://www.ipo.example/"


def test_a_link_without_an_address_is_just_its_text():
    assert html_to_text('<p>De <a rel="noopener">bijlage</a> volgt.</p>') == "De bijlage volgt."


def test_long_paragraphs_wrap_and_list_items_wrap_under_their_text():
    words = " ".join(["provincie"] * 20)
    text = html_to_text(f"<p>{words}</p><ul><li>{words}</li></ul>")
    paragraph, item = text.split("\n\n")
    assert all(len(line) <= 72 for line in text.splitlines())
    assert paragraph.count("\n") >= 2
    first, *rest = item.splitlines()
    assert first.startswith("- provincie")
    assert rest and all(line.startswith("  provincie") for line in rest)


def test_a_line_break_starts_a_new_line():
    text = html_to_text("<p>Provinciehuis<br>Abdij 6<br>Middelburg</p>")
    assert text == "Provinciehuis\nAbdij 6\nMiddelburg"


def test_a_newline_in_the_html_source_is_only_a_space():
    text = html_to_text(
        "<p>De Staten\nbesloten   gisteren\n    unaniem.</p><ul><li>een\ntwee</li></ul>"
    )
    assert text == "De Staten besloten gisteren unaniem.\n\n- een twee"


def test_entities_become_characters():
    assert html_to_text("<p>Wonen &amp; Bereikbaarheid &ndash; &euro; 5</p>") == (
        "Wonen & Bereikbaarheid – € 5"
    )


def test_markdown_from_staff_reads_well_as_plain_text():
    text = html_to_text(
        markdown_to_html(
            "Beste Statenleden,\n\n"
            "Op de agenda:\n\n1. de begroting\n2. de [woondeal](https://www.ipo.example/woondeal)"
        )
    )
    assert text == (
        "Beste Statenleden,\n\nOp de agenda:\n\n1. de begroting\n\n"
        "2. de woondeal (https://www.ipo.example/woondeal)"
    )
