"""Alignment of a message as we send it: From, Return-Path (the VERP envelope) and DKIM d=.

The message is made by the issue composer (mail/messages.py) and signed by the same Signer as a
send; nothing goes out. DMARC passes when SPF (Return-Path) or DKIM (d=) aligns with From.
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.utils import parseaddr

from newsletter.config import Settings
from newsletter.doctor.dns import Resolver, Unreachable, organisational, parse_tags
from newsletter.doctor.model import ERROR, OK, WARNING, Check
from newsletter.doctor.records import dmarc_policy
from newsletter.errors import ConfigError
from newsletter.mail.dkim import signer_for
from newsletter.mail.messages import Recipient, make_skeleton
from newsletter.render.issue import Variant
from newsletter.tokens import PROBE, bounce_address, make_token

ONE_CLICK_HEADERS = {"list-unsubscribe", "list-unsubscribe-post"}


def sample_message(settings: Settings) -> tuple[str, bytes]:
    """(envelope sender, signed bytes) of one issue message to a made-up reader."""
    variant = Variant("ALG", "<p>@@aanhef@@, dit is een proef.</p>", "@@aanhef@@, proef.")
    skeleton = make_skeleton(settings, "Proef van newsletter doctor", variant)
    token = make_token(settings, PROBE, 0)
    data = skeleton.build(
        Recipient(
            email=f"proef@{settings.sender_domain}",
            name="Proef",
            salutation="Beste lezer",
            unsubscribe_url=f"{settings.base_url}/afmelden/{token}",
            preferences_url=f"{settings.base_url}/voorkeuren/{token}",
            message_id=f"<doctor.proef@{settings.sender_domain}>",
        )
    )
    signer = signer_for(settings)
    if signer is not None:
        data = signer.sign(data)
    sender = bounce_address(settings, 1) if settings.delivery.bounce_address else None
    return sender or settings.sender_address, data


def aligned(a: str, b: str, strict: bool) -> bool:
    a, b = a.lower(), b.lower()
    return a == b if strict else organisational(a) == organisational(b)


def check_alignment(settings: Settings, resolver: Resolver) -> Check:
    key, title = "alignment", "Alignment"
    try:
        envelope, data = sample_message(settings)
    except ConfigError as exc:
        return Check(key, title, ERROR, f"cannot make a message: {exc}", "fix the setting named")
    message = message_from_bytes(data, policy=policy.compat32)
    from_domain = parseaddr(str(message["From"]))[1].rpartition("@")[2].lower()
    return_path = envelope.rpartition("@")[2].lower()
    signature = parse_tags(str(message.get("DKIM-Signature", "")))
    d = signature.get("d", "").lower()
    signed = {h.strip().lower() for h in signature.get("h", "").split(":") if h.strip()}
    try:
        found = dmarc_policy(resolver, from_domain)
    except Unreachable:
        found = None
    tags = found[1] if found else {}
    spf_ok = aligned(return_path, from_domain, tags.get("aspf", "r") == "s")
    dkim_ok = bool(d) and aligned(d, from_domain, tags.get("adkim", "r") == "s")
    said = (
        f"From {from_domain}, Return-Path {envelope} ({'aligned' if spf_ok else 'NOT aligned'}), "
        + (f"DKIM d={d} ({'aligned' if dkim_ok else 'NOT aligned'})" if d else "not signed here")
    )
    if not (spf_ok or dkim_ok):
        return Check(
            key,
            title,
            ERROR,
            said + ": DMARC fails for every message",
            f"set [delivery] bounce_address in {from_domain} (e.g. bounces@{from_domain}) and "
            f'[dkim] domain = "{from_domain}"',
        )
    missing = ONE_CLICK_HEADERS - signed if d else set()
    if missing:
        return Check(
            key,
            title,
            WARNING,
            said + f"; the signature does not cover {', '.join(sorted(missing))} (RFC 8058)",
            "sign List-Unsubscribe and List-Unsubscribe-Post",
        )
    if not d:
        return Check(
            key,
            title,
            WARNING,
            said,
            "sign with a DKIM key of the From domain ([dkim], or the relay's OpenDKIM), so "
            "DMARC does not rest on SPF alone (forwarding breaks SPF)",
        )
    if not (spf_ok and dkim_ok):
        return Check(key, title, WARNING, said, "align both, so one failing is not fatal")
    return Check(key, title, OK, said)
