"""The demo's two staff accounts, with published passwords (a demo instance only)."""

from __future__ import annotations

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.staff.accounts import add_account

# (address, name, roles, password): fictional colleagues; the passwords are in the README.
DEMO_STAFF = (
    # Sanne does the whole month, the mailbox and the lists; Pieter approves (four eyes).
    (
        "sanne@ipo.example",
        "Sanne de Vries",
        ("redacteur", "eindredacteur", "inbox", "beheerder"),
        "demo-sanne-2026",
    ),
    ("pieter@ipo.example", "Pieter Bakker", ("eindredacteur",), "demo-pieter-2026"),
)


def demo_staff(db: Database, settings: Settings, shown: str) -> list[str]:
    """Add the demo's staff accounts; the summary lines that say how to start the console and
    which account a command without --by is done by."""
    if not settings.demo:
        raise ValueError("published passwords belong in a demo instance only")
    for email, name, roles, password in DEMO_STAFF:
        add_account(db, email, name, roles, "demo", password)
    accounts = "; ".join(
        f"{email} / {password} ({', '.join(roles)})" for email, _, roles, password in DEMO_STAFF
    )
    mapped = ", ".join(f"{u} -> {e}" for u, e in settings.console.os_users.items())
    return [
        f"Console: newsletter --project {shown} console, then {settings.console.local_url()}",
        f"Staff (demo passwords, never in a real instance): {accounts}",
        f"CLI: a command without --by is done by the account [console] os_users maps your "
        f"user name to ({mapped})",
    ]
