"""issue: a monthly issue from new to sent (build, check, review, approve, send, report)."""

from __future__ import annotations

import sys
from typing import Any

import click

from newsletter import store
from newsletter.cli.common import (
    CONTEXT,
    Failed,
    actor_option,
    by_option,
    echo_data,
    echo_json,
    json_option,
    month_argument,
    pass_settings,
    progress_bar,
)
from newsletter.cli.present import (
    as_data,
    format_approved,
    format_build,
    format_mailing_change,
    format_mailing_report,
    format_preflight,
    format_reviewed,
    format_schedule,
    format_test_copy,
)
from newsletter.config import Settings
from newsletter.editorial import workflow
from newsletter.editorial.gate import Checked
from newsletter.issues.build import build_issue
from newsletter.issues.compose import Move, compose
from newsletter.issues.files import create_issue
from newsletter.onboarding.programme import sample_messages
from newsletter.outbound.delivery import send_summary
from newsletter.outbound.ledger import change_mailing, mailing_report, pending_count
from newsletter.outbound.send import mailing_id_for, send_issue
from newsletter.outbound.statistics import mailing_statistics, statistics_csv
from newsletter.preflight import runner as preflight


@click.group(context_settings=CONTEXT)
def issue() -> None:
    """Monthly issues: new, build, send."""


@issue.command("new")
@month_argument
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Publication date (default: the first working day of the month).",
)
@click.option("--force", is_flag=True, help="Start the issue file again.")
@pass_settings
def issue_new(settings: Settings, month: str, day: Any, force: bool) -> None:
    """Write content/issues/MONTH.md with the items published since the previous issue.

    \b
        newsletter issue new 2026-12
    """
    path, chosen = create_issue(
        store.open_store(settings), settings, month, day.date() if day else None, force=force
    )
    count = sum(len(items) for items in chosen.values())
    click.echo(
        f"Wrote {path.relative_to(settings.project)} with {count} items; write the intro, "
        f"then run 'newsletter issue build {month}'"
    )


@issue.command("compose")
@month_argument
@click.option("--add", "add", metavar="ITEM", help="Add this item (at the end of its section).")
@click.option("--section", default="", metavar="SECTION", help="The section --add puts it in.")
@click.option("--remove", metavar="ITEM", help="Take this item out of the issue.")
@click.option(
    "--move", nargs=2, metavar="ITEM up|down", help="Move an item one place within its section."
)
@actor_option("composes it")
@pass_settings
def issue_compose(
    settings: Settings,
    month: str,
    add: str | None,
    section: str,
    remove: str | None,
    move: tuple[str, str] | None,
    by: str,
) -> None:
    """Add, remove or move one item of the issue file, as the console does.

    \b
        newsletter issue compose 2026-12 --add bac-2026-11-stikstof --section uitgelicht
    """
    given = [
        m
        for m in (
            add and Move("add", add, section),
            remove and Move("remove", remove),
            move and Move(move[1], move[0]),
        )
        if m
    ]
    if len(given) != 1 or (move and move[1] not in ("up", "down")):
        raise click.UsageError("give one of --add ITEM, --remove ITEM, --move ITEM up|down")
    draft = compose(store.open_store(settings), settings, month, given[0], by)
    for key, ids in draft.sections.items():
        if ids:
            click.echo(f"{key}: {', '.join(ids)}")


@issue.command("build")
@month_argument
@pass_settings
def issue_build(settings: Settings, month: str) -> None:
    """Render every variant, the web version and the .ics files into build/.

    \b
        newsletter issue build 2026-12
    """
    result = build_issue(store.open_store(settings), settings, month)
    click.echo(format_build(result, settings.project))


@issue.command("review")
@month_argument
@by_option
@pass_settings
def issue_review(settings: Settings, month: str, by: str) -> None:
    """Submit the issue for review: it builds, and ACCOUNT is its editor (who cannot approve it).

    \b
        newsletter issue review 2026-12 --by sanne@ipo.example
    """
    reviewed = workflow.review(store.open_store(settings), settings, month, by)
    click.echo(format_reviewed(reviewed, settings))


@issue.command("approve")
@month_argument
@by_option
@pass_settings
def issue_approve(settings: Settings, month: str, by: str) -> None:
    """Approve exactly what renders now and freeze it; that version is what is sent.

    ACCOUNT may not be the one that submitted it ([workflow] four_eyes). Editing the issue file
    or an item in it afterwards returns the issue to draft.

    \b
        newsletter issue approve 2026-12 --by pieter@ipo.example
    """
    click.echo(format_approved(workflow.approve(store.open_store(settings), settings, month, by)))


@issue.command("test")
@month_argument
@click.option(
    "--to", "to", multiple=True, required=True, metavar="ADDR", help="A staff address (repeat)."
)
@click.option("--as", "as_email", metavar="EMAIL", help="Render it as this subscriber sees it.")
@click.option("--transport", metavar="URL", help="Override [delivery] transport.")
@actor_option("sends it")
@pass_settings
def issue_test(
    settings: Settings,
    month: str,
    to: tuple[str, ...],
    as_email: str | None,
    transport: str | None,
    by: str,
) -> None:
    """Send a test copy, "[TEST]" in the subject, to staff addresses only; no ledger rows.

    The approved version if there is one, else the current build. Its links do not work (they
    name no reader), so nobody is unsubscribed by a colleague's click.

    \b
        newsletter issue test 2026-12 --to redactie@ipo.example --as anna.jansen@gld.example
    """
    copy = workflow.send_test(
        store.open_store(settings),
        settings,
        month,
        list(to),
        as_email,
        transport or settings.transport,
        by,
    )
    click.echo(format_test_copy(copy))


@issue.command("schedule")
@month_argument
@click.option("--at", "at", required=True, metavar="ISO", help="When (Europe/Amsterdam).")
@actor_option("schedules it")
@pass_settings
def issue_schedule(settings: Settings, month: str, at: str, by: str) -> None:
    """Send an approved issue at a moment; tick starts it, if it is still approved then.

    A schedule missed by more than [workflow] missed_window (the machine was down) is not
    sent: status and the log say so, and 'issue send' sends it by hand.

    \b
        newsletter issue schedule 2027-01 --at 2027-01-04T09:00
    """
    click.echo(
        format_schedule(workflow.schedule(store.open_store(settings), settings, month, at, by))
    )


@issue.command("unschedule")
@month_argument
@actor_option("does it")
@pass_settings
def issue_unschedule(settings: Settings, month: str, by: str) -> None:
    """Take an issue off its schedule (or clear a missed one); it stays approved.

    \b
        newsletter issue unschedule 2027-01
    """
    click.echo(format_schedule(workflow.unschedule(store.open_store(settings), month, by)))


@issue.command("send")
@month_argument
@click.option(
    "--transport", metavar="URL", help="Override [delivery] transport, e.g. smtp://127.0.0.1:2525."
)
@click.option("--connections", type=click.IntRange(1, 16), help="Parallel SMTP connections.")
@click.option(
    "--rate",
    type=click.FloatRange(0),
    metavar="N",
    help="At most N messages per minute to the relay (0: no limit).",
)
@click.option(
    "--in-doubt",
    type=click.Choice(["resend", "skip"]),
    default="resend",
    show_default=True,
    help="Messages a crashed send left in doubt: send again (same Message-ID) or leave "
    "them for staff.",
)
@actor_option("sends it")
@json_option
@pass_settings
def issue_send(
    settings: Settings,
    month: str,
    transport: str | None,
    connections: int | None,
    rate: float | None,
    in_doubt: str,
    by: str,
    as_json: bool,
) -> None:
    """Send the approved issue to every active subscriber; a rerun sends nothing twice.

    What goes out is the version frozen by 'issue approve' (with [workflow] require_approval
    off: the issue as it builds now). An issue edited since approval is not sent: it is a
    draft again and the message says what changed. Safe to stop and run again at any moment:
    it continues with what was not sent (a send once begun finishes the frozen version, even
    when the files no longer build). Runs the checks of 'issue check' on the version it sends
    first and sends nothing when they find errors (warnings do not stop it).

    \b
        newsletter issue send 2026-12
        newsletter issue send 2026-12 --transport smtp://relay.ipo.example:587?starttls=1
        newsletter issue send 2026-12 --json
    """
    db = store.open_store(settings)

    def warn(checked: Checked) -> None:  # warnings do not stop the send, but nobody misses them
        for finding in checked.warnings:
            if finding.part == "tool":  # a tool that did not run: this send is checked less
                click.echo(f"Warning: {finding.message}; {finding.fix}", err=True)
        if checked.warnings:
            click.echo(f"Warning: {checked.summary}", err=True)

    with progress_bar(pending_count(db, mailing_id_for(month))) as bar:
        sent = send_issue(
            db,
            settings,
            month,
            transport,
            by=by,
            connections=connections,
            rate=rate,
            in_doubt=in_doubt,
            progress=bar,
            on_checked=warn,
        )
    report = sent.delivery
    for email, reply in report.failed + report.deferred:
        click.echo(f"Failed: {email}: {reply}", err=True)
    for email in report.in_doubt:
        click.echo(
            f"In doubt: {email}: the relay may have it; 'newsletter issue report "
            f"{month}' lists these, --in-doubt decides the next run",
            err=True,
        )
    if as_json:
        echo_json(as_data(report))
    else:
        click.echo(send_summary(report))
    if report.had_failures:
        raise Failed


@issue.command("check")
@month_argument
@json_option
@pass_settings
def issue_check(settings: Settings, month: str, as_json: bool) -> None:
    """Check every variant for accessibility, deliverability and rendering (exit 1 on errors).

    Python checks, SpamAssassin, the Nu HTML checker and axe-core in Chromium; a tool that is
    not installed is a warning that says how to install it. Warnings do not fail the check.

    \b
        newsletter issue check 2026-12
        newsletter issue check 2026-12 --json
    """
    if sys.stderr.isatty():  # the tools take some seconds the first time; quiet in cron
        click.echo(f"Checking {month}: building, then SpamAssassin, vnu and axe …", err=True)
    db = store.open_store(settings)
    report = preflight.check_issue(
        db,
        settings,
        month,
        onboarding_samples=lambda: sample_messages(db, settings),
    )
    if as_json:
        echo_json(report.as_json())
    else:
        click.echo(format_preflight(report))
    if report.errors:
        raise Failed


@issue.command("preview")
@month_argument
@click.option("--screenshot", is_flag=True, help="Also write PNGs at 375 and 1200 px wide.")
@pass_settings
def issue_preview(settings: Settings, month: str, screenshot: bool) -> None:
    """Write each variant as a sample reader gets it, and print the files to open.

    \b
        newsletter issue preview 2026-12
        newsletter issue preview 2026-12 --screenshot
    """
    built = build_issue(store.open_store(settings), settings, month)
    paths = preflight.write_previews(settings, built.rendered, screenshot)
    for path in paths:
        click.echo(settings.shown(path))


@issue.command("pause")
@month_argument
@actor_option("pauses it")
@pass_settings
def issue_pause(settings: Settings, month: str, by: str) -> None:
    """Pause a send; the running sender stops within a second, nothing is lost.

    \b
        newsletter issue pause 2026-12
    """
    change = change_mailing(store.open_store(settings), mailing_id_for(month), "pause", by)
    click.echo(format_mailing_change(change))


@issue.command("resume")
@month_argument
@actor_option("resumes it")
@pass_settings
def issue_resume(settings: Settings, month: str, by: str) -> None:
    """Allow a paused send again; the next 'issue send' (or tick) goes on where it stopped.

    \b
        newsletter issue resume 2026-12
    """
    change = change_mailing(store.open_store(settings), mailing_id_for(month), "resume", by)
    click.echo(format_mailing_change(change))


@issue.command("cancel")
@month_argument
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@actor_option("cancels it")
@pass_settings
def issue_cancel(settings: Settings, month: str, yes: bool, by: str) -> None:
    """Cancel a send for good: what was not sent yet will not be sent.

    \b
        newsletter issue cancel 2026-12 --yes
    """
    if not yes and not click.confirm(f"Cancel issue {month}? Unsent messages will not go out"):
        raise Failed
    change = change_mailing(store.open_store(settings), mailing_id_for(month), "cancel", by)
    click.echo(format_mailing_change(change))


@issue.command("report")
@month_argument
@json_option
@click.option(
    "--csv",
    "as_csv",
    is_flag=True,
    help="Sent, delivered, bounced, complaints, unsubscribes per province and day, as CSV.",
)
@pass_settings
def issue_report(settings: Settings, month: str, as_json: bool, as_csv: bool) -> None:
    """How the send went: sent, deferred, failed, in doubt, per province, slowest, errors.

    \b
        newsletter issue report 2026-12 --json
        newsletter issue report 2026-12 --csv > rapport-2026-12.csv
    """
    db = store.open_store(settings)
    if as_csv:  # the numbers of the console's Rapporten page, from the same function
        click.echo(statistics_csv(mailing_statistics(db, mailing_id_for(month))), nl=False)
        return
    report = mailing_report(db, mailing_id_for(month))
    echo_data(report, as_json, format_mailing_report)
