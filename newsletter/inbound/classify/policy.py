"""The policy: which kind a message is (bounce, complaint, auto-reply, unsubscribe ...)."""

from __future__ import annotations

import email
import email.header
import email.message
import email.utils
import re
from email.message import Message
from typing import Any

from newsletter.inbound.classify.findings import (
    _dsn_findings,
    _original_message_id,
    _ses_json,
    _text_findings,
)
from newsletter.inbound.classify.parts import (
    ADDRESS,
    REPLY,
    STATUS,
    _address,
    _fields,
    _header,
    _parse,
    _Parsed,
    _split_returned,
    _text,
)
from newsletter.inbound.classify.verdict import TEXT_LIMIT, Finding, Verdict

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
# Any mention of leaving a list: each must be a request for the sender, or it is a question.
UNSUBSCRIBE_WORDS = re.compile(
    r"\b(af(ge)?meld\w*|uit(ge)?schr[ie]\w*|unsubscrib\w*|opt[- ]?out|opzeg\w*|"
    r"meldt? (mij|me|ons)\b.*\baf|schrijf (mij|me|ons)\b.*\buit|verwijder\w* (mij|me|mijn)\b|"
    r"remove me)\b",
    re.I,
)
_POLITE = (
    r"(graag|svp|s\.v\.p\.?|a\.u\.b\.?|aub|alstublieft|alsjeblieft|please|pls|bij deze|hierbij|"
    r"dank ?u( wel)?|dank je( wel)?|bedankt|thanks|thank you|vriendelijk verzoek( om)?|"
    r"verzoek( om)?|ik verzoek u( om)?|nu|voortaan|per direct|direct|ook)"
)
_LIST = (
    r"((voor|van|uit|from|for|of) )?((de|deze|uw|jullie|this|the|your|het|dit) )?"
    r"(nieuwsbrief|nieuwsbrieven|mailing|mailings|mailinglijst|verzendlijst|lijst|"
    r"e-?mails?|mail|newsletter|newsletters|mailing list|list|emails?)"
    r"( statenleden| van (het )?ipo| ipo)?"
)
_ME = r"(mij|me|mijzelf|myself|mijn (e-?mail ?)?adres|my (e-?mail )?address)"
_VERB = (
    r"(afmelden|uitschrijven|afmelding|uitschrijving|unsubscribe|opzeggen|opt[- ]?out|stop|stoppen)"
)
_P = rf"(({_POLITE}) )*"
_T = rf"(( {_POLITE}))*"
# Whole clauses that ask to take the sender off the list, and nothing else (no other person,
# no event, no negation, no question word): the subject, or a clause of the first lines.
UNSUBSCRIBE_REQUESTS = [
    re.compile(p)
    for p in (
        rf"{_P}{_VERB}( {_LIST})?{_T}",
        rf"{_P}{_LIST} {_VERB}{_T}",
        rf"{_P}(ik wil|ik zou|wil ik|ik wens|wij willen|we willen)( {_ME})?( graag)?( {_LIST})?"
        rf"( graag)? (afmelden|uitschrijven|laten afmelden|laten uitschrijven)"
        rf"( willen| worden)?( {_LIST})?{_T}",
        rf"{_P}((wilt|kunt|wil|kun) u |(kunnen|willen) jullie |u kunt )?{_ME}( graag)?"
        rf"( {_LIST})? (afmelden|uitschrijven|verwijderen|schrappen)( {_LIST})?{_T}",
        rf"{_P}(ik )?(meld|meldt) {_ME}( {_POLITE})* af( {_LIST})?{_T}",
        rf"{_P}(schrijf|schrijft) {_ME}( {_POLITE})* uit( {_LIST})?{_T}",
        rf"{_P}(verwijder|verwijdert) {_ME}( {_POLITE})*( (uit|van|from) {_LIST})?{_T}",
        rf"{_P}(unsubscribe|remove) me( from {_LIST})?{_T}",
        rf"{_P}(i|we) (would like|want|wish|'d like) to (unsubscribe|opt[- ]?out|be removed)"
        rf"( from {_LIST})?{_T}",
        rf"{_P}(i|we) (would like|want|wish|'d like) you to (unsubscribe|remove) (me|us)"
        rf"( from {_LIST})?{_T}",
    )
]
REPLY_PREFIX = re.compile(r"^\s*((re|antw|aw|sv|fw|fwd|doorst|wg)\s*(\[\d+\])?\s*:\s*)+", re.I)
OWN_TEXT_LIMIT = 500  # an unsubscribe request is short; a longer message is for staff

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


def _clauses(text: str) -> list[str]:
    """The clauses of a text, lowercased, one space between words, no closing punctuation."""
    out = []
    for clause in re.split(r"[!?;,\n()\[\]]+|[.:]+(?=\s|$)|\s[-–]\s", text.lower()):
        clause = re.sub(r"\s+", " ", clause.replace("\u00a0", " ")).strip(" '\"*_")
        if clause:
            out.append(clause)
    return out


def _asks(clause: str) -> bool:
    return any(pattern.fullmatch(clause) for pattern in UNSUBSCRIBE_REQUESTS)


def _own_lines(parsed: _Parsed) -> list[str]:
    """The sender's own lines: up to the quoted message or the forwarded header block."""
    lines = []
    for line in "\n".join(parsed.texts).splitlines():
        stripped = line.strip()
        if stripped.startswith(">") or re.match(
            r"(op .* schreef|on .* wrote|-----|_____|van:|from:|verzonden:|sent:)", stripped, re.I
        ):
            break
        if stripped:
            lines.append(stripped)
    return lines


def _unsubscribe(parsed: _Parsed, subject: str) -> str:
    """The evidence of a request to take the sender off the list, or "" (a question).

    Only a short message whose subject or first lines ask for it, for the sender, counts; a
    message that also mentions leaving in any other way ("niet afmelden", "een oud-collega
    afmelden", "afmelden kennissessie stikstof", "hoe kan ik ...?") is a question for staff.
    """
    topic = REPLY_PREFIX.sub("", subject or "").strip()
    lines = _own_lines(parsed)
    if len(" ".join(lines)) > OWN_TEXT_LIMIT or len(topic) > 120:
        return ""
    mentions = [
        c for c in _clauses(topic) + _clauses("\n".join(lines)) if UNSUBSCRIBE_WORDS.search(c)
    ]
    if not mentions or not all(_asks(c) for c in mentions):
        return ""
    if any(_asks(c) for c in _clauses(topic)):
        return f"Subject: {subject}"
    first = "\n".join(lines[:3])
    if any(_asks(c) for c in _clauses(first)):
        return f"body: {' '.join(lines[:3])[:120]}"
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
