"""The AVG (GDPR) duties: show a person everything held about them, list, export, forget.

Personal data lives in the store (subscribers, mandates, deliveries, bounces) and in whatever
other modules register here as holders (the contact mailbox's messages, for one). `forget`
erases a person from every holder, then their subscriber row, and keeps only a keyed hash of
the address in `suppressions` so that no later import brings them back.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError
from sqlite_utils import Database

from newsletter import clock
from newsletter.addresses import canonical_address
from newsletter.config import Settings, require_secret
from newsletter.errors import NewsletterError
from newsletter.outbound.transports import outbox_folder
from newsletter.outbound.transports.base import safe_filename
from newsletter.people import erase_files
from newsletter.people.roles import ROLES
from newsletter.store import audit, erasure, transaction
from newsletter.store import subscribers as rows
from newsletter.store.subscribers import Mandate, Subscriber

STATUSES = ("pending", "active", "paused", "unsubscribed", "bounced", "erased")
ROLE_KEYS = tuple(ROLES)
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP: CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Subject:
    """The person an erasure or a look-up is about, gathered before anything is erased."""

    email: str  # normalised
    subscriber_id: int | None
    name: str | None
    delivery_ids: tuple[int, ...]
    message_ids: tuple[str, ...]


Eraser = Callable[[Database, Settings, Subject], int]  # returns how many things it erased
Collector = Callable[[Database, Settings, Subject], list[dict[str, Any]]]


@dataclass(frozen=True)
class Holder:
    """One place that holds personal data: what `forget` erases there, what `show` lists."""

    name: str
    erase: Eraser
    collect: Collector | None = None


HOLDERS: list[Holder] = []


def register(name: str, erase: Eraser, collect: Collector | None = None) -> None:
    """Add (or replace) a holder of personal data, e.g. the contact mailbox's messages.

    newsletter.app.wire() calls it, in the order written there: `forget` runs every eraser in
    one transaction, in registration order, before it deletes the subscriber row itself (so
    rows with a foreign key to subscribers go first). `collect`, when given, returns what `show`
    and its JSON list under `name`.
    """
    HOLDERS[:] = [h for h in HOLDERS if h.name != name]
    HOLDERS.append(Holder(name, erase, collect))


def canonical_email(raw: str) -> str:
    """An address as the import stores it, or NewsletterError for what is not an address."""
    try:
        return canonical_address(raw)
    except EmailNotValidError as exc:
        raise NewsletterError(f"'{raw}' is not an e-mail address ({exc})") from None


def subject_for(db: Database, address: str) -> Subject:
    email = canonical_email(address)
    found = rows.find_by_email(db, email)
    subscriber_id, name = (found.id, found.name) if found else (None, None)
    deliveries = erasure.deliveries_to(db, email, subscriber_id)
    return Subject(
        email,
        subscriber_id,
        name,
        tuple(d.id for d in deliveries),
        tuple(d.message_id for d in deliveries if d.message_id),
    )


# -- the holders in the store (and the outbox) -------------------------------------------------


def _outbox(settings: Settings) -> Path | None:
    """The outbox folder, when the instance's transport writes .eml files there."""
    return outbox_folder(settings.transport, settings.project)


def _outbox_files(settings: Settings, subject: Subject) -> list[Path]:
    folder = _outbox(settings)
    if folder is None:
        return []
    paths = (folder / f"{safe_filename(m)}.eml" for m in subject.message_ids)
    return [p for p in paths if p.is_file()]


def erase_outbox(db: Database, settings: Settings, subject: Subject) -> int:
    """Nothing in the transaction: their messages go after the commit, with every other file
    that names them (erase_files); `forget` reports how many then."""
    return 0


def collect_outbox(db: Database, settings: Settings, subject: Subject) -> list[dict[str, Any]]:
    return [{"file": str(p)} for p in _outbox_files(settings, subject)]


def erase_bounces(db: Database, settings: Settings, subject: Subject) -> int:
    return erasure.delete_bounces(db, subject.subscriber_id, subject.delivery_ids)


def collect_bounces(db: Database, settings: Settings, subject: Subject) -> list[dict[str, Any]]:
    return erasure.bounce_records(db, subject.subscriber_id, subject.delivery_ids)


def erase_deliveries(db: Database, settings: Settings, subject: Subject) -> int:
    return erasure.delete_deliveries(db, subject.delivery_ids)


def collect_deliveries(db: Database, settings: Settings, subject: Subject) -> list[dict[str, Any]]:
    return erasure.delivery_records(db, subject.delivery_ids)


def _mandate_record(m: Mandate) -> dict[str, Any]:
    """A mandate as show, export and their JSON list it."""
    return {
        "role": m.role,
        "province": m.province,
        "starts_on": m.starts_on,
        "ends_on": m.ends_on,
        "source": m.source,
    }


def erase_mandates(db: Database, settings: Settings, subject: Subject) -> int:
    return rows.delete_mandates(db, subject.subscriber_id)


def collect_mandates(db: Database, settings: Settings, subject: Subject) -> list[dict[str, Any]]:
    return [_mandate_record(m) for m in rows.mandates_of(db, subject.subscriber_id, "start")]


def erase_events(db: Database, settings: Settings, subject: Subject) -> int:
    return erasure.delete_events(db, subject.subscriber_id, subject.email)


def collect_events(db: Database, settings: Settings, subject: Subject) -> list[dict[str, Any]]:
    return erasure.event_records(db, subject.subscriber_id)


# -- show -------------------------------------------------------------------------------------


def _subscriber_record(row: Subscriber) -> dict[str, Any]:
    """A subscriber as show and export list them: every column, the themes as a list."""
    return {**asdict(row), "themes": list(row.themes)}


def _subscriber(db: Database, subscriber_id: int | None) -> dict[str, Any] | None:
    row = rows.get(db, subscriber_id)
    return None if row is None else _subscriber_record(row)


def person_record(db: Database, settings: Settings, address: str) -> dict[str, Any] | None:
    """Everything held about one person, by holder; None when nothing is held at all."""
    subject = subject_for(db, address)
    record: dict[str, Any] = {
        "email": subject.email,
        "subscriber": _subscriber(db, subject.subscriber_id),
    }
    for holder in HOLDERS:
        if holder.collect is not None:
            record[holder.name] = holder.collect(db, settings, subject)
    if not any(record[k] for k in record if k != "email"):
        return None
    record["suppression"] = _suppression(db, settings, subject.email)
    return record


def _suppression(db: Database, settings: Settings, email: str) -> dict[str, str] | None:
    # Only to explain: without a key configured, show works and leaves this out.
    if not settings.secret_keys:
        return None
    found = rows.find_suppression(db, settings, email)
    return None if found is None else asdict(found)


def unknown(db: Database, settings: Settings, address: str) -> NewsletterError:
    """The error for an address nothing is held about (saying so when it is suppressed)."""
    email = canonical_email(address)
    line = f"{email}: no such subscriber; nothing is held about this address"
    suppression = _suppression(db, settings, email)
    if suppression:
        line += f" (it is suppressed, reason {suppression['reason']}: imports skip it)"
    return NewsletterError(line)


def mandate_text(m: dict[str, Any]) -> str:
    """A mandate as one line: role, province, from when (to when)."""
    span = f"{m['starts_on']} to {m['ends_on']}" if m["ends_on"] else f"since {m['starts_on']}"
    return f"{m['role']} {m['province'] or '-'} {span}"


# -- list and export --------------------------------------------------------------------------


def list_people(
    db: Database,
    settings: Settings,
    status: str | None = None,
    province: str | None = None,
    role: str | None = None,
    limit: int = -1,
) -> list[dict[str, Any]]:
    """One row per person (id, email, name, province, status, current roles), by province;
    the first `limit` only (when 0 or more)."""
    if province and province.upper() not in settings.provinces:
        raise NewsletterError(
            f"--province {province}: not a province; use one of {', '.join(settings.provinces)}"
        )
    listed = rows.listing(
        db,
        clock.today().isoformat(),
        status,
        province.upper() if province else None,
        role,
        limit,
    )
    names = [f.name for f in fields(rows.Listed)]  # shallow: asdict copies deeply, slowly
    return [{**{n: getattr(p, n) for n in names}, "roles": list(p.roles)} for p in listed]


def export_people(db: Database) -> list[dict[str, Any]]:
    """Every subscriber with every column and their mandates: what the AVG lets them ask for."""
    mandates: dict[int, list[dict[str, Any]]] = {}
    for m in rows.all_mandates(db):
        mandates.setdefault(m.subscriber_id, []).append(_mandate_record(m))
    return [
        {**_subscriber_record(row), "mandates": mandates.get(row.id, [])}
        for row in rows.all_subscribers(db)
    ]


def neutralise(cell: object) -> str:
    """A CSV cell a spreadsheet shows as text, never runs: a leading quote before = + - @ etc."""
    text = "" if cell is None else str(cell)
    return f"'{text}" if text.startswith(FORMULA_START) else text


def export_text(db: Database, fmt: str, actor: str | None = None) -> str:
    """All subscribers as JSON, or as CSV for Excel (; separated, UTF-8 with a BOM).

    `actor`: who takes the export away (the console), for the audit log."""
    if fmt not in ("csv", "json"):
        raise NewsletterError(f"--format {fmt}: use csv or json")
    people = export_people(db)
    if actor is not None:
        audit.record(db, actor, "export", "subscribers", format=fmt, people=len(people))
    if fmt == "json":
        return json.dumps(people, ensure_ascii=False, indent=2) + "\n"
    columns = [f.name for f in fields(Subscriber) if f.name != "themes"]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([*columns, "themes", "mandates"])
    for p in people:
        cells = [p[c] for c in columns]
        cells += [",".join(p["themes"]), "; ".join(mandate_text(m) for m in p["mandates"])]
        writer.writerow([neutralise(c) for c in cells])
    return "\ufeff" + out.getvalue()


def write_file(path: Path, text: str) -> None:
    """Write atomically (a temporary file renamed over it), readable by the owner only."""
    try:
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise NewsletterError(f"{path}: cannot write ({exc.strerror})") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise NewsletterError(f"{path}: cannot write ({exc.strerror})") from None


# -- forget -----------------------------------------------------------------------------------


@dataclass
class ForgetReport:
    email: str
    erased: dict[str, int] = field(default_factory=dict)  # per holder ("outbox": their messages)
    files: dict[str, int] = field(default_factory=dict)  # per kind of file (erase_files)
    already: bool = False
    scrubbed: bool = True  # no old copy is left in the database file or its WAL
    # File erasures an earlier forget left unfinished (a crash after its commit), finished now.
    earlier: int = 0
    earlier_files: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The report as `--json` gives it: the same words as the text."""
        return asdict(self)

    def summary(self) -> str:
        if self.already:
            line = f"{self.email}: already forgotten; nothing is held, imports skip it"
        else:
            done = ", ".join(f"{name} {n}" for name, n in self.erased.items())
            files = ", ".join(f"{kind} {n}" for kind, n in self.files.items())
            line = (
                f"Forgot {self.email}: erased {done}; files: {files}; "
                "kept only a keyed hash so imports skip it"
            )
        if self.earlier:
            files = ", ".join(f"{kind} {n}" for kind, n in self.earlier_files.items())
            line += (
                f"; finished {self.earlier} file erasure{'s' if self.earlier != 1 else ''} "
                f"an earlier forget left (a crash after its commit): {files}"
            )
        if not self.scrubbed:
            line += (
                "; another process has the store open, so old copies may stay in the "
                "database file until it closes: run forget again then"
            )
        return line


def forget_question(settings: Settings, record: dict[str, Any]) -> str:
    """What to ask before forgetting; first checks the key the suppression will need is set."""
    require_secret(settings)
    sub = record["subscriber"]
    who = f"{sub['name']} <{record['email']}>" if sub else record["email"]
    held = ", ".join(f"{len(record[h.name])} {h.name}" for h in HOLDERS if h.collect)
    return f"Forget {who} everywhere ({held})? This cannot be undone"


def forget(db: Database, settings: Settings, address: str, actor: str = "cli") -> ForgetReport:
    """Erase a person from every holder and the subscribers table; suppress the address.

    All in one short transaction, which also records the files still to be cleared of them (a
    pending erasure), with deleted cells and freed pages overwritten with zeros; after the
    commit their outbox messages are deleted and every other file that names them redacted
    (erase_files), then the record goes. A crash in between leaves the record: the next forget
    (or tick) finishes it. Then the WAL is truncated, so the erased rows are not left behind in
    old WAL frames. The store is not vacuumed: that would hold the write lock for as long as it
    rewrites the whole file, and keep unsubscribes waiting (issue #13).
    """
    require_secret(settings)  # before anything is erased: the suppression needs the key
    if not HOLDERS:  # an entry point that forgot newsletter.app.wire() must not half-forget
        raise RuntimeError("no holders of personal data registered: call newsletter.app.wire()")
    email = canonical_email(address)
    report = ForgetReport(email)
    mine = 0  # the pending file erasure this forget records
    erasure.secure_delete(db)  # deleted cells are overwritten with zeros
    with transaction(db):
        subject = subject_for(db, email)
        for holder in HOLDERS:
            report.erased[holder.name] = holder.erase(db, settings, subject)
        deleted = rows.delete(db, subject.subscriber_id)
        report.erased = {"subscriber": deleted, **report.erased}
        suppression = rows.find_suppression(db, settings, email)
        if not any(report.erased.values()):
            if not suppression or suppression.reason != "forgotten":
                raise unknown(db, settings, email)
            report.already = True  # run again: the scrub below gets another chance
        else:
            # No hash of the address under an older key stays behind either.
            rows.suppress(db, settings, email, "forgotten", clock.utc_iso())
            # That someone was forgotten is on record; who it was is not.
            audit.record(db, actor, "forget", "subscriber:forgotten")
            own = erase_files.own_files(settings, subject.message_ids)
            needles = erase_files.needles_for(email, subject.name)
            mine = erasure.add_pending(db, needles, own, clock.utc_iso())
    erase_files.kill_point("forget-committed")
    for pending_id, cleared in erase_files.finish_pending(db, settings):
        if not report.already and pending_id == mine:
            report.erased["outbox"] = cleared.counts[erase_files.OWN]
            report.files = cleared.files
        else:
            report.earlier += 1
            for kind, n in cleared.counts.items():
                report.earlier_files[kind] = report.earlier_files.get(kind, 0) + n
    report.scrubbed = erasure.scrub(db)
    return report


def finish_pending_line(db: Database, settings: Settings) -> str:
    """For tick: finish the file erasures a forget left (a crash after its commit), in words."""
    finished = erase_files.finish_pending(db, settings)
    if not finished:
        return "no file erasure pending"
    total: dict[str, int] = {}
    for _, cleared in finished:
        for kind, n in cleared.counts.items():
            total[kind] = total.get(kind, 0) + n
    erasure.scrub(db)
    files = ", ".join(f"{kind} {n}" for kind, n in total.items())
    return f"finished {len(finished)} file erasure{'s' if len(finished) != 1 else ''}: {files}"
