"""`newsletter status` and `newsletter log`: the instance at a glance, and its history."""

from __future__ import annotations

import json

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.dates import nl_date, nl_time
from newsletter.errors import NewsletterError
from newsletter.outbound import ledger
from newsletter.store import audit


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
    tick = next(
        db.query("select at, detail from events where action = 'tick' order by id desc limit 1"),
        None,
    )
    if tick is None:
        lines.append("tick: never ran; install cron/ (see the README)")
    else:
        failed = json.loads(tick["detail"] or "{}").get("failed", [])
        when = clock.parse_instant(tick["at"]).astimezone(clock.AMSTERDAM)
        result = f"failed: {', '.join(failed)}" if failed else "all jobs ok"
        lines.append(f"tick: last ran {nl_date(when)} {nl_time(when)}, {result}")
    for row in db.query(
        "select id, status, subject from mailings where kind = 'issue' "
        "and status in ('sending', 'paused') order by id"
    ):
        counts = ledger.counts(db, row["id"])
        waiting = ", ".join(
            f"{counts[s]} {s}"
            for s in ("queued", "deferred", "in-doubt", "sending")
            if counts.get(s)
        )
        lines.append(f"{row['id']}: {row['status']}; {waiting or 'nothing waiting'}")
    if "conversations" in db.table_names():
        open_ = db.execute(
            "select count(*) from conversations where status in ('new', 'open')"
        ).fetchone()[0]
        lines.append(f"inbox: {open_} open question{'s' if open_ != 1 else ''}")
    if "onboarding_enrolments" in db.table_names() and settings is not None:
        lines += _onboarding_lines(db, settings)
    if "inbound" in db.table_names():
        quarantined = db.execute(
            "select count(*) from inbound where status = 'quarantined'"
        ).fetchone()[0]
        if quarantined:
            lines.append(
                f"inbox: {quarantined} quarantined message(s); 'newsletter inbox' commands show why"
            )
    return lines


def log_entries(db: Database, issue: str | None = None) -> list[audit.AuditEntry]:
    """The audit log, oldest first; for one issue only its mailing's events."""
    return audit.events(db, f"issue-{issue}" if issue else None)


def format_entry(entry: audit.AuditEntry) -> str:
    when = clock.parse_instant(entry.at).astimezone(clock.AMSTERDAM)
    extra = "; ".join(f"{k}={v}" for k, v in entry.details.items())
    return (
        f"{when:%Y-%m-%d %H:%M}  {entry.actor:<20} {entry.action:<18} "
        f"{entry.subject}{'  ' + extra if extra else ''}"
    )
