"""Single sign-on: the staff account an OpenID Connect sign-in becomes, from its verified claims.

The console (console/oidc.py) talks to the provider and checks the ID token; this decides who
that is here: a verified e-mail address in [console.oidc] allowed_domain, and the roles the
values of its claim (e.g. groups) map to. The provider is the source of the roles: an account
gets exactly the mapped roles at each sign-in; no mapped role, no sign-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

from newsletter import store
from newsletter.addresses import normalise_email
from newsletter.errors import NewsletterError
from newsletter.settings import STAFF_ROLES, Oidc
from newsletter.staff.accounts import actor
from newsletter.store import audit
from newsletter.store import staff as rows
from newsletter.store.staff import StaffRow

# No password signs in to an account made by single sign-on: this is no argon2 hash.
NO_PASSWORD = "!single-sign-on"


class SingleSignOnRefused(NewsletterError):
    """A provider's user who may not sign in here; `reason` names why (the console says it)."""

    def __init__(self, reason: str, email: str = "") -> None:
        super().__init__(f"single sign-on refused: {reason} ({email or 'no e-mail'})")
        self.reason = reason  # "unverified", "domain", "role" or "disabled"
        self.email = email


def verified_email(claims: Mapping[str, Any]) -> str:
    """The claims' e-mail address if the provider says it is verified ("" otherwise). Entra ID
    says so with xms_edov (the domain owner verified it) where others send email_verified."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return ""
    verified = claims.get("email_verified") is True or claims.get("xms_edov") is True
    return normalise_email(email) if verified else ""


def mapped_roles(claims: Mapping[str, Any], oidc: Oidc) -> tuple[str, ...]:
    """The console roles the values of the configured claim map to, in the order of ROLES."""
    values = claims.get(oidc.claim, [])
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list):
        return ()
    named = {role for v in values if isinstance(v, str) for role in oidc.roles.get(v, ())}
    return tuple(r for r in STAFF_ROLES if r in named)


def sign_in_with_claims(
    db: Database, claims: Mapping[str, Any], oidc: Oidc, address: str
) -> StaffRow:
    """The active account these verified claims are: matched by e-mail, or made; its roles set
    to the mapped ones. SingleSignOnRefused (in the log too) when they may not sign in."""
    email = verified_email(claims)
    shown = str(claims.get("email") or "")
    if not email:
        raise _refused(db, "unverified", shown, address)
    if email.rpartition("@")[2] != oidc.allowed_domain:
        raise _refused(db, "domain", email, address)
    roles = mapped_roles(claims, oidc)
    if not roles:
        raise _refused(db, "role", email, address)
    name = " ".join(str(claims.get("name") or "").split())[:200] or email
    with store.transaction(db):
        account = rows.by_email(db, email)
        if account is None:
            staff_id = rows.add(db, email, name, roles, NO_PASSWORD)
            audit.record(db, "oidc", "staff-add", f"staff:{email}", roles=list(roles))
        elif not account.active:
            audit.record(db, "oidc", "signin-refused", f"staff:{email}", reason="disabled")
            raise SingleSignOnRefused("disabled", email)
        else:
            staff_id = account.id
            if account.roles != roles:
                rows.set_roles(db, staff_id, roles)
                audit.record(
                    db,
                    "oidc",
                    "staff-roles",
                    f"staff:{email}",
                    roles=list(roles),
                    was=list(account.roles),
                )
        rows.signed_in(db, staff_id)
        found = rows.by_id(db, staff_id)
        assert found is not None
        audit.record(db, actor(found), "signin", actor(found), address=address, via="oidc")
    return found


def _refused(db: Database, reason: str, email: str, address: str) -> SingleSignOnRefused:
    with store.transaction(db):
        audit.record(
            db, "oidc", "signin-refused", f"staff:{email or '?'}", reason=reason, address=address
        )
    return SingleSignOnRefused(reason, email)
