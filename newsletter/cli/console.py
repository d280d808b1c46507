"""console: serve the staff console (a separate app from the public pages)."""

from __future__ import annotations

import click

from newsletter.cli.common import CONTEXT, pass_settings
from newsletter.config import Settings


@click.command(context_settings=CONTEXT)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8001, show_default=True, type=click.IntRange(1, 65535))
@pass_settings
def console(settings: Settings, host: str, port: int) -> None:
    """Serve the staff console (sign in with a staff account) under waitress.

    Keep it on the internal network or behind the reverse proxy of [console] base_url; it is
    served under that URL's path. Under another WSGI server use the factory
    newsletter.console.app:create_console().

    \b
        newsletter console --port 8001
    """
    from newsletter.console.app import serve

    click.echo(
        f"Staff console on {settings.console.local_url(host, port)} (Ctrl+C stops)", err=True
    )
    serve(settings, host, port)
