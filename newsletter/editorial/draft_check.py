"""The issue as it stands, built and through the quick (Python) preflight checks: what the
console's issue page shows on every view, made once per distinct input.

The build comes from issues.memo (its key: the issue, its items, the holders, templates,
settings, today); the checks also read the public archive list and the sign-up page, so the
archive (the sent issues with a web version) is part of this key. The external tools are not
run here: `issue check` and the console's "Volledige controle" run them on request.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.issues.archive import archived_issues
from newsletter.issues.build import BuildResult
from newsletter.issues.memo import Kept, cached_build
from newsletter.preflight.runner import PreflightReport, check_rendered

_REPORTS: Kept[PreflightReport] = Kept()


def quick_check(
    db: Database, settings: Settings, month: str
) -> tuple[BuildResult, PreflightReport]:
    """The build and its quick checks over every variant and the public pages (a copy of the
    report: the caller may add to it)."""
    built, key = cached_build(db, settings, month)
    if not key:  # an input that kept changing: checked, not kept
        return built, check_rendered(settings, built.rendered, run_tools=False)
    archive = repr(archived_issues(db, settings))
    report, _ = _REPORTS.get(
        hashlib.sha256(f"{key}\x1e{archive}".encode()).hexdigest(),
        lambda: check_rendered(settings, built.rendered, run_tools=False),
    )
    return built, replace(
        report, names=list(report.names), findings=list(report.findings), tools=list(report.tools)
    )
