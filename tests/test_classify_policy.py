"""The classifier's policy: which kind each sort of report is, and hard versus soft per finding."""

from __future__ import annotations

import json

import pytest

from newsletter.inbound.classify import HARD_REASONS, Finding, classify, judge
from newsletter.inbound.processing import bounce_kind

OURS = "<2026-12.42.0123456789abcdef@ipo.example>"
VERP = "bounces+1234-0123456789@ipo.example"


def dsn(*blocks: str, subject: str = "Undelivered Mail Returned to Sender") -> bytes:
    """An RFC 3464 report from Postfix with one per-recipient block each, our message returned."""
    per_recipient = "\n\n".join(blocks)
    return f"""From: MAILER-DAEMON@mx.gld.example (Mail Delivery System)
To: {VERP}
Delivered-To: {VERP}
Subject: {subject}
Message-ID: <report-1@mx.gld.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

This is the mail system at host mx.gld.example.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.gld.example

{per_recipient}

--b1
Content-Type: text/rfc822-headers

From: IPO Statenleden <statenleden@ipo.example>
To: someone@gld.example
Subject: Nieuwsbrief december
Message-ID: {OURS}

--b1--
""".encode()


def block(recipient: str, action: str, status: str, diagnostic: str = "") -> str:
    lines = [f"Final-Recipient: rfc822; {recipient}", f"Action: {action}", f"Status: {status}"]
    if diagnostic:
        lines.append(f"Diagnostic-Code: smtp; {diagnostic}")
    return "\n".join(lines)


# -- judge: one recipient, hard or soft ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, status, reason",
    [
        ("550 5.1.1 <a@gld.example>: Recipient address rejected: User unknown", "5.1.1", ""),
        ("550 5.1.2 Host or domain name not found", "5.1.2", "hostunknown"),
        ("554 5.4.4 Domain gld.example has a null MX: accepts no mail", "5.4.4", ""),
    ],
)
def test_an_address_or_domain_that_does_not_exist_is_hard(
    text: str, status: str, reason: str
) -> None:
    bounce_class, found_reason, found_status, _ = judge(text, status, action="failed")
    assert bounce_class == "hard"
    assert found_reason in HARD_REASONS
    assert found_status == status
    if reason:
        assert found_reason == reason


@pytest.mark.parametrize(
    "text, status",
    [
        ("452 4.2.2 Mailbox full, try again later", "4.2.2"),
        ("552 5.2.2 Mailbox full: quota exceeded", "5.2.2"),
        ("550 5.7.1 Message rejected as spam by Content Filtering", "5.7.1"),
        ("550 5.7.26 Unauthenticated email from ipo.example is not accepted (DMARC)", "5.7.26"),
        ("421 4.4.2 Connection timed out", "4.4.2"),
    ],
)
def test_full_mailboxes_policy_and_temporary_failures_are_soft(text: str, status: str) -> None:
    bounce_class, reason, _, _ = judge(text, status, action="failed")
    assert bounce_class == "soft"
    assert reason not in HARD_REASONS


def test_a_delayed_action_is_never_hard_whatever_the_text_says() -> None:
    bounce_class, _, _, _ = judge("550 5.1.1 User unknown", "4.4.7", action="delayed")
    assert bounce_class == "soft"


def test_a_refusal_of_the_sender_is_about_us_not_the_recipient() -> None:
    bounce_class, reason, _, _ = judge(
        "550 5.1.8 Sender address rejected: Domain not found", "5.1.8", action="failed"
    )
    assert (bounce_class, reason) == ("soft", "rejected")


def test_user_unknown_after_data_without_a_5_1_status_is_a_content_filter() -> None:
    bounce_class, reason, _, _ = judge(
        "550 User unknown", "5.0.0", action="failed", context="in reply to end of DATA command"
    )
    assert (bounce_class, reason) == ("soft", "filtered")


def test_a_disabled_mailbox_is_soft_unless_refused_at_rcpt_to() -> None:
    assert judge("550 5.2.1 mailbox unavailable: user unknown", "5.2.1")[0] == "soft"
    at_rcpt = judge(
        "550 5.2.1 mailbox unavailable: user unknown",
        "5.2.1",
        context="in reply to RCPT TO command",
    )
    assert at_rcpt[0] == "hard"


def test_a_failing_local_delivery_program_is_the_mailers_fault() -> None:
    bounce_class, reason, _, _ = judge("x-unix; user unknown", "5.1.1", action="failed")
    assert (bounce_class, reason) == ("soft", "mailererror")


def test_a_success_action_or_2_x_status_is_delivered() -> None:
    assert judge("250 2.0.0 Ok: queued", "2.0.0", action="delivered")[0] == "delivered"
    assert judge("250 OK", "", action="relayed")[0] == "delivered"


def test_the_remote_servers_own_status_beats_the_reporters_summary() -> None:
    _, _, status, reply = judge("550 5.1.1 <a@gld.example>: user unknown", "5.0.0")
    assert (status, reply) == ("5.1.1", "550")


# -- classify: the kind of each report ---------------------------------------------------------


def test_a_dsn_lists_one_finding_per_recipient_in_order_and_names_our_message() -> None:
    verdict = classify(
        dsn(
            block("kees@gld.example", "failed", "5.1.1", "550 5.1.1 User unknown"),
            block("anna@gld.example", "delayed", "4.2.2", "452 4.2.2 Mailbox full"),
        )
    )
    assert verdict.kind == "bounce"
    assert [(f.recipient, f.bounce_class) for f in verdict.findings] == [
        ("kees@gld.example", "hard"),
        ("anna@gld.example", "soft"),
    ]
    assert verdict.original_message_id == OURS
    assert verdict.envelope_to == VERP


def test_a_dsn_where_every_recipient_was_delivered_is_no_bounce() -> None:
    verdict = classify(
        dsn(block("kees@gld.example", "delivered", "2.0.0"), subject="Successful Mail Delivery")
    )
    assert verdict.kind == "delivered"
    assert all(f.bounce_class == "delivered" for f in verdict.findings)


def test_one_delivered_and_one_failed_recipient_is_a_bounce() -> None:
    verdict = classify(
        dsn(
            block("kees@gld.example", "delivered", "2.0.0"),
            block("anna@gld.example", "failed", "5.1.1", "550 5.1.1 User unknown"),
        )
    )
    assert verdict.kind == "bounce"
    assert {f.recipient: f.bounce_class for f in verdict.findings}["anna@gld.example"] == "hard"


def arf(feedback_type: str) -> bytes:
    return f"""From: feedback@isp.example
To: abuse@ipo.example
Subject: FW: Nieuwsbrief december
Message-ID: <arf-1@isp.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b2"

--b2
Content-Type: text/plain

This is an email abuse report.

--b2
Content-Type: message/feedback-report

Feedback-Type: {feedback_type}
User-Agent: ExampleFBL/1.0
Version: 1
Original-Rcpt-To: <Kees@GLD.example>

--b2
Content-Type: text/rfc822-headers

From: IPO Statenleden <statenleden@ipo.example>
To: kees@gld.example
Message-ID: {OURS}

--b2--
""".encode()


@pytest.mark.parametrize("feedback_type", ["abuse", "opt-out"])
def test_an_arf_report_is_a_complaint_about_the_recipient_it_names(feedback_type: str) -> None:
    verdict = classify(arf(feedback_type))
    assert verdict.kind == "complaint"
    assert verdict.feedback_type == feedback_type
    assert [(f.recipient, f.bounce_class) for f in verdict.findings] == [
        ("kees@gld.example", "complaint")
    ]
    assert verdict.original_message_id == OURS


def test_apples_one_tap_unsubscribe_is_an_opt_out_by_the_sender() -> None:
    verdict = classify(
        b"From: Kees <kees@gld.example>\nTo: statenleden@ipo.example\nSubject: unsubscribe\n"
        b"X-Apple-Unsubscribe: true\nMessage-ID: <apple-1@gld.example>\n\nunsubscribe\n"
    )
    assert (verdict.kind, verdict.feedback_type) == ("complaint", "opt-out")
    assert [f.recipient for f in verdict.findings] == ["kees@gld.example"]


def ses(notification: dict) -> bytes:
    body = json.dumps(notification).encode()
    return (
        b"From: no-reply@sns.amazonaws.example\nTo: statenleden@ipo.example\n"
        b"Subject: Amazon SES notification\nMessage-ID: <ses-1@sns.example>\n"
        b"Content-Type: text/plain; charset=utf-8\n\n" + body + b"\n"
    )


def test_an_ses_complaint_notification_is_a_complaint_about_its_recipients() -> None:
    verdict = classify(
        ses(
            {
                "notificationType": "Complaint",
                "complaint": {"complainedRecipients": [{"emailAddress": "anna@gld.example"}]},
                "mail": {"commonHeaders": {"messageId": OURS}},
            }
        )
    )
    assert verdict.kind == "complaint"
    assert [f.recipient for f in verdict.findings] == ["anna@gld.example"]
    assert verdict.original_message_id == OURS


def test_an_ses_delivery_notification_is_no_bounce() -> None:
    verdict = classify(
        ses(
            {
                "notificationType": "Delivery",
                "delivery": {"recipients": ["anna@gld.example"], "smtpResponse": "250 2.0.0 OK"},
                "mail": {"commonHeaders": {"messageId": OURS}},
            }
        )
    )
    assert verdict.kind == "delivered"
    assert [f.bounce_class for f in verdict.findings] == ["delivered"]


def test_an_auto_submitted_reply_is_an_auto_reply_not_a_question() -> None:
    verdict = classify(
        b"From: Anna <anna@gld.example>\nTo: statenleden@ipo.example\n"
        b"Subject: Re: Nieuwsbrief december\nAuto-Submitted: auto-replied\n"
        b"Message-ID: <ooo-1@gld.example>\n\nIk ben er niet.\n"
    )
    assert verdict.kind == "autoreply"
    assert verdict.sender == "anna@gld.example"


def test_a_bounce_from_the_mailer_daemon_is_not_mistaken_for_an_auto_reply() -> None:
    verdict = classify(
        b"From: Mail Delivery System <MAILER-DAEMON@mx.gld.example>\n"
        b"To: " + VERP.encode() + b"\nSubject: Undelivered Mail Returned to Sender\n"
        b"Auto-Submitted: auto-replied\nMessage-ID: <b-1@mx.gld.example>\n\n"
        b"I'm sorry to have to inform you that your message could not\n"
        b"be delivered to one or more recipients.\n\n"
        b"<kees@gld.example>: host mx.gld.example said: 550 5.1.1 User unknown "
        b"(in reply to RCPT TO command)\n"
    )
    assert verdict.kind == "bounce"
    assert [(f.recipient, f.bounce_class) for f in verdict.findings] == [
        ("kees@gld.example", "hard")
    ]


# -- what processing makes of a finding ---------------------------------------------------------


@pytest.mark.parametrize(
    "finding, kind",
    [
        (Finding("a@gld.example", "hard", "5.1.1", reason="userunknown"), "hard"),
        (Finding("a@gld.example", "soft", "5.7.1", reason="spam"), "policy"),
        (Finding("a@gld.example", "soft", "5.0.0", reason="authfailure"), "policy"),
        (
            Finding("a@gld.example", "soft", "4.2.2", reason="mailboxfull", action="delayed"),
            "delayed",
        ),
        (Finding("a@gld.example", "soft", "5.2.2", reason="mailboxfull", action="failed"), "soft"),
    ],
)
def test_each_finding_becomes_the_bounce_kind_the_policy_counts(
    finding: Finding, kind: str
) -> None:
    assert bounce_kind(finding) == kind
