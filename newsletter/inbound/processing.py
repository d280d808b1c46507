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
- **complaint** (ARF): tied the same way; recorded in `bounces` (source `arf`, kind
  `complaint`, counted per mailing by `issue report`) and the subscriber unsubscribed at once.
- **autoreply**: recorded, never answered; a return date in the text ("tot en met 15 december",
  "terug op 4 januari 2027", "back on January 4") goes into `inbound.return_date`.
- **unsubscribe** by mail: the subscriber whose address is the From address is unsubscribed and
  gets a short confirmation (Auto-Submitted: auto-replied, In-Reply-To). When the From matches
  no subscriber (a forward, a spoof) nothing changes and it stays a message for staff.
- **message**: everything else, for staff; `ProcessReport.message_ids` names them (the
  conversations module reads them from there, or from `messages_for_staff()`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from sqlite_utils import Database

from newsletter import clock, store
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.headers import format_address, is_message_id
from newsletter.inbound import mailbox
from newsletter.inbound.classify import Finding, Verdict, classify
from newsletter.outbound.transports import Envelope, send_one
from newsletter.people import preferences, privacy
from newsletter.store import audit
from newsletter.tokens import read_bounce_address

ACTOR = "mailbox"
RECENT_MAILING_DAYS = 45  # Final-Recipient is matched against the deliveries of this many days
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


@dataclass(frozen=True)
class Tie:
    """The delivery a finding is about, and how we know."""

    delivery_id: int
    subscriber_id: int
    mailing_id: str
    email: str
    how: str  # verp, message-id, final-recipient


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
            with store.transaction(db):
                db.execute(
                    "update inbound set status = 'quarantined', reason = ? "
                    "where id = ? and status = 'new'",
                    [reason, inbound_id],
                )
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
        claimed = db.execute(
            "update inbound set status = 'processed', processed_at = ? "
            "where id = ? and status = 'new'",
            [clock.utc_iso(now), inbound_id],
        ).rowcount
        if not claimed:
            return
        kind = verdict.kind
        if kind == "bounce":
            outcome = _bounce(db, settings, inbound_id, verdict, now, report)
        elif kind == "complaint":
            outcome = _complaint(db, settings, inbound_id, verdict, now, report)
        elif kind == "autoreply":
            outcome = _autoreply(db, verdict, raw or b"", now)
        elif kind == "unsubscribe":
            outcome, confirm = _unsubscribe_request(db, verdict, raw or b"", report)
            if confirm is None and outcome.get("kind") == "message":
                kind = "message"
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
    db.execute(
        "update inbound set kind = ?, verdict = ?, outcome = ?, subscriber_id = ?, "
        "delivery_id = ?, return_date = ?, reason = ? where id = ?",
        [
            kind,
            store.dumps(verdict.as_dict()),
            store.dumps(outcome),
            outcome.get("subscriber_id"),
            outcome.get("delivery_id"),
            outcome.get("return_date"),
            str(outcome.get("note", ""))[:500] or None,
            inbound_id,
        ],
    )


PROOF = ("verp", "message-id")  # ties that prove the report is about a delivery we made


def messages_for_staff(db: Database) -> list[int]:
    """Every processed message of kind `message` (questions, forwards ...), oldest first."""
    return [
        r[0]
        for r in db.execute(
            "select id from inbound where status = 'processed' and kind = 'message' order by id"
        )
    ]


# -- tying a report to a delivery -----------------------------------------------------------


def _delivery(db: Database, where: str, args: list[Any]) -> Tie | None:
    row = db.execute(
        f"select id, subscriber_id, mailing_id, email from deliveries where {where} "
        "order by id desc limit 1",
        args,
    ).fetchone()
    return Tie(row[0], row[1], row[2], row[3], "") if row else None


def _ours(settings: Settings, address: str) -> bool:
    """Is address one of our VERP bounce addresses (bounces+...@domain), genuine or not?"""
    base = settings.delivery.bounce_address.lower()
    if not base or "@" not in address:
        return False
    local, _, domain = address.lower().partition("@")
    base_local, _, base_domain = base.partition("@")
    return domain == base_domain and local.startswith(base_local + "+")


def tie_report(
    db: Database, settings: Settings, verdict: Verdict, now: datetime
) -> tuple[Tie | None, str]:
    """The one delivery the whole report names (VERP, then Message-ID), or None and why not.

    A refusal reason starting with "refused" means the report must change nothing at all.
    """
    if _ours(settings, verdict.envelope_to):
        delivery_id = read_bounce_address(settings, verdict.envelope_to)
        if delivery_id is None:
            return None, f"refused: forged bounce address {verdict.envelope_to}"
        tie = _delivery(db, "id = ?", [delivery_id])
        if tie is None:
            return None, f"refused: bounce address names no delivery ({delivery_id})"
        return Tie(tie.delivery_id, tie.subscriber_id, tie.mailing_id, tie.email, "verp"), ""
    if verdict.original_message_id:
        tie = _delivery(db, "message_id = ?", [verdict.original_message_id])
        if tie is not None:
            return (
                Tie(tie.delivery_id, tie.subscriber_id, tie.mailing_id, tie.email, "message-id"),
                "",
            )
    return None, ""


def tie_recipient(db: Database, recipient: str, now: datetime) -> Tie | None:
    """The latest delivery to recipient in a mailing of the last RECENT_MAILING_DAYS days."""
    if not recipient:
        return None
    since = clock.utc_iso(now - timedelta(days=RECENT_MAILING_DAYS))
    tie = _delivery(
        db, "email = ? and coalesce(sent_at, sending_at, queued_at) >= ?", [recipient, since]
    )
    if tie is None:
        return None
    return Tie(tie.delivery_id, tie.subscriber_id, tie.mailing_id, tie.email, "final-recipient")


def _pairs(
    db: Database, settings: Settings, verdict: Verdict, wanted: tuple[str, ...], now: datetime
) -> tuple[list[tuple[Finding, Tie]], str]:
    """Each finding of a class in wanted with the delivery it is about; untied ones dropped."""
    findings = [f for f in verdict.findings if f.bounce_class in wanted]
    tie, refusal = tie_report(db, settings, verdict, now)
    if refusal:
        return [], refusal
    if tie is not None:
        own = [f for f in findings if f.recipient == tie.email.lower()]
        chosen = own or sorted(findings, key=lambda f: f.bounce_class != "hard")[:1]
        if not chosen:
            return [], "names no failed recipient: nothing changed"
        return [(f, tie) for f in chosen], ""
    pairs = []
    for finding in findings:
        by_recipient = tie_recipient(db, finding.recipient, now)
        if by_recipient is not None:
            pairs.append((finding, by_recipient))
    return pairs, "" if pairs else "names no delivery of ours: nothing changed"


# -- bounces --------------------------------------------------------------------------------


def bounce_kind(finding: Finding) -> str:
    """hard, soft, policy (about us: never unsubscribes) or delayed (not given up yet)."""
    if finding.bounce_class == "hard":
        return "hard"
    if finding.status.startswith("5.7") or finding.reason in POLICY_REASONS:
        return "policy"
    if finding.action == "delayed":
        return "delayed"
    return "soft"


def _bounce(
    db: Database,
    settings: Settings,
    inbound_id: int,
    verdict: Verdict,
    now: datetime,
    report: ProcessReport,
) -> dict[str, Any]:
    pairs, note = _pairs(db, settings, verdict, ("hard", "soft"), now)
    if not pairs:
        report.untied_bounces += 1
        return {"tied": [], "note": f"bounce {note}"}
    tied = []
    for finding, tie in pairs:
        kind = bounce_kind(finding)
        report.hard_bounces += kind == "hard"
        db.table("bounces").insert(
            {
                "subscriber_id": tie.subscriber_id,
                "delivery_id": tie.delivery_id,
                "mailing_id": tie.mailing_id,
                "source": "dsn",
                "kind": kind,
                "reply": " ".join(x for x in (finding.status, finding.evidence) if x)[:500],
                "created_at": clock.utc_iso(now),
                "inbound_id": inbound_id,
                "tied_by": tie.how,
            }
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
    hard = db.execute(
        "select count(distinct delivery_id) from bounces where subscriber_id = ? and kind = 'hard'",
        [subscriber_id],
    ).fetchone()[0]
    why = ""
    if hard >= settings.inbox.hard_bounces:
        why = f"{hard} hard bounce{'s' if hard != 1 else ''}"
    else:
        needed = settings.inbox.soft_bounce_mailings
        last = [
            r[0]
            for r in db.execute(
                "select mailing_id from deliveries where subscriber_id = ? "
                "group by mailing_id order by max(id) desc limit ?",
                [subscriber_id, needed],
            )
        ]
        bounced = {
            r[0]
            for r in db.execute(
                "select distinct mailing_id from bounces where subscriber_id = ? "
                "and kind in ('hard', 'soft')",
                [subscriber_id],
            )
        }
        if len(last) == needed and all(m in bounced for m in last):
            why = f"a bounce in each of the last {needed} mailings"
    if not why:
        return False
    changed = db.execute(
        "update subscribers set status = 'bounced', updated_at = ? "
        "where id = ? and status in ('active', 'paused', 'pending')",
        [clock.utc_iso(now), subscriber_id],
    ).rowcount
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
    pairs, note = _pairs(db, settings, verdict, ("complaint",), now)
    if not pairs and verdict.original_message_id == "" and verdict.sender:
        # Apple's one-tap unsubscribe and some ISPs: the reader's own address is the sender.
        tie = tie_recipient(db, verdict.sender, now)
        if tie is not None and verdict.feedback_type == "opt-out":
            # The reader's own address asks, as with an "afmelden" mail: the same trust.
            pairs = [(verdict.findings[0], replace(tie, how="sender"))]
    if not pairs:
        return {"tied": [], "note": f"complaint {note}"}
    tied = []
    for _, tie in pairs:
        db.table("bounces").insert(
            {
                "subscriber_id": tie.subscriber_id,
                "delivery_id": tie.delivery_id,
                "mailing_id": tie.mailing_id,
                "source": "arf",
                "kind": "complaint",
                "reply": f"Feedback-Type: {verdict.feedback_type or 'abuse'}",
                "created_at": clock.utc_iso(now),
                "inbound_id": inbound_id,
                "tied_by": tie.how,
            }
        )
        if tie.how in (*PROOF, "sender") and preferences.unsubscribe(
            db, tie.subscriber_id, ACTOR, "complaint"
        ):
            report.unsubscribed.append(tie.email)
        tied.append({"delivery_id": tie.delivery_id, "email": tie.email, "tied_by": tie.how})
    first = pairs[0][1]
    return {
        "tied": tied,
        "subscriber_id": first.subscriber_id,
        "delivery_id": first.delivery_id,
        "note": "complaint by " + ", ".join(t.email for _, t in pairs) + ": unsubscribed",
    }


# -- auto-replies ---------------------------------------------------------------------------

MONTHS = {
    **{
        name: n
        for n, name in enumerate(
            (
                "januari",
                "februari",
                "maart",
                "april",
                "mei",
                "juni",
                "juli",
                "augustus",
                "september",
                "oktober",
                "november",
                "december",
            ),
            1,
        )
    },
    **{
        name: n
        for n, name in enumerate(
            (
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ),
            1,
        )
    },
    "jan": 1,
    "feb": 2,
    "mrt": 3,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "okt": 10,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAYNAME = (
    r"(?:(?:maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday),?\s+)?"
)
# "tot en met"/"t/m": absent through that day, so back the day after.
_INCLUSIVE = r"(tot\s+en\s+met|t/m|through|up\s+to\s+and\s+including)"
_UNTIL = (
    r"(" + _INCLUSIVE[1:-1] + r"|terug\s+op|weer\s+(?:aanwezig|bereikbaar|op\s+kantoor)\s+(?:op|"
    r"vanaf)|vanaf|tot|back\s+(?:in\s+the\s+office\s+)?on|back|returning\s+on|return\s+on|"
    r"return(?:ing)?|until|till)"
)
_DAY_FIRST = re.compile(
    _UNTIL + r"\s+" + _DAYNAME + r"(\d{1,2})(?:e|st|nd|rd|th)?\s+" + _MONTH + r"(?:\s+(\d{4}))?",
    re.I,
)
_MONTH_FIRST = re.compile(
    _UNTIL + r"\s+" + _DAYNAME + _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?", re.I
)
_NUMERIC = re.compile(_UNTIL + r"\s+" + _DAYNAME + r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", re.I)


def return_date(text: str, today: date) -> date | None:
    """The first day someone is back, from an out-of-office text; None when it says none."""
    found: list[tuple[int, str, int, int, int | None]] = []
    for match in _DAY_FIRST.finditer(text):
        year = int(match[4]) if match[4] else None
        found.append((match.start(), match[1], MONTHS[match[3].lower()], int(match[2]), year))
    for match in _MONTH_FIRST.finditer(text):
        year = int(match[4]) if match[4] else None
        found.append((match.start(), match[1], MONTHS[match[2].lower()], int(match[3]), year))
    for match in _NUMERIC.finditer(text):
        found.append((match.start(), match[1], int(match[3]), int(match[2]), int(match[4])))
    for _, word, month, day, year in sorted(found):
        try:
            when = date(year or today.year, month, day)
        except ValueError:
            continue
        if year is None and when < today - timedelta(days=7):
            when = date(today.year + 1, month, day)  # "back on January 4", said in December
        if re.fullmatch(_INCLUSIVE, word.lower()):
            when += timedelta(days=1)
        return when
    return None


def _autoreply(db: Database, verdict: Verdict, raw: bytes, now: datetime) -> dict[str, Any]:
    row = db.execute("select id from subscribers where email = ?", [verdict.sender]).fetchone()
    text = _plain_text(raw)
    back = return_date(f"{verdict.subject}\n{text}", now.astimezone(clock.AMSTERDAM).date())
    outcome: dict[str, Any] = {
        "subscriber_id": row[0] if row else None,
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
    db: Database, verdict: Verdict, raw: bytes, report: ProcessReport
) -> tuple[dict[str, Any], tuple[int, str, str] | None]:
    row = db.execute(
        "select id, email, name, status from subscribers where email = ?", [verdict.sender]
    ).fetchone()
    if row is None:
        return {
            "kind": "message",
            "note": f"asks to unsubscribe, but From {verdict.sender or '(none)'} is no "
            "subscriber (forwarded or spoofed?): nothing changed, for staff",
        }, None
    subscriber_id, address, name, status = row
    changed = preferences.unsubscribe(db, subscriber_id, ACTOR, "mail")
    outcome: dict[str, Any] = {"subscriber_id": subscriber_id, "unsubscribed": changed}
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
Beste {name},

U hebt ons gevraagd u af te melden voor de nieuwsbrief Statenleden van het IPO.
Dat is gedaan: u ontvangt de nieuwsbrief niet meer.

Was dit een vergissing? Beantwoord dan deze e-mail, dan zetten wij u weer op
de lijst.

Met vriendelijke groet,

Interprovinciaal Overleg
{address}
"""


def confirmation_message(
    settings: Settings, name: str, address: str, in_reply_to: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = format_address(name, address) if name else address
    message["Subject"] = "Afgemeld voor de nieuwsbrief Statenleden"
    message["Date"] = format_datetime(clock.now().astimezone(clock.AMSTERDAM))
    message["Message-ID"] = make_msgid(domain=settings.sender_domain)
    if is_message_id(in_reply_to):  # never a header value from outside that could break one
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message["Auto-Submitted"] = "auto-replied"
    message["Content-Language"] = "nl"
    message.set_content(CONFIRMATION.format(name=name or "lezer", address=settings.sender_address))
    return message


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
    message = confirmation_message(settings, name, address, verdict.message_id)
    try:
        send_one(
            settings.transport,
            settings.project,
            Envelope(settings.sender_address, address, str(message["Message-ID"])),
            message.as_bytes(policy=message.policy.clone(linesep="\r\n")),
        )
        note = f"{address} unsubscribed; confirmation sent as {message['Message-ID']}"
    except (NewsletterError, OSError) as exc:
        note = f"{address} unsubscribed; the confirmation could not be sent: {exc}"
        report.problems.append(f"inbound {inbound_id}: {note}")
    with store.transaction(db):
        db.execute("update inbound set reason = ? where id = ?", [note[:500], inbound_id])
        audit.record(
            db,
            ACTOR,
            "unsubscribe-confirmation",
            f"subscriber:{subscriber_id}",
            sent="could not" not in note,
        )


# -- privacy --------------------------------------------------------------------------------


def _erase_verdicts(db: Database, settings: Settings, subject: privacy.Subject) -> int:
    """`subscribers forget`: verdicts and outcomes that name the person are dropped."""
    ids = [subject.subscriber_id or -1, *subject.delivery_ids]
    marks = ",".join("?" * len(ids))
    cursor = db.execute(
        "update inbound set verdict = null, outcome = null, return_date = null, "
        "subscriber_id = null, delivery_id = null, reason = 'erased by subscribers forget' "
        f"where subscriber_id = ? or delivery_id in ({marks}) "
        "or instr(lower(coalesce(verdict, '') || coalesce(outcome, '') || "
        "coalesce(reason, '')), ?) > 0",
        [subject.subscriber_id or -1, *ids, subject.email],
    )
    return int(cursor.rowcount)


privacy.register("inbound-verdicts", _erase_verdicts)
