"""The one composer for single messages: the same headers for every kind, header values gated."""

from __future__ import annotations

import dataclasses
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime

import pytest

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import HeaderError
from newsletter.mail.compose import compose

COMMON = ("From", "Reply-To", "To", "Subject", "Date", "Message-ID", "MIME-Version")


def read(message: EmailMessage) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(message.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def kinds(settings: Settings) -> dict[str, EmailMessage]:
    """A message of each kind the project sends one at a time, as its call site builds it."""
    to = {"to_address": "anna.devries@gld.example", "to_name": "Anna de Vries"}
    return {
        "reply": compose(
            settings,
            **to,
            subject="Re: Vraag over de AV",
            text="Op 4 december.",
            html="<p>Op 4 december.</p>",
            in_reply_to="<vraag-1@gld.example>",
            references="<vraag-1@gld.example>",
        ),
        "acknowledgement": compose(
            settings, **to, subject="Ontvangen: vraag", text="Dank.", auto_submitted="auto-replied"
        ),
        "unsubscribe confirmation": compose(
            settings, **to, subject="Afgemeld", text="Gedaan.", auto_submitted="auto-replied"
        ),
        "sign-up": compose(
            settings, **to, subject="Bevestig", text="Link.", auto_submitted="auto-generated"
        ),
    }


def test_every_kind_carries_the_same_headers_from_the_contact_mailbox(settings: Settings) -> None:
    messages = {kind: read(m) for kind, m in kinds(settings).items()}
    for kind, message in messages.items():
        assert all(message[h] for h in COMMON), kind
        assert message["From"] == settings.sender
        assert message["Reply-To"] == settings.reply_to
        assert message["To"] == "Anna de Vries <anna.devries@gld.example>"
        assert message["Content-Language"] == "nl"
        assert message["Message-ID"].endswith(f"@{settings.sender_domain}>")
    assert len({m["Message-ID"] for m in messages.values()}) == len(messages)


def test_the_date_is_the_clock_in_amsterdam(settings: Settings) -> None:
    clock.set_now("2026-12-01T09:30:00+00:00")
    try:
        message = read(kinds(settings)["sign-up"])
    finally:
        clock.set_now(None)
    date = parsedate_to_datetime(message["Date"])
    assert date.utcoffset() == clock.AMSTERDAM.utcoffset(date.replace(tzinfo=None))
    assert date.isoformat() == "2026-12-01T10:30:00+01:00"


def test_only_automatic_mail_says_so(settings: Settings) -> None:
    messages = {kind: read(m) for kind, m in kinds(settings).items()}
    assert messages["reply"]["Auto-Submitted"] is None
    assert messages["acknowledgement"]["Auto-Submitted"] == "auto-replied"
    assert messages["unsubscribe confirmation"]["Auto-Submitted"] == "auto-replied"
    assert messages["sign-up"]["Auto-Submitted"] == "auto-generated"
    assert messages["sign-up"]["X-Auto-Response-Suppress"] == "All"
    with pytest.raises(ValueError, match="auto_submitted"):
        compose(settings, to_address="a@gld.example", subject="x", text="x", auto_submitted="yes")


def test_a_reply_threads_under_the_message_it_answers(settings: Settings) -> None:
    message = read(
        compose(
            settings,
            to_address="anna.devries@gld.example",
            subject="Re: Vraag",
            text="Antwoord",
            message_id="<gesprek-3.ab12@ipo.example>",
            in_reply_to="<vraag-2@gld.example>",
            references="<vraag-1@gld.example> <vraag-2@gld.example>",
        )
    )
    assert message["Message-ID"] == "<gesprek-3.ab12@ipo.example>"
    assert message["In-Reply-To"] == "<vraag-2@gld.example>"
    assert message["References"] == "<vraag-1@gld.example> <vraag-2@gld.example>"


def test_text_and_html_are_alternatives_and_text_alone_is_plain(settings: Settings) -> None:
    reply, sign_up = (read(kinds(settings)[k]) for k in ("reply", "sign-up"))
    assert reply.get_content_type() == "multipart/alternative"
    assert reply.get_body(("html",)).get_content().splitlines() == ["<p>Op 4 december.</p>"]
    assert sign_up.get_content_type() == "text/plain"
    assert sign_up.get_content().splitlines() == ["Link."]


@pytest.mark.parametrize(
    "field, value",
    [
        ("subject", "Vraag\r\nBcc: iedereen@example.com"),
        ("subject", "Vraag\nBcc: iedereen@example.com"),
        ("subject", "=?utf-8?q?Vraag=0D=0ABcc:_iedereen@example.com?="),
        ("to_name", "Anna\r\nBcc: iedereen@example.com"),
        ("to_name", "=?utf-8?b?QW5uYQ0KQmNjOiBpZWRlcmVlbkBleGFtcGxlLmNvbQ==?="),
        ("to_address", "anna@gld.example\r\nBcc: iedereen@example.com"),
        ("in_reply_to", "<vraag-1@gld.example>\r\nBcc: iedereen@example.com"),
        ("references", "=?utf-8?q?=0D=0ABcc:_x@example.com?="),
        ("message_id", "<a@b>\nBcc: iedereen@example.com"),
    ],
)
def test_a_header_value_with_a_line_break_or_an_encoded_word_is_refused(
    settings: Settings, field: str, value: str
) -> None:
    values = {"to_address": "anna@gld.example", "subject": "Vraag", "text": "x", field: value}
    with pytest.raises(HeaderError):
        compose(settings, **values)


def test_a_name_outside_ascii_is_encoded_by_us_and_reads_back(settings: Settings) -> None:
    message = read(
        compose(settings, to_address="a@gld.example", to_name="Zoë Çelik", subject="Ë", text="é")
    )
    assert message["To"] == "Zoë Çelik <a@gld.example>"
    assert message["Subject"] == "Ë"
    assert message.get_content().splitlines() == ["é"]


def test_the_reply_to_follows_the_configuration(settings: Settings) -> None:
    other = dataclasses.replace(settings, reply_to="redactie@ipo.example")
    message = read(compose(other, to_address="a@gld.example", subject="x", text="x"))
    assert message["Reply-To"] == "redactie@ipo.example"


def test_the_call_sites_build_their_mail_with_the_same_headers(settings: Settings) -> None:
    from newsletter.inbound.processing import confirmation_message
    from newsletter.people.signup import send_confirmation

    send_confirmation(settings, 7, "Anna de Vries", "anna.devries@gld.example")
    [sent] = (settings.project / "outbox").glob("*.eml")
    sign_up = BytesParser(policy=policy.default).parsebytes(sent.read_bytes())
    confirmation = read(
        confirmation_message(
            settings, "Anna de Vries", "anna.devries@gld.example", "<afmelden-1@gld.example>"
        )
    )
    reply = read(kinds(settings)["reply"])
    for message in (sign_up, confirmation):
        assert {h: message[h] for h in ("From", "Reply-To", "To", "Content-Language")} == {
            h: reply[h] for h in ("From", "Reply-To", "To", "Content-Language")
        }
        assert all(message[h] for h in COMMON)
    assert confirmation["In-Reply-To"] == confirmation["References"] == "<afmelden-1@gld.example>"
    assert confirmation["Auto-Submitted"] == "auto-replied"
    assert sign_up["Auto-Submitted"] == "auto-generated"


def test_a_confirmation_to_a_request_with_a_broken_message_id_is_not_threaded(
    settings: Settings,
) -> None:
    from newsletter.inbound.processing import confirmation_message

    message = read(confirmation_message(settings, "", "a@gld.example", "<x@y>\r\nBcc: z@q.example"))
    assert message["In-Reply-To"] is None and message["Bcc"] is None
    assert message["To"] == "a@gld.example"
