"""The real mail path (issue #17): the demo issue through Debian's Postfix with OpenDKIM signing,
real DSNs back into the contact mailbox, and `newsletter tick` tying each to its delivery.

One Postfix (tests/postfix.py) for the module. The remote behind it accepts most recipients,
refuses three with 550 5.1.1 after Postfix accepted them, and defers two with 451 twice before
accepting. delay_warning_time = 1s makes Postfix send "delayed" DSNs for those two as well:
they must not count as bounces.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from email import policy
from email.utils import parseaddr
from pathlib import Path

import dkim
import pytest
from sqlite_utils import Database

from newsletter.config import Settings, load_settings
from newsletter.issues.build import build_issue
from newsletter.outbound.delivery import SendOptions, send_summary
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.transports import transport_factory
from newsletter.tokens import read_bounce_address
from tests.conftest import Runner
from tests.postfix import DOMAIN, Relay, Remote, relay, skip_or_fail_without_postfix, wait_for

pytestmark = pytest.mark.slow

REFUSED = 3  # recipients the remote refuses with 550 5.1.1
DEFERRED = 2  # recipients the remote defers twice with 451, then accepts


@pytest.fixture(scope="module")
def postfix() -> Iterator[Relay]:
    skip_or_fail_without_postfix()
    with relay(Remote(), extra="delay_warning_time = 1s") as running:
        yield running


def configure(instance: Path, postfix: Relay) -> Settings:
    """The instance as the README's production set-up has it: the local Postfix as the relay,
    VERP bounce addresses, and the contact mailbox Postfix delivers into as the inbox."""
    config = instance / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    old = 'transport = "outbox:outbox"'
    assert old in text
    text = text.replace(old, f'transport = "{postfix.url}"\nbounce_address = "bounces@{DOMAIN}"', 1)
    text += f'\n[inbox]\nsource = "maildir:{postfix.mailbox}"\n'
    config.write_text(text, encoding="utf-8")
    return load_settings(instance)


def active(db: Database) -> list[str]:
    return [row[0] for row in db.execute("select email from subscribers where status = 'active'")]


def test_the_demo_issue_goes_through_postfix_signed_and_its_bounces_come_back_tied(
    postfix: Relay, instance: Path, loaded: Database, december: Path, run: Runner
) -> None:
    settings = configure(instance, postfix)
    people = [e for e in active(loaded) if not e.endswith("@" + DOMAIN)]
    refused, deferred = people[10 : 10 + REFUSED], people[50 : 50 + DEFERRED]
    remote = postfix.remote
    for address in refused:
        remote.rcpt_replies[address] = f"550 5.1.1 <{address}>: Recipient address rejected"
    for address in deferred:
        remote.defer_times[address] = 2

    rendered = build_issue(loaded, settings, "2026-12").rendered
    report = deliver_issue(
        loaded,
        settings,
        rendered,
        transport_factory(settings.delivery.transport, instance),
        SendOptions(connections=2),
    )
    # Postfix takes every message at once: the hand-off knows nothing of the remote's refusals.
    assert not report.had_failures, send_summary(report)
    total = report.sent
    assert total == len(active(loaded)) > 600

    expected = total - REFUSED - sum(1 for e in active(loaded) if e.endswith("@" + DOMAIN))
    wait_for(
        "every accepted message at the remote and Postfix's queue empty",
        lambda: len(remote.received) >= expected and postfix.queue_empty(),
        30,
        postfix,
    )
    received = {r.recipient: r for r in remote.received}
    assert len(remote.received) == expected == len(received)  # each exactly once
    assert not set(refused) & set(received)
    assert set(deferred) <= set(received)  # delivered later, by Postfix's own retries

    # Every accepted message: VERP envelope sender naming its own delivery, and a DKIM
    # signature by the sender domain (aligned with From) that verifies with the generated key.
    deliveries = {row[0]: row[1] for row in loaded.execute("select id, email from deliveries")}
    dns = postfix.dns()
    for recipient, got in received.items():
        delivery_id = read_bounce_address(settings, got.mail_from)
        assert delivery_id is not None and deliveries[delivery_id] == recipient
        message = email.message_from_bytes(got.data, policy=policy.default)
        signature = dkim.DKIM(got.data).verify(dnsfunc=dns)
        assert signature, f"DKIM does not verify for {recipient}"
        tags = dict(
            part.strip().split("=", 1)
            for part in str(message["DKIM-Signature"]).replace("\n", "").split(";")
            if "=" in part
        )
        from_domain = parseaddr(str(message["From"]))[1].rpartition("@")[2]
        assert tags["d"].strip() == from_domain == DOMAIN

    # Postfix's DSNs: one "failed" for each refusal, "delayed" warnings for the deferred ones.
    mailbox = [email.message_from_bytes(p.read_bytes()) for p in postfix.mailbox_messages()]
    dsns = [m for m in mailbox if str(m["From"]).endswith(f"<MAILER-DAEMON@{DOMAIN}>")]
    assert all(m.get_content_type() == "multipart/report" for m in dsns)
    failed = [m for m in dsns if "Undelivered" in str(m["Subject"])]
    delayed = [m for m in dsns if "Delayed" in str(m["Subject"])]
    assert len(failed) == REFUSED
    assert delayed, "delay_warning_time = 1s gives a delayed DSN for a deferred recipient"

    result = run("tick")
    assert result.exit_code == 0, result.output
    assert f"{REFUSED} hard" in result.stdout, result.stdout
    bounced = {
        row[0] for row in loaded.execute("select email from subscribers where status = 'bounced'")
    }
    assert bounced == set(refused)
    ties = loaded.execute(
        "select d.email, b.tied_by, b.kind from bounces b join deliveries d "
        "on d.id = b.delivery_id where b.kind = 'hard'"
    ).fetchall()
    assert sorted(ties) == sorted((address, "verp", "hard") for address in refused)
    # The "delayed" warnings are tied too, as delays (never counted): they stay subscribed.
    soft = loaded.execute(
        "select d.email, b.kind from bounces b join deliveries d on d.id = b.delivery_id "
        "where b.kind != 'hard'"
    ).fetchall()
    assert soft and {e for e, _ in soft} <= set(deferred) and {k for _, k in soft} == {"delayed"}
    assert all(e in active(loaded) for e in deferred)
