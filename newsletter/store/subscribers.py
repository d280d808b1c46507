"""The subscribers repository: subscribers, their mandates and the suppression list, as typed rows.

Every look-up by address normalises it with newsletter.addresses.normalise_email here, so a
caller cannot look a person up by a differently written form of the same address.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any, Literal

from sqlite_utils import Database

from newsletter.addresses import email_hashes, normalise_email
from newsletter.config import Settings
from newsletter.store.db import dumps, loads


@dataclass(frozen=True)
class Subscriber:
    """One row of `subscribers`; the fields in the table's column order (export relies on it)."""

    id: int
    email: str
    name: str
    first_name: str | None
    last_name: str | None
    salutation: str | None
    province: str | None
    status: str  # pending, active, paused, unsubscribed, bounced, erased
    themes: tuple[str, ...]  # empty: every theme
    source: str | None
    consent_at: str | None
    created_at: str | None
    updated_at: str | None
    consent_text: str | None


@dataclass(frozen=True)
class Details:
    """Who a subscriber is, as a griffie list or a sign-up gives it (not their choices)."""

    email: str
    name: str
    first_name: str
    last_name: str
    salutation: str
    province: str | None

    def details(self) -> Details:
        """Only the details (of a subclass that carries more, such as an import's Person)."""
        return Details(**{f.name: getattr(self, f.name) for f in fields(Details)})

    def changed_from(self, subscriber: Subscriber) -> list[str]:
        """The names of the fields in which these details differ from a subscriber's row."""
        names = [f.name for f in fields(Details)]
        return [n for n in names if getattr(self, n) != getattr(subscriber, n)]

    def columns(self) -> dict[str, Any]:
        """The columns, the address normalised."""
        return {**asdict(self.details()), "email": normalise_email(self.email)}


@dataclass(frozen=True)
class Mandate:
    """One row of `mandates`: a role a subscriber holds in a province from one day on."""

    id: int
    subscriber_id: int
    role: str
    province: str | None
    starts_on: str  # ISO date
    ends_on: str | None  # ISO date; None: open
    source: str | None


@dataclass(frozen=True)
class MandateHeld:
    """A mandate with the name and address of whoever holds it."""

    mandate: Mandate
    email: str
    name: str


@dataclass(frozen=True)
class Listed:
    """A subscriber as `subscribers list` shows them: their current roles, sorted."""

    id: int
    email: str
    name: str
    province: str | None
    status: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Suppression:
    """An address that is never subscribed again: why, and since when (UTC)."""

    reason: str
    created_at: str


def _subscriber(row: Mapping[str, Any]) -> Subscriber:
    return Subscriber(**{**row, "themes": tuple(loads(row["themes"], []))})


def _mandate(row: Mapping[str, Any]) -> Mandate:
    return Mandate(
        row["id"],
        row["subscriber_id"],
        row["role"],
        row["province"],
        row["starts_on"],
        row["ends_on"],
        row["source"],
    )


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values)) or "null"


def _insert(db: Database, table: Literal["subscribers", "mandates"], values: dict[str, Any]) -> int:
    """Insert one row; its id. Plain SQL: an import inserts tens of thousands of these."""
    columns = ", ".join(f"[{name}]" for name in values)
    cursor = db.execute(
        f"insert into [{table}] ({columns}) values ({_marks(list(values))})", list(values.values())
    )
    return int(cursor.lastrowid or 0)


# -- subscribers ------------------------------------------------------------------------------


def get(db: Database, subscriber_id: int | None) -> Subscriber | None:
    """The subscriber with this id, or None."""
    row = next(db.query("select * from subscribers where id = ?", [subscriber_id]), None)
    return None if row is None else _subscriber(row)


def find_by_email(db: Database, address: str) -> Subscriber | None:
    """The subscriber with this address (normalised first), or None."""
    row = next(
        db.query("select * from subscribers where email = ?", [normalise_email(address)]), None
    )
    return None if row is None else _subscriber(row)


def all_subscribers(db: Database) -> list[Subscriber]:
    """Every subscriber, by id."""
    return [_subscriber(row) for row in db.query("select * from subscribers order by id")]


def add(
    db: Database,
    details: Details,
    *,
    status: str,
    themes: Sequence[str],
    source: str,
    created_at: str,
    updated_at: str,
    consent_at: str | None = None,
    consent_text: str | None = None,
) -> int:
    """Insert a subscriber (the address normalised); their new id."""
    values: dict[str, Any] = {
        **details.columns(),
        "status": status,
        "themes": dumps(list(themes)),
        "source": source,
        "created_at": created_at,
        "updated_at": updated_at,
    }
    if consent_at is not None:
        values["consent_at"] = consent_at
    if consent_text is not None:
        values["consent_text"] = consent_text
    return _insert(db, "subscribers", values)


def add_many(db: Database, people: Iterable[Details], *, status: str, source: str, at: str) -> int:
    """Insert many subscribers at once (addresses normalised), all with this status and
    source and every theme, in batches (for benchmarks and bulk loads); how many."""
    count = 0

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal count
        for person in people:
            count += 1
            yield {
                **person.columns(),
                "status": status,
                "themes": "[]",
                "source": source,
                "created_at": at,
                "updated_at": at,
            }

    db.table("subscribers").insert_all(rows(), batch_size=2000)
    return count


def update_details(db: Database, subscriber_id: int, details: Details, updated_at: str) -> None:
    """Set who a subscriber is (as a griffie list gives it); status and choices stay."""
    db.table("subscribers").update(subscriber_id, {**details.columns(), "updated_at": updated_at})


def set_choices(
    db: Database, subscriber_id: int, themes: Sequence[str], status: str, updated_at: str
) -> None:
    """Set a reader's own choices: their themes (empty: all) and status (active or paused)."""
    db.table("subscribers").update(
        subscriber_id, {"themes": dumps(list(themes)), "status": status, "updated_at": updated_at}
    )


def unsubscribe(
    db: Database, subscriber_id: int, at: str, unless_consent_after: str | None = None
) -> bool:
    """Active, paused or pending becomes unsubscribed; True when a row changed.

    `unless_consent_after`: not when the subscriber gave consent after this moment (a request
    written late, and a sign-up confirmed after it was made).
    """
    cursor = db.execute(
        "update subscribers set status = 'unsubscribed', updated_at = ? "
        "where id = ? and status in ('active', 'paused', 'pending') "
        "and (? is null or consent_at is null or consent_at <= ?)",
        [at, subscriber_id, unless_consent_after, unless_consent_after],
    )
    return cursor.rowcount > 0


def confirm(
    db: Database, subscriber_id: int, consent_text: str, at: str, asked_at: str | None = None
) -> bool:
    """Pending or unsubscribed becomes active with consent recorded; True when a row changed.

    `asked_at`: when the confirmation link was issued (UTC ISO). Someone who unsubscribed
    after that stays unsubscribed: an old link does not undo a newer choice.
    """
    cursor = db.execute(
        "update subscribers set status = 'active', consent_text = ?, consent_at = ?, "
        "updated_at = ? where id = ? and (status = 'pending' or (status = 'unsubscribed' "
        "and (? is null or updated_at is null or updated_at <= ?)))",
        [consent_text, at, at, subscriber_id, asked_at, asked_at],
    )
    return cursor.rowcount > 0


def delete(db: Database, subscriber_id: int | None) -> int:
    """Delete the subscriber row itself (after everything that points at it); rows deleted.

    The name index is rewritten (`optimize`), so no old segment keeps the name's trigrams."""
    deleted = int(db.execute("delete from subscribers where id = ?", [subscriber_id]).rowcount)
    if deleted:
        db.execute("INSERT INTO subscriber_names (subscriber_names) VALUES ('optimize')")
    return deleted


def active(
    db: Database, provinces: Sequence[str], roles: Sequence[str], on: str
) -> Iterator[Subscriber]:
    """Active subscribers, by id: in one of `provinces` (if any) with a mandate in one of
    `roles` (if any) on day `on`. A generator: lists grow."""
    where, args = ["s.status = 'active'"], []
    if provinces:
        where.append(f"s.province in ({_marks(provinces)})")
        args += list(provinces)
    if roles:
        where.append(
            "exists (select 1 from mandates m where m.subscriber_id = s.id and m.role in "
            f"({_marks(roles)}) and m.starts_on <= ? "
            "and (m.ends_on is null or m.ends_on >= ?))"
        )
        args += [*roles, on, on]
    sql = f"select * from subscribers s where {' and '.join(where)} order by s.id"
    for row in db.query(sql, args):
        yield _subscriber(row)


def _listed(row: Mapping[str, Any]) -> Listed:
    roles = tuple(row["roles"].split(",")) if row["roles"] else ()
    return Listed(row["id"], row["email"], row["name"], row["province"], row["status"], roles)


def _listing_sql(
    today: str,
    status: str | None,
    province: str | None,
    role: str | None,
    text: str | None = None,
) -> tuple[str, dict[str, Any]]:
    """The select of `listing` and `search` (no order, no limit) and its arguments."""
    current = "m.subscriber_id = s.id and (m.ends_on is null or m.ends_on >= :today)"
    where = ["1"]
    if status:
        where.append("s.status = :status")
    if province:
        where.append("s.province = :province")
    if role:
        where.append(f"exists (select 1 from mandates m where {current} and m.role = :role)")
    if text:
        where.append(
            "(instr(lower(s.name), :text) > 0 or instr(s.email, :text) > 0 "
            "or cast(s.id as text) = :text)"
        )
    sql = f"""select s.id, s.email, s.name, s.province, s.status,
            (select group_concat(role, ',') from (select distinct m.role from mandates m
             where {current} order by m.role)) roles
        from subscribers s where {" and ".join(where)}"""
    args = {"today": today, "status": status, "province": province, "role": role}
    return sql, {**args, "text": (text or "").strip().lower()}


def listing(
    db: Database,
    today: str,
    status: str | None = None,
    province: str | None = None,
    role: str | None = None,
    limit: int = -1,
) -> list[Listed]:
    """Subscribers with their current roles, by province, name and id; filters optional;
    the first `limit` only when it is 0 or more."""
    sql, args = _listing_sql(today, status, province, role)
    rows = db.query(
        f"{sql} order by s.province, s.name, s.id limit :limit",
        {**args, "limit": limit},
    )
    return [_listed(r) for r in rows]


def search(
    db: Database,
    today: str,
    text: str = "",
    *,
    status: str | None = None,
    province: str | None = None,
    role: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Listed], int]:
    """One page of `listing` whose name or address contains `text` (case-insensitive; the id
    when it is one), by name; with the number of matches on all pages."""
    sql, args = _listing_sql(today, status, province, role, text)
    total = int(db.execute(f"select count(*) from ({sql})", args).fetchone()[0])
    rows = db.query(
        f"{sql} order by s.name collate nocase, s.id limit :limit offset :offset",
        {**args, "limit": limit, "offset": offset},
    )
    return [_listed(r) for r in rows], total


def signup_requests_since(
    db: Database, since: str, *, subscriber_id: int | None = None, client: str | None = None
) -> int:
    """The sign-up confirmations mailed since a moment (UTC ISO), as the audit log has them:
    to one subscriber, or asked for by one client (its keyed hash)."""
    where, args = ["action = 'subscribe-request'", "at >= ?"], [since]
    if subscriber_id is not None:
        where.append("subject = ?")
        args.append(f"subscriber:{subscriber_id}")
    if client is not None:
        where.append("json_valid(detail) and json_extract(detail, '$.client') = ?")
        args.append(client)
    row = db.execute(f"select count(*) from events where {' and '.join(where)}", args).fetchone()
    return int(row[0])


# -- mandates ---------------------------------------------------------------------------------


def mandates_of(
    db: Database, subscriber_id: int | None, order: Literal["id", "start"] = "id"
) -> list[Mandate]:
    """A subscriber's mandates, by id (the order they were added) or by start and role."""
    order_by = "id" if order == "id" else "starts_on, role"
    return [
        _mandate(row)
        for row in db.query(
            f"select * from mandates where subscriber_id = ? order by {order_by}", [subscriber_id]
        )
    ]


def all_mandates(db: Database) -> list[Mandate]:
    """Every mandate, by subscriber, start and role."""
    return [
        _mandate(row)
        for row in db.query("select * from mandates order by subscriber_id, starts_on, role")
    ]


def add_mandate(
    db: Database,
    subscriber_id: int,
    role: str,
    province: str | None,
    starts_on: str,
    source: str,
    ends_on: str | None = None,
) -> int:
    """Insert a mandate; its id."""
    row = {
        "subscriber_id": subscriber_id,
        "role": role,
        "province": province,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "source": source,
    }
    return _insert(db, "mandates", row)


def set_mandate_end(db: Database, mandate_id: int, ends_on: str | None) -> None:
    """End a mandate on a day (ISO date), or open it again (None)."""
    db.table("mandates").update(mandate_id, {"ends_on": ends_on})


def open_mandates_in(db: Database, province: str, after: str) -> list[MandateHeld]:
    """The mandates in a province not ended on or before `after`, by name, address, role, start."""
    rows = db.query(
        """select m.*, s.email, s.name
           from mandates m join subscribers s on s.id = m.subscriber_id
           where m.province = ? and (m.ends_on is null or m.ends_on > ?)
           order by s.name, s.email, m.role, m.starts_on""",
        [province, after],
    )
    return [MandateHeld(_mandate(row), row["email"], row["name"]) for row in rows]


def delete_mandates(db: Database, subscriber_id: int | None) -> int:
    """Delete a subscriber's mandates; how many."""
    cursor = db.execute("delete from mandates where subscriber_id = ?", [subscriber_id])
    return int(cursor.rowcount)


def current_holders(db: Database, roles: tuple[str, ...], on: date) -> list[dict[str, str]]:
    """People with one of these roles on a day: name, email, role, province."""
    sql = f"""
        select s.name, s.email, m.role, m.province from mandates m
        join subscribers s on s.id = m.subscriber_id
        where m.role in ({_marks(roles)}) and m.starts_on <= ?
          and (m.ends_on is null or m.ends_on >= ?)
          and s.status != 'erased'
        order by m.province, m.role, s.name"""
    return [dict(row) for row in db.query(sql, [*roles, on.isoformat(), on.isoformat()])]


# -- suppressions -----------------------------------------------------------------------------


def find_suppression(db: Database, settings: Settings, address: str) -> Suppression | None:
    """The suppression of an address, or None: the one suppression check.

    Accepts a hash made with any key in rotation (NEWSLETTER_SECRET_KEY=OLD,NEW), so keep a
    retired key in the list: hashes made with it are not recognised once it is gone. Writes nothing.
    """
    if not settings.secret_keys and not db.table("suppressions").count:
        return None  # nothing is suppressed, so no key is needed to know it
    hashes = email_hashes(settings, address)  # normalises the address
    row = db.execute(
        f"select reason, created_at from suppressions where email_hash in ({_marks(hashes)})",
        hashes,
    ).fetchone()
    return None if row is None else Suppression(row[0], row[1])


def suppress(db: Database, settings: Settings, address: str, reason: str, at: str) -> None:
    """Suppress an address under the newest key, and drop its hashes under older keys."""
    *old, newest = email_hashes(settings, address)
    db.execute(
        "insert or replace into suppressions (email_hash, reason, created_at) values (?, ?, ?)",
        [newest, reason, at],
    )
    db.execute(f"delete from suppressions where email_hash in ({_marks(old)})", old)
