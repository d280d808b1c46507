"""Staff accounts: add, list, disable, reset a password; sign-in with limits; sessions."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from email_validator import EmailNotValidError
from sqlite_utils import Database

from newsletter import clock, store
from newsletter.addresses import canonical_address, normalise_email
from newsletter.errors import NewsletterError
from newsletter.settings import STAFF_ROLES
from newsletter.store import audit
from newsletter.store import staff as rows
from newsletter.store.staff import StaffRow

# What each role may do (issue #14): pages and use cases check these names.
ROLES = STAFF_ROLES
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 takes any length; this keeps a form post from being a workload

# Failed sign-ins: within WINDOW, an account is refused after ACCOUNT_LIMIT failures and a
# client address after ADDRESS_LIMIT (several people may share an office address).
WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
DELAY_STEP, DELAY_MAX = 0.2, 1.0  # seconds a refusal waits: grows with recent failures


class StaffError(NewsletterError):
    """Bad input for an account command: one line, exit 2."""


class SignInRefused(NewsletterError):
    """A sign-in that did not succeed: a wrong address or password, or too many failures."""

    def __init__(self, limited: bool, delay: float) -> None:
        super().__init__("too many failed sign-ins" if limited else "wrong e-mail or password")
        self.limited = limited
        self.delay = delay  # seconds the caller waits before answering


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id with the RFC 9106 low-memory parameters


@cache
def _dummy_hash() -> str:
    """A hash to verify against for an unknown account, so both take as long."""
    return _hasher().hash(secrets.token_urlsafe(16))


def actor(account: StaffRow) -> str:
    """How the audit log names an account: staff:<email>."""
    return f"staff:{account.email}"


def parse_roles(values: Iterable[str]) -> tuple[str, ...]:
    """The roles named (repeated or comma-separated), in the order of ROLES; StaffError else."""
    named = {r.strip().lower() for v in values for r in v.split(",") if r.strip()}
    unknown = sorted(named - set(ROLES))
    if unknown:
        raise StaffError(f"unknown role '{unknown[0]}'; the roles are: {', '.join(ROLES)}")
    if not named:
        raise StaffError(f"give at least one --role: {', '.join(ROLES)}")
    return tuple(r for r in ROLES if r in named)


def check_password(password: str) -> str:
    """A password someone chose: long enough, one line."""
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password is too short: use at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD or any(c in password for c in "\r\n\0"):
        raise StaffError(f"the password must be one line of at most {MAX_PASSWORD} characters")
    return password


def generate_password() -> str:
    """A random password to be shown once: 20 characters, about 120 bits."""
    return secrets.token_urlsafe(15)


def _email(raw: str) -> str:
    try:
        return canonical_address(raw)
    except EmailNotValidError as exc:
        raise StaffError(f"'{raw}' is not an e-mail address: {exc}") from None


def _name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name or len(name) > 200 or any(not c.isprintable() for c in name):
        raise StaffError("--name must be a person's name on one line, e.g. --name 'Sanne de Vries'")
    return name


def _existing(db: Database, email: str) -> StaffRow:
    row = rows.by_email(db, email)
    if row is None:
        raise StaffError(f"no staff account '{normalise_email(email)}'; 'newsletter staff list'")
    return row


@dataclass(frozen=True)
class Issued:
    """An account with the password it got; `generated` only when we made it up (show once)."""

    account: StaffRow
    generated: str | None


def add_account(
    db: Database,
    email: str,
    name: str,
    roles: Iterable[str],
    by: str,
    password: str | None = None,
) -> Issued:
    """A new account; without a password one is generated (shown once, never stored)."""
    email, name, chosen = _email(email), _name(name), parse_roles(roles)
    secret = check_password(password) if password is not None else generate_password()
    hashed = _hasher().hash(secret)
    with store.transaction(db):
        if rows.by_email(db, email) is not None:
            raise StaffError(f"there is already a staff account '{email}'")
        staff_id = rows.add(db, email, name, chosen, hashed)
        audit.record(db, by, "staff-add", f"staff:{email}", roles=list(chosen))
    account = rows.by_id(db, staff_id)
    assert account is not None
    return Issued(account, None if password is not None else secret)


def accounts(db: Database) -> list[StaffRow]:
    """Every account, by address."""
    return rows.all_staff(db)


def accounts_page(db: Database, limit: int, offset: int) -> tuple[list[StaffRow], int]:
    """One page of the accounts, by address; with the number of accounts."""
    return rows.staff_page(db, limit, offset)


def account(db: Database, email: str) -> StaffRow | None:
    return rows.by_email(db, email)


def disable_account(db: Database, email: str, by: str) -> tuple[StaffRow, int]:
    """An account can no longer sign in; its sessions end. (account, sessions ended)"""
    with store.transaction(db):
        row = _existing(db, email)
        if not row.active:
            raise StaffError(f"staff account '{row.email}' is already disabled")
        rows.disable(db, row.id)
        ended = rows.end_sessions_of(db, row.id)
        audit.record(db, by, "staff-disable", f"staff:{row.email}", sessions_ended=ended)
    return _existing(db, email), ended


def reset_password(db: Database, email: str, by: str, password: str | None = None) -> Issued:
    """A new password (generated unless given); the account's sessions end, its limit lifts."""
    secret = check_password(password) if password is not None else generate_password()
    hashed = _hasher().hash(secret)
    with store.transaction(db):
        row = _existing(db, email)
        rows.set_password_hash(db, row.id, hashed)
        ended = rows.end_sessions_of(db, row.id)
        rows.clear_failures(db, rows.account_key(row.email))
        audit.record(db, by, "staff-password", f"staff:{row.email}", sessions_ended=ended)
    return Issued(_existing(db, email), None if password is not None else secret)


# -- sign-in ---------------------------------------------------------------------------------


def sign_in(db: Database, email: str, password: str, address: str) -> StaffRow:
    """The active account these credentials name, or SignInRefused (limited or not).

    Failures count per account (known or not, so the answer never tells which addresses have
    an account) and per client address, in the store: the limit holds across workers.
    """
    keys = (rows.account_key(email), f"address:{address}")
    since = clock.now() - WINDOW
    account_failures = rows.failures_since(db, keys[0], since)
    address_failures = rows.failures_since(db, keys[1], since)
    if account_failures >= ACCOUNT_LIMIT or address_failures >= ADDRESS_LIMIT:
        raise SignInRefused(limited=True, delay=DELAY_MAX)
    stored = rows.password_hash(db, email) if len(password) <= MAX_PASSWORD else None
    ok = False
    try:
        ok = _hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    row = rows.by_email(db, email) if ok else None
    if row is None or not row.active:
        with store.transaction(db):
            rows.add_failure(db, *keys)
            rows.forget_failures_before(db, since)
        delay = min(DELAY_MAX, DELAY_STEP * (account_failures + 1))
        raise SignInRefused(limited=False, delay=delay)
    with store.transaction(db):
        if stored is not None and _hasher().check_needs_rehash(stored):
            rows.set_password_hash(db, row.id, _hasher().hash(password))
        rows.clear_failures(db, keys[0])
        rows.signed_in(db, row.id)
        audit.record(db, actor(row), "signin", actor(row), address=address)
    return row


# -- sessions --------------------------------------------------------------------------------


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(db: Database, account: StaffRow) -> str:
    """A new session for a signed-in account: the token for the (signed) cookie."""
    token = secrets.token_urlsafe(32)
    rows.add_session(db, _session_id(token), account.id)
    return token


@dataclass(frozen=True)
class SessionState:
    """What a session token is: the signed-in account, or None and whether it expired."""

    account: StaffRow | None
    expired: bool = False


def resume_session(db: Database, token: str, idle: timedelta) -> SessionState:
    """The account of a session still in use; an idle or ended one is gone (expired=True)."""
    session_id = _session_id(token)
    found = rows.session(db, session_id)
    if found is None:
        return SessionState(None, expired=True)
    now = clock.now()
    account = rows.by_id(db, found.staff_id)
    if clock.parse_instant(found.seen_at) + idle < now or account is None or not account.active:
        rows.end_session(db, session_id)
        rows.end_sessions_idle_since(db, now - idle)
        return SessionState(None, expired=True)
    rows.touch_session(db, session_id, now)
    return SessionState(account)


def end_session(db: Database, token: str, account: StaffRow | None = None) -> None:
    """Sign out: the session is gone from the store, whatever the cookie still holds."""
    with store.transaction(db):
        rows.end_session(db, _session_id(token))
        if account is not None:
            audit.record(db, actor(account), "signout", actor(account))
