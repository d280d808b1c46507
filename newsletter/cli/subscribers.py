"""subscribers: import, list, show, export, forget, segment and set people on the lists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from newsletter import clock, store
from newsletter.cli.common import (
    CONTEXT,
    Failed,
    acting,
    actor_option,
    at_request_options,
    echo_data,
    echo_lines,
    echo_problems,
    json_option,
    pass_settings,
)
from newsletter.cli.present import format_people, format_person, format_recipient_line
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.inbound.bounce_view import undo_bounce
from newsletter.inbound.staff_unsubscribe import unsubscribe_at_request
from newsletter.people import privacy
from newsletter.people.lookup import resolve
from newsletter.people.preferences import resubscribe, set_preferences_by_email
from newsletter.people.segments import parse_segment
from newsletter.people.segments import recipients as segment_recipients
from newsletter.people.subscribers import import_subscribers


@click.group(context_settings=CONTEXT)
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
@actor_option("imports it (a beheerder; a --dry-run needs none)", None)
@pass_settings
def subscribers_import(
    settings: Settings,
    file: Path,
    province: str | None,
    replace: bool,
    dry_run: bool,
    rejects: Path | None,
    by: str | None,
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
    who = None if dry_run else acting(settings, by, "subscribers-import")
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
        by=who,
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
@click.argument("person", metavar="EMAIL|ID|NAME")
@json_option
@pass_settings
def subscribers_show(settings: Settings, person: str, as_json: bool) -> None:
    """Everything held about one person: record, consent, mandates, deliveries, bounces.

    For a request for access under the AVG. Name the person by e-mail, by id (from `list`) or
    by (part of) their name; a name that matches several people lists them (exit 2), and so
    does an unknown address.

    \b
        newsletter subscribers show lotte.claessens@dr.example
        newsletter subscribers show "Claessens"
        newsletter subscribers show 12 --json
    """
    db = store.open_store(settings)
    email = resolve(db, settings, person)
    record = privacy.person_record(db, settings, email)
    if record is None:
        raise privacy.unknown(db, settings, email)
    echo_data(record, as_json, format_person)


@subscribers.command("resubscribe")
@click.argument("person", metavar="EMAIL|ID|NAME")
@at_request_options("The conversation")
@actor_option("does it", "subscribers-resubscribe")
@pass_settings
def subscribers_resubscribe(
    settings: Settings, person: str, reason: str, request: int | None, by: str
) -> None:
    """Subscribe someone again who unsubscribed by mistake, at their request.

    Only an unsubscribed subscriber, only with a reason; in the log with the reason and the
    conversation. A wrong bounce is undone with `undo-bounce`. Name the person as `show` does.

    \b
        newsletter subscribers resubscribe anna.jansen@gld.example \\
            --reason "Per ongeluk afgemeld, vroeg per mail om terugzetten" --request 3
    """
    db = store.open_store(settings)
    reader = resubscribe(db, resolve(db, settings, person), reason, by, request)
    click.echo(f"{reader.email}: {reader.status} again (subscribed by {by})")


@subscribers.command("unsubscribe")
@click.argument("person", metavar="EMAIL|ID|NAME")
@at_request_options("Their own conversation")  # never on another's word
@actor_option("does it", "subscribers-unsubscribe")
@pass_settings
def subscribers_unsubscribe(
    settings: Settings, person: str, reason: str, request: int | None, by: str
) -> None:
    """Unsubscribe someone at their own request ("haal mij van de lijst").

    Only with a reason; in the log with the reason and the conversation, which must be the
    person's own (nobody is unsubscribed on another's word). They get the same confirmation
    as when they unsubscribe by mail, threaded to their message. `resubscribe` undoes it.

    \b
        newsletter subscribers unsubscribe "Gerrit Boersma" \\
            --reason "Vroeg per mail om afmelding" --request 3
    """
    db = store.open_store(settings)
    done = unsubscribe_at_request(db, settings, resolve(db, settings, person), reason, by, request)
    click.echo(f"{done.reader.email}: {done.reader.status} (by {by})")
    click.echo(done.note, err=not done.confirmed)
    if not done.confirmed:
        raise Failed


@subscribers.command("undo-bounce")
@click.argument("email")
@click.option("--reason", required=True, help="How you know the address works (logged).")
@actor_option("does it", "subscribers-undo-bounce")
@pass_settings
def subscribers_undo_bounce(settings: Settings, email: str, reason: str, by: str) -> None:
    """Undo a wrong bounce action: the subscriber is active again and their bounces no longer
    count toward the bounce policy (they stay on record, marked undone).

    \b
        newsletter subscribers undo-bounce petra.vandermeer@zh.example \\
            --reason "Griffie bevestigt: adres werkt weer"
    """
    undone = undo_bounce(store.open_store(settings), email, reason, by)
    click.echo(
        f"{undone.email}: {undone.status} again; {undone.bounces} "
        f"bounce{'s' if undone.bounces != 1 else ''} no longer count (by {by})"
    )


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
    click.echo(text if as_json else format_people(people), nl=as_json or bool(people))
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
@actor_option("exports them (a beheerder)", "subscribers-export")
@pass_settings
def subscribers_export(settings: Settings, fmt: str, output: Path | None, by: str) -> None:
    """All subscribers with every field and their mandates, one row per person.

    CSV cells that a spreadsheet would run as a formula get a leading quote.

    \b
        newsletter subscribers export --output subscribers/export.csv
        newsletter subscribers export --format json
    """
    text = privacy.export_text(store.open_store(settings), fmt, by)
    if output is None:
        click.echo(text, nl=False)
        return
    privacy.write_file(output, text)
    click.echo(f"Wrote {output}", err=True)


@subscribers.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@actor_option("erases them (a beheerder)", "subscribers-forget")
@json_option
@pass_settings
def subscribers_forget(settings: Settings, email: str, yes: bool, by: str, as_json: bool) -> None:
    """Erase a person everywhere (AVG right to erasure); keep only a keyed hash of the address.

    The hash lets later imports skip the address; nothing else about the person is kept.
    After the store, the files: their outbox messages are deleted, and other readers' copies,
    build/ output and previews that name them are redacted. A crash in between is finished
    by the next forget or tick. The report counts per holder and per kind of file.

    \b
        newsletter subscribers forget lotte.claessens@dr.example --yes
    """
    db = store.open_store(settings)
    record = privacy.person_record(db, settings, email)
    if record and not yes and not click.confirm(privacy.forget_question(settings, record)):
        click.echo("Nothing erased.", err=True)
        raise Failed
    report = privacy.forget(db, settings, email, by)
    echo_data(report.as_dict(), as_json, lambda _: report.summary())


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
    echo_lines([format_recipient_line(person) for person in people])
    click.echo(f"{len(people)} people", err=True)


@subscribers.command("set")
@click.argument("email")
@click.option("--themes", metavar="A,B", help="Themes to receive (comma-separated), or 'all'.")
@click.option(
    "--pause/--resume",
    "paused",
    default=None,
    help="Pause or resume their mail (an active or paused subscription only).",
)
@actor_option("does it", "subscribers-set")
@pass_settings
def subscribers_set(
    settings: Settings, email: str, themes: str | None, paused: bool | None, by: str
) -> None:
    """Set a reader's preferences for them, as the preferences page would.

    --pause and --resume change an active or paused subscription; someone who unsubscribed
    is subscribed again with `resubscribe` (with a reason), a bounced address with
    `undo-bounce`.

    \b
        newsletter subscribers set anna.jansen@gld.example --themes landelijk-gebied --pause
    """
    reader = set_preferences_by_email(
        store.open_store(settings), settings, email, themes, paused, actor=by
    )
    click.echo(
        f"{reader.email}: {reader.status}; themes "
        f"{', '.join(reader.themes) if reader.themes else 'all'}"
    )
