"""`newsletter status` and `newsletter log`: the instance at a glance, and its history."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.dates import nl_date, nl_time
from newsletter.errors import NewsletterError
from newsletter.store import audit, mailings
from newsletter.store import workflow as rows


def _onboarding_lines(db: Database, settings: Settings) -> list[str]:
    from newsletter.onboarding import programme as onboarding

    try:
        rows = onboarding.status_rows(db, settings, clock.now())
    except (NewsletterError, ValueError, OverflowError) as exc:
        return [f"onboarding: cannot say ({exc})"]
    active = [r for r in rows if r["status"] == "active"]
    due = [r for r in active if r["due_today"]]
    if not rows:
        return []
    line = f"onboarding: {len(active)} member(s) in the programme, {len(due)} step(s) due today"
    if due:
        line += " (" + ", ".join(f"{r['next_step']} for {r['email']}" for r in due[:3]) + ")"
    return [line]


def status_lines(db: Database, settings: Settings | None = None) -> list[str]:
    """One line per thing staff should know about, worst first where it matters."""
    lines = []
    tick = rows.last_event(db, "tick")
    if tick is None:
        lines.append("tick: never ran; install cron/ (see the README)")
    else:
        at, detail = tick
        failed = json.loads(detail or "{}").get("failed", [])
        when = clock.parse_instant(at).astimezone(clock.AMSTERDAM)
        result = f"failed: {', '.join(failed)}" if failed else "all jobs ok"
        lines.append(f"tick: last ran {nl_date(when)} {nl_time(when)}, {result}")
    for mailing in mailings.issue_mailings_under_way(db):
        counts = mailings.counts(db, mailing.id)
        waiting = ", ".join(
            f"{counts[s]} {s}"
            for s in ("queued", "deferred", "in-doubt", "sending")
            if counts.get(s)
        )
        lines.append(f"{mailing.id}: {mailing.status}; {waiting or 'nothing waiting'}")
    open_ = rows.open_questions(db)
    if open_ is not None:
        lines.append(f"inbox: {open_} open question{'s' if open_ != 1 else ''}")
    if rows.has_table(db, "onboarding_enrolments") and settings is not None:
        lines += _onboarding_lines(db, settings)
    quarantined = rows.quarantined(db)
    if quarantined:
        lines.append(
            f"inbox: {quarantined} quarantined message(s); 'newsletter inbox' commands show why"
        )
    return lines


def log_entries(db: Database, issue: str | None = None) -> list[dict[str, Any]]:
    """The audit log, oldest first; for one issue only its mailing's events."""
    return audit.events(db, f"issue-{issue}" if issue else None)


def format_entry(entry: dict[str, Any]) -> str:
    when = clock.parse_instant(entry["at"]).astimezone(clock.AMSTERDAM)
    detail = json.loads(entry["detail"]) if entry["detail"] else {}
    extra = "; ".join(f"{k}={v}" for k, v in detail.items())
    return (
        f"{when:%Y-%m-%d %H:%M}  {entry['actor']:<20} {entry['action']:<18} "
        f"{entry['subject']}{'  ' + extra if extra else ''}"
    )
