"""What the command groups share: settings, repeated options as decorators, output helpers."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from newsletter import store
from newsletter.config import Settings, load_settings
from newsletter.editorial import workflow
from newsletter.issues.files import check_month
from newsletter.staff import identity, permissions
from newsletter.staff.accounts import actor

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Failed(Exception):
    """Raised by a command that finished but with named failures: exit 1."""


class State:
    """The root group's options, and the instance's Settings loaded once on first use."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.project)
        return self._settings


def pass_settings(func: F) -> F:
    """Give the command the instance's Settings (loaded once, after --project/--now)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        state = ctx.find_object(State)
        assert state is not None, "the cli group sets ctx.obj"
        settings = state.settings()
        return func(settings, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def json_option(func: F) -> F:
    """--json: print the command's data as JSON for scripts instead of text."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


def echo_json(data: Any, *, ascii_only: bool = False) -> None:
    """Print data as indented JSON (non-ASCII kept as is unless ascii_only)."""
    click.echo(json.dumps(data, ensure_ascii=ascii_only, indent=2))


def echo_data(
    data: Any, as_json: bool, present: Callable[[Any], str], *, ascii_only: bool = False
) -> None:
    """With --json the data itself, else the text present() makes of it: one source for both."""
    if as_json:
        echo_json(data, ascii_only=ascii_only)
    else:
        click.echo(present(data))


def echo_lines(lines: list[str]) -> None:
    """Print each line."""
    for line in lines:
        click.echo(line)


def echo_problems(lines: list[str], *, warning: bool = False) -> None:
    """Each problem on stderr, as 'Failed: ...' or 'Warning: ...'."""
    for line in lines:
        click.echo(f"{'Warning' if warning else 'Failed'}: {line}", err=True)


def month_argument(func: F) -> F:
    """MONTH (YYYY-MM), checked before the command runs."""

    def check(ctx: click.Context, param: click.Parameter, value: str) -> str:
        return check_month(value)  # a ContentError: one line, exit 2

    return click.argument("month", callback=check)(func)


def acting(settings: Settings, by: str | None, action: str) -> str:
    """Who does `action`: --by names an active staff account (its e-mail, or its name when
    only one account has it); without --by, [console] os_users maps the user running the
    command to one. That account must have the role the action needs (staff.permissions, the
    console's rule too). The account as the audit log names it (staff:<email>); else exit 2."""
    db = store.open_store(settings)
    try:
        if by is None:
            account = identity.os_account(db, settings, workflow.default_actor())
        else:
            account = identity.account_for(db, workflow.actor_name(by))
        return actor(permissions.require(account, action))
    finally:
        db.conn.close()


def _actor_check(action: str) -> Callable[[click.Context, click.Parameter, str | None], str]:
    """The callback of --by for one action (a name of staff.permissions.ACTIONS)."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
        state = ctx.find_object(State)
        assert state is not None, "the cli group sets ctx.obj"
        return acting(state.settings(), value, action)

    return check


def by_option(action: str) -> Callable[[F], F]:
    """A required --by ACCOUNT (a staff e-mail or name): who does `action`, for the audit log;
    the account needs the role staff.permissions gives the action."""

    def decorate(func: F) -> F:
        return click.option(
            "--by",
            "by",
            required=True,
            metavar="ACCOUNT",
            callback=_actor_check(action),
            help="Your staff account: its e-mail, or its name (see 'newsletter staff list').",
        )(func)

    return decorate


def actor_option(what: str, action: str | None) -> Callable[[F], F]:
    """An optional --by ACCOUNT; without it the account [console] os_users maps the user
    running the command (or the one behind sudo) to. The account needs the role
    staff.permissions gives `action` (None: the command calls acting() itself, when it acts)."""

    def decorate(func: F) -> F:
        return click.option(
            "--by",
            "by",
            default=None,
            metavar="ACCOUNT",
            callback=_actor_check(action) if action else None,
            help=f"The staff account that {what} (e-mail or name; default: the account "
            "[console] os_users maps your user name to).",
        )(func)

    return decorate


def at_request_options(conversation: str) -> Callable[[F], F]:
    """--reason and --request of a change staff make at someone's request (`subscribers
    resubscribe` and `unsubscribe`); `conversation` says which one --request may name."""

    def decorate(func: F) -> F:
        func = click.option(
            "--request",
            type=int,
            metavar="CONVERSATION_ID",
            help=f"{conversation} in the contact mailbox it answers (see 'newsletter inbox list').",
        )(func)
        return click.option(
            "--reason", required=True, help="What the person asked, when and how (logged)."
        )(func)

    return decorate


class progress_bar:
    """A progress bar on a terminal; silent under cron or in a pipe."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar: Any = None

    def __enter__(self) -> Callable[[int], None] | None:
        if not sys.stderr.isatty():
            return None
        self.bar = click.progressbar(length=self.total, label="Sending", file=sys.stderr)
        self.bar.__enter__()
        update: Callable[[int], None] = self.bar.update
        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
