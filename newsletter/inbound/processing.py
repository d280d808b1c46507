"""The contact mailbox, processing: every new inbound message classified once and acted on.

`process_inbox()` takes the `inbound` rows with status `new` (mailbox.new_message_ids), oldest
first, classifies each (classify.classify) and commits, per message and before the next one,
what it did together with status `processed`, the kind and the verdict with its evidence:

- **bounce**: each finding is tied to a delivery we made: first the signed VERP address the
  report was sent to (a forged or unknown token: refused, nothing changes), then our Message-ID
  in the returned headers (deliveries.message_id), then Final-Recipient against the deliveries
  of a recent mailing. Tied findings go into `bounces` (source `dsn`, kind hard/soft/policy/
  delayed); a bounce that cannot be tied changes nothing. Policy (`[inbox]`): `hard_bounces`
  hard bounces mark the subscriber `bounced`; soft bounces only when each of the subscriber's
  last `soft_bounce_mailings` mailings bounced; policy rejections (5.7.x) and delays never.
  Success reports (`delivered`) are not bounces.
- **complaint** (ARF): only one tied to a delivery of ours by the signed VERP address or our
  Message-ID counts: recorded in `bounces` (source `arf`, kind `complaint`, counted per mailing
  by `issue report`) and the subscriber unsubscribed at once. Any other (an opt-out that only
  names an address or comes from it) changes nothing: "niet gekoppeld: niets gewijzigd".
- **autoreply**: recorded, never answered; a return date in the text ("tot en met 15 december",
  "terug op 4 januari 2027", "back on January 4") goes into `inbound.return_date`.
- **unsubscribe** by mail: only when proven (proof.py: a reply to a message of ours sent to
  that address, or DMARC / aligned DKIM or SPF pass from the trusted receiving server) the
  subscriber whose address is the From address is unsubscribed and gets a short confirmation
  (Auto-Submitted: auto-replied, In-Reply-To). Unproven, it is a message for staff marked
  "afmelding niet bevestigd" and nothing changes. When the From matches no subscriber (a
  forward) nothing changes either. A reply to our "Afgemeld" confirmation is always a message
  for staff ("reactie op afmeldbevestiging"), also from an unsubscribed address.
- **message**: everything else, for staff; `ProcessReport.message_ids` names them (the
  conversations module reads them from there, or from `messages_for_staff()`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sqlite_utils import Database

from newsletter import clock, store
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.headers import is_message_id
from newsletter.inbound import mailbox
from newsletter.inbound.classify import Finding, Verdict, classify
from newsletter.inbound.proof import (
    CONFIRMATION_PURPOSE,
    replies_to_confirmation,
    unsubscribe_proof,
)
from newsletter.inbound.return_dates import return_date
from newsletter.inbound.ties import PROOF, tie_findings
from newsletter.mail.compose import compose
from newsletter.outbound.transports import Envelope, send_one
from newsletter.people import preferences, privacy
from newsletter.store import audit, inbound
from newsletter.store import subscribers as subscriber_rows

ACTOR = "mailbox"
UNCONFIRMED = "afmelding niet bevestigd"  # shown to staff on the conversation
CONFIRMATION_REPLY = "reactie op afmeldbevestiging"
UNTIED = "niet gekoppeld: niets gewijzigd"
POLICY_REASONS = frozenset({"policy", "spam", "authfailure"})
COUNTED_BOUNCES = ("hard", "soft")  # what counts toward the bounce policy; policy/delayed never


@dataclass
class ProcessReport:
    """What one run did: per kind the inbound ids, and what changed."""

    processed: int = 0
    bounces: list[int] = field(default_factory=list)
    hard_bounces: int = 0  # tied hard findings
    untied_bounces: int = 0  # bounce messages that named no delivery of ours
    marked_bounced: list[str] = field(default_factory=list)  # addresses now `bounced`
    complaints: list[int] = field(default_factory=list)
    autoreplies: list[int] = field(default_factory=list)
    unsubscribes: list[int] = field(default_factory=list)
    unsubscribed: list[str] = field(default_factory=list)  # addresses unsubscribed by mail/ARF
    delivered: list[int] = field(default_factory=list)  # success reports: not bounces
    message_ids: list[int] = field(default_factory=list)  # kind `message`: for staff
    problems: list[str] = field(default_factory=list)  # e.g. a confirmation that could not go

    def summary(self) -> str:
        def n(count: int, word: str, plural: str | None = None) -> str:
            return f"{count} {word if count == 1 else (plural or word + 's')}"

        parts = [
            n(len(self.bounces), "bounce") + f" ({self.hard_bounces} hard)",
            n(len(self.complaints), "complaint"),
            n(len(self.autoreplies), "auto-reply", "auto-replies"),
            n(len(self.unsubscribes), "unsubscribe"),
            n(len(self.delivered), "delivery report"),
            n(len(self.message_ids), "question"),
        ]
        shown = [p for p in parts if not p.startswith("0 ")]
        return "Processed: " + (", ".join(shown) if shown else "nothing new")


# -- the loop -------------------------------------------------------------------------------

MessageHook = Callable[[Database, Settings, int], object]
MESSAGE_HOOKS: list[MessageHook] = []


def on_message(hook: MessageHook) -> None:
    """Call hook(db, settings, inbound_id) for every message processed as kind `message`, after
    its commit (e.g. conversations.add_inbound; register it when that module is imported). A
    NewsletterError or OSError it raises is reported in ProcessReport.problems; the message
    stays processed and `messages_for_staff()` still names it."""
    if hook not in MESSAGE_HOOKS:
        MESSAGE_HOOKS.append(hook)


CatchUp = Callable[[Database, Settings], list[str]]
CATCH_UP_HOOKS: list[CatchUp] = []


def on_catch_up(hook: CatchUp) -> None:
    """Register work that finishes what a failed message hook left (returns its problems)."""
    if hook not in CATCH_UP_HOOKS:
        CATCH_UP_HOOKS.append(hook)


def fetch_and_process(
    db: Database, settings: Settings, now: datetime
) -> tuple[mailbox.FetchReport, ProcessReport]:
    """What `inbox fetch` and tick do: read every source, then act on every new message, then
    finish what an earlier run's message hook could not (so no question is ever dropped)."""
    fetched, processed = mailbox.fetch_inbox(db, settings, now), process_inbox(db, settings, now)
    for hook in CATCH_UP_HOOKS:
        processed.problems += hook(db, settings)
    return fetched, processed


def process_inbox(db: Database, settings: Settings, now: datetime | None = None) -> ProcessReport:
    """Classify and act on every message with status `new`, each committed before the next."""
    now = now or clock.now()
    report = ProcessReport()
    for inbound_id in mailbox.new_message_ids(db):
        try:
            process_message(db, settings, inbound_id, now, report)
        except Exception as exc:  # one bad message never stops the others
            # Rolled back (when it failed before its commit): quarantined with the reason, so
            # it is not tried again and again.
            reason = f"processing failed: {type(exc).__name__}: {exc}"[:500]
            inbound.quarantine_new(db, inbound_id, reason)
            report.problems.append(f"inbound {inbound_id}: {reason}")
    return report


def process_message(
    db: Database, settings: Settings, inbound_id: int, now: datetime, report: ProcessReport
) -> None:
    raw = mailbox.raw_message(db, inbound_id)
    verdict = classify(raw) if raw is not None else Verdict("message", evidence="raw not kept")
    outcome: dict[str, Any] = {}
    confirm: tuple[int, str, str] | None = None
    with store.transaction(db):
        # Claim it: a second process that got here first leaves nothing for this one.
        if not inbound.claim(db, inbound_id, now):
            return
        kind = verdict.kind
        if kind == "bounce":
            outcome = _bounce(db, settings, inbound_id, verdict, now, report)
        elif kind == "complaint":
            outcome = _complaint(db, settings, inbound_id, verdict, now, report)
        elif kind == "autoreply":
            outcome = _autoreply(db, verdict, raw or b"", now)
        elif kind == "unsubscribe":
            outcome, confirm = _unsubscribe_request(db, settings, verdict, raw or b"", report)
            if confirm is None and outcome.get("kind") == "message":
                kind = "message"
        if kind == "message" and raw and replies_to_confirmation(settings, raw):
            outcome.setdefault("staff_note", CONFIRMATION_REPLY)
        _save(db, inbound_id, kind, verdict, outcome)
    report.processed += 1
    {
        "bounce": report.bounces,
        "complaint": report.complaints,
        "autoreply": report.autoreplies,
        "unsubscribe": report.unsubscribes,
        "delivered": report.delivered,
    }.get(kind, report.message_ids).append(inbound_id)
    if confirm is not None:
        _send_confirmation(db, settings, inbound_id, verdict, *confirm, report)
    if kind == "message":
        for hook in MESSAGE_HOOKS:
            try:
                hook(db, settings, inbound_id)
            except (NewsletterError, OSError) as exc:
                report.problems.append(f"inbound {inbound_id}: {exc}")


def _save(
    db: Database, inbound_id: int, kind: str, verdict: Verdict, outcome: dict[str, Any]
) -> None:
    inbound.save_verdict(
        db,
        inbound_id,
        kind,
        store.dumps(verdict.as_dict()),
        store.dumps(outcome),
        outcome.get("subscriber_id"),
        outcome.get("delivery_id"),
        outcome.get("return_date"),
        str(outcome.get("note", ""))[:500] or None,
    )


messages_for_staff = inbound.messages_for_staff


# -- bounces --------------------------------------------------------------------------------


def bounce_kind(finding: Finding) -> str:
    """hard, soft, policy (about us: never unsubscribes) or delayed (not given up yet)."""
    if finding.bounce_class == "hard":
        return "hard"
    if finding.action == "delayed":  # a warning, not a verdict: whatever it says, it goes on
        return "delayed"
    if finding.status.startswith("5.7") or finding.reason in POLICY_REASONS:
        return "policy"
    return "soft"


def _bounce(
    db: Database,
    settings: Settings,
    inbound_id: int,
    verdict: Verdict,
    now: datetime,
    report: ProcessReport,
) -> dict[str, Any]:
    pairs, note = tie_findings(db, settings, verdict, ("hard", "soft"), now)
    if not pairs:
        report.untied_bounces += 1
        return {"tied": [], "note": f"bounce {note}"}
    tied = []
    for finding, tie in pairs:
        kind = bounce_kind(finding)
        report.hard_bounces += kind == "hard"
        inbound.record_bounce(
            db,
            inbound.Bounce(
                subscriber_id=tie.subscriber_id,
                delivery_id=tie.delivery_id,
                mailing_id=tie.mailing_id,
                source="dsn",
                kind=kind,
                reply=" ".join(x for x in (finding.status, finding.evidence) if x)[:500],
                created_at=clock.utc_iso(now),
                inbound_id=inbound_id,
                tied_by=tie.how,
            ),
        )
        # Only a bounce tied to our own delivery by the signed envelope address or our (keyed)
        # Message-ID may end a subscription; a recipient named in a report anyone can forge
        # is evidence, not proof.
        marked = tie.how in PROOF and _apply_policy(db, settings, tie.subscriber_id, kind, now)
        if marked:
            report.marked_bounced.append(tie.email)
        tied.append(
            {
                "delivery_id": tie.delivery_id,
                "email": tie.email,
                "kind": kind,
                "tied_by": tie.how,
                "marked_bounced": marked,
            }
        )
    first = pairs[0][1]
    note = "; ".join(
        f"{t['kind']} bounce of {t['email']} (by {t['tied_by']})"
        + (", marked bounced" if t["marked_bounced"] else "")
        + ("" if t["tied_by"] in PROOF else f": {UNTIED}")
        for t in tied
    )
    return {
        "tied": tied,
        "subscriber_id": first.subscriber_id,
        "delivery_id": first.delivery_id,
        "note": note,
    }


def _apply_policy(
    db: Database, settings: Settings, subscriber_id: int, kind: str, now: datetime
) -> bool:
    """Mark the subscriber bounced when the policy says so; True when it changed the status."""
    if kind not in COUNTED_BOUNCES:
        return False
    hard = inbound.hard_bounce_count(db, subscriber_id)
    why = ""
    if hard >= settings.inbox.hard_bounces:
        why = f"{hard} hard bounce{'s' if hard != 1 else ''}"
    else:
        needed = settings.inbox.soft_bounce_mailings
        last = inbound.last_mailings(db, subscriber_id, needed)
        bounced = inbound.bounced_mailings(db, subscriber_id)
        if len(last) == needed and all(m in bounced for m in last):
            why = f"a bounce in each of the last {needed} mailings"
    if not why:
        return False
    changed = inbound.mark_bounced(db, subscriber_id, now)
    if changed:
        audit.record(db, ACTOR, "bounced", f"subscriber:{subscriber_id}", why=why)
    return bool(changed)


# -- complaints -----------------------------------------------------------------------------


def _complaint(
    db: Database,
    settings: Settings,
    inbound_id: int,
    verdict: Verdict,
    now: datetime,
    report: ProcessReport,
) -> dict[str, Any]:
    pairs, note = tie_findings(db, settings, verdict, ("complaint",), now)
    # Only a report tied to a delivery of ours by the signed VERP address or our (keyed)
    # Message-ID counts; a recipient it merely names, or its own From, anyone can write.
    pairs = [(finding, tie) for finding, tie in pairs if tie.how in PROOF]
    if not pairs:
        why = (
            note.removeprefix("refused: ")
            if note.startswith("refused")
            else ("no signed bounce address and no Message-ID of ours")
        )
        return {"tied": [], "note": f"complaint {UNTIED} ({why})"}
    tied = []
    for _, tie in pairs:
        inbound.record_bounce(
            db,
            inbound.Bounce(
                subscriber_id=tie.subscriber_id,
                delivery_id=tie.delivery_id,
                mailing_id=tie.mailing_id,
                source="arf",
                kind="complaint",
                reply=f"Feedback-Type: {verdict.feedback_type or 'abuse'}",
                created_at=clock.utc_iso(now),
                inbound_id=inbound_id,
                tied_by=tie.how,
            ),
        )
        if preferences.unsubscribe(db, tie.subscriber_id, ACTOR, "complaint"):
            report.unsubscribed.append(tie.email)
        tied.append({"delivery_id": tie.delivery_id, "email": tie.email, "tied_by": tie.how})
    first = pairs[0][1]
    return {
        "tied": tied,
        "subscriber_id": first.subscriber_id,
        "delivery_id": first.delivery_id,
        "note": "complaint by "
        + ", ".join(
            f"{t.email}: unsubscribed" if t.how in (*PROOF, "sender") else f"{t.email}: {UNTIED}"
            for _, t in pairs
        ),
    }


# -- auto-replies ---------------------------------------------------------------------------


def _autoreply(db: Database, verdict: Verdict, raw: bytes, now: datetime) -> dict[str, Any]:
    row = inbound.subscriber_by_email(db, verdict.sender) if verdict.sender else None
    text = _plain_text(raw)
    back = return_date(f"{verdict.subject}\n{text}", now.astimezone(clock.AMSTERDAM).date())
    outcome: dict[str, Any] = {
        "subscriber_id": row.id if row else None,
        "return_date": back.isoformat() if back else None,
        "note": "auto-reply, not answered" + (f"; back on {back.isoformat()}" if back else ""),
    }
    return outcome


def _plain_text(raw: bytes, limit: int = 20_000) -> str:
    import email
    from email import policy

    try:
        message = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        part = message.get_body(preferencelist=("plain", "html"))
        content = part.get_content() if part is not None else ""
        text = content if isinstance(content, str) else ""
        if part is not None and part.get_content_type() == "text/html":
            text = re.sub(r"<[^>]+>", " ", text)
        return text[:limit]
    except Exception:  # a message the classifier read may still defeat get_body()
        return ""


# -- unsubscribe requests by mail -----------------------------------------------------------


def _unsubscribe_request(
    db: Database, settings: Settings, verdict: Verdict, raw: bytes, report: ProcessReport
) -> tuple[dict[str, Any], tuple[int, str, str] | None]:
    if replies_to_confirmation(settings, raw):
        return {
            "kind": "message",
            "staff_note": CONFIRMATION_REPLY,
            "note": "answers our unsubscribe confirmation: nothing changed, for staff",
        }, None
    row = inbound.subscriber_by_email(db, verdict.sender) if verdict.sender else None
    if row is None:
        return {
            "kind": "message",
            "note": f"asks to unsubscribe, but From {verdict.sender or '(none)'} is no "
            "subscriber (forwarded or spoofed?): nothing changed, for staff",
        }, None
    subscriber_id, address, name, status = row.id, row.email, row.name, row.status
    proof = unsubscribe_proof(db, settings, raw, verdict.sender)
    if not proof:
        trusted = settings.inbox.trusted_authserv_id or "no trusted_authserv_id set"
        return {
            "kind": "message",
            "subscriber_id": subscriber_id,
            "staff_note": UNCONFIRMED,
            "note": f"{UNCONFIRMED}: asks to unsubscribe {address}, but replies to no message "
            f"of ours and has no DMARC pass from the receiving server ({trusted}): "
            "nothing changed, for staff",
        }, None
    changed = preferences.unsubscribe(db, subscriber_id, ACTOR, "mail")
    outcome: dict[str, Any] = {
        "subscriber_id": subscriber_id,
        "unsubscribed": changed,
        "proof": proof,
    }
    if not changed:
        outcome["note"] = f"asks to unsubscribe; {address} is {status} already: nothing sent"
        return outcome, None
    report.unsubscribed.append(address)
    if _automatic(raw):
        outcome["note"] = f"{address} unsubscribed; no confirmation to automatic mail"
        return outcome, None
    outcome["note"] = f"{address} unsubscribed; confirmation pending"
    return outcome, (subscriber_id, address, name or "")


def _automatic(raw: bytes) -> bool:
    """RFC 3834: never answer automatic, bulk or list mail."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("utf-8", "replace").lower()
    auto = re.search(r"^auto-submitted:\s*(\S+)", head, re.M)
    if auto and auto[1].rstrip(";") != "no":
        return True
    return bool(
        re.search(r"^precedence:\s*(bulk|list|junk)", head, re.M)
        or re.search(r"^list-id:", head, re.M)
    )


CONFIRMATION = """\
{salutation},

U hebt ons gevraagd u af te melden voor de nieuwsbrief Statenleden van het IPO.
Dat is gedaan: u ontvangt de nieuwsbrief niet meer.

Was dit een vergissing? Beantwoord dan deze e-mail, dan melden wij u weer
aan.

Met vriendelijke groet,

Interprovinciaal Overleg
{address}
"""


def confirmation_message(
    settings: Settings, name: str, address: str, in_reply_to: str, salutation: str = ""
) -> EmailMessage:
    """The short confirmation of an unsubscribe by mail, threaded to the request."""
    # Never a header value from outside that could break one: a plain <local@domain> or none.
    parent = in_reply_to if is_message_id(in_reply_to) else ""
    return compose(
        settings,
        to_address=address,
        to_name=name,
        subject="Afgemeld voor de nieuwsbrief Statenleden",
        text=CONFIRMATION.format(
            salutation=salutation or (f"Beste {name}" if name else "Geachte lezer"),
            address=settings.sender_address,
        ),
        in_reply_to=parent,
        references=parent,
        auto_submitted="auto-replied",
        purpose=CONFIRMATION_PURPOSE,  # a reply to it always reaches staff
    )


def _send_confirmation(
    db: Database,
    settings: Settings,
    inbound_id: int,
    verdict: Verdict,
    subscriber_id: int,
    address: str,
    name: str,
    report: ProcessReport,
) -> None:
    """After the commit: a lost confirmation is a pity, an unsubscribe not recorded is worse."""
    sent, note = send_confirmation(db, settings, subscriber_id, verdict.message_id, ACTOR)
    if not sent:
        report.problems.append(f"inbound {inbound_id}: {note}")
    with store.transaction(db):
        inbound.set_reason(db, inbound_id, note[:500])


def send_confirmation(
    db: Database, settings: Settings, subscriber_id: int, in_reply_to: str, actor: str
) -> tuple[bool, str]:
    """The "Afgemeld" confirmation to an unsubscribed reader, threaded to their request
    (In-Reply-To, when there is one), in the log; whether it went, and a note saying so.
    The same message whether they asked by mail or staff did it at their request."""
    person = subscriber_rows.get(db, subscriber_id)
    assert person is not None
    address, name = person.email, person.name or ""
    message = confirmation_message(settings, name, address, in_reply_to, person.salutation or "")
    try:
        send_one(
            settings.transport,
            settings.project,
            Envelope(settings.sender_address, address, str(message["Message-ID"])),
            message.as_bytes(),
        )
        sent, note = True, f"{address} unsubscribed; confirmation sent as {message['Message-ID']}"
    except (NewsletterError, OSError) as exc:
        sent, note = False, f"{address} unsubscribed; the confirmation could not be sent: {exc}"
    with store.transaction(db):
        audit.record(
            db, actor, "unsubscribe-confirmation", f"subscriber:{subscriber_id}", sent=sent
        )
    return sent, note


# -- privacy --------------------------------------------------------------------------------


def erase_verdicts(db: Database, settings: Settings, subject: privacy.Subject) -> int:
    """`subscribers forget`: verdicts and outcomes that name the person are dropped."""
    return inbound.erase_verdicts_about(
        db, subject.subscriber_id, subject.delivery_ids, subject.email
    )
