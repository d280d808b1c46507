"""The e-mail as one reader gets it, for the console's preview frame (the `issue preview` path),
and the frame itself: the sandboxed document and the page that holds it (Nummers, Inwerkprogramma).
"""

from __future__ import annotations

import email
from dataclasses import dataclass
from email import policy
from urllib.parse import urlsplit

from flask import Response, make_response
from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.issues.memo import cached_build
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
    """Build the issue (as `issue preview` does; reused while its input is unchanged) and
    personalise the reader's variant for them; without a reader, the sample reader of the
    preflight. Its links name nobody (as in a test
    copy), so a click in the preview unsubscribes no one."""
    rendered = cached_build(db, settings, month)[0].rendered
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
    return Preview(key, message_html(skeleton.build(recipient)))


# The page with a preview frame may frame its own console pages; the frame's document runs
# sandboxed (no scripts, no forms, no navigation of the page), with the e-mail's inline styles
# and images from the public site only.
PAGE_CSP = (  # the preview frame, and the intro's live preview (fetch)
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "frame-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)


def framing_page(page: str, status: int = 200) -> Response:
    """A console page that holds a preview frame."""
    response = make_response(page, status)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


def message_html(raw: bytes) -> str:
    """The HTML part of a composed message, as a mail client shows it."""
    return message_parts(email.message_from_bytes(raw, policy=policy.default))[0] or ""


def frame_document(html: str, settings: Settings) -> Response:
    """An e-mail's HTML as the sandboxed frame's own document."""
    parts = urlsplit(settings.base_url)
    images = f"{parts.scheme}://{parts.netloc} data:"
    response = make_response(html)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src {images}; "
        "sandbox; form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
    )
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
