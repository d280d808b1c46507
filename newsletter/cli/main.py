"""The command line: parse, call one library function, print. No SQL or SMTP here."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from newsletter import clock, store
from newsletter.config import Settings, load_settings, read_env_file
from newsletter.content.items import KINDS
from newsletter.dates import nl_date
from newsletter.editorial import workflow
from newsletter.editorial.gate import Checked
from newsletter.editorial.status import format_entry, log_entries, status_lines
from newsletter.errors import NewsletterError, TransportError
from newsletter.inbound import classify, conversations, processing
from newsletter.issues.build import build_issue
from newsletter.issues.files import check_month, create_issue
from newsletter.onboarding import programme as onboarding_module
from newsletter.outbound.ledger import change_mailing, format_report, mailing_report, pending_count
from newsletter.outbound.send import mailing_id_for, send_issue
from newsletter.people import privacy
from newsletter.people.preferences import set_preferences_by_email
from newsletter.people.segments import parse_segment
from newsletter.people.segments import recipients as segment_recipients
from newsletter.people.subscribers import import_subscribers
from newsletter.preflight import runner as preflight
from newsletter.sources import catalog
from newsletter.tick import run_tick

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class Failed(Exception):
    """Raised by a command that finished but with named failures: exit 1."""


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
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(func)


class State:
    def __init__(self, project: Path) -> None:
        self.project = project
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.project)
        return self._settings


def echo_problems(lines: list[str], *, warning: bool = False) -> None:
    for line in lines:
        click.echo(f"{'Warning' if warning else 'Failed'}: {line}", err=True)


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
    ctx.meta["debug"] = debug
    if env_file is not None:  # before any setting is read: settings load on first use
        os.environ.update(read_env_file(env_file))
    ctx.obj = State(project)
    if now:
        clock.set_now(now)  # a ConfigError naming --now: one line, exit 2


# -- content --------------------------------------------------------------------------------


@cli.group(context_settings=CONTEXT)
def content() -> None:
    """Content files and feeds."""


@content.command("sync")
@pass_settings
def content_sync(settings: Settings) -> None:
    """Read content/ and every feed into the store.

    A bad file or a broken feed is named and the rest still syncs (exit 1).

    \b
        newsletter content sync
    """
    report = catalog.sync_content(store.open_store(settings), settings)
    echo_problems(report.warnings, warning=True)
    echo_problems(report.errors)
    click.echo(report.summary())
    if report.failed:
        raise Failed


@content.command("list")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind.")
@click.option("--theme", help="Only this theme (a key from [themes]).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Published on or after DATE.")
@json_option
@pass_settings
def content_list(
    settings: Settings, kind: str | None, theme: str | None, since: Any, as_json: bool
) -> None:
    """List the items in the store, newest first.

    \b
        newsletter content list --kind bac_decision --since 2026-11-01
    """
    if theme and theme not in settings.themes:
        raise NewsletterError(
            f"--theme {theme}: not a theme; use one of {', '.join(settings.themes)}"
        )
    items = catalog.list_items(
        store.open_store(settings), kind=kind, theme=theme, since=since.date() if since else None
    )
    if as_json:
        click.echo(
            json.dumps(
                [
                    catalog.item_to_row(i)
                    | {"data": json.loads(str(catalog.item_to_row(i)["data"]))}
                    for i in items
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for item in items:
        click.echo(
            f"{item.published}  {item.kind:<15} {item.theme:<27} {item.id}  {item.title[:50]}"
        )
    click.echo(f"{len(items)} items", err=True)


# -- subscribers ----------------------------------------------------------------------------


@cli.group(context_settings=CONTEXT)
def subscribers() -> None:
    """Subscriber lists from the griffies."""


@subscribers.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--province", help="Province code for rows without one, e.g. GLD.")
@click.option(
    "--replace",
    is_flag=True,
    help="The file is the province's whole list (after elections): end the open mandates in "
    "that province of everyone not on it. Needs --province or one province in the file.",
)
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="OUT.csv",
    help="Write the rejected rows here with a 'reden' column, to fix and import again.",
)
@pass_settings
def subscribers_import(
    settings: Settings,
    file: Path,
    province: str | None,
    replace: bool,
    dry_run: bool,
    rejects: Path | None,
) -> None:
    """Import a griffie list (CSV, ; or , separated, UTF-8 or Excel's cp1252).

    Rejected rows are named with row number, column and reason; the others are imported (exit 1).
    A bad file (UTF-16, empty, no e-mail column) or bad options change nothing (exit 2). An
    address that was unsubscribed, bounced or erased, or is on the suppression list, is never
    subscribed again. An unknown column is ignored with a warning.

    --replace: people on the list keep or get their mandates; the open mandates in the
    province of everyone else end the day before today (or --now). Nobody is deleted, history
    stays. If any row is rejected, --replace ends no mandate at all (the row may be someone
    still in office): the good rows are imported, nothing is ended, exit 1; fix the rows in the
    list and run it again. Try it with --dry-run first.

    --dry-run lists the people and mandates that would be added, updated and ended, and the
    rejected rows, and changes nothing in the store (--rejects is still written).

    \b
        newsletter subscribers import subscribers/demo/gelderland.csv
        newsletter subscribers import gelderland-2027.csv --replace --dry-run
        newsletter subscribers import gelderland-2027.csv --replace --rejects fouten.csv
    """
    if province and province.upper() not in settings.provinces:
        raise NewsletterError(
            f"--province {province}: not a province; use one of {', '.join(settings.provinces)}"
        )
    db = (
        store.open_store(settings)
        if not dry_run or settings.database.exists()
        else store.connect(":memory:")  # a dry run does not even create the store
    )
    report = import_subscribers(
        db,
        settings,
        file,
        province.upper() if province else None,
        replace=replace,
        dry_run=dry_run,
        rejects=rejects,
    )
    echo_problems(report.warnings, warning=True)
    echo_problems(report.rejected)
    for change in report.changes if dry_run else []:
        click.echo(f"Would {change.kind}: {change.text}")
    echo_problems(report.notes)
    if report.rejects_file is not None:
        click.echo(report.rejects_summary())
    click.echo(report.summary())
    if report.failed:
        raise Failed


@subscribers.command("show")
@click.argument("email")
@json_option
@pass_settings
def subscribers_show(settings: Settings, email: str, as_json: bool) -> None:
    """Everything held about one person: record, consent, mandates, deliveries, bounces.

    For a request for access under the AVG; unknown address: exit 2.

    \b
        newsletter subscribers show lotte.claessens@dr.example
        newsletter subscribers show lotte.claessens@dr.example --json
    """
    db = store.open_store(settings)
    record = privacy.person_record(db, settings, email)
    if record is None:
        raise privacy.unknown(db, settings, email)
    text = json.dumps(record, ensure_ascii=False, indent=2)
    click.echo(text if as_json else privacy.format_person(record))


@subscribers.command("list")
@click.option("--status", type=click.Choice(privacy.STATUSES), help="Only this status.")
@click.option("--province", help="Only this province, e.g. GLD.")
@click.option("--role", type=click.Choice(privacy.ROLE_KEYS), help="Only people with this role.")
@json_option
@pass_settings
def subscribers_list(
    settings: Settings, status: str | None, province: str | None, role: str | None, as_json: bool
) -> None:
    """One line per person: province, status, address, name, current roles.

    \b
        newsletter subscribers list --province GLD --role av_lid
    """
    people = privacy.list_people(store.open_store(settings), settings, status, province, role)
    text = json.dumps(people, ensure_ascii=False, indent=2)
    click.echo(text if as_json else privacy.format_list(people), nl=as_json or bool(people))
    click.echo(f"{len(people)} people", err=True)


@subscribers.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="csv for Excel (; separated, UTF-8), json for scripts.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (atomically, readable by you only) instead of stdout.",
)
@pass_settings
def subscribers_export(settings: Settings, fmt: str, output: Path | None) -> None:
    """All subscribers with every field and their mandates, one row per person.

    CSV cells that a spreadsheet would run as a formula get a leading quote.

    \b
        newsletter subscribers export --output subscribers/export.csv
        newsletter subscribers export --format json
    """
    text = privacy.export_text(store.open_store(settings), fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    privacy.write_file(output, text)
    click.echo(f"Wrote {output}", err=True)


@subscribers.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_settings
def subscribers_forget(settings: Settings, email: str, yes: bool) -> None:
    """Erase a person everywhere (AVG right to erasure); keep only a keyed hash of the address.

    The hash lets later imports skip the address; nothing else about the person is kept.

    \b
        newsletter subscribers forget lotte.claessens@dr.example --yes
    """
    db = store.open_store(settings)
    record = privacy.person_record(db, settings, email)
    if record and not yes and not click.confirm(privacy.forget_question(settings, record)):
        click.echo("Nothing erased.", err=True)
        raise Failed
    click.echo(privacy.forget(db, settings, email).summary())


@subscribers.command("segment")
@click.argument("expression")
@click.option("--on", "day", type=click.DateTime(["%Y-%m-%d"]), help="Mandates in office on DATE.")
@json_option
@pass_settings
def subscribers_segment(settings: Settings, expression: str, day: Any, as_json: bool) -> None:
    """Who an audience reaches: all, role:ROLE, province:CODE, theme:THEME, on:DATE.

    Terms separated by spaces must all hold. An issue names its audience in its file.

    \b
        newsletter subscribers segment "role:av_lid,plv_av_lid"
        newsletter subscribers segment "role:griffier province:GLD"
    """
    people = list(
        segment_recipients(
            store.open_store(settings),
            parse_segment(expression, settings, "segment"),
            day.date() if day else clock.today(),
        )
    )
    if as_json:
        click.echo(json.dumps([vars(p) for p in people], ensure_ascii=False, indent=2))
        return
    for person in people:
        click.echo(f"{person.province or '-':<4} {person.email:<40} {person.name}")
    click.echo(f"{len(people)} people", err=True)


@subscribers.command("set")
@click.argument("email")
@click.option("--themes", metavar="A,B", help="Themes to receive (comma-separated), or 'all'.")
@click.option("--pause/--resume", "paused", default=None, help="Pause or resume their mail.")
@pass_settings
def subscribers_set(
    settings: Settings, email: str, themes: str | None, paused: bool | None
) -> None:
    """Set a reader's preferences for them, as the preferences page would.

    \b
        newsletter subscribers set anna.jansen@gld.example --themes landelijk-gebied --pause
    """
    reader = set_preferences_by_email(
        store.open_store(settings), settings, email, themes, paused, actor="cli"
    )
    click.echo(
        f"{reader.email}: {reader.status}; themes "
        f"{', '.join(reader.themes) if reader.themes else 'all'}"
    )


# -- issue ----------------------------------------------------------------------------------


def month_argument(func: F) -> F:
    def check(ctx: click.Context, param: click.Parameter, value: str) -> str:
        return check_month(value)  # a ContentError: one line, exit 2

    return click.argument("month", callback=check)(func)


@cli.group(context_settings=CONTEXT)
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


@issue.command("build")
@month_argument
@pass_settings
def issue_build(settings: Settings, month: str) -> None:
    """Render every variant, the web version and the .ics files into build/.

    \b
        newsletter issue build 2026-12
    """
    result = build_issue(store.open_store(settings), settings, month)
    click.echo(result.summary(settings.project))


def _check_actor(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Every --by: not empty, no CR/LF, control or invisible characters (exit 2)."""
    return None if value is None else workflow.actor_name(value)


def by_option(func: F) -> F:
    return click.option(
        "--by",
        "by",
        required=True,
        metavar="NAME",
        callback=_check_actor,
        help="Who does this (for the audit log).",
    )(func)


def actor_option(what: str) -> Callable[[F], F]:
    """An optional --by; without it the user running the command (or the one behind sudo)."""

    def decorate(func: F) -> F:
        return click.option(
            "--by",
            "by",
            default=workflow.default_actor,
            metavar="NAME",
            callback=_check_actor,
            help=f"Who {what} (audit log; default: your user name).",
        )(func)

    return decorate


@issue.command("review")
@month_argument
@by_option
@pass_settings
def issue_review(settings: Settings, month: str, by: str) -> None:
    """Submit the issue for review: it builds, and NAME is its editor (who cannot approve it).

    \b
        newsletter issue review 2026-12 --by "Sanne de Vries"
    """
    click.echo(workflow.review(store.open_store(settings), settings, month, by))


@issue.command("approve")
@month_argument
@by_option
@pass_settings
def issue_approve(settings: Settings, month: str, by: str) -> None:
    """Approve exactly what renders now and freeze it; that version is what is sent.

    NAME may not be the editor who submitted it ([workflow] four_eyes). Editing the issue file
    or an item in it afterwards returns the issue to draft.

    \b
        newsletter issue approve 2026-12 --by "Joris Bakker"
    """
    click.echo(workflow.approve(store.open_store(settings), settings, month, by))


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
    click.echo(copy.summary(month))


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
    click.echo(workflow.schedule(store.open_store(settings), settings, month, at, by))


@issue.command("unschedule")
@month_argument
@actor_option("does it")
@pass_settings
def issue_unschedule(settings: Settings, month: str, by: str) -> None:
    """Take an issue off its schedule (or clear a missed one); it stays approved.

    \b
        newsletter issue unschedule 2027-01
    """
    click.echo(workflow.unschedule(store.open_store(settings), month, by))


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
@pass_settings
def issue_send(
    settings: Settings,
    month: str,
    transport: str | None,
    connections: int | None,
    rate: float | None,
    in_doubt: str,
    by: str,
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
    click.echo(report.summary())
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
    report = preflight.check_issue(store.open_store(settings), settings, month)
    click.echo(
        json.dumps(report.as_json(), ensure_ascii=False, indent=2) if as_json else report.text()
    )
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
    click.echo(change_mailing(store.open_store(settings), mailing_id_for(month), "pause", by))


@issue.command("resume")
@month_argument
@actor_option("resumes it")
@pass_settings
def issue_resume(settings: Settings, month: str, by: str) -> None:
    """Allow a paused send again; the next 'issue send' (or tick) goes on where it stopped.

    \b
        newsletter issue resume 2026-12
    """
    click.echo(change_mailing(store.open_store(settings), mailing_id_for(month), "resume", by))


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
    click.echo(change_mailing(store.open_store(settings), mailing_id_for(month), "cancel", by))


@issue.command("report")
@month_argument
@json_option
@pass_settings
def issue_report(settings: Settings, month: str, as_json: bool) -> None:
    """How the send went: sent, deferred, failed, in doubt, per province, slowest, errors.

    \b
        newsletter issue report 2026-12 --json
    """
    report = mailing_report(store.open_store(settings), mailing_id_for(month))
    click.echo(
        json.dumps(report, ensure_ascii=False, indent=2) if as_json else format_report(report)
    )


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


# -- inbox ----------------------------------------------------------------------------------


@cli.group(context_settings=CONTEXT)
def inbox() -> None:
    """The contact mailbox: bounces, complaints, auto-replies, unsubscribes and questions."""


@inbox.command("classify")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@json_option
def inbox_classify(files: tuple[Path, ...], as_json: bool) -> None:
    """Say what message files are (bounce, complaint, auto-reply, ...) and why; stores nothing.

    \b
        newsletter inbox classify mailbox/new/1733040000.M1P2.eml --json
    """
    results = []
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise NewsletterError(f"cannot read {path}: {exc.strerror or exc}") from exc
        results.append((str(path), classify.classify(raw)))
    if as_json:
        click.echo(json.dumps([{"file": n, **v.as_dict()} for n, v in results], indent=2))
    for name, verdict in [] if as_json else results:
        click.echo("\n".join(classify.describe(name, verdict)))


@inbox.command("fetch")
@pass_settings
def inbox_fetch(settings: Settings) -> None:
    """Read new mail from every [inbox] source into the store, each message exactly once.

    Stored mail is moved to the folder Verwerkt (.Verwerkt in a Maildir). A message that
    cannot be parsed or is too large is stored as quarantined with the reason. A source that
    fails is named and the others are still read (exit 1).

    Then every new message is processed once: bounces tied to our deliveries (hard ones, and
    soft ones in [inbox] soft_bounce_mailings mailings in a row, mark the address bounced),
    complaints and "afmelden" mails from a subscriber's own address unsubscribe (the latter
    with a confirmation), auto-replies are recorded and never answered, the rest is for staff.

    \b
        newsletter inbox fetch
    """
    report, processed = processing.fetch_and_process(
        store.open_store(settings), settings, clock.now()
    )
    echo_problems([s.error for s in report.failed])
    click.echo(report.summary())
    echo_problems(processed.problems)
    click.echo(processed.summary())
    if report.failed or processed.problems:
        raise Failed


# -- inbox: conversations ----------------------------------------------------------------------


def conversation_argument(func: F) -> F:
    return click.argument("number", type=click.IntRange(min=1), metavar="N")(func)


@inbox.command("list")
@click.option("--status", type=click.Choice(conversations.STATUSES), help="Only this status.")
@click.option("--theme", metavar="THEME", help="Only this theme, e.g. landelijk-gebied.")
@json_option
@pass_settings
def inbox_list(settings: Settings, status: str | None, theme: str | None, as_json: bool) -> None:
    """The conversations: number, status, theme, age, correspondent, subject.

    \b
        newsletter inbox list --status new
        newsletter inbox list --theme landelijk-gebied --json
    """
    rows = conversations.list_conversations(store.open_store(settings), status, theme)
    if as_json:
        click.echo(json.dumps([conversations.as_json_row(r) for r in rows], indent=2))
    else:
        for row in rows:
            click.echo(conversations.format_line(row))
    click.echo(f"{len(rows)} conversations", err=True)


@inbox.command("show")
@conversation_argument
@pass_settings
def inbox_show(settings: Settings, number: int) -> None:
    """One conversation with all its messages, oldest first; unknown N: exit 2.

    \b
        newsletter inbox show 3
    """
    db = store.open_store(settings)
    conversation = conversations.get(db, number)
    click.echo(conversations.format_thread(conversation, conversations.thread(db, number)))


@inbox.command("assign")
@conversation_argument
@click.option("--to", "name", required=True, metavar="NAME", help="Who handles it.")
@pass_settings
def inbox_assign(settings: Settings, number: int, name: str) -> None:
    """Give a conversation to a colleague (a new one becomes open).

    \b
        newsletter inbox assign 3 --to "Sanne de Vries"
    """
    row = conversations.assign(store.open_store(settings), number, name)
    click.echo(f"Conversation {number}: assigned to {row['assignee']}; status {row['status']}")


@inbox.command("theme")
@conversation_argument
@click.argument("theme")
@pass_settings
def inbox_theme(settings: Settings, number: int, theme: str) -> None:
    """Set the theme (a key of [themes]) instead of the guessed one.

    \b
        newsletter inbox theme 3 landelijk-gebied
    """
    conversations.set_theme(store.open_store(settings), settings, number, theme)
    click.echo(f"Conversation {number}: theme {theme}")


@inbox.command("reply")
@conversation_argument
@click.option(
    "--file",
    "answer",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The answer, in Markdown.",
)
@actor_option("wrote the answer")
@pass_settings
def inbox_reply(settings: Settings, number: int, answer: Path, by: str) -> None:
    """Answer from the contact mailbox, the last message quoted; the status becomes waiting.

    \b
        newsletter inbox reply 3 --file antwoord.md --by "Sanne de Vries"
    """
    try:
        markdown = answer.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NewsletterError(f"cannot read {answer} as UTF-8 text: {exc}") from None
    sent = conversations.reply(store.open_store(settings), settings, number, markdown, by)
    click.echo(f"Conversation {number}: replied to {sent.to} ({sent.subject}); status waiting")


@inbox.command("close")
@conversation_argument
@pass_settings
def inbox_close(settings: Settings, number: int) -> None:
    """Close a conversation (a new message from the correspondent reopens it).

    \b
        newsletter inbox close 3
    """
    _, changed = conversations.close(store.open_store(settings), number)
    click.echo(f"Conversation {number}: {'closed' if changed else 'was already closed'}")


@inbox.command("report")
@json_option
@pass_settings
def inbox_report(settings: Settings, as_json: bool) -> None:
    """Open questions (new and open) by age (0-2 days, 3-7, older) and theme.

    \b
        newsletter inbox report --json
    """
    data = conversations.report(store.open_store(settings), settings)
    click.echo(json.dumps(data, indent=2) if as_json else conversations.format_report(data))


# -- onboarding -----------------------------------------------------------------------------


@cli.group(context_settings=CONTEXT)
def onboarding() -> None:
    """The programme for new AV members: plan, enroll, status, preview."""


sequence_option = click.option(
    "--sequence",
    metavar="NAME",
    help="content/onboarding/NAME.yaml (needed when there are several).",
)
day_type = click.DateTime(["%Y-%m-%d"])


def _in_a_term(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A day a Statenperiode can hold (not the year 9999): else one line, exit 2."""
    if value is not None and not 2000 <= value.year <= 2099:
        raise click.BadParameter(
            f"{value:%Y-%m-%d} is not a day of a Statenperiode; check the year"
        )
    return value


@onboarding.command("plan")
@click.option(
    "--joined",
    type=day_type,
    required=True,
    callback=_in_a_term,
    help="The first day of the mandate (T0).",
)
@click.option(
    "--until",
    "ends",
    type=day_type,
    callback=_in_a_term,
    help="The day the mandate ends, if known.",
)
@sequence_option
@json_option
@pass_settings
def onboarding_plan(
    settings: Settings, joined: Any, ends: Any, sequence: str | None, as_json: bool
) -> None:
    """The dated timeline a member joining on a day would get, with the reason for each date.

    \b
        newsletter onboarding plan --joined 2026-10-20
    """
    if ends is not None and ends < joined:
        raise NewsletterError("--until is before --joined: the mandate ends after it starts")
    db = store.open_store(settings)
    chosen = onboarding_module.only_sequence(settings, sequence)
    items = onboarding_module.plan(
        settings,
        chosen,
        joined.date(),
        onboarding_module.load_calendar(db),
        ends.date() if ends else None,
    )
    if as_json:
        click.echo(json.dumps(onboarding_module.plan_json(items), ensure_ascii=False, indent=2))
        return
    click.echo(f"{chosen.title}: joined {nl_date(joined.date(), weekday=True)}")
    for line in onboarding_module.format_plan(items, joined.date()):
        click.echo(line)


@onboarding.command("enroll")
@click.argument("email")
@click.option(
    "--start",
    type=day_type,
    callback=_in_a_term,
    help="T0 (default: the start of their AV mandate).",
)
@sequence_option
@pass_settings
def onboarding_enroll(settings: Settings, email: str, start: Any, sequence: str | None) -> None:
    """Enroll one person by hand (people with a new av_lid/plv_av_lid mandate are enrolled
    by tick on their own). Steps already decided for them are never sent again.

    \b
        newsletter onboarding enroll hans.deboer@ut.example --start 2026-10-20
    """
    enrolment, changed = onboarding_module.enrol(
        store.open_store(settings), settings, email, start.date() if start else None, sequence
    )
    verb = "Enrolled" if changed else "Already enrolled:"
    click.echo(
        f"{verb} {email} in {enrolment.sequence} from {nl_date(enrolment.starts_on)}; "
        "'newsletter onboarding status' shows the next step, tick sends it"
    )


@onboarding.command("status")
@json_option
@pass_settings
def onboarding_status(settings: Settings, as_json: bool) -> None:
    """Each enrolee: steps done, the next step and its date, or why it stopped.

    \b
        newsletter onboarding status
    """
    rows = onboarding_module.status_rows(store.open_store(settings), settings, clock.now())
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("Nobody is enrolled yet")
    for row in rows:
        if row["status"] != "active":
            state = f"stopped: {row['stopped_reason']}"
        elif row["next_step"]:
            state = f"next: {row['next_step']} on {row['next_nl']}"
        else:
            state = "nothing left to send"
        click.echo(
            f"{row['email']:<34} {row['province'] or '-':<4} from {row['start']}  "
            f"{row['done']}/{row['steps']} done, {row['skipped']} skipped  {state}"
        )


@onboarding.command("preview")
@click.argument("step")
@click.option("--for", "email", required=True, metavar="EMAIL", help="The member to render it for.")
@sequence_option
@pass_settings
def onboarding_preview(settings: Settings, step: str, email: str, sequence: str | None) -> None:
    """Render one step as this member gets it into build/onboarding/ (HTML and text).

    \b
        newsletter onboarding preview welkom --for hans.deboer@ut.example
    """
    rendered, planned = onboarding_module.preview(
        store.open_store(settings), settings, step, email, sequence
    )
    folder = settings.build_dir / "onboarding"
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"preview-{planned.key.replace('@', '--')}"  # no name in it: overwritten each time
    (folder / f"{stem}.html").write_text(rendered.html, encoding="utf-8")
    (folder / f"{stem}.txt").write_text(rendered.text, encoding="utf-8")
    when = nl_date(planned.at, weekday=True) if planned.at else "no date yet"
    click.echo(f"Subject: {rendered.subject}\nPlanned: {when}; {planned.why}")
    click.echo(f"Wrote {(folder / stem).relative_to(settings.project)}.html and .txt")


# -- status and log -------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@pass_settings
def status(settings: Settings) -> None:
    """The instance at a glance: last tick, issues still going out, open questions.

    A configuration problem shows here too, as the one error line of any command.

    \b
        newsletter status
    """
    db = store.open_store(settings)
    for line in status_lines(db, settings):
        click.echo(line)
    for line in workflow.status_lines(db, settings):  # issues, schedules, configuration
        click.echo(line)


@cli.command(context_settings=CONTEXT)
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
        click.echo(json.dumps(entries, ensure_ascii=False, indent=2))
        return
    for entry in entries:
        click.echo(format_entry(entry))


# -- tick -----------------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@pass_settings
def tick(settings: Settings) -> None:
    """Do whatever is due, once: for cron, every five minutes (see cron/).

    Content and feeds, the contact mailbox (fetch and process), retries of issues still going
    out, retention purges. One line per job; a job that fails is named and the others still
    run (exit 1). An overlapping tick exits quietly. --now replays time.

    \b
        newsletter tick
        newsletter --now 2026-12-03T09:00 tick
    """
    report = run_tick(store.open_store(settings), settings, clock.now())
    if report.busy:
        click.echo(f"tick: {report.busy}", err=True)
        return
    for job in report.jobs:
        click.echo(f"{job.name}: {'FAILED ' if job.failed else ''}{job.line}")
    if report.failed:
        raise Failed


# -- web ------------------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@pass_settings
def serve(settings: Settings, host: str, port: int) -> None:
    """Serve the public pages: unsubscribe, preferences, archive (put a web server in front).

    Under another WSGI server use the factory newsletter.web.public:create_app().

    \b
        newsletter serve --port 8000
    """
    from newsletter.web.public import serve as run_server

    click.echo(f"Serving {settings.base_url} on http://{host}:{port}/ (Ctrl+C stops)", err=True)
    run_server(settings, host, port)


# -- demo -----------------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
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
    click.echo(summary.text())
    if summary.failed:
        raise Failed


def main() -> None:
    try:
        cli(prog_name="newsletter")
    except BrokenPipeError:  # `newsletter content list | head`: the reader has all it wants
        sys.stderr.close()
        sys.exit(0)
