"""Who does something: the staff account a --by, an operating-system user or a session names.

The audit log, the editor of an issue and its approver are accounts (staff:<email>), never a
typed name: four-eyes compares accounts, so nobody approves as somebody else by typing a name.
"""

from __future__ import annotations

import unicodedata

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.staff.accounts import StaffError, actor
from newsletter.store import staff as rows
from newsletter.store.staff import StaffRow

PREFIX = "staff:"
ADD = "newsletter staff add"


class IdentityError(StaffError):
    """A --by or an operating-system user that names no active staff account (exit 2)."""


def comparable(name: str) -> str:
    """A name as it is compared: NFKC (look-alike forms folded), casefolded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def _add_hint(who: str) -> str:
    if "@" in who:
        return f"{ADD} {who} --name NAME --role ROLE"
    return f"{ADD} EMAIL --name '{who}' --role ROLE"


def find(db: Database, who: str) -> StaffRow | None:
    """The account `who` names (staff:<email>, an e-mail, or a name only one account has),
    active or not; None when none does. A name more than one account has is an error."""
    who = who.strip()
    if who.startswith(PREFIX):
        who = who[len(PREFIX) :]
    if "@" in who:
        return rows.by_email(db, who)
    wanted = comparable(who)
    named = [r for r in rows.all_staff(db) if comparable(r.name) == wanted]
    active = [r for r in named if r.active] or named
    if len(active) > 1:
        emails = ", ".join(r.email for r in active)
        raise IdentityError(
            f"'{who}': {len(active)} staff accounts have this name ({emails}); "
            f"give the e-mail instead, e.g. --by {active[0].email}"
        )
    return active[0] if active else None


def account_for(db: Database, who: str, option: str = "--by") -> StaffRow:
    """The active account `who` names; IdentityError naming it and how to add it otherwise."""
    found = find(db, who)
    if found is None:
        raise IdentityError(
            f"{option} {who}: no staff account has this e-mail or name; add it with "
            f"'{_add_hint(who)}' (roles: redacteur, eindredacteur, inbox, beheerder)"
        )
    if not found.active:
        raise IdentityError(
            f"{option} {who}: the staff account {found.email} is disabled; a beheerder can "
            f"add an account with '{_add_hint(found.email)}'"
        )
    return found


def actor_for(db: Database, who: str, option: str = "--by") -> str:
    """The audit log's name (staff:<email>) of the active account `who` names."""
    return actor(account_for(db, who, option))


def os_account(db: Database, settings: Settings, user: str) -> StaffRow:
    """The account [console] os_users maps this operating-system user to."""
    email = settings.console.os_users.get(user)
    if email is None:
        raise IdentityError(
            f"no --by, and your user name '{user}' is not mapped to a staff account: pass "
            f'--by EMAIL, or add os_users = {{ {user} = "EMAIL" }} to [console] in '
            f"{settings.config_file.name}"
        )
    return account_for(db, email, f"[console] os_users {user} =")


def same_account(db: Database, a: str | None, b: str | None) -> bool:
    """Whether two actors are one account. An older row names a person by a typed name: it is
    the account of that name when one has it, else compared as a name."""
    if not a or not b:
        return False
    found = [_actor_or_none(db, v) for v in (a, b)]
    if found[0] and found[1]:
        return found[0] == found[1]
    return comparable(a) == comparable(b)


def _actor_or_none(db: Database, value: str) -> str | None:
    try:
        account = find(db, value)
    except IdentityError:
        return None
    return actor(account) if account else None


def shown(db: Database, value: str | None) -> str | None:
    """An actor as people read it: an account's name (staff:<email> when it is gone)."""
    if not value or not value.startswith(PREFIX):
        return value
    account = rows.by_email(db, value[len(PREFIX) :])
    return account.name if account else value


def os_actor(db: Database, settings: Settings, user: str) -> str:
    """Who runs a staff command (adding the first account needs none): the account os_users
    maps the user to, when it exists and is active; else cli:<user>."""
    email = settings.console.os_users.get(user)
    account = rows.by_email(db, email) if email else None
    return actor(account) if account is not None and account.active else f"cli:{user}"
