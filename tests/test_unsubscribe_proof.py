"""Mail that only claims a sender changes nothing; a question that mentions "afmelden" is a
question (issue #13, items 1 and 2).

Through the real path: a Maildir contact mailbox, `newsletter inbox fetch`, and an aiosmtpd
server on 127.0.0.1 as the transport, so a confirmation that goes out is seen on the wire.
"""

from __future__ import annotations

import email
import json
from dataclasses import dataclass
from email import policy
from pathlib import Path

import pytest
from sqlite_utils import Database

from newsletter.config import Settings, load_settings
from newsletter.people.subscribers import import_subscribers

from . import test_smtp
from .conftest import Runner, write_people
from .test_processing import arf, deliver, fetch, mail, mailing, our_message_id, status
from .test_smtp import Sink

smtp = test_smtp.smtp  # aiosmtpd on 127.0.0.1: (sink, transport URL)
TRUSTED = "mx.ipo.example"
CONFIRMATION_SUBJECT = "Afgemeld voor de nieuwsbrief Statenleden"
UNCONFIRMED = "afmelding niet bevestigd"
# What our receiving server writes on top of a message it got from someone else's server.
OUR_HOP = (
    "Received: from mail.elders.example (mail.elders.example [192.0.2.7])\n"
    "\tby mx.ipo.example (Postfix) with ESMTPS id 4Zk2; Tue, 01 Dec 2026 09:30:02 +0100\n"
)


@pytest.fixture
def trusting(instance: Path, smtp: tuple[Sink, str]) -> Settings:
    """The instance sends through the SMTP server and trusts mx.ipo.example's verdicts."""
    config = instance / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace('transport = "outbox:outbox"', f'transport = "{smtp[1]}"', 1)
    assert smtp[1] in text
    config.write_text(text + f'\n[inbox]\ntrusted_authserv_id = "{TRUSTED}"\n', encoding="utf-8")
    return load_settings(instance)


@pytest.fixture
def people(trusting: Settings, tmp_path: Path) -> list[str]:
    """Four active subscribers, lid0000@gld.example ... lid0003@gld.example."""
    from newsletter import store

    emails = write_people(tmp_path / "lijst.csv", 4)
    db = store.open_store(trusting)
    assert not import_subscribers(db, trusting, tmp_path / "lijst.csv").rejected
    return emails


@pytest.fixture
def sent(trusting: Settings, people: list[str]) -> dict[str, int]:
    """The December issue went out to the four of them: their delivery ids."""
    from newsletter import store

    return mailing(store.open_store(trusting), trusting, "2026-12", people)


@dataclass(frozen=True)
class House:
    """The instance with its mailbox, store, CLI, the SMTP sink and the four subscribers."""

    run: Runner
    instance: Path
    db: Database
    sink: Sink
    people: list[str]
    sent: dict[str, int]  # delivery id of the December issue per address

    def ours(self, address: str, header: str = "In-Reply-To") -> str:
        """The header that quotes our real Message-ID of the issue sent to address."""
        return f"{header}: {our_message_id(self.db, self.sent[address])}\n"


@pytest.fixture
def house(run: Runner, instance: Path, db: Database, smtp: tuple[Sink, str], people, sent) -> House:
    return House(run, instance, db, smtp[0], people, sent)


def authentication(value: str) -> str:
    return f"Authentication-Results: {value}\n"


def forged(sender: str, *, top: str = "", below: str = "", extra: str = "") -> bytes:
    """ "Graag afmelden" claiming to be from sender, as our server received it: on top what our
    server wrote (`top`, its Received line), then what arrived: `below` first, then the
    sender's own headers (with `extra`)."""
    raw = mail(f"Lid <{sender}>", "Graag afmelden", "Graag afmelden.", extra=extra)
    head = "Return-Path: <bounce@elders.example>\n" + top + OUR_HOP + below
    return head.replace("\n", "\r\n").encode() + raw


def inbox_rows(db: Database) -> list[dict]:
    return list(db.query("select * from inbound order by id"))


def on_the_wire(sink: Sink) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(data, policy=policy.default)  # type: ignore[misc]
        for _, _, data in sink.received
    ]


# -- item 1: only a proven unsubscribe counts ---------------------------------------------------


def test_the_forged_afmelden_of_the_issue_changes_nothing_and_sends_nothing(house: House) -> None:
    subscriber = house.people[1]
    deliver(
        house.instance,
        forged(
            subscriber,
            top=authentication(
                f"{TRUSTED}; spf=pass smtp.mailfrom=elders.example; dkim=none;\n"
                "\tdmarc=fail (p=none dis=none) header.from=gld.example"
            ),
        ),
    )
    assert fetch(house.run) == "Processed: 1 question"
    assert status(house.db, subscriber) == "active"
    assert house.sink.received == []
    (row,) = inbox_rows(house.db)
    assert row["kind"] == "message"
    assert row["reason"].startswith(f"{UNCONFIRMED}: asks to unsubscribe {subscriber}")
    listed = house.run("inbox", "list").output
    assert subscriber in listed and f"[{UNCONFIRMED}]" in listed
    assert f"note: {UNCONFIRMED}" in house.run("inbox", "show", "1").output
    (conversation,) = json.loads(house.run("inbox", "list", "--json").stdout)
    assert conversation["note"] == UNCONFIRMED


@pytest.mark.parametrize(
    ("top", "below", "extra"),
    [
        pytest.param(
            authentication(f"{TRUSTED}; spf=none smtp.mailfrom=elders.example"),
            authentication(f"{TRUSTED}; dmarc=pass header.from=gld.example"),
            "",
            id="a pass with our id below our server's own header",
        ),
        pytest.param(
            "",
            "",
            authentication(f"{TRUSTED}; dmarc=pass header.from=gld.example"),
            id="a pass with our id among the sender's headers",
        ),
        pytest.param(
            authentication("mx.elders.example; dmarc=pass header.from=gld.example"),
            "",
            "",
            id="a pass from another authserv-id",
        ),
        pytest.param(
            authentication(f"{TRUSTED}; dmarc=pass header.from=elders.example")
            + authentication(f"{TRUSTED}; spf=pass smtp.mailfrom=gld.example.elders.example"),
            "",
            "",
            id="passes for another domain",
        ),
        pytest.param(
            authentication(f"{TRUSTED}; dmarc=fail header.from=gld.example")
            + authentication(f"{TRUSTED}; dkim=pass header.d=gld.example"),
            "",
            "",
            id="our server's dmarc=fail beside a pass",
        ),
        pytest.param(
            "",
            "",
            "In-Reply-To: <issue-2026-12.2.0123456789abcdef@ipo.example>\n",
            id="a reply to a made-up Message-ID in our form",
        ),
    ],
)
def test_a_claim_that_proves_nothing_changes_nothing(
    house: House, top: str, below: str, extra: str
) -> None:
    deliver(house.instance, forged(house.people[2], top=top, below=below, extra=extra))
    assert fetch(house.run) == "Processed: 1 question"
    assert status(house.db, house.people[2]) == "active"
    assert house.sink.received == []
    assert inbox_rows(house.db)[0]["reason"].startswith(UNCONFIRMED)


def test_a_reply_to_our_message_to_someone_else_proves_nothing(house: House) -> None:
    # lid0000's copy of the issue, forwarded to lid0003, who answers "afmelden".
    theirs = house.ours(house.people[0])
    deliver(house.instance, mail(f"Lid <{house.people[3]}>", "Afmelden", "Afmelden", extra=theirs))
    assert fetch(house.run) == "Processed: 1 question"
    assert [status(house.db, p) for p in house.people] == ["active"] * 4
    assert house.sink.received == []


@pytest.mark.parametrize(
    "proof",
    [
        pytest.param("reply", id="a reply to our real Message-ID"),
        pytest.param(
            authentication(
                f"{TRUSTED};\n\tdkim=pass (2048-bit key) header.d=gld.example header.s=sel;\n"
                "\tspf=pass smtp.mailfrom=lid@gld.example;\n"
                "\tdmarc=pass (p=reject dis=none) header.from=gld.example"
            ),
            id="DMARC pass from the trusted server",
        ),
        pytest.param(
            authentication(f"{TRUSTED}; dkim=pass header.d=mail.gld.example header.s=s1"),
            id="aligned DKIM pass from the trusted server",
        ),
    ],
)
def test_a_proven_unsubscribe_by_mail_unsubscribes_and_confirms_on_the_wire(
    house: House, proof: str
) -> None:
    subscriber = house.people[1]
    if proof == "reply":
        raw = forged(subscriber, extra=house.ours(subscriber, "References"))
    else:
        raw = forged(subscriber, top=proof)
    deliver(house.instance, raw)
    assert fetch(house.run) == "Processed: 1 unsubscribe"
    assert status(house.db, subscriber) == "unsubscribed"
    (confirmation,) = on_the_wire(house.sink)
    assert confirmation["To"].addresses[0].addr_spec == subscriber
    assert confirmation["Subject"] == CONFIRMATION_SUBJECT
    assert json.loads(house.run("inbox", "list", "--json").stdout) == []


def test_an_arf_opt_out_tied_to_no_delivery_of_ours_changes_nothing(house: House) -> None:
    subscriber = house.people[1]
    report = arf(subscriber, "<verzonnen@elders.example>")
    report = report.replace(b"Feedback-Type: abuse", b"Feedback-Type: opt-out")
    report = report.replace(
        b"From: Feedback Loop <fbl@isp.example>", f"From: <{subscriber}>".encode()
    )
    deliver(house.instance, report)
    assert fetch(house.run) == "Processed: 1 complaint"
    assert status(house.db, subscriber) == "active"
    assert house.db.table("bounces").count == 0
    assert "niet gekoppeld: niets gewijzigd" in inbox_rows(house.db)[0]["reason"]
    assert house.sink.received == []


# -- item 2: a question that mentions "afmelden" is a question -----------------------------------


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Afmelden kennissessie stikstof", "Ik kan op 12 december helaas niet komen."),
        ("Vraag over de nieuwsbrief", "Hoe kan ik een oud-collega afmelden?\n\nGroet, Lid"),
        ("RE: Nieuwsbrief december", "Ik wil mij NIET afmelden, maar ik krijg hem twee keer."),
        ("Afmelden voor de AV", "Graag afmelden voor de AV van 10 februari."),
    ],
)
def test_a_question_that_mentions_afmelden_reaches_staff_and_changes_nothing(
    house: House, subject: str, body: str
) -> None:
    # Proven in every way (a reply to our message, DMARC pass): only the words decide.
    subscriber = house.people[2]
    proof = house.ours(subscriber) + authentication(
        f"{TRUSTED}; dmarc=pass header.from=gld.example"
    )
    deliver(house.instance, mail(f"Lid <{subscriber}>", subject, body, extra=proof))
    assert fetch(house.run) == "Processed: 1 question"
    assert status(house.db, subscriber) == "active"
    assert house.sink.received == []
    assert subject in house.run("inbox", "list").output


def test_a_reply_to_our_afgemeld_confirmation_reaches_staff_from_an_unsubscribed_address(
    house: House,
) -> None:
    subscriber = house.people[3]
    asks = mail(f"Lid <{subscriber}>", "Afmelden", "Graag afmelden.", extra=house.ours(subscriber))
    deliver(house.instance, asks)
    assert fetch(house.run) == "Processed: 1 unsubscribe"
    (confirmation,) = on_the_wire(house.sink)
    ours = confirmation["Message-ID"]
    answer = f"In-Reply-To: {ours}\nReferences: {ours}\n"
    subject = f"RE: {CONFIRMATION_SUBJECT}"
    deliver(
        house.instance,
        mail(
            f"Lid <{subscriber}>", subject, "Afmelden was een vergissing.", number=2, extra=answer
        ),
        mail(f"Lid <{subscriber}>", subject, "Afmelden", number=3, extra=answer),
    )
    assert fetch(house.run) == "Processed: 2 questions"
    assert status(house.db, subscriber) == "unsubscribed"  # staff decide, nothing automatic
    listed = house.run("inbox", "list").output
    assert listed.count(f"{subject}  [reactie op afmeldbevestiging]") == 2
    assert "Afmelden was een vergissing." in house.run("inbox", "show", "1").output
    assert len(house.sink.received) == 1  # no second confirmation
