"""The instance as a whole: status, log, tick, serve and demo."""

from __future__ import annotations

import json
from pathlib import Path

import click

from newsletter import clock, store
from newsletter.cli.common import (
    CONTEXT,
    Failed,
    echo_json,
    echo_lines,
    json_option,
    pass_settings,
)
from newsletter.cli.present import (
    as_data,
    format_demo,
    format_log_entry,
    format_status,
    format_workflow_status,
)
from newsletter.config import Settings
from newsletter.editorial import workflow
from newsletter.editorial.status import instance_status, log_entries
from newsletter.issues.files import check_month
from newsletter.tick import run_tick

# -- status and log -------------------------------------------------------------------------


@click.command(context_settings=CONTEXT)
@json_option
@pass_settings
def status(settings: Settings, as_json: bool) -> None:
    """The instance at a glance: last tick, issues still going out, open questions.

    A configuration problem shows here too, as the one error line of any command.

    \b
        newsletter status
        newsletter status --json
    """
    db = store.open_store(settings)
    instance = instance_status(db, settings)
    issues = workflow.workflow_status(db, settings)
    if as_json:
        echo_json({"instance": as_data(instance), "workflow": as_data(issues)})
        return
    echo_lines(format_status(instance))
    echo_lines(format_workflow_status(issues))


@click.command(context_settings=CONTEXT)
@click.option("--issue", "month", help="Only the events of this issue's mailing (YYYY-MM).")
@json_option
@pass_settings
def log(settings: Settings, month: str | None, as_json: bool) -> None:
    """The audit log: sends, imports, unsubscribes, preferences, forgets, pauses, ticks,
    reviews, approvals (and refused ones), revocations, schedules and test copies.

    \b
        newsletter log --issue 2026-12
    """
    entries = log_entries(store.open_store(settings), check_month(month) if month else None)
    if as_json:
        click.echo(json.dumps([e.as_json() for e in entries], ensure_ascii=False, indent=2))
        return
    for entry in entries:
        click.echo(format_log_entry(entry))


# -- tick -----------------------------------------------------------------------------------


@click.command(context_settings=CONTEXT)
@json_option
@pass_settings
def tick(settings: Settings, as_json: bool) -> None:
    """Do whatever is due, once: for cron, every five minutes (see cron/).

    Content and feeds, the contact mailbox (fetch and process), retries of issues still going
    out, retention purges. One line per job; a job that fails is named and the others still
    run (exit 1). An overlapping tick exits quietly. --now replays time.

    \b
        newsletter tick
        newsletter --now 2026-12-03T09:00 tick
        newsletter tick --json
    """
    report = run_tick(store.open_store(settings), settings, clock.now())
    if as_json:
        echo_json(as_data(report) | {"failed": report.failed})
    elif report.busy:
        click.echo(f"tick: {report.busy}", err=True)
    else:
        for job in report.jobs:
            click.echo(f"{job.name}: {'FAILED ' if job.failed else ''}{job.line}")
    if report.failed:
        raise Failed


# -- web ------------------------------------------------------------------------------------


@click.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@pass_settings
def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the public pages: unsubscribe, preferences, archive (put a web server in front).

    They are served under the path of base_url (https://www.ipo.example/nieuwsbrief: at
    http://127.0.0.1:8000/nieuwsbrief/), so every link works there directly and behind a
    proxy that forwards the path unchanged. Under another WSGI server use the factory
    newsletter.web.public:create_app().

    \b
        newsletter serve --port 8000
    """
    from newsletter.web.public import serve as run_server

    click.echo(
        f"Serving {settings.base_url} on {settings.local_url(host, port)} (Ctrl+C stops)",
        err=True,
    )
    run_server(settings, host, port)


# -- demo -----------------------------------------------------------------------------------


@click.command(context_settings=CONTEXT)
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default="demo-instance",
    show_default=True,
    help="Where to build the instance.",
)
@click.option(
    "--transport",
    metavar="URL",
    help="Send here instead of the outbox, e.g. smtp://127.0.0.1:2525.",
)
@click.option("--no-send", is_flag=True, help="Build everything, send nothing.")
@click.option("--fresh", is_flag=True, help="Remove an earlier demo instance in DIR first.")
def demo(folder: Path, transport: str | None, no_send: bool, fresh: bool) -> None:
    """Build a complete demo instance, run every stage once, and print a summary.

    \b
        newsletter demo --dir /tmp/ipo-demo
    """
    from newsletter.demo import run_demo

    summary = run_demo(folder, transport=transport, send=not no_send, fresh=fresh)
    click.echo(format_demo(summary.folder, summary.lines, summary.problems))
    if summary.failed:
        raise Failed
