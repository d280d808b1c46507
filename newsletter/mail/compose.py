"""One composer for single messages (replies, acknowledgements, confirmations, sign-up mails).

Pure: no store, no network. Every message gets the same headers: From the contact mailbox,
Reply-To, To, Subject, Date (Europe/Amsterdam), Message-ID, MIME-Version, Content-Language;
In-Reply-To and References when it answers a message; Auto-Submitted (with
X-Auto-Response-Suppress, so Exchange sends no out-of-office back) when it is automatic. Every
value passes newsletter.headers (CR, LF, NUL and encoded-words refused: CVE-2024-6923).

Issues and onboarding mail, built for many recipients, use the skeleton in mail/messages.py.
"""

from __future__ import annotations

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from newsletter import clock
from newsletter.config import Settings
from newsletter.headers import check_address, check_header_value
from newsletter.mail.messages import keyed_message_id

AUTO_SUBMITTED = ("auto-replied", "auto-generated")


def compose(
    settings: Settings,
    *,
    to_address: str,
    to_name: str = "",
    subject: str,
    text: str,
    html: str | None = None,
    message_id: str = "",
    in_reply_to: str = "",
    references: str = "",
    auto_submitted: str = "",
    purpose: str = "bericht",
) -> EmailMessage:
    """One message from the contact mailbox; HeaderError names a value unfit for a header.

    message_id: ours to give (e.g. to thread a conversation); when empty a fresh keyed one
    (mail/messages.keyed_message_id, naming `purpose`), so a reply quoting it proves its sender
    saw this message.
    auto_submitted: "auto-replied" (an answer to a message) or "auto-generated" (RFC 3834).
    Write it with `message.as_bytes()`: the SMTP policy gives CRLF line ends.
    """
    if auto_submitted and auto_submitted not in AUTO_SUBMITTED:
        raise ValueError(f"auto_submitted must be one of {AUTO_SUBMITTED}, not {auto_submitted!r}")
    local, _, domain = check_address(to_address, "To").rpartition("@")
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = settings.sender  # checked by load_settings
    message["Reply-To"] = settings.reply_to
    # Address quotes a local part that needs it ("jan.de vries"): give it the bare one.
    bare = local[1:-1] if local.startswith('"') and local.endswith('"') else local
    message["To"] = Address(check_header_value(to_name, "To name"), bare, domain)
    message["Subject"] = check_header_value(subject, "subject")
    message["Date"] = format_datetime(clock.local_now())
    message["Message-ID"] = check_header_value(
        message_id or keyed_message_id(settings, to_address, purpose), "Message-ID"
    )
    if in_reply_to:
        message["In-Reply-To"] = check_header_value(in_reply_to, "In-Reply-To")
    if references:
        message["References"] = check_header_value(references, "References")
    if auto_submitted:
        message["Auto-Submitted"] = auto_submitted
        message["X-Auto-Response-Suppress"] = "All"
    message.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    # After the parts: add_alternative moves every Content-* header into the first part.
    message["Content-Language"] = "nl"
    return message
