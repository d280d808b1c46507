"""The audit repository: who changed what, when. Every state change worth answering for is here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils import Database

from newsletter import clock
from newsletter.addresses import normalise_email
from newsletter.store.db import dumps, loads


@dataclass(frozen=True)
class AuditEntry:
    """One row of `events`: `detail` is the JSON text as stored (None when there is none)."""

    id: int
    at: str  # UTC ISO 8601
    actor: str  # web, cli:<user>, tick, import:<file> ...
    action: str  # unsubscribe, preferences, subscribe, confirm, forget, send ...
    subject: str  # what it was about: subscriber:<id>, issue-2026-12 ...
    detail: str | None

    @property
    def details(self) -> dict[str, Any]:
        """The detail as a dict ({} when there is none)."""
        value: dict[str, Any] = loads(self.detail, {})
        return value

    def as_json(self) -> dict[str, Any]:
        """The row as `newsletter log --json` prints it (detail as its JSON text)."""
        return asdict(self)


def _entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        id=int(row["id"]),
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        detail=row["detail"],
    )


def record(db: Database, actor: str, action: str, subject: str, **detail: Any) -> None:
    """One event; call it inside the transaction that makes the change, so both or neither land."""
    db.table("events").insert(
        {
            "at": clock.utc_iso(),
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": dumps(detail) if detail else None,
        }
    )


def events(db: Database, subject: str | None = None) -> list[AuditEntry]:
    """The log oldest first; with a subject, only the events about it."""
    where, args = ("subject = ?", [subject]) if subject else (None, [])
    return [_entry(row) for row in db.table("events").rows_where(where, args, order_by="id")]


def last_event(db: Database, action: str, subject: str | None = None) -> AuditEntry | None:
    """The most recent event of this action (e.g. 'tick'), about `subject` if given, or None."""
    where, args = (
        ("action = ? and subject = ?", [action, subject]) if subject else ("action = ?", [action])
    )
    rows = db.table("events").rows_where(where, args, order_by="id desc", limit=1)
    row = next(iter(rows), None)
    return _entry(row) if row is not None else None


def page(
    db: Database,
    *,
    subject: str | None = None,
    actor: str | None = None,
    person: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEntry], int]:
    """One page of the log, newest first, optionally about one subject, by one actor and/or
    about a person (see _about); with the number of entries on all pages."""
    clauses: list[str] = []
    args: list[Any] = []
    for column, value in (("subject", subject), ("actor", actor)):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if person and person.strip():
        clause, values = _about(db, person.strip())
        clauses.append(clause)
        args.extend(values)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    total = int(db.execute(f"SELECT count(*) FROM events{where}", args).fetchone()[0])
    rows = db.execute(
        f"SELECT id, at, actor, action, subject, detail FROM events{where} "
        "ORDER BY id DESC LIMIT ? OFFSET ?",
        [*args, limit, offset],
    )
    keys = ("id", "at", "actor", "action", "subject", "detail")
    return [_entry(dict(zip(keys, row, strict=True))) for row in rows], total


MANY = 500  # people matched by name: their subjects listed, more through a subquery


def _about(db: Database, person: str) -> tuple[str, list[str]]:
    """The events about a person: a subscriber (subscriber:<id>) or a conversation with them
    (conversation:<id>), found by their address (normalised; exact) or by a part of their
    name (case-insensitive). The people are looked up first (the name through the trigram
    index of m019_console_at_size), then the log through its subject index: no scan of the
    log, nor of every name (a part shorter than three characters reads the names)."""
    if "@" in person:
        address = normalise_email(person)
        found = _ids(db, "SELECT id FROM subscribers WHERE email = ?", address)
        talks = _ids(db, "SELECT id FROM conversations WHERE correspondent_email = ?", address)
    else:
        escaped = person.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        if len(person) >= 3:
            phrase = '"' + person.replace('"', '""') + '"'
            sql, value = (
                "SELECT rowid AS id FROM subscriber_names WHERE subscriber_names MATCH ?",
                phrase,
            )
        else:
            sql, value = "SELECT id FROM subscribers WHERE name LIKE ? ESCAPE '\\'", pattern
        found = _ids(db, sql, value)
        talks = _ids(
            db,
            "SELECT id FROM conversations WHERE correspondent_name LIKE ? ESCAPE '\\'",
            pattern,
        )
    parts, args = [], []
    for prefix, (ids, query, value) in (("subscriber", found), ("conversation", talks)):
        if ids is None:  # very many: the same query, as a subquery of the log's
            parts.append(f"subject IN (SELECT '{prefix}:' || id FROM ({query}))")
            args.append(value)
        elif ids:
            parts.append(f"subject IN ({', '.join(['?'] * len(ids))})")
            args += [f"{prefix}:{i}" for i in ids]
    return (f"({' OR '.join(parts)})" if parts else "0"), args


def _ids(db: Database, query: str, value: str) -> tuple[list[int] | None, str, str]:
    """The ids a query finds (None when more than MANY), and the query and its value."""
    ids = [int(row[0]) for row in db.execute(f"{query} LIMIT {MANY + 1}", [value])]
    return (None if len(ids) > MANY else ids), query, value


def actors(db: Database) -> list[str]:
    """Everyone who is in the log (staff:<email>, cli:<user>, web, tick ...), sorted."""
    return [row[0] for row in db.execute("SELECT DISTINCT actor FROM events ORDER BY actor")]
