"""Hard or soft: the reason a server gives for one failed recipient, and how sure it is."""

from __future__ import annotations

import re

from newsletter.inbound.classify.parts import REPLY, STATUS, _strip_type
from newsletter.inbound.classify.verdict import HARD_REASONS

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
