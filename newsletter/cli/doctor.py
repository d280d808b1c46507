"""doctor: is the sending set-up right? One table: check, result, what we found, what to do."""

from __future__ import annotations

import textwrap

import click

from newsletter import clock, store
from newsletter.cli.common import CONTEXT, Failed, echo_json, json_option, pass_settings
from newsletter.config import Settings
from newsletter.doctor.model import Check, counts
from newsletter.doctor.run import run_doctor
from newsletter.store.doctor import record_run

WIDTH = 100


@click.command(context_settings=CONTEXT)
@json_option
@pass_settings
def doctor(settings: Settings, as_json: bool) -> None:
    """Check the sending set-up and say what to fix: SPF, DKIM, DMARC, alignment, MX,
    MTA-STS/DANE, the relay's STARTTLS, the one-click unsubscribe and https.

    Exit 0 when every check is ok or a warning, 1 when one is an error, 2 on bad input (a
    setting). A check that needs the internet where there is none is a warning. DNS goes to
    [doctor] nameserver when set, else the system resolver. `status` shows the last result.

    \b
        newsletter doctor
        newsletter doctor --json
    """
    checks = run_doctor(settings)
    record_run(store.open_store(settings), clock.utc_iso(), [c.as_json() for c in checks])
    if as_json:
        echo_json([c.as_json() for c in checks])
    else:
        for line in format_table(checks):
            click.echo(line)
    if any(c.result == "error" for c in checks):
        raise Failed


def format_table(checks: list[Check]) -> list[str]:
    """The table: check and result, what was found, and under it what to do."""
    name_width = max(len(c.title) for c in checks)
    indent = " " * (name_width + 11)
    lines = [f"{'check':<{name_width}}  {'result':<7}  what we found / what to do"]
    for check in checks:
        found = textwrap.wrap(check.found, WIDTH - len(indent)) or [""]
        lines.append(f"{check.title:<{name_width}}  {check.result:<7}  {found[0]}")
        lines += [indent + line for line in found[1:]]
        if check.fix:
            fix = textwrap.wrap(f"to do: {check.fix}", WIDTH - len(indent))
            lines += [indent + line for line in fix]
    tally = counts(checks)
    lines.append(
        f"{tally['ok']} ok, {tally['warning']} warning(s), {tally['error']} error(s)"
        + ("; fix the errors first" if tally["error"] else "")
    )
    return lines
