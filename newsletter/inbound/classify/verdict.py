"""What classifying says: a Verdict for the message, a Finding per recipient a report names."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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
