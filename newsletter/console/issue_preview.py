"""The e-mail as one reader gets it, for the console's preview frame (the `issue preview` path)."""

from __future__ import annotations

import email
from dataclasses import dataclass
from email import policy

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.issues.build import build_issue
from newsletter.mail.messages import Recipient, make_skeleton
from newsletter.preflight.checks import message_parts
from newsletter.preflight.runner import sample_recipient
from newsletter.render.issue import WEB
from newsletter.store import loads
from newsletter.store import workflow as rows


@dataclass(frozen=True)
class Preview:
    """The HTML a reader sees, and which variant of the issue it is."""

    variant: str
    html: str


def preview_html(
    db: Database, settings: Settings, month: str, province: str, reader: str, web: bool
) -> Preview:
    """Build the issue (as `issue preview` does) and personalise the reader's variant for them;
    without a reader, the sample reader of the preflight. Its links name nobody (as in a test
    copy), so a click in the preview unsubscribes no one."""
    rendered = build_issue(db, settings, month).rendered
    if web:
        return Preview(WEB, rendered.variants[WEB].html)
    person = rows.reader(db, reader) if reader else None
    themes = loads(person.themes, []) if person else ()
    key = rendered.variant_key(
        person.province if person else province or None, themes, person.email if person else ""
    )
    skeleton = make_skeleton(
        settings, rendered.issue.subject, rendered.variant(key), list_unsubscribe=False
    )
    if person is None:
        recipient = sample_recipient(settings, key)
    else:
        base = settings.base_url
        recipient = Recipient(
            email=person.email,
            name=person.name,
            salutation=str(person.salutation or f"Beste {person.name}"),
            unsubscribe_url=f"{base}/afmelden/testexemplaar",
            preferences_url=f"{base}/voorkeuren/testexemplaar",
            message_id=f"<preview.{month}@{settings.sender_domain}>",
        )
    raw = skeleton.build(recipient)
    html = message_parts(email.message_from_bytes(raw, policy=policy.default))[0]
    return Preview(key, html or "")
