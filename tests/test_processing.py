"""Processing the contact mailbox: each new message classified once and acted on in the store."""

from __future__ import annotations

import email
import json
from datetime import date
from email import policy
from pathlib import Path

import pytest
from sqlite_utils import Database

from newsletter import clock, store, tokens
from newsletter.config import Settings, load_settings
from newsletter.demo import run_demo
from newsletter.inbound.processing import process_inbox, return_date
from newsletter.mail.messages import message_id
from newsletter.outbound import ledger
from newsletter.people.subscribers import import_subscribers
from newsletter.store import audit

from .conftest import Runner, write_people

CONTACT = "statenleden@ipo.example"


# -- helpers --------------------------------------------------------------------------------


@pytest.fixture
def people(settings: Settings, db: Database, tmp_path: Path) -> list[str]:
    """Four active Gelderland subscribers, lid0000@gld.example ... lid0003@gld.example."""
    emails = write_people(tmp_path / "lijst.csv", 4)
    assert not import_subscribers(db, settings, tmp_path / "lijst.csv").rejected
    return emails


def mailing(db: Database, settings: Settings, month: str, emails: list[str]) -> dict[str, int]:
    """A mailing that went out to emails (as `issue send` leaves it); delivery id per address."""
    mailing_id = f"issue-{month}"
    ledger.create_mailing(db, mailing_id, "issue", f"Nieuwsbrief {month}", "hash", month)
    rows = []
    for address in emails:
        subscriber = db.execute("select id from subscribers where email = ?", [address]).fetchone()
        rows.append(
            {
                "mailing_id": mailing_id,
                "subscriber_id": subscriber[0],
                "email": address,
                "variant": "GLD",
                "status": "sent",
                "message_id": message_id(settings, mailing_id, subscriber[0]),
                "attempts": 1,
                "queued_at": clock.utc_iso(),
                "sent_at": clock.utc_iso(),
            }
        )
    ledger.queue(db, rows)
    ledger.set_mailing_status(db, mailing_id, "sent")
    return {
        r["email"]: r["id"]
        for r in db.query("select id, email from deliveries where mailing_id = ?", [mailing_id])
    }


def our_message_id(db: Database, delivery_id: int) -> str:
    return str(
        db.execute("select message_id from deliveries where id = ?", [delivery_id]).fetchone()[0]
    )


def replying_to(db: Database, delivery_id: int) -> str:
    """The header that makes a request a reply to our delivery (what proves it is theirs)."""
    return f"In-Reply-To: {our_message_id(db, delivery_id)}\n"


def afmelden(db: Database, address: str, delivery_id: int, number: int = 1) -> bytes:
    """ "Graag afmelden" from the subscriber, in reply to our delivery to them."""
    return mail(
        f"Lid <{address}>",
        "Afmelden",
        "Graag afmelden.",
        number=number,
        extra=replying_to(db, delivery_id),
    )


def dsn(
    recipient: str,
    status: str,
    diagnostic: str,
    original_id: str = "",
    to: str = CONTACT,
    action: str = "failed",
    number: int = 1,
) -> bytes:
    returned = f"Message-ID: {original_id}\n" if original_id else ""
    text = f"""\
From: Mail Delivery System <MAILER-DAEMON@mx.gld.example>
To: {to}
Subject: Undelivered Mail Returned to Sender
Date: Tue, 01 Dec 2026 08:40:00 +0100
Message-ID: <dsn-{number}@mx.gld.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

This is the mail system at host mx.gld.example.

<{recipient}>: host mx.gld.example said: {diagnostic}

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.gld.example

Final-Recipient: rfc822; {recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--B
Content-Type: text/rfc822-headers

From: IPO Statenleden <statenleden@ipo.example>
To: {recipient}
Subject: Nieuwsbrief
{returned}
--B--
"""
    return text.replace("\n", "\r\n").encode()


def arf(recipient: str, original_id: str) -> bytes:
    text = f"""\
From: Feedback Loop <fbl@isp.example>
To: {CONTACT}
Subject: Complaint about a message from ipo.example
Date: Tue, 01 Dec 2026 09:00:00 +0100
Message-ID: <arf-1@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

An email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
Version: 1
Original-Rcpt-To: <{recipient}>

--F
Content-Type: text/rfc822-headers

From: IPO Statenleden <statenleden@ipo.example>
To: {recipient}
Message-ID: {original_id}

--F--
"""
    return text.replace("\n", "\r\n").encode()


def mail(sender: str, subject: str, body: str, number: int = 1, extra: str = "") -> bytes:
    text = (
        f"From: {sender}\nTo: {CONTACT}\nSubject: {subject}\n"
        f"Date: Tue, 01 Dec 2026 09:30:00 +0100\nMessage-ID: <mail-{number}@gld.example>\n"
        f"{extra}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}\n"
    )
    return text.replace("\n", "\r\n").encode()


def deliver(instance: Path, *messages: bytes) -> None:
    folder = instance / "mailbox"
    for part in ("new", "cur", "tmp"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    existing = len([p for p in folder.rglob("*") if p.is_file()])  # fetched ones are moved
    for n, data in enumerate(messages, existing + 1):
        (folder / "new" / f"17645{n:05d}.M{n}.test").write_bytes(data)


def fetch(run: Runner) -> str:
    result = run("inbox", "fetch")
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[-1]


def status(db: Database, address: str) -> str:
    return str(
        db.execute("select status from subscribers where email = ?", [address]).fetchone()[0]
    )


def inbound(db: Database) -> list[dict]:
    return list(db.query("select * from inbound order by id"))


def outbox(instance: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted((instance / "outbox").glob("*.eml"))
    ]


def with_config(instance: Path, old: str, new: str) -> Settings:
    config = instance / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new, 1), encoding="utf-8")
    return load_settings(instance)


# -- bounces --------------------------------------------------------------------------------


def test_a_hard_bounce_marks_the_address_bounced_and_shows_in_the_report(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    ids = mailing(db, settings, "2026-12", people)
    deliver(
        instance,
        dsn(people[0], "5.1.1", "550 5.1.1 User unknown", our_message_id(db, ids[people[0]])),
    )
    assert fetch(run) == "Processed: 1 bounce (1 hard)"
    assert status(db, people[0]) == "bounced"
    assert [status(db, p) for p in people[1:]] == ["active"] * 3
    row = inbound(db)[0]
    assert (row["kind"], row["status"]) == ("bounce", "processed")
    assert json.loads(row["verdict"])["findings"][0]["status"] == "5.1.1"
    assert "hard bounce of lid0000@gld.example (by message-id), marked bounced" in row["reason"]
    report = run("issue", "report", "2026-12")
    assert "  bounces: 1 hard; complaints: 0" in report.output
    assert "warning: hard bounces 25.00% of 4 messages (above 2%)" in report.output


def test_with_hard_bounces_2_the_second_hard_bounce_decides(
    run: Runner, instance: Path, db: Database, people: list[str]
) -> None:
    settings = with_config(
        instance,
        'transport = "outbox:outbox"',
        'transport = "outbox:outbox"\n\n[inbox]\nhard_bounces = 2',
    )
    first = mailing(db, settings, "2026-11", people[:1])
    second = mailing(db, settings, "2026-12", people[:1])
    deliver(
        instance,
        dsn(people[0], "5.1.1", "550 5.1.1 User unknown", our_message_id(db, first[people[0]])),
    )
    fetch(run)
    assert status(db, people[0]) == "active"
    deliver(
        instance,
        dsn(
            people[0],
            "5.1.1",
            "550 5.1.1 User unknown",
            our_message_id(db, second[people[0]]),
            number=2,
        ),
    )
    fetch(run)
    assert status(db, people[0]) == "bounced"


def test_soft_bounces_mark_bounced_only_after_three_mailings_in_a_row(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    who = people[1]
    for n, month in enumerate(("2026-10", "2026-11", "2026-12"), 1):
        ids = mailing(db, settings, month, [who])
        deliver(
            instance,
            dsn(who, "5.2.2", "552 5.2.2 Mailbox full", our_message_id(db, ids[who]), number=n),
        )
        assert fetch(run) == "Processed: 1 bounce (0 hard)"
        assert status(db, who) == ("bounced" if n == 3 else "active"), month


def test_a_mailing_without_a_soft_bounce_breaks_the_row(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    who = people[1]
    for n, month in enumerate(("2026-09", "2026-10", "2026-11", "2026-12"), 1):
        ids = mailing(db, settings, month, [who])
        if month != "2026-11":  # November arrived
            deliver(
                instance,
                dsn(who, "4.2.2", "452 4.2.2 Mailbox full", our_message_id(db, ids[who]), number=n),
            )
            fetch(run)
    assert status(db, who) == "active"


def test_a_5_7_1_policy_rejection_never_unsubscribes_anyone(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    who = people[2]
    for n, month in enumerate(("2026-10", "2026-11", "2026-12"), 1):
        ids = mailing(db, settings, month, [who])
        deliver(
            instance,
            dsn(
                who,
                "5.7.1",
                "550 5.7.1 Message rejected due to local policy (SPF fail)",
                our_message_id(db, ids[who]),
                number=n,
            ),
        )
        fetch(run)
    assert status(db, who) == "active"
    kinds = [r[0] for r in db.execute("select kind from bounces where subscriber_id is not null")]
    assert kinds == ["policy"] * 3


def test_a_success_report_is_not_a_bounce(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    ids = mailing(db, settings, "2026-12", people)
    deliver(
        instance,
        dsn(
            people[0],
            "2.0.0",
            "250 2.0.0 OK",
            our_message_id(db, ids[people[0]]),
            action="delivered",
        ),
    )
    assert fetch(run) == "Processed: 1 delivery report"
    assert status(db, people[0]) == "active"
    assert db.table("bounces").count == 0


def test_a_bounce_to_our_signed_verp_address_is_tied_by_it(
    run: Runner, instance: Path, db: Database, people: list[str]
) -> None:
    settings = with_config(
        instance,
        'transport = "outbox:outbox"',
        'transport = "outbox:outbox"\nbounce_address = "bounces@ipo.example"',
    )
    ids = mailing(db, settings, "2026-12", people)
    verp = tokens.bounce_address(settings, ids[people[3]])
    # A forwarding server reports the address it forwarded to, and drops our headers.
    deliver(instance, dsn("l.nummer@thuis.example", "5.1.1", "550 5.1.1 No such user", to=verp))
    assert fetch(run) == "Processed: 1 bounce (1 hard)"
    assert status(db, people[3]) == "bounced"
    assert db.execute("select tied_by from bounces").fetchone()[0] == "verp"


def test_a_forged_verp_address_changes_nothing(
    run: Runner, instance: Path, db: Database, people: list[str]
) -> None:
    settings = with_config(
        instance,
        'transport = "outbox:outbox"',
        'transport = "outbox:outbox"\nbounce_address = "bounces@ipo.example"',
    )
    ids = mailing(db, settings, "2026-12", people)
    target = ids[people[0]]
    forged = f"bounces+{target}-0123456789@ipo.example"
    # Even with the right Message-ID and recipient: a forged token refuses the whole report.
    deliver(
        instance,
        dsn(people[0], "5.1.1", "550 5.1.1 User unknown", our_message_id(db, target), to=forged),
    )
    assert fetch(run) == "Processed: 1 bounce (0 hard)"
    assert status(db, people[0]) == "active"
    assert db.table("bounces").count == 0
    row = inbound(db)[0]
    assert row["status"] == "processed"
    assert row["reason"] == f"bounce refused: forged bounce address {forged}"


def test_a_bounce_that_names_no_delivery_of_ours_changes_nothing(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    mailing(db, settings, "2026-12", people[1:])  # lid0000 got nothing from us
    deliver(
        instance,
        dsn(people[0], "5.1.1", "550 5.1.1 User unknown", "<elders-1@andere.example>"),
    )
    fetch(run)
    assert status(db, people[0]) == "active"
    assert db.table("bounces").count == 0
    assert inbound(db)[0]["reason"] == "bounce names no delivery of ours: nothing changed"


def test_a_bounce_tied_only_by_its_recipient_is_recorded_but_ends_nobody(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    # Without our envelope address or our (keyed) Message-ID anyone could write this report.
    mailing(db, settings, "2026-12", people)
    deliver(instance, dsn(people[2], "5.1.1", "550 5.1.1 User unknown"))
    fetch(run)
    assert status(db, people[2]) == "active"
    assert db.execute("select tied_by, kind from bounces").fetchone() == ("final-recipient", "hard")


# -- complaints, auto-replies, unsubscribe requests -----------------------------------------


def test_a_complaint_unsubscribes_at_once_and_counts_for_the_mailing(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    ids = mailing(db, settings, "2026-12", people)
    deliver(instance, arf(people[1], our_message_id(db, ids[people[1]])))
    assert fetch(run) == "Processed: 1 complaint"
    assert status(db, people[1]) == "unsubscribed"
    shown = json.loads(run("subscribers", "show", people[1], "--json").output)
    assert any(
        e["action"] == "unsubscribe" and e["actor"] == "mailbox" and "complaint" in e["detail"]
        for e in shown["events"]
    ), shown["events"]
    report = json.loads(run("issue", "report", "2026-12", "--json").output)
    assert report["complaints"] == 1
    assert report["warnings"][0].startswith("complaints 25.00% of 4 messages (above 0.1%)")


def test_an_auto_reply_is_recorded_with_its_return_date_and_never_answered(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    mailing(db, settings, "2026-12", people)
    deliver(
        instance,
        mail(
            f"Lid Nummer0002 <{people[2]}>",
            "Automatisch antwoord: Nieuwsbrief",
            "Ik ben afwezig tot en met 15 december. Voor dringende zaken: de griffie.",
            extra="Auto-Submitted: auto-replied\n",
        ),
    )
    assert fetch(run) == "Processed: 1 auto-reply"
    row = inbound(db)[0]
    assert (row["kind"], row["return_date"]) == ("autoreply", "2026-12-16")
    assert status(db, people[2]) == "active"
    assert outbox(instance) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Ik ben afwezig tot en met 15 december.", date(2026, 12, 16)),
        (
            "Vanaf maandag 4 januari 2027 ben ik weer aanwezig; terug op 4 januari 2027",
            date(2027, 1, 4),
        ),
        ("I am out of the office and back on January 4.", date(2027, 1, 4)),
        ("Ik ben terug op 4 januari 2027.", date(2027, 1, 4)),
        ("I'll be back on Monday, 7 December.", date(2026, 12, 7)),
        ("Ik ben met vakantie.", None),
    ],
)
def test_return_dates_are_read_from_dutch_and_english_out_of_office_text(
    text: str, expected: date | None
) -> None:
    assert return_date(text, date(2026, 12, 1)) == expected


def test_an_unsubscribe_request_from_the_subscribers_own_address_unsubscribes_and_confirms(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    ids = mailing(db, settings, "2026-12", people)
    deliver(
        instance,
        mail(
            f"Lid Nummer0003 <{people[3]}>",
            "RE: Nieuwsbrief",
            "Graag afmelden.\n\nGroet, Lid",
            extra=replying_to(db, ids[people[3]]),
        ),
    )
    assert fetch(run) == "Processed: 1 unsubscribe"
    assert status(db, people[3]) == "unsubscribed"
    sent = outbox(instance)
    assert len(sent) == 1
    confirmation = sent[0]
    assert confirmation["To"].addresses[0].addr_spec == people[3]
    assert confirmation["In-Reply-To"] == "<mail-1@gld.example>"
    assert confirmation["Auto-Submitted"] == "auto-replied"
    assert "Dat is gedaan: u ontvangt de nieuwsbrief niet meer." in confirmation.get_content()


def test_an_unsubscribe_request_from_another_address_changes_nothing_and_stays_for_staff(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    mailing(db, settings, "2026-12", people)
    deliver(
        instance,
        mail(
            "Griffie <griffie@gld.example>",
            "Afmelden nieuwsbrief",
            "Graag afmelden.",
        ),
    )
    assert fetch(run) == "Processed: 1 question"
    assert [status(db, p) for p in people] == ["active"] * 4
    row = inbound(db)[0]
    assert row["kind"] == "message"
    assert "griffie@gld.example is no subscriber" in row["reason"]
    assert outbox(instance) == []


# -- exactly once ---------------------------------------------------------------------------


def test_each_message_is_processed_once_however_often_processing_runs(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    ids = mailing(db, settings, "2026-12", people)
    deliver(
        instance,
        arf(people[0], our_message_id(db, ids[people[0]])),
        afmelden(db, people[1], ids[people[1]], number=2),
        mail("Kees <kees@gld.example>", "Vraag over de AV", "Wanneer is de AV?", number=3),
    )
    assert fetch(run) == "Processed: 1 complaint, 1 unsubscribe, 1 question"
    first = process_inbox(db, settings)
    assert first.processed == 0
    assert fetch(run) == "Processed: nothing new"
    assert db.table("bounces").count == 1
    assert len(outbox(instance)) == 1  # one confirmation, not one per run
    assert [r["status"] for r in inbound(db)] == ["processed"] * 3


def test_the_report_names_the_messages_for_staff(
    instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    ids = mailing(db, settings, "2026-12", people)
    deliver(
        instance,
        mail("Kees <kees@gld.example>", "Vraag over de AV", "Wanneer is de AV?"),
        afmelden(db, people[1], ids[people[1]], number=2),
    )
    from newsletter.inbound.mailbox import fetch_inbox

    fetch_inbox(db, settings, clock.now())
    report = process_inbox(db, settings)
    assert report.message_ids == [inbound(db)[0]["id"]]
    assert report.unsubscribed == [people[1]]


# -- the demo -------------------------------------------------------------------------------


def test_the_demo_mailbox_ends_up_correctly_sorted(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    summary = run_demo(folder)
    assert not summary.problems, summary.problems
    # After the send, one tick (what cron does) fetches and sorts the mailbox.
    assert (
        "Tick: Inbox: 7 new, 0 quarantined, 0 stored before; maildir:mailbox ok; Processed: "
        "1 bounce (1 hard), 1 complaint, 1 auto-reply, 1 unsubscribe, 3 questions"
    ) in summary.lines
    db = store.connect(folder / "newsletter.db")
    kinds = sorted((r["from_address"], r["kind"], r["return_date"]) for r in inbound(db))
    assert kinds == [
        ("fbl@postmaster.zh.example", "complaint", None),
        # "Graag afmelden", and later that day: it was a mistake (a question for staff)
        ("gerrit.boersma@zh.example", "message", None),
        ("gerrit.boersma@zh.example", "unsubscribe", None),
        ("griffie@fr.example", "message", None),
        ("hans.dejong@nh.example", "message", None),
        ("julia.wijnands@ut.example", "autoreply", "2026-12-16"),
        ("postmaster@zh.example", "bounce", None),
    ]
    assert status(db, "petra.vandermeer@zh.example") == "bounced"
    assert status(db, "gerrit.boersma@zh.example") == "unsubscribed"
    assert status(db, "erik.zwart@zh.example") == "unsubscribed"
    assert status(db, "julia.wijnands@ut.example") == "active"
    assert status(db, "hans.dejong@nh.example") == "active"
    confirmations = [
        m for m in outbox(folder) if m["Subject"] == "Afgemeld voor de nieuwsbrief Statenleden"
    ]
    assert [m["To"].addresses[0].addr_spec for m in confirmations] == ["gerrit.boersma@zh.example"]
    assert not list((folder / "mailbox" / "new").iterdir())


def test_a_registered_hook_gets_each_message_for_staff_once(
    instance: Path,
    settings: Settings,
    db: Database,
    people: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from newsletter.inbound import processing
    from newsletter.inbound.mailbox import fetch_inbox

    seen: list[int] = []
    monkeypatch.setattr(processing, "MESSAGE_HOOKS", [])
    processing.on_message(lambda db, settings, inbound_id: seen.append(inbound_id))
    ids = mailing(db, settings, "2026-12", people)
    deliver(
        instance,
        mail("Kees <kees@gld.example>", "Vraag over de AV", "Wanneer is de AV?"),
        afmelden(db, people[1], ids[people[1]], number=2),
    )
    fetch_inbox(db, settings, clock.now())
    process_inbox(db, settings)
    process_inbox(db, settings)
    assert seen == [inbound(db)[0]["id"]]


def test_a_message_processing_fails_on_is_quarantined_and_the_rest_go_on(
    run: Runner,
    instance: Path,
    settings: Settings,
    db: Database,
    people: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from newsletter.inbound import processing

    def broken(*args: object) -> dict:
        raise RuntimeError("kapot")

    monkeypatch.setattr(processing, "_autoreply", broken)
    deliver(
        instance,
        mail(
            f"Lid <{people[2]}>",
            "Afwezig",
            "Ik ben afwezig.",
            extra="Auto-Submitted: auto-replied\n",
        ),
        mail("Kees <kees@gld.example>", "Vraag over de AV", "Wanneer is de AV?", number=2),
    )
    result = run("inbox", "fetch")
    assert result.exit_code == 1
    assert "processing failed: RuntimeError: kapot" in result.output
    assert result.output.splitlines()[-1] == "Processed: 1 question"
    assert [(r["status"], r["kind"]) for r in inbound(db)] == [
        ("quarantined", None),
        ("processed", "message"),
    ]


def test_a_complaint_that_does_not_quote_our_message_unsubscribes_nobody(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    mailing(db, settings, "2026-12", people)
    deliver(instance, arf(people[1], "<verzonnen@elders.example>"))
    fetch(run)
    assert status(db, people[1]) == "active"


def test_an_encoded_line_break_in_a_message_id_never_reaches_our_confirmation(
    run: Runner, instance: Path, settings: Settings, db: Database, people: list[str]
) -> None:
    import base64

    hidden = base64.b64encode(b"=?utf-8?q?=0D=0AX-Injected:_yes?=").decode()
    ids = mailing(db, settings, "2026-12", people)
    raw = mail(
        f"Lid Nummer0003 <{people[3]}>",
        "afmelden",
        "Graag afmelden.",
        extra=replying_to(db, ids[people[3]]),
    )
    raw = raw.replace(
        b"Message-ID: <mail-1@gld.example>",
        f"Message-ID: <=?utf-8?b?{hidden}?=@x.example>".encode(),
    )
    deliver(instance, raw)
    fetch(run)
    assert status(db, people[3]) == "unsubscribed"
    (confirmation,) = outbox(instance)
    assert "X-Injected" not in confirmation.as_string()
    assert confirmation["In-Reply-To"] is None


def test_a_wrong_bounce_is_undone_from_the_cli_and_no_longer_counts(
    run: Runner, instance: Path, settings: Settings, staff: Database, people: list[str]
) -> None:
    db = staff
    ids = mailing(db, settings, "2026-12", people)
    deliver(
        instance,
        dsn(people[0], "5.1.1", "550 5.1.1 User unknown", our_message_id(db, ids[people[0]])),
    )
    fetch(run)
    assert status(db, people[0]) == "bounced"
    refused = run("subscribers", "undo-bounce", people[1], "--reason", "werkt")
    assert refused.exit_code == 2
    assert "is active, not bounced: there is no bounce action to undo" in refused.output
    done = run("subscribers", "undo-bounce", people[0], "--reason", "Griffie: adres werkt weer")
    assert done.exit_code == 0, done.output
    assert done.output == (
        f"{people[0]}: active again; 1 bounce no longer count (by staff:sanne@ipo.example)\n"
    )
    assert status(db, people[0]) == "active"
    [event] = [e for e in audit.events(db) if e.action == "undo-bounce"]
    assert (event.actor, event.details["reason"]) == (
        "staff:sanne@ipo.example",
        "Griffie: adres werkt weer",
    )
    # the bounce stays on record, marked undone
    shown = json.loads(run("subscribers", "show", people[0], "--json").output)
    assert shown["bounces"][0]["undone_by"] == "staff:sanne@ipo.example"
