"""Roles in the CLI as in the console (issue #14): one rule (staff.permissions) decides; a
refusal is exit 2 with one line naming the role and the account's roles; the audit log
records the account for every action, and a scheduled send is done by whoever scheduled it."""

from __future__ import annotations

import pytest

from newsletter.editorial.approval import WorkflowError
from newsletter.editorial.schedules import scheduled_by
from newsletter.staff import accounts, permissions
from newsletter.staff.permissions import RoleRefused
from newsletter.store import audit
from newsletter.store import staff as staff_rows
from newsletter.store.mailings import issue_mailing_id


def last(db, action: str):
    entry = audit.last_event(db, action)
    assert entry is not None, action
    return entry


def test_every_workflow_action_has_a_role_and_the_console_asks_the_same_rule() -> None:
    from newsletter.console.issue_words import ACTIONS as BUTTONS

    assert {name for _, name in BUTTONS.values()} <= permissions.ACTIONS.keys()
    assert permissions.roles_for("approve") == ("eindredacteur",)
    assert permissions.roles_for("review") == ("redacteur",)
    assert permissions.roles_for("subscribers-forget") == ("beheerder",)
    assert permissions.roles_for("inbox-close") == ("inbox",)
    # personal data: the roles that answer people, decide what is sent, keep the lists
    assert permissions.roles_for("subscribers-resubscribe") == (
        "inbox",
        "eindredacteur",
        "beheerder",
    )


@pytest.mark.parametrize(
    ("args", "needs"),
    [
        (("issue", "approve", "2026-12"), "Approving an issue needs the role eindredacteur"),
        (("issue", "pause", "2026-12"), "Pausing a send needs the role eindredacteur"),
        (("issue", "unschedule", "2026-12"), "the role eindredacteur"),
        (("subscribers", "export"), "Exporting subscribers needs the role beheerder"),
        (("subscribers", "forget", "x@gld.example", "--yes"), "the role beheerder"),
        (("inbox", "close", "1"), "Closing a conversation needs the role inbox"),
        (
            ("subscribers", "resubscribe", "x@gld.example", "--reason", "belde"),
            "Subscribing someone again needs one of the roles inbox, eindredacteur, beheerder",
        ),
    ],
)
def test_an_account_without_the_role_is_refused_with_one_line(
    loaded, run, args: tuple[str, ...], needs: str
) -> None:
    staff_rows.add(loaded, "rob@ipo.example", "Rob Jansen", ("redacteur",), "x")
    before = audit.page(loaded)[1]
    result = run(*args, "--by", "rob@ipo.example")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and needs in lines[0], result.output
    assert lines[0].endswith("Rob Jansen has: redacteur")
    assert audit.page(loaded)[1] == before  # nothing was done, nothing logged


def test_an_import_needs_a_beheerder_but_a_dry_run_does_not(loaded, run, tmp_path) -> None:
    listed = tmp_path / "lijst.csv"
    listed.write_text("email;naam;provincie\nnieuw.lid@gld.example;Nieuw Lid;GLD\n", "utf-8")
    staff_rows.add(loaded, "rob@ipo.example", "Rob Jansen", ("redacteur",), "x")
    refused = run("subscribers", "import", str(listed), "--by", "Rob Jansen")
    assert refused.exit_code == 2 and "Importing subscribers needs the role beheerder" in (
        refused.output
    )
    assert run("subscribers", "import", str(listed), "--dry-run", "--by", "Rob").exit_code == 0
    done = run("subscribers", "import", str(listed))  # the OS user is Sanne, a beheerder
    assert done.exit_code == 0, done.output
    entry = last(loaded, "import")
    assert entry.actor == "staff:sanne@ipo.example" and entry.subject == "import:lijst.csv"


def test_cli_actions_record_the_account_not_free_text(loaded, run) -> None:
    person = loaded.execute(
        "select email from subscribers where status = 'active' order by id limit 1"
    ).fetchone()[0]
    assert run("subscribers", "set", person, "--pause").exit_code == 0
    assert last(loaded, "preferences").actor == "staff:sanne@ipo.example"
    assert run("subscribers", "export", "--format", "json").exit_code == 0
    assert last(loaded, "export").actor == "staff:sanne@ipo.example"
    forgotten = run("subscribers", "forget", person, "--yes", "--by", "sanne@ipo.example")
    assert forgotten.exit_code == 0, forgotten.output
    assert last(loaded, "forget").actor == "staff:sanne@ipo.example"
    actors = {e.actor for e in audit.events(loaded)}
    assert "cli" not in actors and not any(a.startswith("cli:") for a in actors)


def test_a_scheduled_send_is_done_by_the_account_that_scheduled_it(loaded) -> None:
    subject = issue_mailing_id("2026-12")
    assert scheduled_by(loaded, "2026-12") == "tick"  # nobody scheduled it: an older schedule
    audit.record(loaded, "staff:pieter@ipo.example", "schedule", subject, at="x")
    assert scheduled_by(loaded, "2026-12") == "staff:pieter@ipo.example"
    pieter = staff_rows.by_email(loaded, "pieter@ipo.example")
    assert pieter is not None
    staff_rows.set_roles(loaded, pieter.id, ("redacteur",))
    with pytest.raises(RoleRefused, match="Sending an issue needs the role eindredacteur"):
        scheduled_by(loaded, "2026-12")
    accounts.disable_account(loaded, "pieter@ipo.example", "test")
    with pytest.raises(WorkflowError, match="no longer an active staff account"):
        scheduled_by(loaded, "2026-12")
