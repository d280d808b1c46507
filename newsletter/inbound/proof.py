"""What proves that an unsubscribe request by mail comes from the subscriber it names.

Anyone can write any From. Two things cannot be made up (issue #13):

- a **reply to one of our messages**: In-Reply-To or References holds a Message-ID we sent to
  exactly that address: an issue or onboarding delivery (keyed, stored in `deliveries`), a
  conversation message of ours (stored), or a message composed with a keyed Message-ID
  (mail/messages.keyed_message_id, checked with the instance secret against the From address);
- the **receiving server's verdict**: the topmost `Authentication-Results` header(s) written by
  `[inbox] trusted_authserv_id` (those above the next Received line) say dmarc=pass for the
  From domain, or dkim=pass / spf=pass for a domain aligned with it, and no DMARC result of
  that server says otherwise. A header with that id further down (under an earlier hop's
  Received line, or among the sender's own headers) was in the message before it reached us:
  anyone can write it, so it never counts. The server must write its own header on every
  message (and, as RFC 8601 asks, remove any that arrive claiming its id).
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from email.message import Message

from sqlite_utils import Database

from newsletter.addresses import normalise_email
from newsletter.config import Settings
from newsletter.mail.messages import read_keyed_message_id
from newsletter.store import conversations, inbound

CONFIRMATION_PURPOSE = "afgemeld"  # the keyed Message-ID of our "Afgemeld" confirmation
_ID = re.compile(r"<[^<>\s]{1,400}>")
# Headers receiving hops write on top of a message. The first other header (From, Subject, the
# sender's own X-Mailer ...) is where the sender's part begins: nothing below it counts.
_TRACE = frozenset(
    {
        "received",
        "return-path",
        "delivered-to",
        "x-original-to",
        "envelope-to",
        "authentication-results",
        "received-spf",
        "dkim-filter",
    }
)
_TRACE_PREFIXES = ("arc-", "x-spam", "x-virus")


@dataclass(frozen=True)
class Result:
    """One result of an Authentication-Results header: method, result and its properties."""

    method: str  # dmarc, dkim, spf, ...
    result: str  # pass, fail, none, ...
    properties: dict[str, str]  # header.from, header.d, smtp.mailfrom, ...


def _headers(raw: bytes) -> Message:
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return email.message_from_bytes(head + b"\n\n")


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", str(value)).strip()


def _without_comments(value: str) -> str:
    """The header value with its (nested) comments removed; quoted strings kept as they are."""
    out, depth, quoted, escaped = [], 0, False, False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
            continue
        if quoted:
            quoted = char != '"'
            out.append(char)
        elif char == '"' and depth == 0:
            quoted = True
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


def parse_authentication_results(value: str) -> tuple[str, list[Result]]:
    """(authserv-id, results) of one Authentication-Results value (RFC 8601)."""
    text = _without_comments(_unfold(value))
    pieces = [p.strip() for p in re.split(r';(?=(?:[^"]*"[^"]*")*[^"]*$)', text)]
    first = pieces[0].split()
    authserv_id = first[0].lower() if first else ""
    results = []
    for piece in pieces[1:]:
        pairs = re.findall(r'([\w.\-/]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]+)', piece)
        if not pairs:
            continue
        method, result = pairs[0]
        properties = {name.lower(): found.strip('"').lower() for name, found in pairs[1:]}
        results.append(Result(method.split("/")[0].lower(), result.lower(), properties))
    return authserv_id, results


def trusted_results(raw: bytes, authserv_id: str) -> list[Result]:
    """The results of the topmost Authentication-Results header(s) written by authserv_id."""
    if not authserv_id:
        return []
    found: list[Result] = []
    started = False
    for name, value in _headers(raw).items():
        lower = name.lower()
        if lower not in _TRACE and not lower.startswith(_TRACE_PREFIXES):
            break  # the sender's own headers begin
        if lower == "authentication-results":
            server, results = parse_authentication_results(str(value))
            if server == authserv_id.lower():
                found += results
                started = True
                continue
        if started and lower == "received":
            break  # an earlier hop: what it carried, anyone could have written
    return found


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment (RFC 7489), without a public suffix list: the same domain or one a
    subdomain of the other (nobody gets a DKIM or SPF pass for a public suffix itself)."""
    domain = domain.strip().lower().rstrip(".")
    return bool(domain) and (
        domain == from_domain
        or domain.endswith("." + from_domain)
        or from_domain.endswith("." + domain)
    )


def authenticated(raw: bytes, authserv_id: str, sender: str) -> str:
    """How the trusted receiving server authenticated the From domain, or "" when it did not."""
    from_domain = normalise_email(sender).rpartition("@")[2]
    if not from_domain:
        return ""
    results = trusted_results(raw, authserv_id)
    dmarc = [r for r in results if r.method == "dmarc"]
    if any(
        r.result != "pass" and r.properties.get("header.from", from_domain) == from_domain
        for r in dmarc
    ):
        return ""  # the server's own DMARC verdict on this From says no
    for r in dmarc:
        if r.result == "pass" and r.properties.get("header.from") == from_domain:
            return f"{authserv_id}: dmarc=pass header.from={from_domain}"
    for r in results:
        if r.result != "pass":
            continue
        if r.method == "dkim":
            signer = (
                r.properties.get("header.d") or r.properties.get("header.i", "").rpartition("@")[2]
            )
            if _aligned(signer, from_domain):
                return f"{authserv_id}: dkim=pass header.d={signer}"
        if r.method == "spf":
            mailfrom = r.properties.get("smtp.mailfrom", "").rpartition("@")[2]
            if _aligned(mailfrom, from_domain):
                return f"{authserv_id}: spf=pass smtp.mailfrom domain {mailfrom}"
    return ""


def referenced_ids(raw: bytes) -> list[str]:
    """The Message-IDs in In-Reply-To and References, in that order, each once."""
    head = _headers(raw)
    ids: list[str] = []
    for name in ("In-Reply-To", "References"):
        for value in head.get_all(name) or []:
            ids += [i for i in _ID.findall(_unfold(str(value))) if i not in ids]
    return ids[:50]


def replies_to_confirmation(settings: Settings, raw: bytes) -> bool:
    """Does the message answer our "Afgemeld" confirmation (whoever writes, whatever it says)?"""
    prefix = f"<{CONFIRMATION_PURPOSE}."
    domain = "@" + settings.sender_domain.lower() + ">"
    return any(
        i.lower().startswith(prefix) and i.lower().endswith(domain) for i in referenced_ids(raw)
    )


def replies_to_us(db: Database, settings: Settings, raw: bytes, sender: str) -> str:
    """The Message-ID of ours, sent to sender, that the message answers; "" when none."""
    address = normalise_email(sender)
    for message_id in referenced_ids(raw):
        delivery = inbound.delivery_by_message_id(db, message_id)
        if delivery is not None and normalise_email(delivery.email) == address:
            return message_id
        to = conversations.sent_to(db, message_id)
        if to is not None and normalise_email(to) == address:
            return message_id
        purpose = read_keyed_message_id(settings, message_id, address)
        if purpose is not None and purpose != CONFIRMATION_PURPOSE:
            return message_id
    return ""


def unsubscribe_proof(db: Database, settings: Settings, raw: bytes, sender: str) -> str:
    """Why an unsubscribe request by mail is the sender's own, or "" when nothing proves it."""
    replied = replies_to_us(db, settings, raw, sender)
    if replied:
        return f"replies to our message {replied}"
    passed = authenticated(raw, settings.inbox.trusted_authserv_id, sender)
    return f"authenticated by {passed}" if passed else ""
