"""The public web pages as HTML: Jinja over templates/web/*.html.j2; pure (no Flask, no store).

web/public.py serves these pages and preflight checks them: both render them here, so the page
preflight checks is byte for byte the page the web serves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from newsletter.config import Settings
from newsletter.dates import nl_date


def web_environment(settings: Settings) -> Environment:
    """The Jinja environment of the web templates (create once, render many pages)."""
    env = Environment(
        loader=FileSystemLoader(str(settings.templates_dir / "web")),
        # The templates are *.html.j2: escape them as HTML.
        autoescape=select_autoescape(["html", "j2"]),
    )
    env.globals.update(settings=settings, nl_date=nl_date)
    return env


def render_page(env: Environment, template: str, **context: Any) -> str:
    """One page of templates/web/ with its context."""
    return env.get_template(template).render(context)


def archive_page(env: Environment, issues: Sequence[Any]) -> str:
    """/archief/: the sent issues (each with issue_month and subject), newest first."""
    return render_page(env, "archive.html.j2", issues=issues)


def signup_page(
    env: Environment,
    settings: Settings,
    *,
    values: Mapping[str, str],
    problem: str,
    consent: str,
    csrf: str,
) -> str:
    """/aanmelden: the sign-up form, with what was typed and the problem with it (if any)."""
    return render_page(
        env,
        "signup.html.j2",
        values=values,
        problem=problem,
        consent=consent,
        csrf=csrf,
        provinces=settings.provinces,
    )
