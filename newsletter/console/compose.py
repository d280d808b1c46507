"""Composing on the issue page: what the page shows around the issue's items (the items that
can be added, filtered; whether the version is frozen; the findings with their links).

The changes themselves go through issues.compose.compose, the same use case as
`newsletter issue compose`; the routes are in console/issues.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.console.content_form import KIND_NAMES
from newsletter.console.finding_words import shown
from newsletter.console.issue_words import dutch
from newsletter.content.items import KINDS, Item
from newsletter.errors import ContentError
from newsletter.issues.compose import Draft, Frozen, candidates, refuse_if_frozen
from newsletter.preflight.runner import PreflightReport

PICK = 100  # the newest items not in the issue, offered in the "add" list
CHANGES = {"toevoegen": "add", "verwijderen": "remove", "omhoog": "up", "omlaag": "down"}
DONE = {
    "add": "Het item is aan het nummer toegevoegd.",
    "remove": "Het item is uit het nummer gehaald.",
    "up": "Het item staat nu een plaats hoger.",
    "down": "Het item staat nu een plaats lager.",
}


def frozen_reason(db: Database, month: str) -> str:
    """Why the items cannot change now (the library's rule), in Dutch; "" when they can."""
    try:
        refuse_if_frozen(db, month)
    except Frozen as exc:
        return dutch(exc)
    return ""


def context(
    db: Database,
    settings: Settings,
    month: str,
    draft: Draft | None,
    items: Mapping[str, Item],
    check: PreflightReport | None,
    intro_html: str,
    composing: bool,
) -> dict[str, Any]:
    """What the issue page needs to compose: the filters and the items to add (for staff who
    compose), the frozen notice, and the findings in Dutch with where to fix them."""
    kind = request.args.get("soort", "")
    kind = kind if kind in KINDS else ""
    theme = request.args.get("thema", "")
    theme = theme if theme in settings.themes else ""
    offered: list[Item] = []
    if draft is not None and composing:
        try:
            offered = candidates(db, settings, month, kind or None, theme or None, PICK, draft)
        except ContentError:
            offered = []
    findings = [shown(f, items, intro_html) for f in check.findings] if check else []
    return {
        "frozen": frozen_reason(db, month),
        "offered": offered,
        "pick_filters": {"soort": kind, "thema": theme},
        "kind_names": KIND_NAMES,
        "themes": {key: t.title for key, t in settings.themes.items()},
        "findings": findings,
    }
