"""`newsletter demo`: a complete instance from the repository's demo data, every stage run once."""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlite_utils import Database

from newsletter import app, clock, store
from newsletter.cli.present import format_approved, format_build
from newsletter.config import CONFIG_NAME, Settings, load_settings
from newsletter.console.demo import demo_saved_replies, demo_staff
from newsletter.content.items import Item
from newsletter.editorial import workflow
from newsletter.errors import NewsletterError
from newsletter.issues.build import build_issue
from newsletter.issues.files import INTRO_PLACEHOLDER, create_issue
from newsletter.outbound import ledger
from newsletter.outbound.delivery import SendOptions, SendReport, send_summary
from newsletter.outbound.issue_mail import deliver_issue, mailing_id_for
from newsletter.outbound.transports import describe_transport, transport_factory
from newsletter.people.subscribers import import_subscribers
from newsletter.sources.catalog import sync_content
from newsletter.store import reports
from newsletter.tokens import UNSUBSCRIBE, make_token

DEMO_MONTH = "2026-12"
# The demo tells the same story whatever the date: it is the morning of 1 December 2026.
DEMO_NOW = "2026-12-01T08:30:00+01:00"
# Fictional staff: two of the demo's accounts (console/demo.py), one submits, one approves.
DEMO_EDITOR, DEMO_APPROVER = "sanne@ipo.example", "pieter@ipo.example"
DEMO_INTRO = """\
Dit is de laatste nieuwsbrief van 2026. De BAC's namen in november besluiten over onder meer
het regionaal openbaar vervoer, netcongestie en de overdracht naar de nieuwe Statenperiode.
Op 10 februari 2027 komt de Algemene Vergadering voor het laatst in deze samenstelling bijeen.

Hebt u een vraag of een onderwerp voor een volgende nieuwsbrief? Schrijf ons via het contactadres
onderaan deze nieuwsbrief.
"""


def demo_source() -> Path:
    """The repository's demo instance: newsletter.toml, content/ and subscribers/demo/."""
    root = Path(__file__).resolve().parent.parent
    if not (root / CONFIG_NAME).is_file() or not (root / "subscribers" / "demo").is_dir():
        raise NewsletterError(
            "the demo data is not next to the package; run the demo from a "
            "checkout of the repository (make demo)"
        )
    return root


@dataclass
class DemoSummary:
    """What the demo did: one line per stage (an entry point's own report), and any problem."""

    folder: Path
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    send: SendReport | None = None

    @property
    def failed(self) -> bool:
        return bool(self.problems) or bool(self.send and self.send.had_failures)


def copy_instance(source: Path, folder: Path, fresh: bool) -> None:
    if folder.exists() and fresh:
        if not (folder / CONFIG_NAME).is_file() and any(folder.iterdir()):
            raise NewsletterError(
                f"{folder} exists and is not a demo instance; choose another --dir"
            )
        shutil.rmtree(folder)
    elif (folder / CONFIG_NAME).exists():
        raise NewsletterError(
            f"{folder} already holds an instance; pass --fresh to rebuild it, "
            "or choose another --dir"
        )
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / CONFIG_NAME, folder / CONFIG_NAME)
    shutil.copytree(
        source / "content", folder / "content", ignore=shutil.ignore_patterns(f"{DEMO_MONTH}.md")
    )
    shutil.copytree(source / "subscribers" / "demo", folder / "subscribers" / "demo")


def map_os_user(config: Path, email: str) -> None:
    """[console] os_users: the user running the demo does CLI commands as this account."""
    line = f"os_users = {{ {json.dumps(workflow.default_actor())} = {json.dumps(email)} }}"
    text = config.read_text(encoding="utf-8")
    header = re.search(r"^\[console\][ \t]*(#.*)?$", text, re.M)
    if header:
        text = f"{text[: header.end()]}\n{line}{text[header.end() :]}"
    else:
        text += f"\n[console]   # the staff console; written by the demo\n{line}\n"
    config.write_text(text, encoding="utf-8")


def load_demo(folder: Path, summary: DemoSummary | None = None) -> tuple[Settings, Database]:
    """An instance copied from the demo: content synced and the demo lists imported."""
    settings = load_settings(folder)
    db = store.open_store(settings)
    summary = summary or DemoSummary(folder)
    synced = sync_content(db, settings)
    summary.problems += synced.errors
    summary.lines.append(synced.summary())
    imported = 0
    for path in sorted((settings.subscribers_dir / "demo").glob("*.csv")):
        report = import_subscribers(db, settings, path)
        summary.problems += report.rejected
        imported += report.added
    people = reports.people_count(db)
    av = reports.role_count(db, "av_lid")
    summary.lines.append(
        f"Subscribers: {imported} imported from {settings.subscribers_dir.name}/demo/ "
        f"({people} people, {av} AV members)"
    )
    return settings, db


def write_demo_issue(db: Database, settings: Settings) -> tuple[Path, dict[str, list[Item]]]:
    """The December issue file as `issue new` writes it, with the intro staff would write."""
    path, chosen = create_issue(db, settings, DEMO_MONTH, force=True)
    path.write_text(
        path.read_text(encoding="utf-8").replace(INTRO_PLACEHOLDER, DEMO_INTRO), encoding="utf-8"
    )
    return path, chosen


def run_demo(
    folder: Path, transport: str | None = None, send: bool = True, fresh: bool = False
) -> DemoSummary:
    """Copy the demo data into folder and run sync, import, issue new/build and send."""
    app.wire()
    folder = folder.resolve()
    copy_instance(demo_source(), folder, fresh)
    map_os_user(folder / CONFIG_NAME, DEMO_EDITOR)  # the tour's commands without --by
    if not clock.is_fixed():
        clock.set_now(DEMO_NOW)
    settings, db = load_demo(folder, summary := DemoSummary(folder))
    path, chosen = write_demo_issue(db, settings)
    summary.lines.append(
        f"Issue: {path.relative_to(folder)} with {sum(len(v) for v in chosen.values())} items"
    )
    built = build_issue(db, settings, DEMO_MONTH)
    summary.lines.append(format_build(built, folder))
    summary.lines.append(
        f"Preview: {(settings.build_dir / 'issues' / DEMO_MONTH).relative_to(folder)}"
        "/<province>.html (one per variant)"
    )

    # The editorial workflow: one colleague submits it, another approves (four-eyes): two of
    # the demo's staff accounts (the summary names them, and how to start the console, last).
    staff_lines = demo_staff(db, settings, _shown(folder))
    demo_saved_replies(db)  # the Postvak's Standaardantwoorden
    workflow.review(db, settings, DEMO_MONTH, DEMO_EDITOR)
    summary.lines.append(format_approved(workflow.approve(db, settings, DEMO_MONTH, DEMO_APPROVER)))
    if send:
        url = transport or settings.transport
        summary.send = deliver_issue(
            db,
            settings,
            workflow.rendered_for_send(db, settings, DEMO_MONTH, "demo"),
            transport_factory(url, folder),
            SendOptions.from_settings(settings),
        )
        workflow.after_send(db, DEMO_MONTH, "demo")
        summary.lines.append(
            f"Sent: {send_summary(summary.send)} via {describe_transport(url, folder)}"
        )
        counts = ledger.counts(db, mailing_id_for(DEMO_MONTH))
        summary.lines.append(
            f"Report: {', '.join(f'{n} {s}' for s, n in sorted(counts.items()))}"
            f" — newsletter --project {_shown(folder)} issue report {DEMO_MONTH}"
        )
        summary.problems += [
            f"{email}: {reply}" for email, reply in summary.send.failed + summary.send.deferred
        ]
        summary.lines += demo_mailbox(db, settings, summary)
        summary.lines += demo_onboarding(db, settings, summary)
    else:
        summary.lines.append("Sent: nothing (--no-send)")
    summary.lines.append(web_line(db, settings, folder))
    summary.lines += staff_lines
    return summary


def demo_mailbox(db: Database, settings: Settings, summary: DemoSummary) -> list[str]:
    """What comes back after the send: the repository's mailbox-demo/ messages, filled in from
    the deliveries they are about (X-Demo-Delivery), put in mailbox/new/, fetched, processed."""
    from newsletter.inbound.mailbox import maildir_folder
    from newsletter.tick import run_tick

    target = maildir_folder(settings, settings.inbox.source) / "new"
    target.mkdir(parents=True, exist_ok=True)
    for number, path in enumerate(sorted((demo_source() / "mailbox-demo").glob("*.eml")), 1):
        text = path.read_text(encoding="utf-8")
        if text.startswith("X-Demo-Delivery:"):
            first, text = text.split("\n", 1)
            address = first.split(":", 1)[1].strip()
            last = reports.last_delivery_to(db, address)
            if last is None:
                summary.problems.append(f"{path.name}: no delivery to {address}")
                continue
            for key, value in (
                ("message_id", last.message_id),
                ("email", address),
                ("subject", last.subject),
            ):
                text = text.replace("{{" + key + "}}", str(value))
        name = f"{1764576000 + number}.M{number}P1.demo"
        (target / name).write_bytes(text.replace("\n", "\r\n").encode("utf-8"))
    # What cron does every five minutes: one tick fetches and sorts the mailbox.
    report = run_tick(db, settings, clock.now())
    summary.problems += [f"tick {job.name}: {job.line}" for job in report.jobs if job.failed]
    return [f"Tick: {job.line}" for job in report.jobs if job.name == "inbox"]


def demo_onboarding(db: Database, settings: Settings, summary: DemoSummary) -> list[str]:
    """At 09.05 the next tick sends the onboarding steps that are due: the welcome for the new
    substitute AV member in Noord-Brabant; the Utrecht member, imported six weeks after
    appointment, has the steps whose moment passed skipped (never sent stale)."""
    from newsletter.tick import run_tick

    later = clock.now() + timedelta(minutes=35)
    clock.set_now(later)
    report = run_tick(db, settings, later)
    summary.problems += [f"tick {job.name}: {job.line}" for job in report.jobs if job.failed]
    from newsletter.onboarding.programme import status_rows

    rows = status_rows(db, settings, later)
    done = sum(r["done"] for r in rows)
    skipped = sum(r["skipped"] for r in rows)
    messages = reports.sent_count(db, "onboarding")
    return [
        f"Onboarding: {len(rows)} new AV members enrolled; at 09.05 {done} steps sent in "
        f"{messages} messages, {skipped} out of date skipped — newsletter --project "
        f"{_shown(summary.folder)} onboarding status"
    ]


def web_line(db: Database, settings: Settings, folder: Path) -> str:
    """How to see the public pages of the demo, with one reader's real unsubscribe link."""
    reader = reports.first_active_reader(db, "GLD")
    link = ""
    if reader is not None:
        token = make_token(settings, UNSUBSCRIBE, reader.id)
        link = f"; {reader.email} unsubscribes at {settings.local_url()}afmelden/{token}"
    return (
        f"Web: newsletter --project {_shown(folder)} serve, then {settings.local_url()}archief/"
        f"{link}"
    )


def _shown(folder: Path) -> str:
    """The folder as the user can type it from here."""
    relative = os.path.relpath(folder)
    return folder.as_posix() if relative.startswith("..") else relative
