"""The public archive: the sent issues that have a web version to show."""

from __future__ import annotations

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.store.reports import SentIssue, has_frozen_web_version, sent_issues


def archived_issues(db: Database, settings: Settings) -> list[SentIssue]:
    """Sent issues, newest first, whose web version was built here or frozen by an approval."""
    return [
        issue
        for issue in sent_issues(db)
        if (settings.build_dir / "archief" / issue.issue_month / "index.html").is_file()
        or has_frozen_web_version(db, issue.issue_month)
    ]
