"""The inbound classifier: the real bounce corpus against the issue's targets, and small cases."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli.main import cli
from newsletter.inbound.classify import Finding, Verdict, classify, split_mbox

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bounces"
BOUNCE_KINDS = {"bounce", "complaint"}


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def verdicts(raw: bytes) -> list[Verdict]:
    return [classify(message) for message in split_mbox(raw)]  # rhost-cox-01 is an mbox of two


@dataclass
class Score:
    confusion: Counter[tuple[str, str]]
    wrong: list[str]

    def count(self, expected: str, got: str | None = None) -> int:
        return sum(n for (e, g), n in self.confusion.items() if e == expected and got in (None, g))

    def rate(self, expected: str, got: str) -> float:
        return self.count(expected, got) / max(1, self.count(expected))

    def report(self) -> str:
        lines = ["confusion (expected -> classified: rows):"]
        lines += [f"  {e:>9} -> {g:<12} {n}" for (e, g), n in sorted(self.confusion.items())]
        lines += ["mismatches:", *(f"  {w}" for w in self.wrong)]
        return "\n".join(lines)


def score(line_ending: str) -> Score:
    """Classify every corpus message and pair its findings with the expected rows.

    expected.csv gives no addresses, and recipient_index is not unique (rfc3464-01 and
    qmail-25 each have two rows with index 1), so a row is paired with the first unused
    finding with the same RFC 3463 status, and otherwise with the next unused finding in the
    order the report lists them.
    """
    rows: dict[str, list[dict[str, str]]] = defaultdict(list)
    with (CORPUS / "expected.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows[row["file"]].append(row)
    confusion: Counter[tuple[str, str]] = Counter()
    wrong = []
    for name, expected in sorted(rows.items()):
        raw = (CORPUS / name).read_bytes()
        found = verdicts(crlf(raw) if line_ending == "CRLF" else raw)
        findings: list[Finding] = [f for v in found for f in v.findings]
        kinds = "/".join(v.kind for v in found)
        paired: dict[int, Finding] = {}
        free = list(range(len(findings)))
        for index, row in enumerate(expected):
            match = next(
                (i for i in free if row["status"] and findings[i].status == row["status"]), None
            )
            if match is not None:
                paired[index] = findings[match]
                free.remove(match)
        for index in range(len(expected)):
            if index not in paired and free:
                paired[index] = findings[free.pop(0)]
        for index, row in enumerate(expected):
            finding = paired.get(index)
            got = finding.bounce_class if finding else f"none:{kinds}"
            confusion[(row["pipeline_class"], got)] += 1
            if got != row["pipeline_class"]:
                detail = (
                    f"{finding.status} {finding.reason}; {finding.evidence[:90]}" if finding else ""
                )
                wrong.append(
                    f"{name} #{row['recipient_index']} expected {row['pipeline_class']}"
                    f" ({row['status']} {row['reason']}), got {got} {detail}"
                )
    return Score(confusion, wrong)


needs_corpus = pytest.mark.skipif(
    not (CORPUS / "expected.csv").is_file(),
    reason=f"the bounce corpus is not beside the checkout ({CORPUS} is absent)",
)


@needs_corpus
@pytest.mark.parametrize("line_ending", ["LF", "CRLF"])
def test_the_corpus_meets_the_issue_targets(line_ending: str) -> None:
    result = score(line_ending)
    hard_recall = result.rate("hard", "hard")
    soft_as_hard = result.rate("soft", "hard")
    print(
        f"{line_ending}: hard recall {hard_recall:.1%} ({result.count('hard', 'hard')}/"
        f"{result.count('hard')}), soft as hard {soft_as_hard:.1%} "
        f"({result.count('soft', 'hard')}/{result.count('soft')}), complaints "
        f"{result.count('complaint', 'complaint')}/{result.count('complaint')}, auto-replies "
        f"{result.count('autoreply', 'autoreply')}/{result.count('autoreply')}, delivered "
        f"{result.count('delivered', 'delivered')}/{result.count('delivered')}"
    )
    report = result.report()
    assert result.count("hard") + result.count("soft") > 300, report
    assert hard_recall >= 0.95, report
    assert soft_as_hard <= 0.02, report
    assert result.rate("complaint", "complaint") == 1.0, report
    assert result.rate("autoreply", "autoreply") == 1.0, report
    assert result.rate("delivered", "delivered") == 1.0, report


@needs_corpus
@pytest.mark.parametrize("line_ending", ["LF", "CRLF"])
def test_success_reports_and_the_controls_are_never_bounces(line_ending: str) -> None:
    with (CORPUS / "expected.csv").open(encoding="utf-8") as handle:
        success = {r["file"] for r in csv.DictReader(handle) if r["pipeline_class"] == "delivered"}
    controls = sorted((CORPUS / "not-bounce").glob("*.eml"))
    assert success and controls
    for path in [*(CORPUS / name for name in sorted(success)), *controls]:
        raw = path.read_bytes()
        verdict = classify(crlf(raw) if line_ending == "CRLF" else raw)
        assert verdict.kind not in BOUNCE_KINDS, (path.name, verdict)
        assert all(f.bounce_class not in ("hard", "soft") for f in verdict.findings), path.name
    for path in controls:
        raw = path.read_bytes()
        assert classify(crlf(raw) if line_ending == "CRLF" else raw).kind == "message", path.name


# -- small hand-written messages ------------------------------------------------------------

VERP = "bounces+4711-0123456789@ipo.example"


def message(headers: str, body: str) -> bytes:
    return (headers.strip() + "\n\n" + body.lstrip("\n")).encode("utf-8")


def test_a_dutch_out_of_office_is_an_auto_reply() -> None:
    raw = message(
        """
From: Anna de Vries <a.devries@gelderland.example>
To: IPO Statenleden <statenleden@ipo.example>
Subject: Automatisch antwoord: Nieuwsbrief december 2026
Message-ID: <ooo-1@gelderland.example>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
""",
        "Ik ben afwezig tot en met maandag 4 januari 2027 en lees mijn mail niet.\n",
    )
    verdict = classify(raw)
    assert verdict.kind == "autoreply"
    assert verdict.findings[0].recipient == "a.devries@gelderland.example"
    assert verdict.findings[0].bounce_class == "autoreply"
    assert "Auto-Submitted" in verdict.evidence
    # Only the subject says so (no RFC 3834 header): still an auto-reply.
    plain = raw.replace(b"Auto-Submitted: auto-replied\n", b"").replace(
        b"Automatisch antwoord", b"Niet aanwezig"
    )
    assert classify(plain).kind == "autoreply"


OFFICE365_NL = f"""
From: Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@zeeland.example>
To: {VERP}
Subject: Onbestelbaar: Nieuwsbrief december 2026
Message-ID: <ndr-1@EUR03.prod.outlook.example>
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"
MIME-Version: 1.0

--b1
Content-Type: text/plain; charset="utf-8"

Uw bericht heeft sommige of alle ontvangers niet bereikt.

Het e-mailadres dat u hebt ingevoerd, is niet gevonden.

Diagnostische gegevens voor beheerders:
Externe server: AM0PR01MB1234.eurprd01.prod.exchangelabs.example
Fout: 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns;AM0PR01MB1234.eurprd01.prod.exchangelabs.example

Final-Recipient: rfc822;P.Jansen@Zeeland.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found

--b1
Content-Type: text/rfc822-headers

From: IPO Statenleden <statenleden@ipo.example>
To: p.jansen@zeeland.example
Subject: Nieuwsbrief december 2026
Message-ID: <issue-2026-12.4711@ipo.example>

--b1--
"""


def test_a_dutch_office_365_report_with_550_5_1_1_is_hard() -> None:
    verdict = classify(OFFICE365_NL.strip().encode())
    assert verdict.kind == "bounce"
    (finding,) = verdict.findings
    assert finding.recipient == "p.jansen@zeeland.example"
    assert (finding.bounce_class, finding.status, finding.reply_code) == ("hard", "5.1.1", "550")
    assert finding.reason == "userunknown"
    assert "Status: 5.1.1" in finding.evidence
    assert verdict.original_message_id == "<issue-2026-12.4711@ipo.example>"
    assert verdict.envelope_to == VERP  # the caller checks it with tokens.read_bounce_address


def test_a_dutch_office_365_report_without_a_dsn_part_is_read_from_the_text() -> None:
    raw = message(
        f"""
From: postmaster@utrecht.example
To: {VERP}
Subject: Onbestelbaar: Nieuwsbrief december 2026
""",
        """
Uw bericht heeft sommige of alle ontvangers niet bereikt.

      k.bakker@utrecht.example
      Remote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found'
""",
    )
    verdict = classify(raw)
    assert verdict.kind == "bounce"
    assert [(f.recipient, f.bounce_class, f.status) for f in verdict.findings] == [
        ("k.bakker@utrecht.example", "hard", "5.1.1")
    ]


def test_a_5_7_1_policy_rejection_is_soft() -> None:
    raw = message(
        f"""
From: Mail Delivery System <MAILER-DAEMON@mx.ipo.example>
To: {VERP}
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="b2"
MIME-Version: 1.0
""",
        """
--b2
Content-Type: text/plain

<griffie@drenthe.example>: host mx.drenthe.example[192.0.2.7] said: 550 5.7.1
    Service unavailable; client [198.51.100.4] blocked using zen.spamhaus.org
    (in reply to RCPT TO command)

--b2
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.ipo.example

Final-Recipient: rfc822; griffie@drenthe.example
Action: failed
Status: 5.7.1
Diagnostic-Code: smtp; 550 5.7.1 Service unavailable; client [198.51.100.4]
    blocked using zen.spamhaus.org

--b2--
""",
    )
    (finding,) = classify(raw).findings
    assert (finding.bounce_class, finding.status, finding.reply_code) == ("soft", "5.7.1", "550")
    assert finding.reason == "policy"


def test_mailbox_full_and_a_success_dsn() -> None:
    full = message(
        "From: MAILER-DAEMON@mx.ipo.example\nTo: x@ipo.example\nSubject: Mail delivery failed",
        "  a@b.example\n    SMTP error from remote mail server after RCPT TO:<a@b.example>:\n"
        "    552 5.2.2 Mailbox full\n",
    )
    assert [(f.bounce_class, f.reason) for f in classify(full).findings] == [
        ("soft", "mailboxfull")
    ]
    success = message(
        """
From: MAILER-DAEMON@mx.ipo.example
Subject: Successful Mail Delivery Report
Content-Type: multipart/report; report-type=delivery-status; boundary="b3"
""",
        "--b3\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx\n\n"
        "Final-Recipient: rfc822; a@b.example\nAction: delivered\nStatus: 2.0.0\n\n--b3--\n",
    )
    verdict = classify(success)
    assert verdict.kind == "delivered"
    assert [f.bounce_class for f in verdict.findings] == ["delivered"]


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("afmelden", ""),
        (
            "Re: Nieuwsbrief december 2026",
            "Graag afmelden.\n\nMet vriendelijke groet,\nJan\n\n> tekst",
        ),
        ("Re: Nieuwsbrief", "uitschrijven aub\n"),
        ("Unsubscribe", "Please remove me."),
    ],
)
def test_unsubscribe_requests_by_mail(subject: str, body: str) -> None:
    raw = message(f"From: Jan Smit <J.Smit@Flevoland.example>\nSubject: {subject}", body)
    verdict = classify(raw)
    assert verdict.kind == "unsubscribe"
    assert verdict.sender == "j.smit@flevoland.example"


def test_a_question_is_a_message_for_staff() -> None:
    raw = message(
        """
From: Els Visser <e.visser@limburg.example>
To: statenleden@ipo.example
Subject: Vraag over de AV van 17 december
Message-ID: <q-1@limburg.example>
In-Reply-To: <issue-2026-12.99@ipo.example>
""",
        "Beste IPO,\n\nIs er ook een online deelname mogelijk voor de AV? En wie kan ik bellen\n"
        "over het programma landelijk gebied?\n\nGroet, Els\n\n"
        "> Wilt u zich afmelden? Klik hier.\n",
    )
    verdict = classify(raw)
    assert verdict.kind == "message" and verdict.findings == ()
    assert verdict.sender == "e.visser@limburg.example"


def test_broken_input_never_raises_and_falls_back_to_message() -> None:
    truncated = OFFICE365_NL.strip().encode()[:420]  # cut inside the text part
    assert classify(truncated).kind in ("bounce", "message")
    question = message("From: a@b.example\nSubject: Vraag", "Hallo,\n\nwanneer is de AV?")
    for raw in [
        b"",
        b"\x00\xff\xfe garbage",
        question[:15],  # cut inside the headers
        b"From: \xe9\xe8 <x@y.example>\nSubject: caf\xe9 \xff\n\nbody \xff\n",  # 8-bit headers
        b"Content-Type: multipart/mixed; boundary=x\n\n"
        b"--x\nContent-Type: text/plain; charset=bogus\n\nhi",  # truncated, unknown charset
        b"From: a@b.example\nSubject: =?utf-8?B?!!!?= =?x-unknown?Q?=ZZ?=\n\nhoi\n",
    ]:
        verdict = classify(raw)
        assert verdict.kind == "message", raw
        assert verdict.message_id == ""  # none of these has one


def test_a_huge_attachment_is_not_decoded() -> None:
    attachment = b"QUFB" * (8 * 1024 * 1024 // 4)  # 8 MB of base64, never needed
    raw = (
        b"From: a@b.example\nSubject: Stukken AV\nContent-Type: multipart/mixed; boundary=z\n\n"
        b"--z\nContent-Type: text/plain\n\nZie bijlage, graag reactie.\n"
        b"--z\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n"
        + attachment
        + b"\n--z--\n"
    )
    verdict = classify(raw)
    assert verdict.kind == "message"


def test_the_cli_prints_the_verdict_per_file_and_json(tmp_path: Path) -> None:
    bounce = tmp_path / "ndr.eml"
    bounce.write_bytes(OFFICE365_NL.strip().encode())
    question = tmp_path / "vraag.eml"
    question.write_bytes(message("From: a@b.example\nSubject: Vraag", "Hoe laat begint de AV?"))
    result = CliRunner().invoke(cli, ["inbox", "classify", str(bounce), str(question)])
    assert result.exit_code == 0, result.output
    assert "ndr.eml: bounce" in result.output
    assert "p.jansen@zeeland.example: hard 5.1.1 550 userunknown" in result.output
    assert "vraag.eml: message" in result.output
    result = CliRunner().invoke(cli, ["inbox", "classify", "--json", str(bounce)])
    assert result.exit_code == 0
    (data,) = json.loads(result.output)
    assert data["kind"] == "bounce" and data["findings"][0]["class"] == "hard"
    result = CliRunner().invoke(cli, ["inbox", "classify", str(tmp_path)])  # a folder
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0 and "cannot read" in result.output
