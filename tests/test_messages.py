"""MIME messages: the skeleton, per-recipient substitution and the header gate."""

from __future__ import annotations

import email
import re
from email import policy

import pytest

from newsletter.errors import HeaderError
from newsletter.headers import check_header_value, encode_header, format_address
from newsletter.mail.messages import Recipient, make_skeleton, message_id
from newsletter.render.issue import Variant


def variant() -> Variant:
    html = (
        '<html lang="nl"><body><p>@@aanhef@@,</p><p>Voor @@naam@@ (@@email@@)</p>'
        '<a href="@@afmelden_url@@">Afmelden</a> <a href="@@voorkeuren_url@@">Voorkeuren</a>'
        f"<p>{'Lange regel zonder einde ' * 80}</p></body></html>"
    )
    text = "@@aanhef@@,\n\nAfmelden: @@afmelden_url@@\nVoorkeuren: @@voorkeuren_url@@\n"
    return Variant("GLD", html, text)


def recipient(**changes: str) -> Recipient:
    values = dict(
        email="anna.debruijn@gld.example",
        name="Anna de Bruijn",
        salutation="Geachte mevrouw De Bruijn",
        unsubscribe_url="https://www.ipo.example/nieuwsbrief/afmelden/TOKEN?a=1&b=2",
        preferences_url="https://www.ipo.example/nieuwsbrief/voorkeuren/TOKEN2",
        message_id="<issue-2026-12.7.abc@ipo.example>",
    )
    values.update(changes)
    return Recipient(**values)


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def test_message_has_every_required_header_exactly_once(settings) -> None:
    data = make_skeleton(settings, "Nieuwsbrief Statenleden december 2026", variant()).build(
        recipient()
    )
    message = parse(data)
    for name in (
        "From",
        "Reply-To",
        "To",
        "Subject",
        "Date",
        "Message-ID",
        "MIME-Version",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    ):
        assert len(message.get_all(name) or []) == 1, name
    assert message["From"] == "IPO Statenleden <statenleden@ipo.example>"
    assert message["Reply-To"] == "statenleden@ipo.example"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"] == (
        "<https://www.ipo.example/nieuwsbrief/afmelden/TOKEN?a=1&b=2>, "
        "<mailto:statenleden@ipo.example?subject=afmelden>"
    )
    assert message["List-Id"] == "IPO Statenleden <statenleden.ipo.example>"
    assert message["Message-ID"] == "<issue-2026-12.7.abc@ipo.example>"
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_personal_fields_are_substituted_and_escaped_in_html(settings) -> None:
    skeleton = make_skeleton(settings, "Nieuwsbrief", variant())
    message = parse(skeleton.build(recipient(name="Jan <Bos> & Zn", salutation="Beste Jan & Co")))
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert "<p>Beste Jan &amp; Co,</p>" in html
    assert "Voor Jan &lt;Bos&gt; &amp; Zn" in html
    assert 'href="https://www.ipo.example/nieuwsbrief/afmelden/TOKEN?a=1&amp;b=2"' in html
    assert text.startswith("Beste Jan & Co,")
    assert "Afmelden: https://www.ipo.example/nieuwsbrief/afmelden/TOKEN?a=1&b=2" in text
    assert "@@" not in html and "@@" not in text


def test_one_skeleton_serves_many_recipients_without_leaking_between_them(settings) -> None:
    skeleton = make_skeleton(settings, "Nieuwsbrief", variant())
    first = parse(skeleton.build(recipient()))
    second = parse(
        skeleton.build(
            recipient(
                email="kees.bos@gld.example",
                name="Kees Bos",
                salutation="Geachte heer Bos",
                message_id="<issue-2026-12.8.def@ipo.example>",
            )
        )
    )
    assert "De Bruijn" in first.get_body(("plain",)).get_content()
    assert "De Bruijn" not in second.get_body(("plain",)).get_content()
    assert second["To"] == "Kees Bos <kees.bos@gld.example>"


def test_wire_format_is_crlf_with_short_lines(settings) -> None:
    data = make_skeleton(settings, "Nieuwsbrief", variant()).build(recipient())
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998
    assert all(len(line) <= 78 for line in data.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))


def test_non_ascii_subject_and_name_are_encoded_and_read_back(settings) -> None:
    skeleton = make_skeleton(settings, "Nieuws uit Fryslân — december", variant())
    message = parse(skeleton.build(recipient(name="Renée Yılmaz")))
    assert message["Subject"] == "Nieuws uit Fryslân — december"
    assert message["To"].addresses[0].display_name == "Renée Yılmaz"
    assert message.get_body(("html",)).get_content_charset() == "utf-8"


@pytest.mark.parametrize(
    "value",
    [
        "Nieuwsbrief\r\nBcc: victim@elders.example",
        "Nieuwsbrief\nBcc: victim@elders.example",
        "Nieuwsbrief\x00",
        "=?utf-8?q?Nieuws=0D=0ABcc=3A_victim=40elders.example?=",
        "=?UTF-8?B?TmlldXdz?=",
    ],
)
def test_header_values_with_line_breaks_nul_or_encoded_words_are_refused(value, settings) -> None:
    with pytest.raises(HeaderError):
        check_header_value(value, "subject")
    with pytest.raises(HeaderError):
        make_skeleton(settings, value, variant())


def test_recipient_names_with_line_breaks_are_refused(settings) -> None:
    skeleton = make_skeleton(settings, "Nieuwsbrief", variant())
    with pytest.raises(HeaderError):
        skeleton.build(recipient(name="Anna\r\nBcc: x@elders.example"))
    with pytest.raises(HeaderError):
        format_address("Anna", "anna@gld.example\r\nBcc: x@elders.example")


def test_encoded_subject_folds_with_crlf() -> None:
    encoded = encode_header("Één nieuwsbrief " * 10)
    assert "\n" not in encoded.replace("\r\n ", "")
    assert all(len(line) <= 78 for line in encoded.split("\r\n"))


def test_message_id_is_stable_per_mailing_and_recipient(settings) -> None:
    first = message_id(settings, "issue-2026-12", 7)
    assert first == message_id(settings, "issue-2026-12", 7)
    assert first != message_id(settings, "issue-2026-12", 8)
    assert first != message_id(settings, "issue-2027-01", 7)
    assert re.fullmatch(r"<issue-2026-12\.7\.[0-9a-f]{16}@ipo\.example>", first)


@pytest.mark.parametrize(
    "text",
    [
        ".meta { color: #4a4a4a; font-size: 14px; }\n.links { margin-bottom: 14px; }\n",
        "." + "é" * 40 + "\n" + ".x" * 60 + "\n...\n.",
        "regel\n." + "a" * 74 + "=" + "b" * 10 + "\n",
        "." * 200,
    ],
)
def test_no_wire_line_starts_with_a_dot_and_the_body_decodes_to_the_original(
    settings, text
) -> None:
    skeleton = make_skeleton(settings, "Nieuwsbrief", Variant("GLD", text, text))
    data = skeleton.build(recipient())
    body = data.split(b"\r\n\r\n", 1)[1]
    assert not any(line.startswith(b".") for line in body.split(b"\r\n"))
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))
    message = parse(data)
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text


def test_lines_ending_in_whitespace_stay_within_76_characters(settings) -> None:
    text = "".join(("x" * n + " \n") for n in range(60, 90))
    skeleton = make_skeleton(settings, "Nieuwsbrief", Variant("GLD", text, text))
    data = skeleton.build(recipient())
    assert all(len(line) <= 76 for line in data.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))
    assert parse(data).get_body(("plain",)).get_content().replace("\r\n", "\n") == text


def test_a_sender_name_with_accents_or_a_comma_is_encoded(settings) -> None:
    from dataclasses import replace

    fancy = replace(settings, name="IPO Statenleden, Interprovinciaal Overleg – Den Haag")
    message = parse(make_skeleton(fancy, "Nieuwsbrief", variant()).build(recipient()))
    assert message["From"].addresses[0].display_name == fancy.name
    assert message["From"].addresses[0].addr_spec == "statenleden@ipo.example"
