"""The griffie-list import: read a CSV, check every row, then add and update subscribers and
their mandates; with `replace`, end the mandates of a province's people who left its list.

Reading and checking (import_file.py) and planning write nothing; a dry run stops there. A real
run plans and applies person by person, committed in short batches (see _import).
Printing is the CLI's job: this returns an ImportReport.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from dataclasses import replace as changed_to
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.people.import_file import (
    ImportFile,
    Person,
    check_rejects_path,
    has_role_column,
    read_import,
    replace_province,
    write_rejects,
)
from newsletter.store import audit
from newsletter.store import subscribers as rows
from newsletter.store.busy import Batches
from newsletter.store.subscribers import Details, Mandate

__all__ = ["Change", "ImportReport", "import_list", "read_import"]

# Whoever left the list by their own choice, or whose address is gone, is never re-subscribed.
STOPPED = ("unsubscribed", "bounced", "erased")


@dataclass(frozen=True)
class Change:
    """One thing an import does (or, in a dry run, would do)."""

    kind: str  # add, update, add mandate, reopen mandate, end mandate, leave alone
    text: str  # the CLI's line
    # The same as data, for a page that words it in its own language:
    email: str = ""
    name: str = ""
    province: str | None = None
    fields: tuple[str, ...] = ()  # update: the Details fields that change
    role: str = ""  # a mandate's role
    starts_on: str = ""  # a mandate's first day (ISO)
    ends_on: str = ""  # end mandate: its last day (ISO)
    why: str = ""  # leave alone: the subscriber's status, or "suppressed"


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    mandates_added: int = 0
    skipped_suppressed: int = 0
    rejected: list[str] = field(default_factory=list)
    mandates_reopened: int = 0
    mandates_ended: int = 0
    replacing: bool = False  # a --replace import: report the mandates ended
    replace: str | None = None  # the province whose list replaced its mandates
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why --replace ended nothing
    # The same as data: --replace ended nothing because rows were rejected; how many mandates
    # would have ended (None: nothing was held back; -1: every row was rejected).
    ends_held_back: int | None = None
    changes: list[Change] = field(default_factory=list)
    rejects_file: Path | None = None

    @property
    def failed(self) -> bool:
        return bool(self.rejected)

    def plan_digest(self) -> str:
        """A fingerprint of everything this import changes (or would change) and refuses: a
        preview and the run it allows have the same one, or the store changed in between."""
        plan = {
            "changes": [[c.kind, c.text] for c in self.changes],
            "rejected": self.rejected,
            "notes": self.notes,
            "replace": self.replace,
        }
        return hashlib.sha256(json.dumps(plan, ensure_ascii=False).encode()).hexdigest()

    def summary(self) -> str:
        head = "Subscribers (dry run, nothing changed): " if self.dry_run else "Subscribers: "
        line = (
            f"{head}{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.mandates_added} mandates added"
        )
        if self.mandates_reopened:
            line += f", {self.mandates_reopened} mandates reopened"
        if self.replacing:
            where = f" in {self.replace}" if self.replace else ""
            line += f", {self.mandates_ended} mandates ended{where}"
        if self.skipped_suppressed:
            line += f", {self.skipped_suppressed} left alone (unsubscribed, bounced or erased)"
        if self.rejected:
            line += f", {len(self.rejected)} rows rejected"
        return line

    def detail(self) -> dict[str, Any]:
        """The import as the audit log keeps it: the counts as data (the console words them
        in Dutch), and the CLI's line as `summary` for `newsletter log`."""
        return {
            "summary": self.summary(),
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "mandates_added": self.mandates_added,
            "mandates_reopened": self.mandates_reopened,
            "mandates_ended": self.mandates_ended,
            "left_alone": self.skipped_suppressed,
            "rejected": len(self.rejected),
        }

    def rejects_summary(self) -> str | None:
        if self.rejects_file is None:
            return None
        return (
            f"Wrote {len(self.rejected)} rejected rows to {self.rejects_file}; fix them there "
            "and import that file (without --replace: it holds only these rows)"
        )


@dataclass(frozen=True)
class _NewMandate:
    subscriber_id: int | None  # None: a subscriber the same import adds, found by email
    email: str
    role: str
    province: str | None
    starts_on: str


@dataclass
class _Plan:
    source: str  # import:<file name>
    now: str  # UTC: when the import runs
    new: list[tuple[Details, tuple[str, ...]]] = field(default_factory=list)  # with themes
    updates: list[tuple[int, Details]] = field(default_factory=list)
    mandates: list[_NewMandate] = field(default_factory=list)
    reopen: list[int] = field(default_factory=list)
    end: list[tuple[int, str]] = field(default_factory=list)  # applied last, on their own


def _describe_mandate(role: str, province: str | None, starts_on: str) -> str:
    return f"{role} {province or '-'} from {starts_on}"


def _plan_person(
    db: Database,
    settings: Settings,
    person: Person,
    start: date,
    plan: _Plan,
    report: ImportReport,
) -> None:
    """What the import changes for one person on the list. Writes nothing."""
    existing = rows.find_by_email(db, person.email)
    stopped = existing is not None and existing.status in STOPPED
    if stopped or rows.find_suppression(db, settings, person.email) is not None:
        report.skipped_suppressed += 1
        why = existing.status if existing and stopped else "on the suppression list"
        report.changes.append(
            Change(
                "leave alone",
                f"{person.email} ({why})",
                person.email,
                person.name,
                person.province,
                why=existing.status if existing and stopped else "suppressed",
            )
        )
        return
    details = person.details()
    held: list[Mandate] = []
    if existing is None:
        plan.new.append((details, person.themes))
        report.added += 1
        report.changes.append(
            Change(
                "add",
                f"{person.name} <{person.email}>, {person.province or '-'}",
                person.email,
                person.name,
                person.province,
            )
        )
    else:
        changed = details.changed_from(existing)
        if changed:
            plan.updates.append((existing.id, details))
            report.updated += 1
            report.changes.append(
                Change(
                    "update",
                    f"{person.name} <{person.email}>: {', '.join(changed)}",
                    person.email,
                    person.name,
                    person.province,
                    fields=tuple(changed),
                )
            )
        else:
            report.unchanged += 1
        held = rows.mandates_of(db, existing.id)
    for role in person.roles:
        mine = [m for m in held if m.role == role and m.province == person.province]
        if any(m.ends_on is None or m.ends_on >= start.isoformat() for m in mine):
            continue  # held already: kept as it is
        what = _describe_mandate(role, person.province, person.starts_on.isoformat())
        data = Change(
            "",
            "",
            person.email,
            person.name,
            person.province,
            role=role,
            starts_on=person.starts_on.isoformat(),
        )
        same = [m for m in mine if m.starts_on == person.starts_on.isoformat()]
        if same:  # ended earlier, on the list again with the same start
            plan.reopen.append(same[0].id)
            report.mandates_reopened += 1
            report.changes.append(
                changed_to(data, kind="reopen mandate", text=f"{person.email}: {what}")
            )
            continue
        plan.mandates.append(
            _NewMandate(
                existing.id if existing else None,
                person.email,
                role,
                person.province,
                person.starts_on.isoformat(),
            )
        )
        report.mandates_added += 1
        report.changes.append(changed_to(data, kind="add mandate", text=f"{person.email}: {what}"))


def _plan_ends(
    db: Database,
    listed: ImportFile,
    replace: str | None,
    start: date,
    plan: _Plan,
    report: ImportReport,
) -> None:
    """With --replace: the mandates in the province of whoever is not on the list end."""
    if replace is None:
        return
    listed_emails = {person.email for person in listed.people}
    listed_roles = {(person.email, role) for person in listed.people for role in person.roles}
    ends_on = (start - timedelta(days=1)).isoformat()
    leaving = [
        held_by
        for held_by in rows.open_mandates_in(db, replace, ends_on)
        if held_by.email not in listed_emails
        # A list with a role column also ends a role someone no longer has (an AV member
        # who is now only a Statenlid); without one, everyone listed keeps their roles.
        or (has_role_column(listed) and (held_by.email, held_by.mandate.role) not in listed_roles)
    ]
    if listed.rejected:
        report.ends_held_back = len(leaving)
        report.notes.append(
            f"{listed.path.name}: --replace ended no mandates in {replace or 'the province'}, "
            f"because {len(listed.rejected)} rows were rejected and a rejected row may be "
            f"someone still in office (up to {len(leaving)} mandates would end); fix the rows "
            "in this file and import it with --replace again"
        )
        return
    for held_by in leaving:
        mandate = held_by.mandate
        plan.end.append((mandate.id, ends_on))
        report.mandates_ended += 1
        what = _describe_mandate(mandate.role, mandate.province, mandate.starts_on)
        report.changes.append(
            Change(
                "end mandate",
                f"{held_by.name} <{held_by.email}>: {what}, ends {ends_on}",
                held_by.email,
                held_by.name,
                mandate.province,
                role=mandate.role,
                starts_on=mandate.starts_on,
                ends_on=ends_on,
            )
        )


def _apply(db: Database, plan: _Plan) -> None:
    ids: dict[str, int] = {}  # e-mail: the id of a new subscriber
    for details, themes in plan.new:
        ids[details.email] = rows.add(
            db,
            details,
            status="active",
            themes=themes,
            source=plan.source,
            consent_at=plan.now,
            created_at=plan.now,
            updated_at=plan.now,
        )
    for subscriber_id, details in plan.updates:
        rows.update_details(db, subscriber_id, details, plan.now)
    for mandate in plan.mandates:
        rows.add_mandate(
            db,
            mandate.subscriber_id or ids[mandate.email],
            mandate.role,
            mandate.province,
            mandate.starts_on,
            plan.source,
        )
    for mandate_id in plan.reopen:
        rows.set_mandate_end(db, mandate_id, None)


def import_list(
    db: Database,
    settings: Settings,
    path: Path,
    province: str | None = None,
    *,
    replace: bool = False,
    dry_run: bool = False,
    rejects: Path | None = None,
    default_start: date | None = None,
    actor: str | None = None,
) -> ImportReport:
    """Import one griffie list: add and update its people and their mandates.

    `replace`: the list is the province's whole list (after elections): the open mandates in
    that province of everyone not on it end the day before `default_start` (today). Nobody
    is deleted. If any row is rejected nothing is ended; the good rows are still imported.
    `dry_run`: work everything out, report it, write nothing to the store. `rejects`: write
    the rejected rows there (also in a dry run). A bad file or bad options raise
    NewsletterError before anything is written. `actor`: who imports, for the audit log (by
    default the import's source, import:<file name>).
    """
    if province is not None and province not in settings.provinces:
        raise NewsletterError(
            f"province '{province}' is not known; use one of {', '.join(settings.provinces)}"
        )
    if rejects is not None:
        check_rejects_path(rejects, path)
    start = default_start or clock.today()
    listed = read_import(path, settings, province, start)
    target = replace_province(listed, province) if replace else None
    report = ImportReport(
        rejected=listed.rejected_lines,
        warnings=listed.warnings,
        replacing=replace,
        replace=target,
        dry_run=dry_run,
    )
    if rejects is not None:  # before the store is written: a file that fails changes nothing
        write_rejects(rejects, listed)
        report.rejects_file = rejects
    _import(db, settings, listed, target, start, report, write=not dry_run, actor=actor)
    if replace and target is None:  # every row rejected, so no province to go by
        report.ends_held_back = -1
        report.notes.append(
            f"{path.name}: --replace ended no mandates, because every row was rejected; "
            "fix the rows in this file and import it with --replace again"
        )
    return report


def _import(
    db: Database,
    settings: Settings,
    listed: ImportFile,
    replace: str | None,
    start: date,
    report: ImportReport,
    *,
    write: bool,
    actor: str | None = None,
) -> None:
    """Plan (and unless a dry run, apply) person by person, committed in batches of about
    50 ms (store/busy.py).

    No transaction holds the write lock long, so an unsubscribe is never kept waiting by an
    import (issue #13). Each person is planned and applied in the same batch, from what the
    store holds then. A run that is stopped halfway leaves the people of the batches before
    added and updated, and ends no mandates yet (--replace ends them last); running the same
    import again finishes the job: whoever is in the store already is "unchanged".
    """
    source = f"import:{listed.path.name}"
    now = clock.utc_iso()
    with Batches(db, write=write) as batch:
        for person in listed.people:
            plan = _Plan(source, now)
            _plan_person(db, settings, person, start, plan, report)
            if write:
                _apply(db, plan)
                batch.checkpoint()
        plan = _Plan(source, now)
        _plan_ends(db, listed, replace, start, plan, report)
        if not write:
            return
        for mandate_id, ends_on in plan.end:
            rows.set_mandate_end(db, mandate_id, ends_on)
            batch.checkpoint()
        audit.record(db, actor or source, "import", source, **report.detail())
