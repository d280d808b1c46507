"""The editorial workflow (issue #7): review, four-eyes approval of the frozen rendering, test
copies, schedules, and tick never sending something stale or twice."""

from __future__ import annotations

import email
import json
import re
from email import policy
from pathlib import Path

from aiosmtpd.controller import Controller

from newsletter import clock
from newsletter.render.issue import MARKER
from newsletter.tick import run_tick
from newsletter.web.public import create_app
from tests.conftest import approve_issue

REPO = Path(__file__).parent.parent
SANNE, JORIS = "Sanne de Vries", "Joris Bakker"
# --by names a staff account (tests/conftest.py TEST_STAFF); the log records the account.
SANNE_ACCOUNT, JORIS_ACCOUNT = "staff:sanne@ipo.example", "staff:joris@ipo.example"
ISSUE = """\
---
month: {month}
subject: "Nieuwsbrief Statenleden {label}"
preheader: "Het laatste uit het IPO voor Statenleden, {label}."
date: {day}
audience: all
sections:
  uitgelicht: [2026-11-20-regionaal-ov]
  av: [2027-02-10-av]
  bac: [2026-11-12-wb-regionaal-ov]
---
{intro}
"""


def write_issue(instance: Path, month: str, label: str, day: str, intro: str) -> Path:
    path = instance / "content" / "issues" / f"{month}.md"
    path.write_text(ISSUE.format(month=month, label=label, day=day, intro=intro), encoding="utf-8")
    return path


def sent_mail(instance: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in sorted((instance / "outbox").glob("*.eml"))
    ]


def html_of(message: email.message.EmailMessage) -> str:
    body = message.get_body(("html",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def is_rendering_of(html: str, frozen: str) -> bool:
    """The sent HTML is the frozen variant with only its @@markers@@ filled in."""
    pieces = [re.escape(p.replace("\r\n", "\n")) for p in MARKER.split(frozen)[0::2]]
    return re.fullmatch("(?s)" + "(.*?)".join(pieces), html) is not None


def frozen_html(db, month: str, variant: str) -> str:
    return str(
        db.execute(
            "select html from approved_variants where month = ? and variant = ?", [month, variant]
        ).fetchone()[0]
    )


def state(db, month: str) -> str:
    row = db.execute("select state from issue_workflow where month = ?", [month]).fetchone()
    return row[0] if row else "draft"


def log_actions(run, month: str) -> list[tuple[str, str]]:
    entries = json.loads(run("log", "--issue", month, "--json").output)
    return [(e["actor"], e["action"]) for e in entries]


# -- bad input: one line, exit 2, nothing changed --------------------------------------------


def set_workflow(config: Path, key: str, value: str) -> None:
    """Change one key of the instance's [workflow] table, as staff would edit it."""
    text, count = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", config.read_text())
    assert count == 1, key
    config.write_text(text)


def workflow_rows(db) -> list[dict]:
    return [dict(r) for r in db.query("select * from issue_workflow order by month")]


def test_the_editor_cannot_approve_their_own_issue(settings, loaded, december, run) -> None:
    assert run("issue", "review", "2026-12", "--by", SANNE).exit_code == 0
    before = workflow_rows(loaded)
    result = run("issue", "approve", "2026-12", "--by", "  Sanne  de Vries ")
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "cannot also approve it" in result.output
    assert workflow_rows(loaded) == before
    assert loaded.table("approved_variants").count == 0
    assert "issue 2026-12: awaiting review, submitted by Sanne de Vries" in run("status").output
    assert log_actions(run, "2026-12")[-1] == (SANNE_ACCOUNT, "approve-refused")


def test_four_eyes_can_be_switched_off(settings, staff, small, run) -> None:
    small(3)  # three readers: the approval checks their variants, not all 87 of the demo's
    config = settings.config_file
    set_workflow(config, "four_eyes", "false")
    run("issue", "review", "2026-12", "--by", SANNE)
    assert run("issue", "approve", "2026-12", "--by", SANNE).exit_code == 0
    assert "four_eyes = false" in run("status").output


def test_a_draft_cannot_be_approved_scheduled_or_sent(settings, loaded, december, run) -> None:
    approve = run("issue", "approve", "2026-12", "--by", JORIS)
    assert approve.exit_code == 2 and approve.output == (
        "Error: issue 2026-12 is draft, not in review; submit it first with "
        "'newsletter issue review 2026-12 --by NAME'\n"
    )
    schedule = run("issue", "schedule", "2026-12", "--at", "2026-12-02T09:00")
    assert schedule.exit_code == 2 and schedule.output == (
        "Error: issue 2026-12 is draft; only an approved issue can be scheduled: "
        "'newsletter issue review 2026-12 --by NAME', then a colleague approves\n"
    )
    send = run("issue", "send", "2026-12")
    assert send.exit_code == 2 and "is draft, not approved" in send.output
    assert workflow_rows(loaded) == []
    assert loaded.table("mailings").count == 0 and loaded.table("deliveries").count == 0


def test_schedule_in_the_past_or_not_a_time_is_refused(settings, loaded, approved, run) -> None:
    past = run("issue", "schedule", "2026-12", "--at", "2026-12-01T08:00")
    assert past.exit_code == 2 and past.output == (
        "Error: --at 2026-12-01T08:00: that is in the past (it is now 1 december 2026 8.30 uur); "
        "give a later moment, e.g. --at 2027-01-04T09:00\n"
    )
    garbage = run("issue", "schedule", "2026-12", "--at", "morgen")
    assert garbage.exit_code == 2 and garbage.output.startswith("Error: --at: 'morgen' is not")
    assert state(loaded, "2026-12") == "approved"


def test_a_test_copy_to_a_non_staff_address_is_refused(settings, loaded, approved, run) -> None:
    result = run(
        "issue", "test", "2026-12", "--to", "redactie@ipo.example", "--to", "anna@gld.example"
    )
    assert result.exit_code == 2 and result.output == (
        "Error: --to anna@gld.example: test copies go to staff only (@ipo.example); add the "
        "address to [workflow] test_recipients in newsletter.toml if it is staff\n"
    )
    assert not (settings.project / "outbox").exists()  # not even the staff copy went
    unknown = run("issue", "test", "2026-12", "--to", "redactie@ipo.example", "--as", "x@y.example")
    assert unknown.exit_code == 2 and "--as x@y.example: no such subscriber" in unknown.output


def test_a_test_copy_is_marked_personal_and_outside_the_ledger(
    settings, loaded, approved, run
) -> None:
    result = run(
        "issue", "test", "2026-12", "--to", "redactie@ipo.example",
        "--as", "chantal.bakker@gld.example", "--by", SANNE,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # Chantal chose one BAC theme: her variant leaves the other BAC blocks out (frozen as well).
    # (Not Kees: an AV member's own issue is personal, rendered from the approved snapshot.)
    variant = re.search(r"variant (\S+),", result.output).group(1)  # type: ignore[union-attr]
    assert variant.startswith("GLD:digitalisering,") and "financien" not in variant
    assert "the approved version" in result.output
    [copy] = sent_mail(settings.project)
    assert copy["Subject"] == "[TEST] Nieuwsbrief Statenleden december 2026"
    assert copy["To"].addresses[0].addr_spec == "redactie@ipo.example"
    html = html_of(copy)
    assert "Geachte mevrouw Bakker" in html  # as that reader sees it: their salutation
    assert is_rendering_of(html, frozen_html(loaded, "2026-12", variant))
    assert "/afmelden/testexemplaar" in html  # no working link of the reader's
    assert loaded.table("mailings").count == 0 and loaded.table("deliveries").count == 0
    assert log_actions(run, "2026-12")[-1] == (SANNE_ACCOUNT, "test-send")


def test_test_recipients_config_allows_named_addresses(settings, loaded, december, run) -> None:
    config = settings.config_file
    set_workflow(config, "test_recipients", '["griffie@gld.example"]')
    assert run("issue", "test", "2026-12", "--to", "griffie@gld.example").exit_code == 0
    refused = run("issue", "test", "2026-12", "--to", "redactie@ipo.example")
    assert refused.exit_code == 2 and "(griffie@gld.example)" in refused.output
    [copy] = sent_mail(settings.project)  # a draft can be test-sent: the current build
    assert copy["Subject"].startswith("[TEST] ")


def test_a_bad_workflow_setting_names_the_file_and_key(settings, loaded, run) -> None:
    config = settings.config_file
    set_workflow(config, "missed_window", '"soon"')
    result = run("status")
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {config}: [workflow] missed_window: must be a duration, e.g. "
        'missed_window = "2h" (or "90m")\n'
    )


# -- approval, revocation and the frozen version -----------------------------------------------


def test_editing_the_issue_file_after_approval_returns_it_to_draft(
    settings, small, db, run
) -> None:
    small(3)  # three readers: the edited version's approval checks their variants only
    approve_issue(db, settings)
    approved = settings.project / "content" / "issues" / "2026-12.md"
    approved.write_text(approved.read_text().replace("laatste nieuwsbrief", "slotnummer"))
    send = run("issue", "send", "2026-12")
    assert send.exit_code == 2 and send.output == (
        "Error: issue 2026-12 is not sent: its approval was revoked (the issue file changed "
        "(subject, preheader, date, intro or audience)); it is a draft again: "
        "'newsletter issue review 2026-12 --by NAME', then approval\n"
    )
    assert state(db, "2026-12") == "draft" and db.table("deliveries").count == 0
    assert db.table("approved_variants").count == 0  # the frozen version is gone with it
    assert run("issue", "review", "2026-12", "--by", SANNE).exit_code == 0
    assert run("issue", "approve", "2026-12", "--by", JORIS).exit_code == 0
    assert run("issue", "send", "2026-12").exit_code == 0


def test_an_edit_between_review_and_approval_needs_a_new_review(
    settings, loaded, december, run
) -> None:
    run("issue", "review", "2026-12", "--by", SANNE)
    december.write_text(december.read_text().replace("laatste nieuwsbrief", "slotnummer"))
    result = run("issue", "approve", "2026-12", "--by", JORIS)
    assert result.exit_code == 2 and "changed after Sanne de Vries submitted it" in result.output
    assert state(loaded, "2026-12") == "draft"


def test_a_template_change_after_approval_is_caught_before_sending(
    settings, loaded, approved, run, tmp_path
) -> None:
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(settings.templates_dir, templates)
    text = templates / "email" / "issue.txt.j2"
    text.write_text(text.read_text() + "\nP.S. Fijne feestdagen.\n")
    config = settings.config_file
    config.write_text(config.read_text().replace("[paths]", f'[paths]\ntemplates = "{templates}"'))
    result = run("issue", "send", "2026-12")
    assert result.exit_code == 2 and "the rendering changed since approval" in result.output
    assert loaded.table("deliveries").count == 0


def test_the_archive_shows_the_approved_version_not_a_later_build(
    settings, loaded, approved, run
) -> None:
    assert run("issue", "send", "2026-12").exit_code == 0
    approved.write_text(approved.read_text().replace("laatste nieuwsbrief", "slotnummer"))
    assert run("issue", "build", "2026-12").exit_code == 0  # build/ now holds the edit
    assert "slotnummer" in (settings.build_dir / "archief" / "2026-12" / "index.html").read_text()
    client = create_app(settings).test_client()
    page = client.get("/archief/2026-12/").get_data(as_text=True)
    assert "laatste nieuwsbrief" in page and "slotnummer" not in page
    # The agenda files too: an event moved after the send does not move in the archive.
    event = settings.content_dir / "av" / "2027-02-10-av.md"
    event.write_text(event.read_text().replace("2027-02-10", "2027-02-17", 1))
    assert run("content", "sync").exit_code == 0 and run("issue", "build", "2026-12").exit_code == 0
    built = settings.build_dir / "archief" / "2026-12" / "agenda" / "2027-02-10-av.ics"
    assert b"20270217" in built.read_bytes()
    ics = client.get("/archief/2026-12/agenda/2027-02-10-av.ics")
    assert ics.mimetype == "text/calendar" and b"DTSTART;TZID=Europe/Amsterdam:20270210" in ics.data


def begin_send_with_one_deferred(settings, loaded) -> None:
    """The approved December issue sent, one reader's copy deferred: a send under way."""
    from newsletter.editorial import workflow
    from newsletter.outbound.issue_mail import deliver_issue
    from newsletter.outbound.transports import MemoryTransport

    flaky = MemoryTransport(fail_for={"chantal.bakker@gld.example": "451 4.3.0 Try again later"})
    rendered = workflow.rendered_for_send(loaded, settings, "2026-12", "cli")
    deliver_issue(loaded, settings, rendered, lambda: flaky)


def test_a_rerun_of_send_after_edits_finishes_the_approved_version(
    settings, loaded, approved, run
) -> None:
    from newsletter.editorial import workflow

    begin_send_with_one_deferred(settings, loaded)
    # Begun: the mailing decides the state (the row follows once after_send records it).
    assert workflow.state_of(loaded, "2026-12") == "sending"
    # Edits once sending has begun change nothing: the approved version goes on to the end.
    approved.write_text(approved.read_text().replace("laatste nieuwsbrief", "slotnummer"))
    [variant] = [
        r["variant"]
        for r in loaded.query(
            "select variant from deliveries where email = 'chantal.bakker@gld.example'"
        )
    ]
    frozen = frozen_html(loaded, "2026-12", variant)
    clock.set_now("2026-12-01T09:30:00+01:00")
    lines = [f"{j.name}: {j.line}" for j in run_tick(loaded, settings, clock.now()).jobs]
    assert any("1 sent now, 625 sent before" in line for line in lines), lines
    kees = [m for m in sent_mail(settings.project) if "chantal.bakker" in str(m["To"])]
    assert len(kees) == 1 and is_rendering_of(html_of(kees[0]), frozen)
    assert state(loaded, "2026-12") == "sent"


# -- schedules -------------------------------------------------------------------------------


def test_a_schedule_missed_by_less_than_the_window_still_goes(settings, small, db, run) -> None:
    small(3)
    approve_issue(db, settings)
    run("issue", "schedule", "2026-12", "--at", "2026-12-01T09:00")
    clock.set_now("2026-12-01T10:30")  # 1.5 hours late, within the default 2h
    report = run_tick(db, settings, clock.now())
    [line] = [j.line for j in report.jobs if j.name == "scheduled"]
    assert "issue-2026-12: 3 sent now" in line


def test_unschedule_keeps_the_issue_approved(settings, loaded, approved, run) -> None:
    run("issue", "schedule", "2026-12", "--at", "2026-12-01T09:00")
    assert run("issue", "unschedule", "2026-12").output == (
        "Issue 2026-12: no longer scheduled; still approved\n"
    )
    clock.set_now("2026-12-01T09:05")
    report = run_tick(loaded, settings, clock.now())
    assert [j.line for j in report.jobs if j.name == "scheduled"] == ["nothing due"]
    again = run("issue", "unschedule", "2026-12")
    assert (
        again.exit_code == 2 and again.output == "Error: issue 2026-12 is approved, not scheduled\n"
    )


# -- tick: feeds at their own interval -------------------------------------------------------


def test_tick_fetches_a_feed_only_when_its_interval_has_passed(settings, loaded, run) -> None:
    config = settings.config_file
    config.write_text(config.read_text().replace("timeout = 10", 'timeout = 10\ninterval = "30m"'))
    first = run("--now", "2026-12-01T09:00", "tick").output.splitlines()[0]
    assert first.endswith("feeds: ipo-nieuws ok")
    soon = run("--now", "2026-12-01T09:20", "tick").output.splitlines()[0]
    assert soon.endswith("feeds: ipo-nieuws not due")
    later = run("--now", "2026-12-01T09:30", "tick").output.splitlines()[0]
    assert later.endswith("feeds: ipo-nieuws ok")


def test_status_reports_configuration_problems(settings, loaded, run, monkeypatch) -> None:
    config = settings.config_file
    config.write_text(config.read_text().replace("demo = true", "demo = false"))
    monkeypatch.setenv("NEWSLETTER_SECRET_KEY", "x" * 40)
    lines = run("status").output.splitlines()
    assert (
        'config: [delivery] transport = "outbox:outbox" writes files, sends nothing; set an '
        "smtp:// relay for real mail"
    ) in lines
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY")
    assert "config: NEWSLETTER_SECRET_KEY is not set; no mail can be sent" in (
        run("status").output.splitlines()
    )


def test_status_says_when_cron_has_stopped_ticking(settings, loaded, run) -> None:
    run("--now", "2026-12-01T09:00", "tick")
    assert "tick: no tick" not in run("--now", "2026-12-01T09:10", "status").output
    assert (
        "tick: no tick for 3 hours; is the crontab or the systemd timer of cron/ installed and "
        "running? (see the README)"
    ) in run("--now", "2026-12-01T12:00", "status").output.splitlines()


def test_without_require_approval_a_built_issue_is_sent_as_it_builds(
    settings, loaded, december, run
) -> None:
    config = settings.config_file
    set_workflow(config, "require_approval", "false")
    result = run("issue", "send", "2026-12")
    assert result.exit_code == 0 and "626 sent now" in result.output
    assert "config: [workflow] require_approval = false" in run("status").output


def test_a_bad_feed_interval_names_the_feed(settings, run) -> None:
    config = settings.config_file
    config.write_text(
        config.read_text().replace("timeout = 10", 'timeout = 10\ninterval = "often"')
    )
    result = run("tick")
    assert result.exit_code == 2
    assert result.output == (
        f"Error: {config}: [[feeds]] #1 (ipo-nieuws): interval must be a duration of 1 minute "
        'or more, e.g. "60m"\n'
    )


def test_a_test_copy_goes_through_a_real_smtp_server(settings, loaded, approved, run) -> None:
    from tests.test_smtp import Sink, free_port

    sink, port = Sink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        result = run(
            "issue", "test", "2026-12", "--to", "redactie@ipo.example",
            "--to", "eindredactie@ipo.example", "--transport", f"smtp://127.0.0.1:{port}",
        )  # fmt: skip
    finally:
        controller.stop()
    assert result.exit_code == 0, result.output
    assert [rcpts for _, rcpts, _ in sink.received] == [
        ["redactie@ipo.example"],
        ["eindredactie@ipo.example"],
    ]
    message = email.message_from_bytes(sink.received[0][2], policy=policy.default)
    assert message["Subject"] == "[TEST] Nieuwsbrief Statenleden december 2026"
    assert is_rendering_of(html_of(message), frozen_html(loaded, "2026-12", "ALG"))  # type: ignore[arg-type]
    assert loaded.table("deliveries").count == 0


# -- review findings (issue #7): regressions -------------------------------------------------


def test_a_scheduled_start_that_fails_before_the_mailing_exists_is_retried(
    settings, small, db, run, monkeypatch
) -> None:
    """Busy (or any error) before send_issue made the mailing must not strand it in sending."""
    from newsletter.editorial import schedules as workflow
    from newsletter.errors import Busy

    small(3)
    approve_issue(db, settings)
    run("issue", "schedule", "2026-12", "--at", "2026-12-01T09:00")
    real = workflow.send_issue

    def busy(*args, **kwargs):
        raise Busy("issue-2026-12 is being sent by another process")

    monkeypatch.setattr(workflow, "send_issue", busy)
    clock.set_now("2026-12-01T09:00")
    run_tick(db, settings, clock.now())
    assert state(db, "2026-12") == "scheduled" and db.table("mailings").count == 0
    monkeypatch.setattr(workflow, "send_issue", real)
    clock.set_now("2026-12-01T09:05")  # the next tick, inside the missed window
    [line] = [j.line for j in run_tick(db, settings, clock.now()).jobs if j.name == "scheduled"]
    assert "issue-2026-12: 3 sent now" in line
    assert state(db, "2026-12") == "sent"


def test_an_issue_left_sending_without_a_mailing_is_still_approved(
    settings, loaded, approved, run
) -> None:
    """A row an older version left in 'sending' before the mailing existed: status says what
    to do and `issue send` starts it."""
    loaded.table("issue_workflow").update("2026-12", {"state": "sending"})
    status = run("status").output
    assert (
        "issue 2026-12: approved by Joris Bakker; start interrupted: run "
        "'newsletter issue send 2026-12'"
    ) in status
    result = run("issue", "send", "2026-12")
    assert result.exit_code == 0 and "626 sent now" in result.output
    assert state(loaded, "2026-12") == "sent"


def test_a_preflight_refusal_of_send_leaves_the_issue_approved(
    settings, loaded, approved, run, monkeypatch
) -> None:
    """Guard for the order of `issue send` (rendered_for_send before the check)."""
    from newsletter.errors import NewsletterError
    from newsletter.preflight import runner as preflight

    def refuse(report, consequence="nothing was sent"):
        raise NewsletterError(f"preflight: 1 error; {consequence}")

    monkeypatch.setattr(preflight, "refuse_if_blocked", refuse)
    result = run("issue", "send", "2026-12")
    assert result.exit_code == 2 and "nothing was sent" in result.output
    assert state(loaded, "2026-12") == "approved" and loaded.table("mailings").count == 0


def test_status_after_a_missed_schedule_and_an_edit_does_not_crash(
    settings, loaded, approved, run
) -> None:
    run("issue", "schedule", "2026-12", "--at", "2026-12-01T09:00")
    assert "NOT sent" in run("--now", "2026-12-01T12:00", "tick").output
    approved.write_text(approved.read_text().replace("laatste nieuwsbrief", "slotnummer"))
    result = run("--now", "2026-12-01T12:05", "status")
    assert result.exit_code == 0, result.output
    assert "issue 2026-12: draft (approval revoked: the issue file changed" in result.output
    row = loaded.table("issue_workflow").get("2026-12")
    assert row["schedule_missed_at"] is None and row["scheduled_for"] is None


def test_unschedule_never_turns_a_draft_back_into_approved(settings, loaded, approved, run) -> None:
    run("issue", "schedule", "2026-12", "--at", "2026-12-01T09:00")
    run("--now", "2026-12-01T12:00", "tick")  # missed
    approved.write_text(approved.read_text().replace("laatste nieuwsbrief", "slotnummer"))
    run("--now", "2026-12-01T12:05", "tick")  # revoked: a draft
    # As an older version left it: a draft that still carries the missed note.
    loaded.table("issue_workflow").update(
        "2026-12", {"schedule_missed_at": "2026-12-01T11:00:00+00:00"}
    )
    result = run("--now", "2026-12-01T12:10", "issue", "unschedule", "2026-12")
    assert result.exit_code == 2 and result.output == (
        "Error: issue 2026-12 is draft, not scheduled\n"
    )
    assert state(loaded, "2026-12") == "draft"


def test_unschedule_of_a_missed_schedule_clears_the_note_only(
    settings, loaded, approved, run
) -> None:
    run("issue", "schedule", "2026-12", "--at", "2026-12-01T09:00")
    run("--now", "2026-12-01T12:00", "tick")  # missed: held back, approved
    result = run("--now", "2026-12-01T12:05", "issue", "unschedule", "2026-12")
    assert result.exit_code == 0 and state(loaded, "2026-12") == "approved"
    assert "MISSED" not in run("--now", "2026-12-01T12:10", "status").output


def test_four_eyes_sees_through_invisible_and_look_alike_characters(
    settings, loaded, december, run
) -> None:
    assert run("issue", "review", "2026-12", "--by", SANNE).exit_code == 0
    hidden = run("issue", "approve", "2026-12", "--by", "Sanne de Vries\u200b")
    assert hidden.exit_code == 2 and hidden.output == (
        "Error: --by: the name contains an invisible or control character (U+200B); type it "
        "plainly, e.g. --by 'Sanne de Vries'\n"
    )
    # Fullwidth letters and a no-break space are the same name after NFKC.
    alike = run("issue", "approve", "2026-12", "--by", "\uff33anne\u00a0de VRIES")
    assert alike.exit_code == 2 and "cannot also approve it" in alike.output
    assert state(loaded, "2026-12") == "review"
    assert loaded.table("approved_variants").count == 0


def test_every_by_is_checked_and_defaults_to_the_user(
    settings, loaded, approved, run, monkeypatch
) -> None:
    from newsletter.editorial import workflow

    for args in [
        ("issue", "schedule", "2026-12", "--at", "2026-12-02T09:00", "--by", "Joris\nBakker"),
        ("issue", "unschedule", "2026-12", "--by", " "),
        ("issue", "test", "2026-12", "--to", "redactie@ipo.example", "--by", "x\x1b[2J"),
        ("issue", "review", "2026-12", "--by", "Sanne\r"),
        ("issue", "send", "2026-12", "--by", "\u202eSanne"),
        ("issue", "pause", "2026-12", "--by", ""),
    ]:
        result = run(*args)
        assert result.exit_code == 2 and result.output.count("\n") == 1, (args, result.output)
        assert result.output.startswith("Error: --by: "), (args, result.output)
    assert state(loaded, "2026-12") == "approved" and not (settings.project / "outbox").exists()
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("LOGNAME", "jbakker")
    assert workflow.default_actor() == "jbakker"
    # Without --by, [console] os_users maps the user (the one behind sudo) to an account.
    config = settings.config_file
    config.write_text(
        re.sub(
            r"(?m)^os_users = .*$",
            'os_users = { jbakker = "joris@ipo.example", svries = "sanne@ipo.example" }',
            config.read_text(),
        )
    )
    run("issue", "schedule", "2026-12", "--at", "2026-12-02T09:00")
    monkeypatch.setenv("SUDO_USER", "svries")
    run("issue", "unschedule", "2026-12")
    assert log_actions(run, "2026-12")[-2:] == [
        (JORIS_ACCOUNT, "schedule"),
        (SANNE_ACCOUNT, "unschedule"),
    ]


def test_send_pause_resume_and_cancel_record_who(settings, loaded, approved, run) -> None:
    from newsletter.editorial import workflow
    from newsletter.outbound.issue_mail import deliver_issue
    from newsletter.outbound.transports import MemoryTransport

    flaky = MemoryTransport(fail_for={"chantal.bakker@gld.example": "451 4.3.0 Try again later"})
    deliver_issue(
        loaded,
        settings,
        workflow.rendered_for_send(loaded, settings, "2026-12", "x"),
        lambda: flaky,
    )
    assert run("issue", "pause", "2026-12", "--by", JORIS).exit_code == 0
    assert run("issue", "resume", "2026-12", "--by", SANNE).exit_code == 0
    assert run("issue", "cancel", "2026-12", "--yes", "--by", JORIS).exit_code == 0
    assert log_actions(run, "2026-12")[-3:] == [
        (JORIS_ACCOUNT, "pause"),
        (SANNE_ACCOUNT, "resume"),
        (JORIS_ACCOUNT, "cancel"),
    ]


def test_a_begun_send_finishes_the_frozen_version_when_the_files_no_longer_build(
    settings, loaded, approved, run
) -> None:

    begin_send_with_one_deferred(settings, loaded)
    approved.write_text("---\nmonth: [kapot\n---\n")  # the issue file no longer loads
    assert run("issue", "build", "2026-12").exit_code == 2
    result = run("--now", "2026-12-01T09:30", "issue", "send", "2026-12")
    assert result.exit_code == 0, result.output
    assert "1 sent now, 625 sent before" in result.output
    assert state(loaded, "2026-12") == "sent"


def test_a_test_copy_that_fails_partway_is_in_the_log(
    settings, loaded, approved, run, monkeypatch
) -> None:
    from newsletter.editorial import copies as workflow
    from newsletter.errors import TransportError

    real = workflow.send_one

    def second_fails(transport, project, envelope, data):
        if envelope.recipient == "eindredactie@ipo.example":
            raise TransportError("relay down: connection refused")
        return real(transport, project, envelope, data)

    monkeypatch.setattr(workflow, "send_one", second_fails)
    result = run(
        "issue", "test", "2026-12", "--to", "redactie@ipo.example",
        "--to", "eindredactie@ipo.example", "--by", SANNE,
    )  # fmt: skip
    assert result.exit_code == 1 and "relay down" in result.output
    entries = json.loads(run("log", "--issue", "2026-12", "--json").output)
    tests = [(e["action"], json.loads(e["detail"])) for e in entries if "test" in e["action"]]
    assert [(a, d["to"]) for a, d in tests] == [
        ("test-send", "redactie@ipo.example"),
        ("test-send-failed", "eindredactie@ipo.example"),
    ]
    assert "relay down" in tests[1][1]["error"]


def test_a_test_copy_has_no_list_unsubscribe(settings, loaded, approved, run) -> None:
    assert run("issue", "test", "2026-12", "--to", "redactie@ipo.example").exit_code == 0
    [copy] = sent_mail(settings.project)
    assert copy["List-Unsubscribe"] is None and copy["List-Unsubscribe-Post"] is None
    assert copy["List-Id"]  # the other list headers stay
    assert run("issue", "send", "2026-12").exit_code == 0  # the real issue keeps them
    real = [m for m in sent_mail(settings.project) if not str(m["Subject"]).startswith("[TEST]")]
    assert real[0]["List-Unsubscribe"] and real[0]["List-Unsubscribe-Post"]


def test_env_file_values_are_read_literally(tmp_path, settings, run, monkeypatch) -> None:
    import os

    from newsletter.envfile import read_env_file

    env = tmp_path / "env"
    env.write_text(
        "# secrets\n\nNEWSLETTER_SECRET_KEY=ab$HOME;echo hi`id`'x'\n"
        "NEWSLETTER_SMTP_PASSWORD=p=q #not a comment\n",
        encoding="utf-8",
    )
    assert read_env_file(env) == {
        "NEWSLETTER_SECRET_KEY": "ab$HOME;echo hi`id`'x'",
        "NEWSLETTER_SMTP_PASSWORD": "p=q #not a comment",
    }
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", "old")  # restored after the test
    result = run("--env-file", str(env), "status")
    assert result.exit_code == 0, result.output
    assert os.environ["NEWSLETTER_SMTP_PASSWORD"] == "p=q #not a comment"
    os.environ.pop("NEWSLETTER_SECRET_KEY", None)
    bad = tmp_path / "bad"
    bad.write_text("A=1\nexport B=geheim\n", encoding="utf-8")
    refused = run("--env-file", str(bad), "status")
    assert refused.exit_code == 2 and refused.output == (
        f"Error: --env-file {bad}, line 2: not NAME=value (a name of letters, digits and _, "
        "then =, no spaces around it), e.g. NEWSLETTER_SECRET_KEY=...\n"
    )
    assert "geheim" not in refused.output
    missing = run("--env-file", str(tmp_path / "none"), "status")
    assert missing.exit_code == 2 and missing.output.startswith(f"Error: --env-file {tmp_path}")


def test_the_crontab_reads_the_env_file_without_a_shell() -> None:
    crontab = (REPO / "cron" / "crontab").read_text(encoding="utf-8")
    [job] = [line for line in crontab.splitlines() if line.startswith("*/5")]
    assert ". /etc/ipo-nieuwsbrief/env" not in job and "set -a" not in job
    assert "newsletter --env-file /etc/ipo-nieuwsbrief/env tick" in job
    rotate = (REPO / "cron" / "logrotate").read_text(encoding="utf-8")
    assert "    su newsletter newsletter\n" in rotate


def test_missed_window_must_be_finite_and_at_least_ten_minutes(settings, run) -> None:
    config = settings.config_file
    for value in ['"5m"', "inf"]:
        set_workflow(config, "missed_window", value)
        result = run("status")
        assert result.exit_code == 2 and "missed_window: must be 10 minutes or more" in (
            result.output
        ), (value, result.output)


def test_a_feed_is_due_an_interval_after_the_tick_that_fetched_it(settings, loaded, db) -> None:
    config = settings.config_file
    config.write_text(config.read_text().replace("timeout = 10", 'timeout = 10\ninterval = "30m"'))
    from newsletter.config import load_settings

    slow = load_settings(settings.project)
    clock.set_now("2026-12-01T09:00:40")  # the fetch ended 40 seconds after the tick began
    run_tick(db, slow, clock.parse_instant("2026-12-01T09:00"))
    clock.set_now("2026-12-01T09:30")
    [content] = [j.line for j in run_tick(db, slow, clock.now()).jobs if j.name == "content"]
    assert content.endswith("feeds: ipo-nieuws ok"), content


def test_forget_removes_a_person_from_a_frozen_version_and_the_log(
    settings, loaded, approved, run
) -> None:
    """Hans de Boer is in the Utrecht province block of the approved December issue."""
    from newsletter.editorial import workflow

    like = "%hans.deboer@ut.example%"
    frozen = "select count(*) from approved_variants where html like ? or text like ?"
    assert loaded.execute(frozen, [like, like]).fetchone()[0] > 0
    staff = "henk.willems@ipo.example"  # a colleague on the list, who later leaves
    copy = run("issue", "test", "2026-12", "--to", staff, "--by", "Sanne de Vries")
    assert copy.exit_code == 0, copy.output
    named = "select count(*) from events where json_extract(detail, '$.to') = ?"
    assert loaded.execute(named, [staff]).fetchone()[0] == 1
    assert run("subscribers", "forget", staff, "--yes").exit_code == 0
    assert loaded.execute(named, [staff]).fetchone()[0] == 0  # the log no longer names them
    gone = run("subscribers", "forget", "hans.deboer@ut.example", "--yes")
    assert gone.exit_code == 0, gone.output
    assert loaded.execute(frozen, [like, like]).fetchone()[0] == 0
    # Not sent yet: a draft again, to be approved anew without him.
    assert workflow.state_of(loaded, "2026-12") == "draft"
    assert "forgotten" in run("status").stdout
