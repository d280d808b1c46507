"""The findings of a report: DSN blocks, bounce texts, Amazon SES JSON, our Message-ID."""

from __future__ import annotations

import json
import re
from typing import Any

from newsletter.inbound.classify.judge import REASONS, judge
from newsletter.inbound.classify.parts import (
    ADDRESS,
    MID,
    REPLY,
    STATUS,
    _address,
    _fields,
    _header,
    _Parsed,
    _split_returned,
    _strip_type,
    message_id_in,
)
from newsletter.inbound.classify.verdict import Finding, Verdict

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
        mid = message_id_in(
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
    """Our Message-ID as the report quotes it, normalised to <id> (bracketed or not, cut off
    or not), so the tie to our delivery does not depend on how the server copied it."""
    own = message_id_in(own_id)
    for text in [*parsed.returned, *parsed.texts]:
        for match in MID.finditer(text):
            found = message_id_in(match.group(1))
            if found and found != own:
                return found
    return ""
