"""Four-eyes by identity (issue #14): `--by` names an active staff account, a command without it
is done by the account [console] os_users maps the user to, the editor and approver are
accounts, and the log records staff:<email> for every action."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from newsletter.staff import accounts, identity
from newsletter.store import staff as staff_rows
from tests.conftest import Runner

ADD_HINT = "newsletter staff add"


def log_actions(run: Runner, month: str) -> list[tuple[str, str]]:
    entries = json.loads(run("log", "--issue", month, "--json").output)
    return [(e["actor"], e["action"]) for e in entries]


def set_os_users(config: Path, mapping: str) -> None:
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^os_users = .*$", f"os_users = {mapping}", text))


def test_a_by_that_names_no_account_is_refused_with_how_to_add_it(loaded, december, run) -> None:
    for who, hint in [
        ("Joost Klaassen", "newsletter staff add EMAIL --name 'Joost Klaassen' --role ROLE"),
        ("joost@ipo.example", "newsletter staff add joost@ipo.example --name NAME --role ROLE"),
    ]:
        result = run("issue", "review", "2026-12", "--by", who)
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
        assert result.output.startswith(f"Error: --by {who}: no staff account has this e-mail")
        assert hint in result.output
    assert log_actions(run, "2026-12") == []


def test_by_takes_the_accounts_e_mail_or_its_unique_name(loaded, december, run) -> None:
    reviewed = run("issue", "review", "2026-12", "--by", "SANNE@ipo.example")
    assert reviewed.exit_code == 0 and "submitted by Sanne de Vries" in reviewed.output
    approved = run("issue", "approve", "2026-12", "--by", "pieter bakker")
    assert approved.exit_code == 0, approved.output
    assert "approved by Pieter Bakker (submitted by Sanne de Vries)" in approved.output
    assert log_actions(run, "2026-12") == [
        ("staff:sanne@ipo.example", "review"),
        ("staff:pieter@ipo.example", "approve"),
    ]
    assert "issue 2026-12: approved by Pieter Bakker" in run("status").output


def test_four_eyes_compares_accounts_whatever_is_typed(loaded, december, run) -> None:
    assert run("issue", "review", "2026-12", "--by", "Sanne de Vries").exit_code == 0
    for spelling in ("sanne@IPO.example", "staff:sanne@ipo.example", "SANNE DE VRIES"):
        refused = run("issue", "approve", "2026-12", "--by", spelling)
        assert refused.exit_code == 2 and "cannot also approve it" in refused.output
    actors = {a for a, action in log_actions(run, "2026-12") if action == "approve-refused"}
    assert actors == {"staff:sanne@ipo.example"}


def test_a_disabled_or_ambiguous_account_and_a_missing_role_are_refused(
    loaded, december, run
) -> None:
    accounts.disable_account(loaded, "joris@ipo.example", "test")
    disabled = run("issue", "review", "2026-12", "--by", "Joris Bakker")
    assert disabled.exit_code == 2
    assert "the staff account joris@ipo.example is disabled" in disabled.output
    staff_rows.add(loaded, "sanne.vries@ipo.example", "Sanne de Vries", ("redacteur",), "x")
    twice = run("issue", "review", "2026-12", "--by", "Sanne de Vries")
    assert twice.exit_code == 2 and "2 staff accounts have this name" in twice.output
    assert "give the e-mail instead" in twice.output
    # Pieter is eindredacteur only: he approves, he does not submit for review
    norole = run("issue", "review", "2026-12", "--by", "pieter@ipo.example")
    assert norole.exit_code == 2
    assert "needs the role redacteur; Pieter Bakker has: eindredacteur" in norole.output
    assert log_actions(run, "2026-12") == []


def test_without_by_the_os_user_must_be_mapped_to_an_account(
    settings, loaded, approved, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("LOGNAME", "jbakker")
    config = settings.config_file
    at = ("--at", "2026-12-02T09:00")
    unmapped = run("issue", "schedule", "2026-12", *at)
    assert unmapped.exit_code == 2 and unmapped.output == (
        "Error: no --by, and your user name 'jbakker' is not mapped to a staff account: pass "
        '--by EMAIL, or add os_users = { jbakker = "EMAIL" } to [console] in newsletter.toml\n'
    )
    set_os_users(config, '{ jbakker = "nobody@ipo.example" }')
    missing = run("issue", "schedule", "2026-12", *at)
    assert missing.exit_code == 2 and ADD_HINT in missing.output
    assert "[console] os_users jbakker = nobody@ipo.example" in missing.output
    set_os_users(config, '{ jbakker = "joris@ipo.example" }')
    assert run("issue", "schedule", "2026-12", *at).exit_code == 0
    assert log_actions(run, "2026-12")[-1] == ("staff:joris@ipo.example", "schedule")


def test_staff_commands_are_logged_as_the_mapped_account_or_the_user_before_any(
    settings, db, run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUDO_USER", raising=False)
    monkeypatch.setenv("LOGNAME", "bea")
    set_os_users(settings.config_file, '{ bea = "bea@ipo.example" }')
    first = run("staff", "add", "bea@ipo.example", "--name", "Bea Visser", "--role", "beheerder")
    assert first.exit_code == 0  # the first account: nobody to be yet
    second = run("staff", "add", "rob@ipo.example", "--name", "Rob Jansen", "--role", "redacteur")
    assert second.exit_code == 0
    added = [e for e in json.loads(run("log", "--json").output) if e["action"] == "staff-add"]
    assert [(e["actor"], e["subject"]) for e in added] == [
        ("cli:bea", "staff:bea@ipo.example"),
        ("staff:bea@ipo.example", "staff:rob@ipo.example"),
    ]


def test_os_users_is_checked_in_newsletter_toml(settings, run) -> None:
    set_os_users(settings.config_file, '{ "jan de vries" = "jan@ipo.example" }')
    bad = run("status")
    assert bad.exit_code == 2 and "[console] os_users: 'jan de vries' is not a user name" in (
        bad.output
    )
    set_os_users(settings.config_file, '{ jan = "jan" }')
    assert "give the staff account's e-mail" in run("status").output


def test_shown_names_an_account_and_leaves_other_actors(loaded) -> None:
    assert identity.shown(loaded, "staff:sanne@ipo.example") == "Sanne de Vries"
    assert identity.shown(loaded, "staff:gone@ipo.example") == "staff:gone@ipo.example"
    assert identity.shown(loaded, "tick") == "tick"
