"""Classify one inbound message of the contact mailbox: bytes in, a Verdict out.

Pure: no store, no network, no printing. The rules come from the RFCs and the formats real
mail servers write, not from any corpus:

- RFC 5965 ARF (multipart/report; report-type=feedback-report) and Amazon SES complaint
  notifications: ``complaint``.
- RFC 3464 DSNs (message/delivery-status): one finding per recipient block, in the order the
  report lists them; Action delivered/relayed/expanded is ``delivered``, never a bounce.
- The non-standard texts of Postfix, Exim, Sendmail, qmail, Exchange/Office 365 (Dutch and
  English), Gmail, Amazon SES, Yahoo, Courier, Domino ...: the recipients and diagnostics are
  read from the human-readable part.
- RFC 3834 auto-replies (Auto-Submitted: auto-replied, X-Autoreply, Precedence: auto_reply, and
  out-of-office subjects in Dutch, English and German): ``autoreply``.
- Unsubscribe requests by mail (subject, or first lines saying afmelden / uitschrijven /
  unsubscribe): ``unsubscribe`` with the From address.
- Everything else, and anything that cannot be parsed: ``message``.

Hard versus soft (judge()): hard only when the address or domain does not exist, has moved,
or the domain accepts no mail at all (5.1.1, 5.1.2, 5.1.10, 5.4.4, "user unknown", "host not
found", null MX ...). Soft, whatever the 5xx:
- policy, authentication, spam and blocklist rejections (5.7.x), and anything said about the
  sender (5.1.7, 5.1.8, a refusal at MAIL FROM) -- those are about us;
- anything temporary: Action delayed, 4xx, mailbox full, greylisting, timeouts;
- a "user unknown" given after the message content (in reply to DATA), or one that nothing
  corroborates (no 5.1.x status, not at RCPT TO, not a directory-lookup phrase): that is what
  content filters answer ("filtered");
- 5.2.1 (mailbox disabled) unless the server said "unknown" at RCPT TO;
- a failed delivery to a local program (x-unix, a pipe): the mailer's fault.
The first thing the server said wins when a text mentions both kinds.
"""

from __future__ import annotations

import email
import email.header
import email.message
import email.utils
import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from email.message import Message
from typing import Any

from newsletter.headers import decode_text

KINDS = ("bounce", "complaint", "autoreply", "unsubscribe", "delivered", "message")
CLASSES = ("hard", "soft", "complaint", "autoreply", "delivered")
HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept"})

TEXT_LIMIT = 256 * 1024  # per text part: a returned 30 MB attachment is never decoded
MAX_PARTS = 200


@dataclass(frozen=True)
class Finding:
    """What a report says about one recipient."""

    recipient: str  # lowercased; "" when the report does not name it
    bounce_class: str  # one of CLASSES ("class" in as_dict)
    status: str = ""  # RFC 3463, e.g. 5.1.1
    reply_code: str = ""  # SMTP reply, e.g. 550
    reason: str = ""  # userunknown, hostunknown, mailboxfull, policy, spam, authfailure, ...
    evidence: str = ""  # which header or line decided
    action: str = ""  # the DSN Action, when there is one

    def as_dict(self) -> dict[str, str]:
        data = asdict(self)
        data["class"] = data.pop("bounce_class")
        return data


@dataclass(frozen=True)
class Verdict:
    """The kind of one message, with per-recipient findings for reports."""

    kind: str  # one of KINDS
    findings: tuple[Finding, ...] = ()
    evidence: str = ""
    sender: str = ""  # the From address, lowercased (who asks to unsubscribe)
    subject: str = ""
    message_id: str = ""  # the Message-ID of this message
    original_message_id: str = ""  # the Message-ID of our message, found in the returned headers
    envelope_to: str = ""  # the address this report was sent to (our VERP bounce address)
    feedback_type: str = ""  # ARF Feedback-Type

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["findings"] = [finding.as_dict() for finding in self.findings]
        return data


# -- small helpers ----------------------------------------------------------------------------

ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z0-9-]{2,}")
STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
REPLY = re.compile(r"(?<![\d.\-])([245][0-5]\d)(?:[ ,;:-]|$)")
MID = re.compile(r"^message-id:[ \t]*(?:\r?\n[ \t]+)?(<[^>\s]+>)", re.I | re.M)

BOUNCE_SENDERS = re.compile(
    r"^(mailer-daemon|post_?master|mail-daemon|mailerdaemon|mail\.delivery\.subsystem|"
    r"bounce|bounces|noreply-dmarc|microsoftexchange[0-9a-f]*|"
    r"mail delivery (sub)?system|mdaemon)\b",
    re.I,
)
BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (status notification|failure|failed|has failed|problem|"
    r"report)|"
    r"returned mail|mail delivery failed|failure notice|delivery notification|nondeliverable|"
    r"non[- ]?delivery|could not be delivered|unable to deliver|mail system error|"
    r"onbestelbaar|niet bezorgd|niet afgeleverd|kan niet worden bezorgd|unzustellbar|"
    r"warning: could not send|message not delivered|mail could not be delivered|"
    r"returned to sender|delivery incomplete|permanent error|notification d'état|"
    r"rejected|bounce",
    re.I,
)
# What the notices of Exchange/Office 365 (Dutch and English), Postfix, Exim, qmail, Sendmail,
# Gmail ... say above the diagnostics; a bounce only together with an SMTP or RFC 3463 code.
BOUNCE_TEXT = re.compile(
    r"heeft sommige of alle ontvangers niet bereikt|kan niet worden bezorgd|niet worden afgeleverd|"
    r"delivery has failed to these recipients|your message (couldn't|could not|"
    r"wasn't) be(en)? delivered|"
    r"did not reach (some or all of )?the (following|intended) recipient|"
    r"could not be delivered to one or more|i'm afraid i wasn't able to deliver|"
    r"this is the mail system at host|delivery to the following recipients? failed|"
    r"the following addresses? (had|failed)|permanent(ly)? (error|fatal errors)|"
    r"nicht zugestellt werden|unzustellbar",
    re.I,
)
AUTOREPLY_SUBJECT = re.compile(
    r"out of (the )?office|out-of-office|\bauto(matic)?[ -]?repl|autoreply|autoresponse|"
    r"\bvacation\b|\baway (until|from)|\bon leave\b|\bafwezig|automatisch antwoord|niet aanwezig|"
    r"abwesenheit|automatische antwort|\babsence\b|\bafwezigheid|\bmet verlof",
    re.I,
)
UNSUBSCRIBE_WORDS = re.compile(
    r"\b(afmelden|uitschrijven|afmelding|uitschrijving|unsubscribe|meld(t)? mij (graag )?af|"
    r"schrijf mij (graag )?uit|verwijder mij|remove me)\b",
    re.I,
)


def _text(value: Any) -> str:
    """A header value as text, whatever its encoding; never raises."""
    return decode_text(value)


def _header(message: Message, name: str) -> str:
    try:
        return _text(message.get(name))
    except Exception:
        return ""


def _address(value: str) -> str:
    try:
        found = email.utils.parseaddr(value)[1]
    except Exception:
        found = ""
    if "@" not in found:
        match = ADDRESS.search(value)
        found = match.group(0) if match else ""
    return found.strip().strip("<>").lower()


def _payload_text(part: Message, limit: int = TEXT_LIMIT) -> str:
    """The decoded text of a leaf part, at most limit characters; never raises."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        if isinstance(raw, list):
            return "\n".join(_message_text(p) for p in raw if isinstance(p, Message))[:limit]
        return str(raw or "")[:limit]
    if not isinstance(payload, bytes):
        return str(payload)[:limit]
    payload = payload[: limit * 4]
    try:
        charset = part.get_content_charset() or "utf-8"
    except Exception:  # a malformed charset parameter
        charset = "utf-8"
    try:
        return payload.decode(charset)[:limit]
    except (LookupError, UnicodeDecodeError):
        try:
            return payload.decode("utf-8")[:limit]
        except UnicodeDecodeError:
            return payload.decode("cp1252", "replace")[:limit]


def _message_text(message: Message) -> str:
    """A message/rfc822 part rendered back as its header block (enough to find a Message-ID)."""
    try:
        return "".join(f"{k}: {_text(v)}\n" for k, v in message.items())
    except Exception:
        return ""


def _walk(message: Message) -> Iterator[Message]:
    try:
        for count, part in enumerate(message.walk()):
            if count >= MAX_PARTS:
                return
            yield part
    except Exception:
        return


def _ctype(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def _fields(block: str) -> dict[str, str]:
    """RFC 822-style fields of one block of a delivery-status or feedback-report part."""
    fields: dict[str, str] = {}
    name = ""
    for line in block.splitlines():
        if line[:1] in (" ", "\t") and name:
            fields[name] += " " + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", key.strip()):
            name = key.strip().lower()
            fields[name] = (fields.get(name, "") + " " + value.strip()).strip()
        else:
            name = ""
    return fields


def _strip_type(value: str) -> str:
    """'rfc822; a@b' -> 'a@b'; 'smtp; 550 ...' -> '550 ...'."""
    kind, sep, rest = value.partition(";")
    if sep and re.fullmatch(r"\s*[A-Za-z0-9-]+\s*", kind):
        return rest.strip()
    return value.strip()


# -- the reasons --------------------------------------------------------------------------------

# (reason, pattern) in priority order: the first that matches the diagnostic text decides.
# Policy and temporary reasons are tried before the "address does not exist" family, because
# rejections about the sender often say "recipient ... rejected" too.
REASONS: list[tuple[str, re.Pattern[str]]] = [
    (
        "authfailure",
        re.compile(
            r"\bspf\b|\bdkim\b|\bdmarc\b|sender policy framework|authentication (failed|required)|"
            r"not authenticated|unauthenticated|does not (pass|meet) (the )?auth|"
            r"fails? (to pass )?authentication|sender id|5\.7\.(2[3-9]|1[45])\b",
            re.I,
        ),
    ),
    (
        "requireptr",
        re.compile(
            r"reverse (dns|lookup|hostname)|\bptr\b|no rdns|rdns|cannot find your hostname|"
            r"client host rejected: cannot find|cannot resolve your|hostname (does not|"
            r"doesn't) match|"
            r"resolve .*ip address|forward-confirmed|unresolvable|5\.7\.25",
            re.I,
        ),
    ),
    (
        "spam",
        re.compile(
            r"\bspam(?!haus|cop)|junk mail|unsolicited|bulk mail|content (rejected|filter)|"
            r"message content|"
            r"looks like spam|considered as spam|high probability|scored|"
            r"virus|malware|infected|dangerous|phish|banned",
            re.I,
        ),
    ),
    (
        "blocked",
        re.compile(
            r"block ?list|blacklist|black list|listed (in|on|at) [^ ]*(bl|black|spam)|\brbl\b|"
            r"\bdnsbl\b|blocked|"
            r"\bblock\b|reputation|not allowed to send|sender (address )?rejected|"
            r"access denied|connection refused|refused to talk|client host .*rejected|"
            r"poor reputation|your ip|ip address .* (is|has been)|\bip\b.*\b(block|list)|"
            r"too many (connections|messages|recipients)|rate limit|throttl|exceeded the rate|"
            r"try again later|temporarily (deferred|rejected)|greylist|graylist|grey-list|"
            r"relay(ing)? (access )?denied|not permitted to relay|relay not permitted|"
            r"unable to relay|we do not relay|not our customer|"
            r"administrative prohibition|prohibited|not authorized|unauthorized|"
            r"security (policy|reasons)|tls|starttls|encryption required|"
            r"message (size|too (big|large))|too large|exceeds? (the )?(maximum|size)|size limit|"
            r"header.*(syntax|malformed)|rfc ?5322|rfc ?2822|not (rfc[- ]?)?compliant|"
            r"syntax error|line too long|bare lf|8bit|"
            r"\bpolicy|policies|denied|rejected by (the )?(recipient|remote|domain|content)|"
            r"filter|5\.7\.\d+",
            re.I,
        ),
    ),
    (
        "mailboxfull",
        re.compile(
            r"mailbox (is )?full|over ?quota|quota (exceeded|exceed|full)|exceeded (storage|quota)|"
            r"storage (allocation|quota|space)|insufficient (system )?storage|disk (full|quota)|"
            r"mail ?box (is )?(over|exceed|full)|user is over|account is full|exceeded .*quota|"
            r"mailfolder is full|no space|not enough (space|storage)|full mailbox|"
            r"postvak (is )?vol|5\.2\.2\b|4\.2\.2\b",
            re.I,
        ),
    ),
    (
        "suspend",
        re.compile(
            r"suspended|disabled|inactive|deactivated|account (is )?(locked|closed|blocked|"
            r"expired)|"
            r"mailbox (is )?(locked|inactive|disabled)|not active|on hold|temporarily unavailable",
            re.I,
        ),
    ),
    (
        "expired",
        re.compile(
            r"time(d)? ?out|expired|too long|retry (timeout|time|limit) exceeded|"
            r"could not be delivered for|has been delayed|delivery (time|attempts) expired|"
            r"giving up|gave up|not (been )?delivered (for|after)|queue|"
            r"connection (timed out|lost|reset|refused)|network|unreachable|"
            r"no route to host|temporary|temporarily|deferred|4\.4\.\d+",
            re.I,
        ),
    ),
    (
        "hasmoved",
        re.compile(
            r"has moved|address (has )?changed|no longer (valid|at|with)|moved to|5\.1\.6\b", re.I
        ),
    ),
    (
        "hostunknown",
        re.compile(
            r"host (or domain name )?not found|host unknown|unknown host|domain (not found|"
            r"unknown)|"
            r"unknown domain|no such domain|domain (name )?(does not|doesn't) exist|"
            r"name or service not known|nxdomain|unrouteable (mail )?domain|unroutable domain|"
            r"no mx|mx (record )?(not found|lookup)|dns (error|lookup)|domain lookup failed|"
            r"host not reachable|bad destination (system|host)|invalid domain|"
            r"recipient domain|domain (is )?(not|no longer) (exist|valid)|"
            r"illegal host|unknown mail domain|host name lookup failure|"
            r"address couldn't be found|couldn't be found, or is unable to receive mail|"
            r"5\.1\.2\b|5\.4\.4\b|5\.1\.8\b",
            re.I,
        ),
    ),
    (
        "notaccept",
        re.compile(
            r"does not accept (e-?)?mail|accepts no mail|null mx|no mail (accepted|service)|"
            r"not accept(ing)? (any )?mail|5\.1\.10\b|5\.0\.932",
            re.I,
        ),
    ),
    (
        "userunknown",
        re.compile(
            r"user(name)? unknown|unknown user|no such (user|mailbox|recipient|address|account|"
            r"person)|"
            r"(user|mailbox|recipient|address|account|addressee|person)"
            r" (is )?(unknown|not found|does not exist|doesn't exist|invalid|unavailable|"
            r"not listed)|"
            r"(invalid|unknown|bad|illegal|non-?existent|not a valid) "
            r"(user|mailbox|recipient|address|account|e-?mail|destination)|"
            r"does not exist|doesn't exist|dose not exist|not exist|no longer exists|"
            r"not (a )?valid (user|mailbox|recipient|address)|"
            r"no mailbox|mailbox unavailable|unavailable mailbox|user not found|"
            r"recipient not (found|recognized)|"
            r"no such|unrouteable address|not a known user|is not a valid|not known|"
            r"sorry, no mailbox here|email account that you tried to reach|"
            r"couldn't be found|could not be found|wasn't found|was not found|"
            r"recipient address rejected(\.|\s*$)|recipnotfound|resolver\.adr\.recip|"
            r"undeliverable address|addressee unknown|"
            r"unknown (local[- ]part|recipient|address)|no valid recipients|"
            r"mailbox not available|account (has been )?(removed|deleted)|"
            r"niet gevonden|bestaat niet|onbekende (ontvanger|gebruiker)|unbekannt|"
            r"5\.1\.[13]\b",
            re.I,
        ),
    ),
]

SOFT_REASON_NAMES = {
    "authfailure": "authfailure",
    "requireptr": "policy",
    "spam": "spam",
    "blocked": "policy",
    "mailboxfull": "mailboxfull",
    "suspend": "suspend",
    "expired": "expired",
}


def _reason_from_status(status: str) -> str:
    if not status:
        return ""
    klass, subject, detail = status.split(".")
    if subject == "1":
        if detail in ("1", "0", "3"):
            return "userunknown"
        if detail in ("2", "8"):
            return "hostunknown"
        if detail == "6":
            return "hasmoved"
        if detail == "10":
            return "notaccept"
        return "userunknown" if klass == "5" else "expired"
    if subject == "2":
        return {"1": "suspend", "2": "mailboxfull", "3": "mesgtoobig"}.get(detail, "mailboxfull")
    if subject == "3":
        return "mesgtoobig" if detail == "4" else "systemerror"
    if subject == "4":
        return "hostunknown" if detail == "4" and klass == "5" else "expired"
    if subject == "5":
        return "syntaxerror"
    if subject == "6":
        return "contenterror"
    if subject == "7":
        return "authfailure" if detail in ("23", "24", "25", "26", "27") else "policy"
    return ""


# Texts that say unambiguously that the address or the domain does not exist (or takes no mail).
HARD_TEXT: list[tuple[str, re.Pattern[str]]] = [
    (
        "notaccept",
        re.compile(
            r"does not accept (e-?)?mail|accepts no mail|null mx|no smtp service|"
            r"not accept(ing)? (any )?mail|domain does not receive",
            re.I,
        ),
    ),
    (
        "hostunknown",
        re.compile(
            r"host (or domain name )?not found|host unknown|unknown host|domain (not found|"
            r"unknown)|"
            r"unknown domain|no such domain|domain (name )?(does not|doesn't) exist|nxdomain|"
            r"unrouteable (mail )?domain|unroutable domain|domain is not reachable|"
            r"the account or domain may not exist|domain (is )?not (valid|registered)|"
            r"name or service not known|host name lookup failure|unknown mail domain|"
            r"illegal host|bad destination (system|host)|no mx (record )?for|mx record not found",
            re.I,
        ),
    ),
    (
        "userunknown",
        re.compile(
            r"user(name)? unknown|unknown user|no such (user|mailbox|recipient|account|person|"
            r"address)|"
            r"(user|mailbox|recipient|account|addressee|address) (is )?(unknown|not found|"
            r"does not exist|"
            r"doesn't exist|not listed)|not listed in (the )?(domino directory|public name|"
            r"address book)|"
            r"this user doesn't have a|email account that you tried to reach does not exist|"
            r"recipient address rejected: access denied|sorry, no mailbox here|"
            r"invalid (recipient|mailbox|user)|unknown (recipient|local[- ]part)|"
            r"not a valid (user|mailbox|recipient)|mailbox unavailable|unrouteable address|"
            r"recipient address rejected(\.|\s*$)|recipnotfound|resolver\.adr\.recip|"
            r"addressee unknown|no mailbox|"
            r"user not found|mailbox not found|account (does not|doesn't) exist|"
            r"bestaat niet|onbekende (ontvanger|gebruiker)|ontvanger niet gevonden|"
            r"has moved|no longer (exists|valid|active)",
            re.I,
        ),
    ),
]
# Texts about the sender, the content or the connection: soft even beside a 5.1.x status.
SOFT_TEXT = re.compile(
    r"block ?list|blacklist|black list|\brbl\b|dnsbl|spamhaus|spamcop|\bspam\b|"
    r"too many (recipients|connections|messages)|rate limit|sent to too many|"
    r"sender address rejected|domain of sender address|permission to post|"
    r"name service error|malformed or unexpected name server|temporar(y|ily)|"
    r"greylist|graylist|try again later|ip address .*(blacklisted|blocked|listed)",
    re.I,
)
AT_MAIL_FROM = re.compile(r"(in reply to|after) mail from|sender rejected|\[mail_from\]", re.I)
AT_RCPT = re.compile(
    r"(in reply to|after|was) rcpt( to)?\b|>>> rcpt to|\brcpt to:?\s*<?[^>\s]+>?\s*\n\s*<<<\s*5|"
    r"this user doesn't have a|mail\.local|local delivery|local recipient table|"
    r"recipient address rejected|does not like recipient|not listed in|sorry, no mailbox here|"
    r"unknown local|"
    r"address not found|\[rcpt_to\]",
    re.I,
)
AFTER_DATA = re.compile(
    r"(in reply to|after) (the )?(end of )?data|>>> data\s*\n\s*<<<[^\n]*(unknown|no such|"
    r"not found)",
    re.I,
)
SPECIFIC_HARD_STATUS = {
    "5.1.1": "userunknown",
    "5.1.2": "hostunknown",
    "5.1.3": "userunknown",
    "5.1.6": "hasmoved",
    "5.1.10": "notaccept",
    "5.4.4": "hostunknown",
}


# What recipient lookups say (the MTA's own directory, at RCPT TO): enough on its own.
# "Unknown user", "no such user", "recipient not found" are also what content filters and
# gateways answer after the message: those need a 5.1.x status or a rejection at RCPT TO.
LOOKUP_TEXT = re.compile(
    r"[>\w](:|\.\.\.) ?user unknown|unknown recipient|unrouteable address|mailbox unavailable|"
    r"user not found|"
    r"invalid recipient|this user doesn't have a|not listed in|sorry, no mailbox here|"
    r"recipient address rejected: access denied|recipnotfound|resolver\.adr\.recip|"
    r"bestaat niet|onbekende (ontvanger|gebruiker)|ontvanger niet gevonden",
    re.I,
)
FILTER_REPLY = re.compile(r"\b550 : user unknown", re.I)  # au/ezweb: refused by the reader's filter


def _corroborated(text: str, status: str) -> bool:
    """Whether a "user unknown" is backed by a 5.1.x status, a rejection at RCPT TO, or a lookup."""
    if re.fullmatch(r"5\.1\.[1-9]\d*", status):
        return True
    if AFTER_DATA.search(text) or FILTER_REPLY.search(text):
        return False
    if AT_RCPT.search(text):
        return True
    return bool(LOOKUP_TEXT.search(text))


def _first_status(text: str) -> str:
    """The first failure status (4.x.x, 5.x.x) in the text, else the first success status."""
    found = [".".join(m.groups()) for m in STATUS.finditer(text)]
    failures = [code for code in found if code[0] in "45"]
    return (failures or found or [""])[0]


def _first_reply(text: str) -> str:
    found = [m.group(1) for m in REPLY.finditer(_strip_type(text))]
    failures = [code for code in found if code[0] in "45"]
    return (failures or found or [""])[0]


def judge(
    text: str, status: str = "", reply: str = "", action: str = "", context: str = ""
) -> tuple[str, str, str, str]:
    """(class, reason, status, reply code) for one recipient's diagnostic text and fields.

    context: more of the report about this recipient (an SMTP transcript, the human-readable
    part), used only to see at which SMTP command the server refused.
    """
    text = text or ""
    context = text + "\n" + (context or "")
    said = _first_status(text)
    if said and (not status or said[0] == status[0]):
        status = said  # the remote server's own words beat the reporting MTA's summary
    reply = reply or _first_reply(text)
    action = action.lower()
    if action in ("delivered", "relayed", "expanded") or status.startswith("2."):
        return "delivered", "delivered", status, reply
    temporary = action == "delayed" or status.startswith("4.") or reply.startswith("4")
    soft_text = SOFT_TEXT.search(text)
    reason = ""
    hard_at = len(text)
    for name, pattern in HARD_TEXT:
        match = pattern.search(text)
        if match and match.start() < hard_at:
            reason, hard_at = name, match.start()
    if soft_text and soft_text.start() < hard_at:
        reason = ""  # the first thing the server said was about the sender or the connection
    if status in ("5.1.7", "5.1.8") or AT_MAIL_FROM.search(context):
        reason = "rejected"  # RFC 3463: the sender's address is the problem, not the recipient's
    elif reason == "userunknown" and not _corroborated(context, status):
        # "user unknown" after the content was sent, with no 5.1.x status and not at RCPT TO,
        # is what content filters say: not proof that the address does not exist.
        reason = "filtered"
    if not reason and not soft_text and status in SPECIFIC_HARD_STATUS:
        reason = SPECIFIC_HARD_STATUS[status]
    if not reason:
        for name, pattern in REASONS:
            if soft_text and name not in SOFT_REASON_NAMES:
                continue
            if pattern.search(text):
                reason = SOFT_REASON_NAMES.get(name, name)
                break
    if not reason and soft_text:
        reason = "policy"
    if not reason:
        specific = status and not re.fullmatch(r"[45]\.0\.\d+|5\.[0-9]\.0", status)
        reason = (_reason_from_status(status) if specific else "") or (
            "expired" if temporary else "undefined"
        )
    if (
        reason in HARD_REASONS
        and status.startswith("5.7.")
        and not any(p.search(text) for _, p in HARD_TEXT)
    ):
        reason = "policy"  # 5.7.x is about the sender unless the text says the address is gone
    if status == "5.2.1" and reason in HARD_REASONS and not AT_RCPT.search(context):
        reason = "suspend"  # RFC 3463 5.2.1: mailbox disabled; "unknown" only counts at RCPT TO
    if reason in HARD_REASONS and re.match(
        r"\s*x-(unix|local)\b|\s*(procmail|maildrop)\b", text, re.I
    ):
        reason = "mailererror"  # a local delivery program failed, not the address
    hard = reason in HARD_REASONS and not temporary
    return ("hard" if hard else "soft"), reason, status, reply


# -- parts of the message ----------------------------------------------------------------------


@dataclass
class _Parsed:
    message: Message
    report_type: str = ""
    dsn: list[str] = field(default_factory=list)  # message/delivery-status payloads
    feedback: list[str] = field(default_factory=list)  # message/feedback-report payloads
    texts: list[str] = field(default_factory=list)  # text/plain (or html as text) of the report
    returned: list[str] = field(default_factory=list)  # returned header blocks


def _dsn_in_text(text: str) -> str:
    """Delivery-status fields in plain text (broken MIME, or a DSN pasted into a text part)."""
    starts = [m.start() for m in re.finditer(r"^(Final|Original)-Recipient:", text, re.I | re.M)]
    if not starts or not re.search(r"^(Action|Status):", text, re.I | re.M):
        return ""
    start = text.rfind("\n\n", 0, starts[0]) + 1
    end = re.compile(r"^--|^Content-Type:", re.I | re.M).search(text, starts[-1])
    return text[start : end.start() if end else starts[-1] + 2000]


def _parse(message: Message, body: str = "") -> _Parsed:
    parsed = _Parsed(message)
    try:
        parsed.report_type = (message.get_param("report-type") or "").__str__().lower()
    except Exception:
        parsed.report_type = ""
    html: list[str] = []
    inside_returned: set[int] = set()
    for part in _walk(message):
        if id(part) in inside_returned:
            continue
        ctype = _ctype(part)
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            parsed.dsn.append(_payload_text(part))
            _skip_children(part, inside_returned)
        elif ctype == "message/feedback-report":
            parsed.feedback.append(_payload_text(part))
            _skip_children(part, inside_returned)
        elif ctype in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            inners = inner if isinstance(inner, list) else []
            for sub in inners:
                if isinstance(sub, Message):
                    parsed.returned.append(_message_text(sub))
                    for nested in _walk(sub):
                        inside_returned.add(id(nested))
            if not inners:
                parsed.returned.append(_payload_text(part, 64 * 1024))
        elif ctype in ("text/rfc822-headers", "text/global-headers"):
            parsed.returned.append(_payload_text(part, 64 * 1024))
        elif ctype == "text/plain" or (ctype.startswith("text/") and ctype != "text/html"):
            if not part.get_filename():
                parsed.texts.append(_payload_text(part))
        elif ctype == "text/html" and not part.get_filename():
            html.append(_payload_text(part))
    if not parsed.texts and html:
        for chunk in html:
            chunk = re.sub(r"(?is)<(script|style).*?</\1>", " ", chunk)
            chunk = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>", "\n", chunk)
            chunk = re.sub(r"<[^>]+>", " ", chunk)
            chunk = chunk.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">")
            chunk = chunk.replace("&amp;", "&")
            parsed.texts.append(chunk)
    if not parsed.dsn:
        # Broken MIME (a wrong boundary, a truncated report): look for the fields in the text.
        for text in [*parsed.texts, body]:
            found = _dsn_in_text(text)
            if found:
                parsed.dsn.append(found)
                if not "".join(parsed.texts).strip():
                    parsed.texts.append(text[: text.find(found)])
                break
    return parsed


def _skip_children(part: Message, skip: set[int]) -> None:
    for child in _walk(part):
        if child is not part:
            skip.add(id(child))


RETURNED_START = re.compile(
    r"^(-+ ?(original message|this is a copy|below this line|the header of the original|"
    r"original message headers|returned message|message header follows|headers? of the message)|"
    r"original message headers:|------ This is a copy|"
    r"\s*--- ?(below|the original|original)|.*original message (header|follow)|"
    r"-{3,}.*(undelivered|original|returned) message)",
    re.I | re.M,
)


def _split_returned(text: str) -> tuple[str, str]:
    """The report's own text and the returned message quoted below it."""
    match = RETURNED_START.search(text)
    if match:
        return text[: match.start()], text[match.start() :]
    header_block = re.search(
        r"^(Received|Return-Path|Message-ID|DKIM-Signature): ", text, re.I | re.M
    )
    if header_block:
        return text[: header_block.start()], text[header_block.start() :]
    return text, ""


# -- verdicts ---------------------------------------------------------------------------------


def _dsn_findings(parsed: _Parsed) -> list[Finding]:
    findings: list[Finding] = []
    everyone = tuple(
        _address(_strip_type(m.group(1)))
        for payload in parsed.dsn
        for m in re.finditer(r"^(?:final|original)-recipient:(.*)$", payload, re.I | re.M)
    )
    for payload in parsed.dsn:
        for block in _dsn_blocks(payload):
            fields = _fields(block)
            recipient = _strip_type(fields.get("final-recipient", "")) or _strip_type(
                fields.get("original-recipient", "")
            )
            if not recipient and "action" not in fields:
                continue
            if recipient.startswith("|") or recipient.startswith("/"):
                # Delivery to a program or a file failed: the local mailer, not the address.
                findings.append(
                    Finding(
                        "", "soft", "", "", "mailererror", f"delivery-status: to {recipient}"[:300]
                    )
                )
                continue
            recipient = _address(recipient)
            action = fields.get("action", "").split()[0].lower() if fields.get("action") else ""
            status_match = STATUS.search(fields.get("status", ""))
            status = ".".join(status_match.groups()) if status_match else ""
            raw_diagnostic = fields.get("diagnostic-code", "")
            diagnostic = _strip_type(raw_diagnostic)
            if re.match(r"\s*x-(unix|local)\s*;", raw_diagnostic, re.I):
                diagnostic = "x-unix; " + diagnostic
            reply_match = REPLY.search(diagnostic)
            reply = reply_match.group(1) if reply_match else ""
            text = diagnostic
            if not diagnostic or re.fullmatch(r"\s*[245]\d\d\s*[\d.]*\s*", diagnostic):
                text = diagnostic + " " + _recipient_text(parsed, recipient, everyone)
            context = _recipient_text(parsed, recipient, everyone)
            klass, reason, status_out, reply_out = judge(text, status, reply, action, context)
            # A bare generic status (5.0.0) with a vaguer diagnostic: the text part may say more.
            if klass == "soft" and reason == "undefined":
                extra = _recipient_text(parsed, recipient, everyone)
                if extra:
                    klass, reason, status_out, reply_out = judge(
                        diagnostic + " " + extra, status, reply, action
                    )
            evidence = "delivery-status: " + "; ".join(
                f"{name.title()}: {fields[name]}"
                for name in ("action", "status", "diagnostic-code")
                if fields.get(name)
            )
            findings.append(
                Finding(recipient, klass, status_out, reply_out, reason, evidence[:300], action)
            )
    return findings


def _dsn_blocks(payload: str) -> list[str]:
    """The per-recipient field blocks of a delivery-status payload (the per-message one dropped).

    Blocks are separated by blank lines; some servers omit the blank line between recipients,
    so a new Final-/Original-Recipient after an Action or Status also starts a block.
    """
    blocks: list[list[str]] = [[]]
    for line in payload.replace("\r\n", "\n").split("\n"):
        lower = line.lower()
        if not line.strip():
            blocks.append([])
            continue
        if lower.startswith(("final-recipient:", "original-recipient:")):
            name = lower.split(":", 1)[0]
            if any(seen.lower().startswith(name + ":") for seen in blocks[-1]):
                blocks.append([])  # the same field twice: a new recipient without a blank line
        blocks[-1].append(line)
    texts = ["\n".join(b) for b in blocks if any(x.strip() for x in b)]
    per_recipient = [
        t
        for t in texts
        if re.search(r"^(final-recipient|original-recipient|action):", t, re.I | re.M)
    ]
    return per_recipient


def _recipient_text(parsed: _Parsed, recipient: str, others: tuple[str, ...] = ()) -> str:
    """The lines of the human-readable part about one recipient (or all of it when it is alone).

    From a little before its address (a transcript names the command first) to where the next
    recipient is named, so one recipient's diagnostic is never read as another's.
    """
    own = "\n".join(_split_returned(t)[0] for t in parsed.texts)
    lower = own.lower()
    others = tuple(o for o in others if o and o != recipient)
    if recipient:
        index = lower.find(recipient)
        if index >= 0:
            start, end = max(0, index - 200), index + 800
            for other in others:
                before = lower.rfind(other, start, index)
                if before >= 0:
                    start = max(start, before + len(other))
                after = lower.find(other, index + len(recipient), end)
                if after >= 0:
                    end = min(end, after)
            return own[start:end]
    return "" if others else own[:2000]


NOT_RECIPIENTS = re.compile(r"^(mailer-daemon|post_?master|abuse|noreply|no-reply|root)@", re.I)


HEADERISH = re.compile(
    r"\s*>?\s*((from|reporting-mta|received|sender|return-path|x-[\w-]+|message-id|"
    r"in-reply-to|references|to|cc|reply-to|subject|date)\s*:|by\s|from\s)",
    re.I,
)
CONTACT = re.compile(r"contact|neem contact|assistance|help ?desk|administrator|beheerder", re.I)


def _text_findings(parsed: _Parsed, skip: set[str]) -> list[Finding]:
    """Recipients and diagnostics from the human-readable text of a non-DSN bounce."""
    message = parsed.message
    own = "\n".join(_split_returned(t)[0] for t in parsed.texts)
    failed = [
        _address(a)
        for a in re.split(r"[,\s]+", _header(message, "X-Failed-Recipients"))
        if "@" in a
    ]
    recipients: list[str] = []
    positions: list[int] = []
    for match in ADDRESS.finditer(own):
        address = match.group(0).lower().rstrip(".")
        if address in skip or NOT_RECIPIENTS.match(address) or address in recipients:
            continue
        line_start = own.rfind("\n", 0, match.start()) + 1
        line = own[line_start : own.find("\n", match.end()) if "\n" in own[match.end() :] else None]
        if HEADERISH.match(line) or CONTACT.search(line):
            continue  # a quoted header line, or the postmaster to contact: not a recipient
        recipients.append(address)
        positions.append(match.start())
    if failed:
        order = {a: i for i, a in enumerate(recipients)}
        recipients = failed  # Exim names exactly the failed ones
        positions = [positions[order[a]] if a in order else 0 for a in recipients]
    findings = []
    if not recipients:
        klass, reason, status, reply = judge(own)
        line = _deciding_line(own)
        return [Finding("", klass, status, reply, reason, f"text: {line}"[:300])]
    for index, recipient in enumerate(recipients):
        start = positions[index]
        later = [p for p in positions if p > start]
        end = min(later) if later else len(own)
        chunk = own[start:end]
        if not re.search(
            r"[245]\d\d|[245]\.\d\.\d|unknown|not|no |full|fail|reject",
            chunk[len(recipient) :],
            re.I,
        ):
            chunk = own[start : start + 1500] + "\n" + own[: max(0, start)][-600:]
        klass, reason, status, reply = judge(chunk)
        if reason == "undefined" and len(recipients) == 1:
            klass, reason, status, reply = judge(own)
        findings.append(
            Finding(recipient, klass, status, reply, reason, f"text: {_deciding_line(chunk)}"[:300])
        )
    return findings


def _deciding_line(text: str) -> str:
    for line in text.splitlines():
        if STATUS.search(line) or REPLY.search(line.strip()):
            return line.strip()
    for line in text.splitlines():
        for _, pattern in REASONS:
            if pattern.search(line):
                return line.strip()
    return text.strip().splitlines()[0] if text.strip() else ""


def _json_object(text: str) -> Any:
    """The JSON object in a text part, also when a mailer folded its long line ("!" + newline)."""
    body = text[text.find("{") : text.rfind("}") + 1]
    for candidate in (body, re.sub(r"!?\r?\n[ \t]", "", body)):
        try:
            data = json.loads(candidate)
            if isinstance(data, dict) and isinstance(data.get("Message"), str):
                data = json.loads(data["Message"])  # wrapped by SNS
            return data
        except (ValueError, TypeError):
            continue
    return None


def _ses_json(parsed: _Parsed) -> Verdict | None:
    """Amazon SES notifications delivered as JSON (directly or wrapped by SNS)."""
    for text in parsed.texts:
        if "notificationType" not in text and "eventType" not in text:
            continue
        data = _json_object(text)
        if data is None:
            continue
        if not isinstance(data, dict):
            continue
        kind = str(data.get("notificationType") or data.get("eventType") or "")
        mail = data.get("mail") or {}
        mid = (
            str(mail.get("commonHeaders", {}).get("messageId", ""))
            if isinstance(mail, dict)
            else ""
        )
        if kind == "Complaint":
            people = data.get("complaint", {}).get("complainedRecipients", [])
            findings = [
                Finding(
                    _address(str(p.get("emailAddress", ""))),
                    "complaint",
                    reason="feedback",
                    evidence="ses json: notificationType Complaint",
                )
                for p in people
            ]
            return Verdict(
                "complaint", tuple(findings), "ses json: Complaint", original_message_id=mid
            )
        if kind == "Delivery":
            people = data.get("delivery", {}).get("recipients", [])
            smtp = str(data.get("delivery", {}).get("smtpResponse", ""))
            _, _, status, reply = judge(smtp, action="delivered")
            findings = [
                Finding(
                    _address(str(p)),
                    "delivered",
                    status,
                    reply,
                    "delivered",
                    "ses json: notificationType Delivery",
                    "delivered",
                )
                for p in people
            ]
            return Verdict(
                "delivered", tuple(findings), "ses json: Delivery", original_message_id=mid
            )
        if kind == "Bounce":
            bounce = data.get("bounce", {})
            findings = []
            permanent = bounce.get("bounceType") == "Permanent"
            for person in bounce.get("bouncedRecipients", []):
                diagnostic = str(person.get("diagnosticCode", ""))
                klass, reason, status, reply = judge(diagnostic, str(person.get("status", "")))
                if not permanent and klass == "hard":
                    klass = "soft"
                findings.append(
                    Finding(
                        _address(str(person.get("emailAddress", ""))),
                        klass,
                        status,
                        reply,
                        reason,
                        f"ses json: {bounce.get('bounceType')}; {diagnostic}"[:300],
                        str(person.get("action", "")),
                    )
                )
            return Verdict("bounce", tuple(findings), "ses json: Bounce", original_message_id=mid)
    return None


def _original_message_id(parsed: _Parsed, own_id: str) -> str:
    for block in parsed.returned:
        match = MID.search(block)
        if match and match.group(1) != own_id:
            return match.group(1)
    for text in parsed.texts:
        for match in MID.finditer(text):
            if match.group(1) != own_id:
                return match.group(1)
    return ""


VERP = re.compile(r"\+\d+-[0-9a-f]{10}@")  # bounces+<delivery>-<signature>@, see tokens.py


def _envelope_to(message: Message) -> str:
    candidates = []
    for name in (
        "Delivered-To",
        "X-Original-To",
        "Envelope-To",
        "X-Envelope-To",
        "X-Rcpt-To",
        "To",
    ):
        try:
            values = message.get_all(name) or []
        except Exception:
            values = []
        candidates += [_address(_text(v)) for v in values]
    candidates = [c for c in candidates if c]
    for candidate in candidates:
        if VERP.search(candidate):
            return candidate
    return candidates[0] if candidates else ""


def _is_bounce_like(parsed: _Parsed, sender_header: str, subject: str) -> str:
    message = parsed.message
    if _header(message, "X-Failed-Recipients"):
        return "X-Failed-Recipients header"
    name, address = email.utils.parseaddr(sender_header)
    local = address.split("@")[0] if address else sender_header
    if BOUNCE_SENDERS.match(local) or BOUNCE_SENDERS.match(name or ""):
        return f"From: {sender_header}"
    if BOUNCE_SUBJECT.search(subject):
        return f"Subject: {subject}"
    if parsed.report_type == "delivery-status":
        return "report-type=delivery-status"
    own = "\n".join(_split_returned(t)[0] for t in parsed.texts)[:20000]
    phrase = BOUNCE_TEXT.search(own)
    replying = re.match(r"\s*(re|fw|fwd|antw|doorst|wg|aw)\s*:", subject, re.I)  # a person's reply
    if phrase and not replying and (STATUS.search(own) or REPLY.search(own)):
        return f"text: {phrase.group(0)}"
    return ""


def _autoreply(message: Message, subject: str) -> str:
    auto = _header(message, "Auto-Submitted").lower()
    if auto.startswith("auto-replied"):
        return f"Auto-Submitted: {auto}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Vacation"):
        if _header(message, name):
            return f"{name}: {_header(message, name)}"
    precedence = _header(message, "Precedence").lower()
    if precedence == "auto_reply":
        return "Precedence: auto_reply"
    if _header(message, "X-Auto-Response-Suppress") and AUTOREPLY_SUBJECT.search(subject):
        return f"Subject: {subject}"
    if AUTOREPLY_SUBJECT.search(subject):
        return f"Subject: {subject}"
    return ""


def _unsubscribe(parsed: _Parsed, subject: str) -> str:
    if UNSUBSCRIBE_WORDS.search(subject) and len(subject) < 80:
        return f"Subject: {subject}"
    body = "\n".join(parsed.texts)
    lines = []
    for line in body.splitlines():
        stripped = line.strip()
        if stripped.startswith(">") or re.match(
            r"(op .* schreef|on .* wrote|-----|van:|from:)", stripped, re.I
        ):
            break
        if stripped:
            lines.append(stripped)
    first = " ".join(lines[:3])
    if first and UNSUBSCRIBE_WORDS.search(first) and len(" ".join(lines)) < 600:
        return f"body: {first[:120]}"
    return ""


def split_mbox(raw: bytes) -> list[bytes]:
    """The messages in raw: one, or several when it is an mbox ("From " separator lines)."""
    text = raw.replace(b"\r\n", b"\n")
    if not text.startswith(b"From "):
        return [raw]
    parts = re.split(rb"\n(?=From \S+ +\w{3} \w{3} +\d+ [\d:]+ \d{4}\n)", text)
    return [part.split(b"\n", 1)[1] if b"\n" in part else b"" for part in parts]


def classify(raw: bytes) -> Verdict:
    """The verdict for one raw message (LF or CRLF); never raises."""
    try:
        return _classify(raw)
    except Exception as error:
        return Verdict("message", evidence=f"unparseable: {type(error).__name__}: {error}"[:300])


def _classify(raw: bytes) -> Verdict:
    if not raw or not raw.strip():
        return Verdict("message", evidence="empty message")
    raw = raw.replace(b"\r\n", b"\n")
    if raw.startswith(b"From "):  # an mbox separator line
        raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
    message = email.message_from_bytes(raw)
    defects = [type(d).__name__ for d in getattr(message, "defects", [])]
    sender_header = _header(message, "From")
    subject = _header(message, "Subject")
    own_id_match = re.search(r"<[^>\s]+>", _header(message, "Message-ID"))
    own_id = own_id_match.group(0) if own_id_match else ""
    base: dict[str, Any] = {
        "sender": _address(sender_header),
        "subject": subject,
        "message_id": own_id,
        "envelope_to": _envelope_to(message),
    }
    if not message.keys():
        return Verdict("message", evidence="no headers: not a mail message", **base)
    body = raw.split(b"\n\n", 1)[1] if b"\n\n" in raw else b""
    parsed = _parse(message, body[:TEXT_LIMIT].decode("utf-8", "replace"))
    original = _original_message_id(parsed, own_id)

    # Complaints: RFC 5965 ARF.
    if _header(message, "X-Apple-Unsubscribe").lower() == "true":
        # Apple Mail's one-tap unsubscribe: an opt-out on the reader's behalf (as ARF opt-out).
        finding = Finding(
            base["sender"], "complaint", reason="optout", evidence="X-Apple-Unsubscribe: true"
        )
        return Verdict("complaint", (finding,), finding.evidence, feedback_type="opt-out", **base)
    if parsed.feedback or parsed.report_type == "feedback-report":
        fields = _fields("\n\n".join(parsed.feedback))
        feedback_type = fields.get("feedback-type", "abuse").split()[0] if fields else "abuse"
        recipients = []
        for text in parsed.feedback:
            for line in text.splitlines():
                if line.lower().startswith(("original-rcpt-to:", "removal-recipient:")):
                    address = _address(line.split(":", 1)[1])
                    if address and address not in recipients:
                        recipients.append(address)
        if not recipients:
            for block in parsed.returned:
                to = re.search(r"^to:(.*)$", block, re.I | re.M)
                if to:
                    recipients += [a.lower() for a in ADDRESS.findall(to.group(1))]
        evidence = f"feedback-report: Feedback-Type: {feedback_type}"
        findings = tuple(
            Finding(r, "complaint", reason="feedback", evidence=evidence) for r in recipients
        ) or (Finding("", "complaint", reason="feedback", evidence=evidence),)
        return Verdict(
            "complaint",
            findings,
            evidence,
            original_message_id=original,
            feedback_type=feedback_type,
            **base,
        )

    ses = _ses_json(parsed)
    if ses is not None:
        return Verdict(
            ses.kind,
            ses.findings,
            ses.evidence,
            original_message_id=ses.original_message_id or original,
            **base,
        )

    # RFC 3464 delivery status notifications.
    if parsed.dsn:
        reported = _dsn_findings(parsed)
        if reported:
            if all(f.bounce_class == "delivered" for f in reported):
                return Verdict(
                    "delivered",
                    tuple(reported),
                    "delivery-status: success",
                    original_message_id=original,
                    **base,
                )
            return Verdict(
                "bounce",
                tuple(reported),
                f"message/delivery-status ({len(reported)} recipients)",
                original_message_id=original,
                **base,
            )

    bounce_sign = _is_bounce_like(parsed, sender_header, subject)
    if not bounce_sign:
        auto = _autoreply(message, subject)
        if auto:
            finding = Finding(base["sender"], "autoreply", reason="vacation", evidence=auto)
            return Verdict("autoreply", (finding,), auto, original_message_id=original, **base)
    if bounce_sign:
        addressed = [_address(a) for a in _header(message, "To").split(",")]
        skip = {base["sender"], *addressed}
        if VERP.search(base["envelope_to"]):
            skip.add(base["envelope_to"])
        described = _text_findings(parsed, {s for s in skip if s})
        if described:
            return Verdict(
                "bounce", tuple(described), bounce_sign, original_message_id=original, **base
            )

    unsubscribe = _unsubscribe(parsed, subject)
    if unsubscribe:
        return Verdict("unsubscribe", (), unsubscribe, **base)
    evidence = "no report, auto-reply or unsubscribe request found"
    if defects:
        evidence += f" (MIME defects: {', '.join(sorted(set(defects)))})"
    return Verdict("message", (), evidence, **base)
