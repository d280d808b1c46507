"""content: files and feeds into the store, and the items it holds."""

from __future__ import annotations

import json
from typing import Any

import click

from newsletter import store
from newsletter.cli.common import (
    CONTEXT,
    Failed,
    echo_lines,
    echo_problems,
    json_option,
    pass_settings,
)
from newsletter.cli.present import format_item_line
from newsletter.config import Settings
from newsletter.content.items import KINDS
from newsletter.errors import NewsletterError
from newsletter.sources import catalog


@click.group(context_settings=CONTEXT)
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
    echo_lines([format_item_line(item) for item in items])
    click.echo(f"{len(items)} items", err=True)
