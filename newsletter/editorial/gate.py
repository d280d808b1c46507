"""The preflight gate of approve and send: a version is checked once, and its pass remembered.

The key of a pass is a hash of the exact version as the preflight sees it (each variant's
message for the sample reader, the web version) and of `preflight.tools.versions()` (the
preflight code's version and each installed tool). Approving checks every variant it freezes,
so the send of that version starts without running the tools again; an edited version, another
template or an upgraded tool checks again. (The tool cache, NEWSLETTER_PREFLIGHT_CACHE, still
saves the tools' work per message when a check does run.)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.mail.messages import make_skeleton
from newsletter.preflight import runner as preflight
from newsletter.preflight import tools
from newsletter.preflight.checks import Finding
from newsletter.render.issue import WEB, RenderedIssue
from newsletter.store import workflow as rows
from newsletter.store.workflow import PreflightPass

_FIXED_DATE = datetime(2000, 1, 1, tzinfo=UTC)  # the key never depends on the day


@dataclass(frozen=True)
class Checked:
    """A version that passed: now, or remembered from an earlier check (tools not run)."""

    key: str
    remembered: bool
    summary: str
    warnings: tuple[Finding, ...]


def version_key(settings: Settings, rendered: RenderedIssue) -> str:
    """sha256 over what the preflight checks of this version, and the tools that check it."""
    digest = hashlib.sha256(tools.versions().encode())
    digest.update(repr(preflight.allowed_hosts(settings)).encode())
    subject = rendered.issue.subject
    for key in sorted(rendered.variants):
        variant = rendered.variant(key)
        digest.update(b"\0variant\0" + key.encode())
        if key == WEB:
            digest.update(variant.html.encode())
            continue
        skeleton = make_skeleton(settings, subject, variant)
        raw = skeleton.build(preflight.sample_recipient(settings, key), _FIXED_DATE)
        digest.update(raw.replace(skeleton.boundary.encode(), b"=_boundary"))
    return digest.hexdigest()


def check(
    db: Database,
    settings: Settings,
    rendered: RenderedIssue,
    consequence: str = "nothing was sent",
) -> Checked:
    """Pass the preflight or raise PreflightFailed (its errors, and `consequence`).

    A version that passed before is not checked again: its pass (with the warnings it had)
    comes from the store."""
    key = version_key(settings, rendered)
    month = rendered.issue.month
    passed = rows.preflight_pass(db, key)
    if passed is not None:
        warnings = tuple(Finding(**f) for f in json.loads(passed.warnings))
        report = preflight.PreflightReport(json.loads(passed.names), list(warnings), month=month)
        preflight.refuse_if_blocked(report, consequence)  # the one gate (a pass has no errors)
        return Checked(key, True, passed.summary, warnings)
    report = preflight.check_rendered(settings, rendered, fail_fast=True)
    preflight.refuse_if_blocked(report, consequence)
    if any(not run.ran and not run.install for run in report.tools):
        # A tool that is installed but broke (a crash, a timeout) is not a pass to remember:
        # the next send checks again. (A tool not installed changes tools.versions() once it is.)
        return Checked(key, False, preflight.summary_line(report), tuple(report.warnings))
    rows.record_pass(
        db,
        PreflightPass(
            key=key,
            month=month,
            checked_at=clock.utc_iso(),
            summary=preflight.summary_line(report),
            names=json.dumps(report.names),
            warnings=json.dumps([asdict(f) for f in report.warnings], ensure_ascii=False),
        ),
    )
    return Checked(key, False, preflight.summary_line(report), tuple(report.warnings))
