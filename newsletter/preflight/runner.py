"""Preflight: every outgoing message checked for accessibility, deliverability and rendering.

`check_message(name, raw, settings=...)` checks one complete RFC 5322 message (any message: an
issue variant, an onboarding step); `check_issue(db, settings, month)` builds an issue and checks
every variant as a sample reader would get it, plus the web archive pages. The Python checks
(checks, headers, model) always run; SpamAssassin, the Nu HTML checker and axe-core in
Chromium run through tools, and a missing tool is a warning that says how to install it.
Errors block `issue send`; warnings do not (issue #8).
"""

from __future__ import annotations

import email
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from email import policy
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from newsletter import store
from newsletter.config import Settings, require_secret
from newsletter.errors import ConfigError, NewsletterError
from newsletter.issues.archive import archived_issues
from newsletter.issues.build import BuildResult, build_issue
from newsletter.mail.messages import Recipient, make_skeleton
from newsletter.people.signup import CONSENT_TEXT
from newsletter.preflight import clients, tools
from newsletter.preflight.checks import check_page, message_parts, python_checks
from newsletter.preflight.headers import allowed_hosts
from newsletter.preflight.model import Finding
from newsletter.preflight.toolcache import Cache, cache_file
from newsletter.render.issue import WEB, RenderedIssue, sample_reader
from newsletter.render.web import archive_page, signup_page, web_environment

__all__ = [
    "Finding",
    "PreflightFailed",
    "PreflightReport",
    "allowed_hosts",
    "blocking_errors",
    "check_built",
    "check_issue",
    "check_message",
    "check_messages",
    "check_rendered",
    "refuse_if_blocked",
    "summary_line",
    "write_previews",
]


# The sign-up form's CSRF token is random per visitor; the checked page has one of that shape.
SAMPLE_CSRF = "preflight-csrf-token-0123456789ab"


@dataclass
class PreflightReport:
    """All findings over a set of messages and pages, and what each external tool did."""

    names: list[str]
    findings: list[Finding] = field(default_factory=list)
    tools: list[tools.ToolRun] = field(default_factory=list)
    month: str = ""

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    def as_json(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "checked": self.names,
            "tools": [t.as_json() for t in self.tools],
            "findings": [asdict(f) | {"where": f.where} for f in self.findings],
        }


def summary_line(report: PreflightReport) -> str:
    """The counts and the tools that ran, in one line: the CLI prints it, and the editorial
    gate keeps it with a remembered pass (where the tool runs themselves are not kept)."""
    ran = list(dict.fromkeys(t.tool for t in report.tools if t.ran))
    skipped = list(dict.fromkeys(t.tool for t in report.tools if not t.ran))
    line = (
        f"Preflight{' ' + report.month if report.month else ''}: {len(report.errors)} errors, "
        f"{len(report.warnings)} warnings in {len(report.names) - ('all' in report.names)} "
        "messages and pages"
    )
    if ran:
        line += f"; ran {', '.join(ran)}"
    if skipped:
        line += f"; not run: {', '.join(skipped)}"
    return line


class PreflightFailed(NewsletterError):
    """Raised instead of sending when the preflight check found errors."""


# -- running everything ------------------------------------------------------------------------


def check_messages(
    messages: Mapping[str, bytes],
    *,
    settings: Settings,
    pages: Mapping[str, str] | None = None,
    mail_layout: Collection[str] = (),
    sources: Mapping[str, str] | None = None,
    workdir: Path | None = None,
    run_tools: bool = True,
    fail_fast: bool = False,
    extra_required: Sequence[str] = (),
) -> PreflightReport:
    """Every check on a set of complete messages (name -> bytes) and web pages (name -> HTML).

    extra_required: headers these messages must carry too, exactly once (onboarding mail:
    "Auto-Submitted").
    fail_fast: when the Python checks already found errors, skip the slow external tools (for
    a send that will be refused anyway; `issue check` runs everything).
    mail_layout names the pages that are a mail layout (the web version of an issue): axe skips
    the landmark rules there, as for mail. The HTML of each message and page is written to
    workdir (default build/preflight/messages/) for the tools.
    """
    pages = pages or {}
    report = PreflightReport([*messages, *pages])
    allowed = allowed_hosts(settings)
    workdir = workdir or settings.build_dir / "preflight" / "messages"
    workdir.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[Path, bool]] = {}
    htmls: dict[str, str] = {}
    for name, raw in messages.items():
        found, html = python_checks(
            name,
            raw,
            settings=settings,
            sources=sources,
            extra_required=extra_required,
            allowed=allowed,
        )
        report.findings += found
        if html is not None:
            htmls[name] = html
            files[name] = (_write(workdir / f"{_file_name(name)}.html", html), True)
    # What Outlook, Gmail, Apple Mail and Samsung Email do not support: warnings (#16).
    report.findings += clients.client_findings(htmls) if htmls else []
    for name, html in pages.items():
        report.findings += check_page(
            name, html, settings=settings, sources=sources, allowed=allowed
        )
        files[name] = (_write(workdir / f"{_file_name(name)}.html", html), name in mail_layout)
    if run_tools and not (fail_fast and report.errors):
        report.tools = run_external(messages, files, settings)
        for run in report.tools:
            for name, issues in run.issues.items():
                report.findings += [_finding(name, run.tool, i) for i in issues]
            if not run.ran:
                report.findings.append(
                    Finding(
                        "warning",
                        "tool-missing" if run.install else "tool-failed",
                        "all",
                        f"{run.tool} {run.note}",
                        f"install it: {run.install}"
                        if run.install
                        else "fix the tool (the note says what went wrong), then check again",
                        part="tool",
                    )
                )
        if "all" not in report.names and any(f.name == "all" for f in report.findings):
            report.names.append("all")
    return report


def run_external(
    messages: Mapping[str, bytes], files: Mapping[str, tuple[Path, bool]], settings: Settings
) -> list[tools.ToolRun]:
    """SpamAssassin and the Nu checker in the background while axe drives the browser."""
    cache = Cache(cache_file(settings.build_dir))
    paths = {n: p for n, (p, _) in files.items()}
    with ThreadPoolExecutor(2) as pool:
        spam = pool.submit(
            tools.guarded, "SpamAssassin", tools.run_spamassassin, messages, cache, _stable
        )
        vnu = pool.submit(tools.guarded, "Nu HTML checker", tools.run_vnu, paths, cache)
        axe = tools.guarded("axe-core (Chromium)", tools.run_axe, files, cache)
        runs = [spam.result(), vnu.result(), axe]
    return runs


def _stable(raw: bytes) -> bytes:
    """The message without what changes on every build (Date, the random boundary): the cache
    key of its SpamAssassin score."""
    boundary = re.search(rb'boundary="([^"]+)"', raw)
    if boundary:
        raw = raw.replace(boundary[1], b"=_ipo_preflight")
    return re.sub(rb"(?m)^Date: .*\r?\n", b"", raw)


def _finding(name: str, tool: str, issue: tools.Issue) -> Finding:
    return Finding(
        issue.severity,
        issue.check,
        name,
        issue.message,
        issue.fix,
        part=(f"{tool} at {issue.selector}" if issue.selector else tool)
        if issue.line is None
        else "html",
        line=issue.line,
    )


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def check_message(
    name: str,
    raw: bytes,
    *,
    settings: Settings,
    run_tools: bool = True,
    extra_required: Sequence[str] = (),
) -> list[Finding]:
    """Every check on one complete message (headers, text and HTML parts).

    For several messages (an onboarding sequence) use check_messages: the tools start once.
    """
    return check_messages(
        {name: raw}, settings=settings, run_tools=run_tools, extra_required=extra_required
    ).findings


# -- issues ---------------------------------------------------------------------------------


def sample_recipient(settings: Settings, variant: str) -> Recipient:
    """A fictional reader with real-looking personal links (signed when a key is set)."""
    sample = sample_reader(settings)
    return Recipient(
        email=sample["email"],
        name=sample["naam"],
        salutation=sample["aanhef"],
        unsubscribe_url=sample["afmelden_url"],
        preferences_url=sample["voorkeuren_url"],
        message_id=f"<preflight.{_file_name(variant)}@{settings.sender_domain}>",
    )


def issue_messages(settings: Settings, rendered: RenderedIssue) -> dict[str, bytes]:
    """Each variant's real message for a sample reader (the WEB version is not mailed)."""
    out = {}
    for key in rendered.variants:
        if key == WEB:
            continue
        skeleton = make_skeleton(settings, rendered.issue.subject, rendered.variant(key))
        out[key] = skeleton.build(sample_recipient(settings, key))
    return out


def web_pages(settings: Settings, rendered: RenderedIssue) -> dict[str, str]:
    """The public pages readers reach from the issue: its web version, the archive list and the
    sign-up form, rendered as web/public.py serves them (render/web.py)."""
    pages = {"web:" + rendered.issue.month: rendered.variants[WEB].html}
    try:
        require_secret(settings)
    except ConfigError:
        return pages  # no signing key: the web app cannot start, so it serves no such pages
    env = web_environment(settings)
    db = store.open_store(settings)
    try:
        pages["web:archief"] = archive_page(env, archived_issues(db, settings))
    finally:
        db.conn.close()
    empty = {"naam": "", "email": "", "provincie": ""}
    pages["web:aanmelden"] = signup_page(
        env, settings, values=empty, problem="", consent=CONSENT_TEXT, csrf=SAMPLE_CSRF
    )
    return pages


def check_built(
    settings: Settings, built: BuildResult, *, run_tools: bool = True, fail_fast: bool = False
) -> PreflightReport:
    """Check an issue that was just built: every variant's message and the web pages."""
    return check_rendered(settings, built.rendered, run_tools=run_tools, fail_fast=fail_fast)


def check_rendered(
    settings: Settings,
    rendered: RenderedIssue,
    *,
    run_tools: bool = True,
    fail_fast: bool = False,
) -> PreflightReport:
    """Check a rendered issue (a fresh build, or the version an approval froze)."""
    issue = rendered.issue
    sources = {item.title: item.path for item in issue.items if item.path}
    report = check_messages(
        issue_messages(settings, rendered),
        settings=settings,
        pages=web_pages(settings, rendered),
        mail_layout={"web:" + issue.month},
        sources=sources,
        workdir=settings.build_dir / "issues" / issue.month / "preflight",
        run_tools=run_tools,
        fail_fast=fail_fast,
    )
    report.month = issue.month
    return report


def check_issue(
    db: Database,
    settings: Settings,
    month: str,
    *,
    run_tools: bool = True,
    onboarding_samples: Callable[[], Mapping[str, bytes]] | None = None,
) -> PreflightReport:
    """Build the issue and check every variant and its web pages.

    onboarding_samples: the caller's way to get the onboarding step messages (name -> bytes),
    checked too, each with Auto-Submitted; a NewsletterError from it (a broken sequence) is
    reported as an error and the issue's report still comes.
    """
    allowed_hosts(settings)  # a bad [preflight] setting stops us before anything is written
    report = check_built(settings, build_issue(db, settings, month), run_tools=run_tools)
    if onboarding_samples is None:
        return report
    try:
        steps = onboarding_samples()
    except NewsletterError as exc:  # a broken sequence: the issue's report still comes
        steps = {}
        report.findings.append(
            Finding(
                "error",
                "onboarding",
                "onboarding",
                str(exc),
                "fix the sequence file",
                part="message",
            )
        )
        report.names.append("onboarding")
    if steps:  # the onboarding steps go out on their own, with Auto-Submitted
        extra = check_messages(
            steps,
            settings=settings,
            workdir=settings.build_dir / "onboarding" / "preflight",
            run_tools=run_tools,
            extra_required=["Auto-Submitted"],
        )
        report.names += [n for n in extra.names if n not in report.names]
        known = {(f.check, f.message) for f in report.findings if f.part == "tool"}
        report.findings += [  # a missing tool is said once
            f for f in extra.findings if f.part != "tool" or (f.check, f.message) not in known
        ]
        report.tools += extra.tools
    return report


def blocking_errors(report: PreflightReport) -> list[Finding]:
    """The findings that block sending (and approving): the errors."""
    return report.errors


def refuse_if_blocked(report: PreflightReport, consequence: str = "nothing was sent") -> None:
    """Raise PreflightFailed, one line naming the count, when the report has errors.

    For `issue send` and `issue approve`: e.g. consequence="the issue was not approved".
    """
    errors = blocking_errors(report)
    if errors:
        checks = sorted({f.check for f in errors})
        month = report.month or "MONTH"
        count = f"{len(errors)} preflight error{'s' if len(errors) != 1 else ''}"
        raise PreflightFailed(
            f"issue {month} has {count} ({', '.join(checks)}); "
            f"{consequence}. Run 'newsletter issue check {month}' for where and how to fix them"
        )


def write_previews(
    settings: Settings, rendered: RenderedIssue, screenshot: bool = False
) -> list[Path]:
    """Each variant's HTML as the sample reader gets it (and the web version) under
    build/issues/MONTH/preview/; with screenshot, PNGs at 375 and 1200 px under screenshots/."""
    month = rendered.issue.month
    folder = settings.build_dir / "issues" / month
    (folder / "preview").mkdir(parents=True, exist_ok=True)
    pages = {}
    for name, raw in issue_messages(settings, rendered).items():
        html = message_parts(email.message_from_bytes(raw, policy=policy.default))[0]
        pages[name] = _write(folder / "preview" / f"{_file_name(name)}.html", html or "")
    pages[WEB] = _write(folder / "preview" / f"{WEB}.html", rendered.variants[WEB].html)
    if not screenshot:
        return list(pages.values())
    return tools.screenshots(pages, folder / "screenshots", (375, 1200))
