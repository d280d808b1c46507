"""The demo's two staff accounts, with published passwords (a demo instance only), and the
saved replies its Postvak starts with."""

from __future__ import annotations

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.inbound.postvak import save_saved_reply
from newsletter.staff.accounts import add_account

# (address, name, roles, password): fictional colleagues; the passwords are in the README.
# Between them every page of the console: Sanne writes and submits, Pieter approves; both
# answer the contact mailbox; Pieter (beheerder) also imports lists and manages accounts.
DEMO_STAFF = (
    (
        "sanne@ipo.example",
        "Sanne de Vries",
        ("redacteur", "eindredacteur", "inbox", "beheerder"),
        "demo-sanne-2026",
    ),
    (
        "pieter@ipo.example",
        "Pieter Bakker",
        ("eindredacteur", "inbox", "beheerder"),
        "demo-pieter-2026",
    ),
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


# (title, Markdown): the saved replies the demo's Postvak starts with (Standaardantwoorden).
DEMO_SAVED_REPLIES = (
    (
        "Vergaderstukken Algemene Vergadering",
        "{aanhef},\n\nDank voor uw vraag. De vergaderstukken van de Algemene Vergadering van "
        "{volgende_av} komen vooraf beschikbaar; de griffie van {provincie} stuurt ze u toe "
        "zodra ze er zijn. Vóór de vergadering zijn er twee technische briefings, waarvoor u "
        "zich via de nieuwsbrief kunt aanmelden.",
    ),
    (
        "Weer aangemeld",
        "{aanhef},\n\nU bent weer aangemeld voor de nieuwsbrief Statenleden. Het volgende "
        "nummer ontvangt u gewoon weer.",
    ),
)


def demo_saved_replies(db: Database) -> None:
    """The demo's saved replies, as Sanne's account would have written them in the console."""
    for title, body in DEMO_SAVED_REPLIES:
        save_saved_reply(db, None, title, body, "staff:sanne@ipo.example")
