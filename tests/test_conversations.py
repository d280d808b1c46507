"""Conversations: threading, themes, replies from the contact mailbox, acknowledgements, forget."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest
from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings, load_settings
from newsletter.inbound.conversations import Added, add_inbound
from newsletter.inbound.mailbox import fetch_inbox
from newsletter.outbound.transports.base import safe_filename

from .conftest import Runner

# `inbox reply --by` names a staff account (issue #14): the instance has the test accounts.
pytestmark = pytest.mark.usefixtures("staff")

KEES = "Kees Sanders <kees.sanders@gld.example>"
_numbers = itertools.count(1)


def mail(
    subject: str = "Vraag over de AV",
    body: str = "Beste collega's,\nwanneer is de volgende Algemene Vergadering?\n\nKees",
    *,
    sender: str = KEES,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    extra: tuple[str, ...] = (),
    content_type: str = "text/plain; charset=utf-8",
    raw_body: bytes | None = None,
) -> bytes:
    lines = [
        f"From: {sender}",
        "To: IPO Statenleden <statenleden@ipo.example>",
        f"Subject: {subject}",
        "Date: Mon, 30 Nov 2026 10:00:00 +0100",
        f"Message-ID: {message_id or f'<vraag-{next(_numbers)}@gld.example>'}",
        *([f"In-Reply-To: {in_reply_to}"] if in_reply_to else []),
        *([f"References: {references}"] if references else []),
        *extra,
        "MIME-Version: 1.0",
        f"Content-Type: {content_type}",
        "",
    ]
    head = "\r\n".join(lines).encode() + b"\r\n"
    return head + (raw_body if raw_body is not None else body.replace("\n", "\r\n").encode())


def receive(db: Database, settings: Settings, data: bytes, at: datetime | None = None) -> Added:
    """Deliver one message to the instance's Maildir, fetch it, and add it as a conversation."""
    new = settings.project / "mailbox" / "new"
    new.mkdir(parents=True, exist_ok=True)
    path = new / f"msg{next(_numbers)}.host"
    path.write_bytes(data)
    moment = (at or clock.now()).timestamp()
    os.utime(path, (moment, moment))
    report = fetch_inbox(db, settings, clock.now())
    assert len(report.new_ids) == 1, report.summary()
    return add_inbound(db, settings, report.new_ids[0])


def outbox(settings: Settings) -> list[Path]:
    folder = settings.project / "outbox"
    return sorted(folder.glob("*.eml")) if folder.is_dir() else []


def read_eml(path: Path) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(message, EmailMessage)
    return message


def sent(settings: Settings, message_id: str) -> EmailMessage:
    return read_eml(settings.project / "outbox" / f"{safe_filename(message_id)}.eml")


def listed(run: Runner, *args: str) -> list[dict]:
    result = run("inbox", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def answer(run: Runner, tmp_path: Path, number: int, text: str = "Op **4 december**.") -> str:
    path = tmp_path / f"antwoord-{number}.md"
    path.write_text(text, encoding="utf-8")
    result = run(
        "inbox", "reply", str(number), "--file", str(path), "--yes", "--by", "Sanne de Vries"
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def last_out_id(db: Database, conversation_id: int) -> str:
    row = db.execute(
        "select message_id from conversation_messages where conversation_id = ? "
        "and direction = 'out' order by id desc limit 1",
        [conversation_id],
    ).fetchone()
    return str(row[0])


def with_ack(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, inbox=dataclasses.replace(settings.inbox, acknowledge=True)
    )


# -- threading --------------------------------------------------------------------------------


def test_a_reply_to_our_reply_joins_the_conversation_and_a_new_subject_starts_another(
    settings: Settings, db: Database, run: Runner, tmp_path: Path
) -> None:
    first = receive(db, settings, mail(message_id="<q1@gld.example>"))
    assert first.new_conversation and first.conversation_id == 1
    assert [(c["id"], c["status"]) for c in listed(run)] == [(1, "new")]

    answer(run, tmp_path, 1)
    assert listed(run, "--status", "waiting")[0]["id"] == 1
    ours = last_out_id(db, 1)

    follow = receive(
        db,
        settings,
        mail(
            "Re: Vraag over de AV",
            "Dank, en de locatie?",
            in_reply_to=ours,
            references=f"<q1@gld.example> {ours}",
        ),
    )
    assert follow.conversation_id == 1 and follow.reopened and not follow.new_conversation
    other = receive(db, settings, mail("Stikstofbank", "Hoe werkt de stikstofbank?"))
    assert other.conversation_id == 2 and other.new_conversation

    rows = {c["id"]: c["status"] for c in listed(run)}
    assert rows == {1: "open", 2: "new"}
    shown = run("inbox", "show", "1")
    assert shown.exit_code == 0
    # oldest first: the question, our answer, the follow-up
    text = shown.stdout
    assert (
        text.index("wanneer is de volgende") < text.index("4 december") < text.index("de locatie?")
    )
    assert "reply to kees.sanders@gld.example by staff:sanne@ipo.example" in text  # the account


def test_a_follow_up_to_a_closed_conversation_reopens_it(
    settings: Settings, db: Database, run: Runner
) -> None:
    receive(db, settings, mail(message_id="<q1@gld.example>"))
    result = run("inbox", "close", "1")
    assert (result.exit_code, result.stdout) == (0, "Conversation 1: closed\n")
    assert run("inbox", "close", "1").stdout == "Conversation 1: was already closed\n"
    # References only (some clients drop In-Reply-To)
    again = receive(
        db, settings, mail("Re: Vraag over de AV", "Nog één ding.", references="<q1@gld.example>")
    )
    assert again.conversation_id == 1 and again.reopened
    assert [(c["id"], c["status"]) for c in listed(run)] == [(1, "open")]


def test_adding_the_same_inbound_message_twice_creates_one_message(
    settings: Settings, db: Database, run: Runner
) -> None:
    added = receive(db, settings, mail())
    inbound_id = db.execute("select id from inbound").fetchone()[0]
    twice = add_inbound(db, settings, inbound_id)
    assert not twice.created and twice.conversation_id == added.conversation_id
    assert run("inbox", "show", "1").stdout.count("wanneer is de volgende") == 1
    assert len(listed(run)) == 1


# -- themes and bodies --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "body", "theme"),
    [
        (
            "Vraag",
            "Wat betekent de stikstofuitspraak voor de natuur in ons gebied?",
            "landelijk-gebied",
        ),
        (
            "OV-concessie",
            "Hoe staat het met het OV en de woningbouw bij stations?",
            "wonen-bereikbaarheid",
        ),
        (
            "Begroting 2027",
            "Een vraag over de jaarrekening en de begroting.",
            "financien-openbaar-bestuur",
        ),
        ("Nieuwe cao", "Wanneer gaat de cao in?", "werkgeverszaken"),
        (
            "Cyberweerbaarheid",
            "Wat doen provincies digitaal tegen cyberaanvallen?",
            "digitalisering",
        ),
        ("Uitnodiging", "Kunt u mij het programma van de AV sturen?", "algemeen"),
    ],
)
def test_the_theme_is_guessed_from_the_words(
    settings: Settings, db: Database, run: Runner, subject: str, body: str, theme: str
) -> None:
    receive(db, settings, mail(subject, body))
    [row] = listed(run)
    assert (row["theme"], row["theme_guessed"]) == (theme, True)


def test_staff_change_the_theme_and_show_says_why_it_was_guessed(
    settings: Settings, db: Database, run: Runner
) -> None:
    receive(db, settings, mail("Stikstof", "Over stikstof en natuur."))
    assert "guessed: stikstof 3, natuur 1" in run("inbox", "show", "1").stdout
    result = run("inbox", "theme", "1", "klimaat-leefomgeving")
    assert (result.exit_code, result.stdout) == (0, "Conversation 1: theme klimaat-leefomgeving\n")
    assert [c["theme"] for c in listed(run, "--theme", "klimaat-leefomgeving")] == [
        "klimaat-leefomgeving"
    ]
    assert "set by staff" in run("inbox", "show", "1").stdout
    bad = run("inbox", "theme", "1", "sport")
    assert bad.exit_code == 2 and "theme 'sport' is not in [themes]" in bad.stderr


def test_an_html_only_message_with_a_wrong_charset_is_read_as_text(
    settings: Settings, db: Database, run: Runner
) -> None:
    body = "<p>Vraag over de <b>financi\xebn</b></p><script>alert(1)</script>".encode("latin-1")
    receive(db, settings, mail("Vraag", content_type="text/html; charset=utf-8", raw_body=body))
    shown = run("inbox", "show", "1").stdout
    assert "Vraag over de financiën" in shown and "alert" not in shown and "<b>" not in shown


# -- replies ----------------------------------------------------------------------------------


def test_a_reply_goes_from_the_contact_mailbox_with_threading_headers_and_the_question_quoted(
    settings: Settings, db: Database, run: Runner, tmp_path: Path
) -> None:
    receive(
        db,
        settings,
        mail(
            "RE: Vraag over de AV",
            message_id="<q2@gld.example>",
            in_reply_to="<nieuwsbrief-1@ipo.example>",
            references="<nieuwsbrief-1@ipo.example>",
        ),
    )
    out = answer(run, tmp_path, 1, "De AV is op **4 december** in Utrecht.\n\n- agenda volgt\n")
    assert out == (
        "Conversation 1: replied to kees.sanders@gld.example (Re: Vraag over de AV); "
        "status waiting\n"
    )
    message = sent(settings, last_out_id(db, 1))
    assert message["From"] == settings.sender and message["Reply-To"] == settings.reply_to
    assert message["To"] == KEES
    assert message["Subject"] == "Re: Vraag over de AV"
    assert message["In-Reply-To"] == "<q2@gld.example>"
    assert message["References"].split() == ["<nieuwsbrief-1@ipo.example>", "<q2@gld.example>"]
    assert message["Message-ID"].endswith("@ipo.example>")
    assert "Auto-Submitted" not in message
    text = message.get_body(("plain",)).get_content()
    assert "De AV is op 4 december in Utrecht." in text and "- agenda volgt" in text
    assert "Op 30 november 2026 om 10.00 schreef Kees Sanders <kees.sanders@gld.example>:" in text
    assert "> wanneer is de volgende Algemene Vergadering?" in text
    html = message.get_body(("html",)).get_content()
    assert "<strong>4 december</strong>" in html and "<blockquote" in html
    assert [c["status"] for c in listed(run)] == ["waiting"]
    assert "-> " in run("inbox", "show", "1").stdout


def test_a_second_reply_keeps_the_chain_and_never_doubles_re(
    settings: Settings, db: Database, run: Runner, tmp_path: Path
) -> None:
    receive(db, settings, mail("Vraag", message_id="<q1@gld.example>"))
    answer(run, tmp_path, 1)
    first = last_out_id(db, 1)
    receive(
        db,
        settings,
        mail(
            "Re: Vraag",
            "En verder?",
            message_id="<q3@gld.example>",
            in_reply_to=first,
            references=f"<q1@gld.example> {first}",
        ),
    )
    answer(run, tmp_path, 1, "Zie de bijlage.")
    message = sent(settings, last_out_id(db, 1))
    assert message["Subject"] == "Re: Vraag"
    assert message["In-Reply-To"] == "<q3@gld.example>"
    assert message["References"].split() == ["<q1@gld.example>", first, "<q3@gld.example>"]
    assert "> En verder?" in message.get_body(("plain",)).get_content()


def test_header_injection_in_a_received_subject_never_reaches_our_headers(
    settings: Settings, db: Database, run: Runner, tmp_path: Path
) -> None:
    # An encoded-word hiding CR LF (CVE-2024-6923).
    receive(db, settings, mail("=?utf-8?q?Vraag=0D=0ABcc:_evil@attacker.example?="))
    answer(run, tmp_path, 1)
    [path] = outbox(settings)
    head = path.read_bytes().split(b"\r\n\r\n", 1)[0]
    assert not [line for line in head.split(b"\r\n") if line.lower().startswith(b"bcc")]
    message = read_eml(path)
    assert "Bcc" not in message
    assert message["To"].addresses[0].addr_spec == "kees.sanders@gld.example"
    assert "\n" not in message["Subject"] and message["Subject"].startswith("Re: Vraag")


def test_reply_to_an_unknown_conversation_or_with_an_empty_file_changes_nothing(
    settings: Settings, db: Database, run: Runner, tmp_path: Path
) -> None:
    (tmp_path / "leeg.md").write_text("  \n", encoding="utf-8")
    unknown = run("inbox", "reply", "9", "--file", str(tmp_path / "leeg.md"))
    assert unknown.exit_code == 2
    assert unknown.stderr == "Error: no conversation 9; 'newsletter inbox list' shows them\n"
    receive(db, settings, mail())
    empty = run("inbox", "reply", "1", "--file", str(tmp_path / "leeg.md"))
    assert empty.exit_code == 2 and "empty" in empty.stderr
    assert outbox(settings) == [] and listed(run)[0]["status"] == "new"


# -- the acknowledgement -----------------------------------------------------------------------


def test_acknowledgement_is_off_by_default(settings: Settings, db: Database) -> None:
    assert settings.inbox.acknowledge is False
    added = receive(db, settings, mail())
    assert added.acknowledgement == "" and outbox(settings) == []


def test_acknowledge_true_in_newsletter_toml_turns_it_on(settings: Settings) -> None:
    config = settings.project / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    if "[inbox]" in text:
        text = text.replace("[inbox]", "[inbox]\nacknowledge = true", 1)
    else:
        text += "\n[inbox]\nacknowledge = true\n"
    config.write_text(text, encoding="utf-8")
    assert load_settings(settings.project).inbox.acknowledge is True


def test_one_acknowledgement_per_sender_per_seven_days_with_auto_submitted(
    settings: Settings, db: Database
) -> None:
    on = with_ack(settings)
    first = receive(db, on, mail(message_id="<q1@gld.example>"))
    assert first.acknowledgement == "sent"
    [path] = outbox(on)
    ack = read_eml(path)
    assert ack["Auto-Submitted"] == "auto-replied"
    assert ack["To"] == KEES and ack["From"] == settings.sender
    assert ack["In-Reply-To"] == "<q1@gld.example>"
    assert ack["Subject"] == "Ontvangen: Vraag over de AV"
    assert "Dank voor uw bericht" in ack.get_body(("plain",)).get_content()

    second = receive(db, on, mail("Nog een vraag", "Over iets anders."))
    assert second.new_conversation and second.acknowledgement.startswith("acknowledged within")
    assert len(outbox(on)) == 1

    clock.set_now(clock.now() + timedelta(days=8))
    third = receive(db, on, mail("Een week later", "Weer een vraag."))
    assert third.acknowledgement == "sent" and len(outbox(on)) == 2


def test_no_mail_loop_with_an_auto_replying_sender(settings: Settings, db: Database) -> None:
    on = with_ack(settings)
    receive(db, on, mail(message_id="<q1@gld.example>"))
    ack_id = last_out_id(db, 1)
    # Their out-of-office answers our acknowledgement, and a second robot writes anew.
    ooo = receive(
        db,
        on,
        mail(
            "Automatisch antwoord: Ontvangen",
            "Ik ben afwezig.",
            in_reply_to=ack_id,
            extra=("Auto-Submitted: auto-replied",),
        ),
    )
    assert ooo.conversation_id == 1 and ooo.acknowledgement == ""
    robot = receive(
        db,
        on,
        mail(
            "Afwezig",
            "Ik ben afwezig.",
            sender="Robot <robot@nh.example>",
            extra=("Auto-Submitted: auto-replied",),
        ),
    )
    assert robot.new_conversation and robot.acknowledgement == "Auto-Submitted: auto-replied"
    assert len(outbox(on)) == 1


@pytest.mark.parametrize(
    ("sender", "extra", "why"),
    [
        ("Lijst <leden@lists.example>", ("List-Id: <leden.lists.example>",), "List-Id"),
        (
            "Nieuws <nieuws@ut.example>",
            ("List-Unsubscribe: <mailto:u@ut.example>",),
            "List-Unsubscribe",
        ),
        ("Bulk <info@zh.example>", ("Precedence: bulk",), "Precedence: bulk"),
        ("Junk <info@zh.example>", ("Precedence: junk",), "Precedence: junk"),
        ("IPO Statenleden <statenleden@ipo.example>", (), "from our own address"),
        ("Daemon <MAILER-DAEMON@gld.example>", (), "not a person"),
    ],
)
def test_never_an_acknowledgement_to_lists_bulk_or_ourselves(
    settings: Settings, db: Database, sender: str, extra: tuple[str, ...], why: str
) -> None:
    added = receive(db, with_ack(settings), mail(sender=sender, extra=extra))
    assert added.new_conversation and why in added.acknowledgement
    assert outbox(settings) == []


# -- the CLI ------------------------------------------------------------------------------------


def test_list_assign_show_and_unknown_numbers(
    settings: Settings, db: Database, run: Runner
) -> None:
    receive(db, settings, mail("Stikstof", "Stikstof?"), at=clock.now() - timedelta(days=3))
    result = run("inbox", "list")
    assert result.exit_code == 0
    assert result.stdout.split() == [
        "1",
        "new",
        "landelijk-gebied",
        "3d",
        "kees.sanders@gld.example",
        "Stikstof",
    ]
    assert result.stderr == "1 conversations\n"
    assigned = run("inbox", "assign", "1", "--to", "Sanne de Vries")
    assert assigned.stdout == "Conversation 1: assigned to Sanne de Vries; status open\n"
    assert listed(run)[0]["assignee"] == "Sanne de Vries"
    assert "assignee Sanne de Vries" in run("inbox", "show", "1").stdout
    for command in (
        ("show", "7"),
        ("assign", "7", "--to", "X"),
        ("close", "7"),
        ("theme", "7", "algemeen"),
    ):
        missing = run("inbox", *command)
        assert missing.exit_code == 2, command
        assert missing.stderr == "Error: no conversation 7; 'newsletter inbox list' shows them\n"
    assert run("inbox", "list", "--status", "closed").stdout == ""


def test_report_counts_open_questions_by_age_and_theme(
    settings: Settings, db: Database, run: Runner
) -> None:
    now = clock.now()
    receive(db, settings, mail("Stikstof", "stikstof"), at=now - timedelta(days=1))
    receive(db, settings, mail("Begroting", "begroting"), at=now - timedelta(days=5))
    receive(db, settings, mail("Cao", "cao"), at=now - timedelta(days=20))
    receive(db, settings, mail("Stikstof 2", "stikstof"), at=now - timedelta(days=10))
    run("inbox", "close", "4")
    data = json.loads(run("inbox", "report", "--json").stdout)
    assert data["open"] == 3
    assert data["by_age"] == {"0-2 dagen": 1, "3-7 dagen": 1, "ouder": 1}
    assert data["by_theme"]["werkgeverszaken"] == {"0-2 dagen": 0, "3-7 dagen": 0, "ouder": 1}
    assert "landelijk-gebied" in data["by_theme"] and data["statuses"]["closed"] == 1
    text = run("inbox", "report").stdout
    assert text.startswith("Open questions: 3 ")
    assert "by age: 0-2 dagen 1, 3-7 dagen 1, ouder 1" in text


# -- forget -------------------------------------------------------------------------------------


def test_forget_removes_the_persons_conversations_and_our_replies(
    settings: Settings, db: Database, run: Runner, tmp_path: Path
) -> None:
    receive(db, settings, mail())
    answer(run, tmp_path, 1)
    receive(db, settings, mail("Andere vraag", sender="Anna Jansen <anna.jansen@ut.example>"))
    assert len(outbox(settings)) == 1
    result = run("subscribers", "forget", "kees.sanders@gld.example", "--yes")
    assert result.exit_code == 0, result.output
    assert "conversations 1" in result.stdout
    assert [c["correspondent"] for c in listed(run)] == ["anna.jansen@ut.example"]
    assert outbox(settings) == []
    left = db.execute(
        "select count(*) from conversation_messages where from_address = ? or to_address = ?",
        ["kees.sanders@gld.example", "kees.sanders@gld.example"],
    ).fetchone()[0]
    assert left == 0
    assert run("inbox", "show", "1").exit_code == 2


def test_a_reply_to_a_non_ascii_subject_and_name_reads_back_the_same(
    settings: Settings, db: Database, run: Runner, tmp_path: Path
) -> None:
    receive(
        db,
        settings,
        mail(
            "=?utf-8?q?Vraag_over_de_financi=C3=ABn?=",
            sender="=?utf-8?q?Jo=C3=ABlle_Fr=C3=AFse?= <joelle.frise@fr.example>",
        ),
    )
    answer(run, tmp_path, 1, "Dag Joëlle, zie de begroting.")
    message = sent(settings, last_out_id(db, 1))
    assert message["Subject"] == "Re: Vraag over de financiën"
    assert message["To"] == "Joëlle Frïse <joelle.frise@fr.example>"
    assert "Dag Joëlle" in message.get_body(("plain",)).get_content()
    assert listed(run)[0]["theme"] == "financien-openbaar-bestuur"


def test_a_question_fetched_from_the_mailbox_becomes_a_conversation(settings, db, instance, run):
    new = instance / "mailbox" / "new"
    new.mkdir(parents=True, exist_ok=True)
    (new / "1.eml").write_bytes(
        b"From: Anna de Vries <anna.devries@gld.example>\r\nTo: statenleden@ipo.example\r\n"
        b"Subject: Vraag over de stikstofaanpak\r\nMessage-ID: <vraag-1@gld.example>\r\n"
        b"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n\r\n"
        b"Wanneer bespreekt de BAC Landelijk Gebied de stikstofaanpak weer?\r\n"
    )
    assert run("inbox", "fetch").exit_code == 0
    listing = run("inbox", "list")
    assert "Vraag over de stikstofaanpak" in listing.output
    assert "landelijk-gebied" in listing.output


def test_a_question_whose_conversation_failed_once_is_threaded_on_the_next_fetch(
    settings, db, instance, run, monkeypatch
):
    from newsletter.errors import NewsletterError
    from newsletter.inbound import conversations

    new = instance / "mailbox" / "new"
    new.mkdir(parents=True, exist_ok=True)
    (new / "1.eml").write_bytes(
        b"From: Anna de Vries <anna.devries@gld.example>\r\nTo: statenleden@ipo.example\r\n"
        b"Subject: Vraag over de begroting\r\nMessage-ID: <vraag-2@gld.example>\r\n"
        b"Date: Tue, 01 Dec 2026 10:00:00 +0100\r\n\r\nWanneer komt de jaarrekening?\r\n"
    )
    real = conversations.add_inbound

    def broken(*args, **kwargs):
        raise NewsletterError("database is busy")

    monkeypatch.setattr(conversations, "add_inbound", broken)
    first = run("inbox", "fetch")
    assert first.exit_code == 1 and "database is busy" in first.output
    assert "Vraag over de begroting" not in run("inbox", "list").output
    monkeypatch.setattr(conversations, "add_inbound", real)
    assert run("inbox", "fetch").exit_code == 0
    assert "Vraag over de begroting" in run("inbox", "list").output
