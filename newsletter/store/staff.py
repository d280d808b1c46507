"""The staff repository: console accounts, their sessions, and failed sign-ins (issue #14)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from newsletter import clock
from newsletter.addresses import normalise_email


@dataclass(frozen=True)
class StaffRow:
    """One row of `staff`: an account (the password hash stays in the store)."""

    id: int
    email: str
    name: str
    roles: tuple[str, ...]
    created_at: str
    password_set_at: str
    disabled_at: str | None
    last_signin_at: str | None

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    def as_json(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "name": self.name,
            "roles": list(self.roles),
            "active": self.active,
            "created_at": self.created_at,
            "password_set_at": self.password_set_at,
            "disabled_at": self.disabled_at,
            "last_signin_at": self.last_signin_at,
        }


@dataclass(frozen=True)
class SessionRow:
    """One signed-in session: whose, and when it was last used (for the idle timeout)."""

    id: str  # sha256 of the token
    staff_id: int
    created_at: str
    seen_at: str


_COLUMNS = "id, email, name, roles, created_at, password_set_at, disabled_at, last_signin_at"


def _row(row: Any) -> StaffRow:
    return StaffRow(
        id=int(row[0]),
        email=row[1],
        name=row[2],
        roles=tuple(row[3].split()),
        created_at=row[4],
        password_set_at=row[5],
        disabled_at=row[6],
        last_signin_at=row[7],
    )


def add(db: Database, email: str, name: str, roles: tuple[str, ...], password_hash: str) -> int:
    """A new account; the caller has checked that no account has this address."""
    now = clock.utc_iso()
    cursor = db.execute(
        "INSERT INTO staff (email, name, roles, password_hash, created_at, password_set_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [normalise_email(email), name, " ".join(roles), password_hash, now, now],
    )
    return int(cursor.lastrowid or 0)


def by_email(db: Database, email: str) -> StaffRow | None:
    """The account with this address (active or not), or None."""
    row = db.execute(
        f"SELECT {_COLUMNS} FROM staff WHERE email = ?", [normalise_email(email)]
    ).fetchone()
    return _row(row) if row else None


def by_id(db: Database, staff_id: int) -> StaffRow | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM staff WHERE id = ?", [staff_id]).fetchone()
    return _row(row) if row else None


def password_hash(db: Database, email: str) -> str | None:
    """The stored argon2 hash of an active account, or None (unknown or disabled)."""
    row = db.execute(
        "SELECT password_hash FROM staff WHERE email = ? AND disabled_at IS NULL",
        [normalise_email(email)],
    ).fetchone()
    return str(row[0]) if row else None


def all_staff(db: Database) -> list[StaffRow]:
    """Every account, by address."""
    return [_row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM staff ORDER BY email")]


def staff_page(db: Database, limit: int = 50, offset: int = 0) -> tuple[list[StaffRow], int]:
    """One page of the accounts, by address; with the number of accounts."""
    total = int(db.execute("SELECT count(*) FROM staff").fetchone()[0])
    found = db.execute(
        f"SELECT {_COLUMNS} FROM staff ORDER BY email LIMIT ? OFFSET ?", [limit, offset]
    )
    return [_row(r) for r in found], total


def set_password_hash(db: Database, staff_id: int, hashed: str) -> None:
    db.execute(
        "UPDATE staff SET password_hash = ?, password_set_at = ? WHERE id = ?",
        [hashed, clock.utc_iso(), staff_id],
    )


def set_roles(db: Database, staff_id: int, roles: tuple[str, ...]) -> None:
    db.execute("UPDATE staff SET roles = ? WHERE id = ?", [" ".join(roles), staff_id])


def disable(db: Database, staff_id: int) -> None:
    db.execute("UPDATE staff SET disabled_at = ? WHERE id = ?", [clock.utc_iso(), staff_id])


def signed_in(db: Database, staff_id: int) -> None:
    db.execute("UPDATE staff SET last_signin_at = ? WHERE id = ?", [clock.utc_iso(), staff_id])


# -- sessions --------------------------------------------------------------------------------


def add_session(db: Database, session_id: str, staff_id: int) -> None:
    now = clock.utc_iso()
    db.execute(
        "INSERT INTO staff_sessions (id, staff_id, created_at, seen_at) VALUES (?, ?, ?, ?)",
        [session_id, staff_id, now, now],
    )


def session(db: Database, session_id: str) -> SessionRow | None:
    row = db.execute(
        "SELECT id, staff_id, created_at, seen_at FROM staff_sessions WHERE id = ?", [session_id]
    ).fetchone()
    return SessionRow(row[0], int(row[1]), row[2], row[3]) if row else None


def sessions_of(db: Database, staff_id: int) -> list[SessionRow]:
    rows = db.execute(
        "SELECT id, staff_id, created_at, seen_at FROM staff_sessions WHERE staff_id = ? "
        "ORDER BY created_at",
        [staff_id],
    )
    return [SessionRow(r[0], int(r[1]), r[2], r[3]) for r in rows]


def touch_session(db: Database, session_id: str, at: datetime | None = None) -> None:
    """The session was used now (or at `at`): the idle timeout starts again."""
    db.execute(
        "UPDATE staff_sessions SET seen_at = ? WHERE id = ?", [clock.utc_iso(at), session_id]
    )


def end_session(db: Database, session_id: str) -> None:
    db.execute("DELETE FROM staff_sessions WHERE id = ?", [session_id])


def end_sessions_of(db: Database, staff_id: int) -> int:
    """End every session of an account (disabled, or a new password); how many there were."""
    return db.execute("DELETE FROM staff_sessions WHERE staff_id = ?", [staff_id]).rowcount


def end_sessions_idle_since(db: Database, before: datetime) -> int:
    """Forget sessions not used since `before` (they have expired anyway)."""
    return db.execute(
        "DELETE FROM staff_sessions WHERE seen_at < ?", [clock.utc_iso(before)]
    ).rowcount


# -- failed sign-ins ------------------------------------------------------------------------


def add_failure(db: Database, *keys: str) -> None:
    """One failed sign-in, counted under each key (account:<email>, address:<ip>)."""
    now = clock.utc_iso()
    for key in keys:
        db.execute("INSERT INTO staff_signin_failures (key, at) VALUES (?, ?)", [key, now])


def failures_since(db: Database, key: str, since: datetime) -> int:
    row = db.execute(
        "SELECT count(*) FROM staff_signin_failures WHERE key = ? AND at >= ?",
        [key, clock.utc_iso(since)],
    ).fetchone()
    return int(row[0])


def clear_failures(db: Database, key: str) -> None:
    db.execute("DELETE FROM staff_signin_failures WHERE key = ?", [key])


def forget_failures_before(db: Database, before: datetime) -> None:
    db.execute("DELETE FROM staff_signin_failures WHERE at < ?", [clock.utc_iso(before)])


def account_key(email: str) -> str:
    """The failure key of an account: the normalised address, known account or not."""
    return f"account:{normalise_email(email)}"
