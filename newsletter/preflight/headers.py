"""The header checks of preflight: required and single headers, the subject; and the hosts
links may point to ([preflight] allowed_hosts)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from email.message import EmailMessage
from urllib.parse import urlsplit

from newsletter.config import Settings
from newsletter.errors import ConfigError
from newsletter.preflight.model import Context

REQUIRED_HEADERS = (
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
)
AT_MOST_ONCE = ("Sender", "Cc", "Bcc", "In-Reply-To", "References", "Content-Type")
SUBJECT_WARNING = 70


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """The hosts links may point to: ours (base_url, privacy_url, the sender's domain, the
    feeds') and [preflight] allowed_hosts (default: config.DEFAULT_ALLOWED_HOSTS).

    A bad [preflight] setting is a ConfigError here, before anything is built."""
    if settings.preflight.problem:
        raise ConfigError(settings.preflight.problem)
    extra = settings.preflight.allowed_hosts
    ours = [
        urlsplit(settings.base_url).hostname or "",
        urlsplit(settings.privacy_url).hostname or "",
        settings.sender_domain,
        *(urlsplit(f.url).hostname or "" for f in settings.feeds if f.url.startswith("https:")),
    ]
    return tuple(dict.fromkeys(h.lower().strip().lstrip(".") for h in [*ours, *extra] if h))


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    return any(host == a or host.endswith("." + a) for a in allowed)


def check_headers(ctx: Context, message: EmailMessage, extra_required: Sequence[str]) -> None:
    fix_ours = "headers come from messages.make_skeleton: build the message with it"
    for name in (*REQUIRED_HEADERS, *extra_required):
        count = len(message.get_all(name) or [])
        if count == 0:
            ctx.add("error", "header-missing", f"no {name} header", fix_ours, part="headers")
        elif count > 1:
            ctx.add(
                "error",
                "header-duplicate",
                f"{name} appears {count} times; it must appear exactly once",
                "remove the extra header (a second one is often added by extra_headers)",
                part="headers",
            )
    for name in AT_MOST_ONCE:
        if len(message.get_all(name) or []) > 1:
            ctx.add(
                "error",
                "header-duplicate",
                f"{name} appears more than once",
                "keep one",
                part="headers",
            )
    unsubscribe = _as_sent(message, "List-Unsubscribe") or ""
    if unsubscribe:
        targets = re.findall(r"<([^>]+)>", unsubscribe)
        if not any(t.startswith("https://") for t in targets) or not any(
            t.startswith("mailto:") for t in targets
        ):
            ctx.add(
                "error",
                "list-unsubscribe",
                f"List-Unsubscribe '{unsubscribe[:80]}' needs an <https://…> and a <mailto:…> URL",
                "write List-Unsubscribe: <https://…/afmelden/TOKEN>, <mailto:…?subject=afmelden>",
                part="headers",
            )
    post = _as_sent(message, "List-Unsubscribe-Post")
    if post is not None and post != "List-Unsubscribe=One-Click":
        ctx.add(
            "error",
            "list-unsubscribe-post",
            f"List-Unsubscribe-Post is '{post}'",
            "write List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058)",
            part="headers",
        )
    if message.get_content_type() != "multipart/alternative":
        ctx.add(
            "error",
            "multipart",
            f"the message is {message.get_content_type()}, not multipart/alternative",
            "send a text part and an HTML part as multipart/alternative",
            part="message",
        )
    subject = " ".join(str(message.get("Subject", "")).split())
    if len(subject) > SUBJECT_WARNING:
        ctx.add(
            "warning",
            "subject-length",
            f"the subject is {len(subject)} characters; phones show about {SUBJECT_WARNING}",
            "shorten subject: in the issue file",
            part="headers",
        )
    letters = [c for c in subject if c.isalpha()]
    if len(letters) >= 4 and all(c.isupper() for c in letters):
        ctx.add(
            "error",
            "subject-caps",
            f"the subject '{subject}' is in capitals",
            "write the subject in normal sentence case (capitals read as shouting and as spam)",
            part="headers",
        )


def _as_sent(message: EmailMessage, name: str) -> str | None:
    """A header's value as a mail app reads it: unfolded, not decoded. The List-* headers hold
    URLs, where an encoded-word (=?...?=) is not allowed (RFC 2047 section 5): mail apps do not
    decode it, so neither may the check (message.get would)."""
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return " ".join(str(value).split())
    return None
