"""`issue build`: resolve the issue file, render every variant, write build/ and record it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.content.issue import Issue
from newsletter.issues.files import load_issue
from newsletter.people.subscribers import current_holders
from newsletter.render.issue import HOLDER_ROLES, Holder, RenderedIssue, render_issue, write_build
from newsletter.store import transaction
from newsletter.store.builds import IssueBuild, record_build


@dataclass(frozen=True)
class BuildResult:
    """What `issue build` made: the rendered issue, and the folder of its web version."""

    rendered: RenderedIssue
    web_dir: Path


def build_issue(
    db: Database,
    settings: Settings,
    month: str,
    issue: Issue | None = None,
    holders: Sequence[Holder] | None = None,
) -> BuildResult:
    """Render an issue and write its files; the store records what was built.

    issue, holders: as load_issue and current_holders give them now (issues.memo read them)."""
    issue = issue or load_issue(db, settings, month)
    if holders is None:
        holders = current_holders(db, HOLDER_ROLES, issue.date)
    rendered = render_issue(settings, issue, holders)
    return BuildResult(rendered, record(db, settings, rendered))


def record(db: Database, settings: Settings, rendered: RenderedIssue) -> Path:
    """Write a build's files (build/) and record it in the store; the web version's folder."""
    issue = rendered.issue
    web_dir = write_build(settings, rendered)
    build = IssueBuild(
        month=issue.month,
        subject=issue.subject,
        content_hash=issue.content_hash(),
        item_ids=tuple(item.id for item in issue.items),
        variants=tuple(rendered.variants),
        built_at=clock.utc_iso(),
    )
    with transaction(db):
        record_build(db, build)
    return web_dir
