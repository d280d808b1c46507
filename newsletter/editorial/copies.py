"""Test copies: an issue marked [TEST] to staff addresses, as one reader sees it; no ledger."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.editorial.approval import (
    APPROVED,
    WorkflowError,
    _frozen_rendered,
    _name,
    _row,
    check_approval,
    issue_from_snapshot,
    state_of,
)
from newsletter.errors import HeaderError
from newsletter.headers import check_address
from newsletter.issues.build import build_issue
from newsletter.mail.messages import Recipient, make_skeleton
from newsletter.outbound.transports import Envelope, send_one
from newsletter.store import audit, loads, transaction
from newsletter.store import workflow as rows
from newsletter.store.mailings import issue_mailing_id as mailing_id_for
from newsletter.store.workflow import Reader

TEST_PREFIX = "[TEST] "


def allowed_test_address(settings: Settings, address: str) -> bool:
    allowed = settings.workflow.test_recipients or (f"@{settings.sender_domain}",)
    address = address.strip().lower()
    return any(
        address.endswith(entry) if entry.startswith("@") else address == entry for entry in allowed
    )


@dataclass(frozen=True)
class TestCopy:
    """A test copy that went out: of which issue, to whom, which variant, frozen or not."""

    month: str
    to: list[str]
    variant: str
    subject: str
    frozen: bool


def send_test(
    db: Database,
    settings: Settings,
    month: str,
    to: list[str],
    as_email: str | None,
    transport: str,
    actor: str,
) -> TestCopy:
    """A copy marked [TEST] to staff addresses, as one subscriber would see it; no ledger row.

    Each address is written to the audit log as it goes (test-send, or test-send-failed with
    the error), so a copy that fails partway still shows who got one."""
    actor = _name(actor)
    for address in to:
        try:
            check_address(address, "--to")
        except HeaderError as exc:
            raise WorkflowError(f"{exc}; give one address per --to") from None
    refused = [a for a in to if not allowed_test_address(settings, a)]
    if refused:
        allowed = ", ".join(settings.workflow.test_recipients or (f"@{settings.sender_domain}",))
        raise WorkflowError(
            f"--to {refused[0]}: test copies go to staff only ({allowed}); add the address to "
            "[workflow] test_recipients in newsletter.toml if it is staff"
        )
    person = _reader(db, as_email) if as_email else None
    check_approval(db, settings, month, actor)
    snapshot = _row(db, month).approved_issue
    frozen = state_of(db, month) in (*APPROVED, "sending", "sent") and bool(snapshot)
    rendered = (
        _frozen_rendered(db, settings, issue_from_snapshot(str(snapshot)))
        if frozen
        else build_issue(db, settings, month).rendered
    )
    key = rendered.variant_key(
        person.province if person else None,
        loads(person.themes, []) if person else (),
        person.email if person else "",
    )
    subject = TEST_PREFIX + rendered.issue.subject
    # No List-Unsubscribe (nor -Post): a colleague's "unsubscribe" button would mail
    # "afmelden" to the list from a staff address.
    skeleton = make_skeleton(settings, subject, rendered.variant(key), list_unsubscribe=False)
    name = person.name if person else "Testlezer"
    base = settings.base_url
    for address in to:
        message_id = f"<test.{month}.{secrets.token_hex(8)}@{settings.sender_domain}>"
        data = skeleton.build(
            Recipient(
                email=address,
                name=name,
                salutation=str(person.salutation or f"Beste {name}") if person else "Beste lezer",
                # A test copy never carries a real reader's links: these show the "invalid
                # link" page, so a colleague's click unsubscribes nobody.
                unsubscribe_url=f"{base}/afmelden/testexemplaar",
                preferences_url=f"{base}/voorkeuren/testexemplaar",
                message_id=message_id,
            )
        )
        version = "approved" if frozen else "draft"
        try:
            send_one(
                transport,
                settings.project,
                Envelope(settings.sender_address, address, message_id),
                data,
            )
        except Exception as exc:
            with transaction(db):
                audit.record(
                    db,
                    actor,
                    "test-send-failed",
                    mailing_id_for(month),
                    to=address,
                    variant=key,
                    version=version,
                    error=f"{type(exc).__name__}: {exc}",
                )
            raise
        with transaction(db):
            audit.record(
                db,
                actor,
                "test-send",
                mailing_id_for(month),
                to=address,
                variant=key,
                version=version,
            )
    return TestCopy(month, list(to), key, subject, frozen)


def _reader(db: Database, email: str) -> Reader:
    found = rows.reader(db, email)
    if found is None:
        raise WorkflowError(
            f"--as {email}: no such subscriber; 'newsletter subscribers list' shows who there is"
        )
    return found
