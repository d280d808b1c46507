"""onboarding: the programme for new AV members (plan, enroll, stop, status, preview)."""

from __future__ import annotations

import json
from typing import Any

import click

from newsletter import clock, store
from newsletter.cli.common import CONTEXT, actor_option, echo_data, json_option, pass_settings
from newsletter.cli.present import format_enrolments, format_plan
from newsletter.config import Settings
from newsletter.dates import nl_date
from newsletter.errors import NewsletterError
from newsletter.onboarding import programme as onboarding_module


@click.group(context_settings=CONTEXT)
def onboarding() -> None:
    """The programme for new AV members: plan, enroll, stop, status, preview."""


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
    for line in format_plan(items, joined.date()):
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


@onboarding.command("stop")
@click.argument("email")
@click.option("--reason", required=True, metavar="TEXT", help="Why it stops (in the log).")
@sequence_option
@actor_option("stops it")
@pass_settings
def onboarding_stop(
    settings: Settings, email: str, reason: str, sequence: str | None, by: str
) -> None:
    """Stop one member's enrolment by hand, with the reason; nothing more is sent to them.

    \b
        newsletter onboarding stop hans.deboer@ut.example --reason "Benoeming ingetrokken"
    """
    enrolment = onboarding_module.stop(
        store.open_store(settings), settings, email, reason, sequence, by
    )
    click.echo(f"Stopped {email} in {enrolment.sequence}: {enrolment.stopped_reason}")


@onboarding.command("status")
@json_option
@pass_settings
def onboarding_status(settings: Settings, as_json: bool) -> None:
    """Each enrolee: steps done, the next step and its date, or why it stopped.

    \b
        newsletter onboarding status
    """
    rows = onboarding_module.status_rows(store.open_store(settings), settings, clock.now())
    echo_data(rows, as_json, format_enrolments)


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
