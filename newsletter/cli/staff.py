"""staff: the accounts that sign in to the console (add, list, disable, reset-password)."""

from __future__ import annotations

import sys

import click

from newsletter import store
from newsletter.cli.common import CONTEXT, echo_data, json_option, pass_settings
from newsletter.config import Settings
from newsletter.editorial.approval import default_actor
from newsletter.staff import identity
from newsletter.staff.accounts import ROLES, Issued, StaffError, accounts, add_account
from newsletter.staff.accounts import disable_account as disable_staff
from newsletter.staff.accounts import reset_password as reset_staff_password
from newsletter.store.staff import StaffRow


@click.group(context_settings=CONTEXT)
def staff() -> None:
    """Staff accounts for the console (newsletter console): who may sign in, in which roles."""


def _by(settings: Settings) -> str:
    """The account os_users maps the user to, or cli:<user> (before there is any account)."""
    db = store.open_store(settings)
    try:
        return identity.os_actor(db, settings, default_actor())
    finally:
        db.conn.close()


def _stdin_password() -> str:
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise StaffError("--password-stdin: standard input held no password")
    return line


def _issued(issued: Issued, what: str) -> None:
    account = issued.account
    click.echo(f"{what} {account.email} ({account.name}; {', '.join(account.roles)})")
    if issued.generated is not None:
        click.echo(f"Password (shown once, not stored): {issued.generated}")


password_stdin = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (one line) instead of generating one.",
)


@staff.command("add")
@click.argument("email")
@click.option("--name", required=True, help="The person's name, as colleagues know it.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help=f"Repeat for more roles (or A,B): {', '.join(ROLES)}.",
)
@password_stdin
@pass_settings
def staff_add(
    settings: Settings, email: str, name: str, roles: tuple[str, ...], password_stdin: bool
) -> None:
    """Add an account; a generated password is printed once.

    \b
        newsletter staff add sanne@ipo.example --name 'Sanne de Vries' --role redacteur
        printf '%s\\n' "$PASSWORD" | newsletter staff add ... --password-stdin
    """
    password = _stdin_password() if password_stdin else None
    db = store.open_store(settings)
    _issued(add_account(db, email, name, roles, _by(settings), password), "Added staff account")


def _format(rows: list[StaffRow]) -> str:
    if not rows:
        return "No staff accounts yet; 'newsletter staff add EMAIL --name NAME --role ROLE'"
    lines = []
    for row in rows:
        state = "active" if row.active else f"disabled {row.disabled_at}"
        last = f"last sign-in {row.last_signin_at}" if row.last_signin_at else "never signed in"
        lines.append(f"{row.email:<32} {row.name:<24} {','.join(row.roles):<28} {state}; {last}")
    return "\n".join(lines)


@staff.command("list")
@json_option
@pass_settings
def staff_list(settings: Settings, as_json: bool) -> None:
    """Every account: address, name, roles, active or disabled, last sign-in.

    \b
        newsletter staff list --json
    """
    rows = accounts(store.open_store(settings))
    echo_data([r.as_json() for r in rows] if as_json else rows, as_json, _format)


@staff.command("disable")
@click.argument("email")
@pass_settings
def staff_disable(settings: Settings, email: str) -> None:
    """Stop an account from signing in; its open sessions end at once.

    \b
        newsletter staff disable pieter@ipo.example
    """
    account, ended = disable_staff(store.open_store(settings), email, _by(settings))
    click.echo(f"Disabled {account.email}; {ended} session(s) ended")


@staff.command("reset-password")
@click.argument("email")
@password_stdin
@pass_settings
def staff_reset_password(settings: Settings, email: str, password_stdin: bool) -> None:
    """Give an account a new password (printed once); its sessions end.

    \b
        newsletter staff reset-password sanne@ipo.example
    """
    password = _stdin_password() if password_stdin else None
    issued = reset_staff_password(store.open_store(settings), email, _by(settings), password)
    _issued(issued, "New password for")
