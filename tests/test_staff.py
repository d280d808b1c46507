"""Staff accounts (issue #14): the CLI, argon2 hashes, sign-in limits and sessions, no browser."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from newsletter import clock
from newsletter.cli.main import cli
from newsletter.staff import accounts
from newsletter.staff.accounts import SignInRefused, StaffError
from newsletter.store import audit
from newsletter.store import staff as rows
from tests.conftest import Runner

PASSWORD = "correct horse battery"


def test_add_prints_a_generated_password_once_and_stores_only_an_argon2_hash(
    run: Runner, db: Database
) -> None:
    result = run(
        "staff",
        "add",
        "Sanne@IPO.example",
        "--name",
        "Sanne  de Vries",
        "--role",
        "redacteur",
        "--role",
        "eindredacteur",
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert (
        lines[0]
        == "Added staff account sanne@ipo.example (Sanne de Vries; redacteur, eindredacteur)"
    )
    password = lines[1].rsplit(": ", 1)[1]
    assert len(password) >= 20
    stored = rows.password_hash(db, "sanne@ipo.example")
    assert stored is not None and stored.startswith("$argon2id$") and password not in stored
    assert accounts.sign_in(db, "SANNE@ipo.example", password, "10.0.0.1").name == "Sanne de Vries"
    # listed without the password, and the add is in the audit log with the CLI user
    listed = run("staff", "list", "--json")
    assert password not in listed.output
    [entry] = json.loads(listed.output)
    assert entry["roles"] == ["redacteur", "eindredacteur"] and entry["active"]
    [added] = [e for e in audit.events(db) if e.action == "staff-add"]
    assert added.subject == "staff:sanne@ipo.example" and added.actor.startswith("cli:")


def test_password_stdin_is_used_as_given(run: Runner, db: Database, instance) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--project",
            str(instance),
            "staff",
            "add",
            "p@ipo.example",
            "--name",
            "Pieter",
            "--role",
            "eindredacteur,beheerder",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password" not in result.output
    assert accounts.sign_in(db, "p@ipo.example", PASSWORD, "10.0.0.1").roles == (
        "eindredacteur",
        "beheerder",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "hoofdredacteur"], "unknown role 'hoofdredacteur'; the roles are: redacteur"),
        ([], "give at least one --role"),
        (["--role", "inbox", "--name", " "], "--name must be a person's name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run: Runner, args: list[str], message: str) -> None:
    base = ["staff", "add", "x@ipo.example", "--name", "X"]
    result = run(*base, *args)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and message in result.output


def test_bad_address_duplicate_short_password_and_unknown_account_exit_2(
    run: Runner, instance
) -> None:
    assert run("staff", "add", "geen-adres", "--name", "X", "--role", "inbox").exit_code == 2
    assert run("staff", "add", "x@ipo.example", "--name", "X", "--role", "inbox").exit_code == 0
    again = run("staff", "add", "X@ipo.example", "--name", "Y", "--role", "inbox")
    assert again.exit_code == 2 and "already a staff account 'x@ipo.example'" in again.output
    short = CliRunner().invoke(
        cli,
        [
            "--project",
            str(instance),
            "staff",
            "reset-password",
            "x@ipo.example",
            "--password-stdin",
        ],
        input="kort\n",
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output
    unknown = run("staff", "disable", "nobody@ipo.example")
    assert unknown.exit_code == 2 and "no staff account 'nobody@ipo.example'" in unknown.output


def test_disable_ends_sessions_and_refuses_sign_in(run: Runner, db: Database) -> None:
    issued = accounts.add_account(db, "s@ipo.example", "S", ["redacteur"], "test", PASSWORD)
    token = accounts.start_session(db, issued.account)
    result = run("staff", "disable", "s@ipo.example")
    assert result.output == "Disabled s@ipo.example; 1 session(s) ended\n"
    assert accounts.resume_session(db, token, timedelta(minutes=30)).account is None
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in(db, "s@ipo.example", PASSWORD, "10.0.0.1")
    assert not refused.value.limited
    assert "disabled" in run("staff", "list").output
    assert run("staff", "disable", "s@ipo.example").exit_code == 2  # already disabled


def test_reset_password_replaces_the_old_one_and_ends_sessions(run: Runner, db: Database) -> None:
    issued = accounts.add_account(db, "s@ipo.example", "S", ["redacteur"], "test", PASSWORD)
    token = accounts.start_session(db, issued.account)
    result = run("staff", "reset-password", "s@ipo.example")
    assert result.exit_code == 0
    new = result.output.splitlines()[-1].rsplit(": ", 1)[1]
    assert accounts.resume_session(db, token, timedelta(minutes=30)).expired
    with pytest.raises(SignInRefused):
        accounts.sign_in(db, "s@ipo.example", PASSWORD, "10.0.0.1")
    assert accounts.sign_in(db, "s@ipo.example", new, "10.0.0.1").email == "s@ipo.example"


def test_the_sixth_failure_is_limited_per_account_even_with_the_right_password(
    db: Database,
) -> None:
    accounts.add_account(db, "s@ipo.example", "S", ["redacteur"], "test", PASSWORD)
    for n in range(accounts.ACCOUNT_LIMIT):
        with pytest.raises(SignInRefused) as refused:
            accounts.sign_in(db, "s@ipo.example", f"wrong {n}", f"10.0.0.{n}")
        assert not refused.value.limited and refused.value.delay > 0
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in(db, "s@ipo.example", PASSWORD, "10.0.0.99")
    assert refused.value.limited
    # after the window it signs in, and a success clears the account's count
    clock.set_now(clock.now() + accounts.WINDOW + timedelta(seconds=1))
    assert accounts.sign_in(db, "s@ipo.example", PASSWORD, "10.0.0.99").email == "s@ipo.example"
    assert (
        rows.failures_since(db, rows.account_key("s@ipo.example"), clock.now() - accounts.WINDOW)
        == 0
    )


def test_one_address_trying_many_accounts_is_limited(db: Database) -> None:
    accounts.add_account(db, "s@ipo.example", "S", ["redacteur"], "test", PASSWORD)
    for n in range(accounts.ADDRESS_LIMIT):
        with pytest.raises(SignInRefused):
            accounts.sign_in(db, f"guess{n}@ipo.example", "wrong password", "192.0.2.7")
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in(db, "s@ipo.example", PASSWORD, "192.0.2.7")
    assert refused.value.limited
    assert accounts.sign_in(db, "s@ipo.example", PASSWORD, "192.0.2.8").email == "s@ipo.example"


def test_a_session_expires_after_the_idle_time_and_sign_out_ends_it(db: Database) -> None:
    issued = accounts.add_account(db, "s@ipo.example", "S", ["redacteur"], "test", PASSWORD)
    idle = timedelta(minutes=30)
    token = accounts.start_session(db, issued.account)
    clock.set_now(clock.now() + timedelta(minutes=29))
    assert accounts.resume_session(db, token, idle).account == issued.account  # used: renewed
    clock.set_now(clock.now() + timedelta(minutes=29))
    assert accounts.resume_session(db, token, idle).account is not None
    clock.set_now(clock.now() + timedelta(minutes=31))
    state = accounts.resume_session(db, token, idle)
    assert state.account is None and state.expired
    assert rows.sessions_of(db, issued.account.id) == []
    other = accounts.start_session(db, issued.account)
    accounts.end_session(db, other, issued.account)
    assert accounts.resume_session(db, other, idle).account is None
    assert [e.actor for e in audit.events(db) if e.action == "signout"] == ["staff:s@ipo.example"]


def test_roles_parse_in_a_fixed_order() -> None:
    assert accounts.parse_roles(["beheerder,redacteur", "inbox"]) == (
        "redacteur",
        "inbox",
        "beheerder",
    )
    with pytest.raises(StaffError):
        accounts.parse_roles(["admin"])
