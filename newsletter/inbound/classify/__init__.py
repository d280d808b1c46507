"""Classify one inbound message of the contact mailbox: bytes in, a Verdict out.

verdict.py (what it says), parts.py (reading the parts), judge.py (hard or soft),
findings.py (DSNs, texts, SES), policy.py (which kind).

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

from newsletter.inbound.classify.judge import judge
from newsletter.inbound.classify.policy import classify, split_mbox
from newsletter.inbound.classify.verdict import (
    CLASSES,
    HARD_REASONS,
    KINDS,
    MAX_PARTS,
    TEXT_LIMIT,
    Finding,
    Verdict,
)

__all__ = [
    "CLASSES",
    "HARD_REASONS",
    "KINDS",
    "MAX_PARTS",
    "TEXT_LIMIT",
    "Finding",
    "Verdict",
    "classify",
    "judge",
    "split_mbox",
]
