"""The root group: global options, the command groups, and errors as one line and an exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from newsletter import app, clock
from newsletter.cli.common import CONTEXT, Failed, State
from newsletter.cli.console import console
from newsletter.cli.content import content
from newsletter.cli.doctor import doctor
from newsletter.cli.inbox import inbox
from newsletter.cli.issue import issue
from newsletter.cli.onboarding import onboarding
from newsletter.cli.ops import demo, log, serve, status, tick
from newsletter.cli.staff import staff
from newsletter.cli.subscribers import subscribers
from newsletter.envfile import read_env_file
from newsletter.errors import NewsletterError, TransportError


class Main(click.Group):
    """Turns library errors into one line and an exit code, in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Failed:
            ctx.exit(1)
        except NewsletterError as exc:
            if ctx.meta.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            # A relay that is down is not bad input: the command can simply be run again.
            ctx.exit(1 if isinstance(exc, TransportError) else 2)
        except (click.exceptions.Exit, click.ClickException, click.Abort, BrokenPipeError):
            raise
        except Exception as exc:  # a bug: one line, and the traceback under --debug
            if ctx.meta.get("debug"):
                raise
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {exc}; rerun with --debug "
                "for the traceback and report it",
                err=True,
            )
            ctx.exit(1)


@click.group(cls=Main, context_settings=CONTEXT)
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    envvar="NEWSLETTER_PROJECT",
    show_default=True,
    help="The instance folder (holds newsletter.toml).",
)
@click.option("--now", metavar="ISO", help="Act as if it were this moment (Europe/Amsterdam).")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Read NAME=value lines (secrets) into the environment, literally: no shell.",
)
@click.version_option(package_name="ipo-newsletter")
@click.pass_context
def cli(
    ctx: click.Context, project: Path, now: str | None, debug: bool, env_file: Path | None
) -> None:
    """The IPO newsletter for the members of the 12 Provinciale Staten."""
    app.wire()
    ctx.meta["debug"] = debug
    if env_file is not None:  # before any setting is read: settings load on first use
        os.environ.update(read_env_file(env_file))
    ctx.obj = State(project)
    if now:
        clock.set_now(now)  # a ConfigError naming --now: one line, exit 2


for command in (content, subscribers, issue, inbox, onboarding, status, log, tick, serve, demo):
    cli.add_command(command)
cli.add_command(staff)
cli.add_command(console)
cli.add_command(doctor)


def main() -> None:
    """The console script `newsletter`."""
    try:
        cli(prog_name="newsletter")
    except BrokenPipeError:  # `newsletter content list | head`: the reader has all it wants
        sys.stderr.close()
        sys.exit(0)
