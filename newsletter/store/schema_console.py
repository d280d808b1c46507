"""The schema's migrations from the staff console on (issue #14 and later), registered after
those of newsletter.store.schema in the same sqlite-utils Migrations: import `migrations` from
here to get every one of them, in order."""

from __future__ import annotations

from sqlite_utils import Database

from newsletter.store import doctor as doctor_runs
from newsletter.store.schema import migrations

__all__ = ["migrations"]


@migrations()
def m015_staff(db: Database) -> None:
    """Staff accounts for the console (issue #14): sign-in, sessions, failed attempts.

    Passwords are argon2 hashes; a session row is keyed by the SHA-256 of the token in the
    signed cookie (the store never holds a usable token); failures are counted per key
    (account:<email>, address:<ip>) so the limit holds across server workers.
    """
    db.execute(
        """
        CREATE TABLE staff (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            email TEXT NOT NULL UNIQUE,      -- normalised (addresses.normalise_email)
            name TEXT NOT NULL,
            roles TEXT NOT NULL,             -- space-separated, e.g. "redacteur eindredacteur"
            password_hash TEXT NOT NULL,     -- argon2id
            created_at TEXT NOT NULL,        -- UTC
            password_set_at TEXT NOT NULL,   -- UTC
            disabled_at TEXT,                -- UTC; a disabled account cannot sign in
            last_signin_at TEXT              -- UTC
        )
        """
    )
    db.execute(
        """
        CREATE TABLE staff_sessions (
            id TEXT PRIMARY KEY,             -- sha256 of the session token
            staff_id INTEGER NOT NULL REFERENCES staff (id),
            created_at TEXT NOT NULL,        -- UTC
            seen_at TEXT NOT NULL            -- UTC: the idle timeout counts from here
        )
        """
    )
    db.execute("CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id)")
    db.execute(
        """
        CREATE TABLE staff_signin_failures (
            key TEXT NOT NULL,               -- account:<email> or address:<client address>
            at TEXT NOT NULL                 -- UTC
        )
        """
    )
    db.execute("CREATE INDEX staff_signin_failures_key ON staff_signin_failures (key, at)")
    db.execute("CREATE INDEX events_actor ON events (actor)")  # the console's log by account


@migrations()
def m016_postvak(db: Database) -> None:
    """The Postvak (issue #15): notes, saved replies, who is looking, a follow-up date, and the
    HTML of what we sent (a reply is queued in the delivery ledger and built from it)."""
    conversations = db.table("conversations")
    conversations.add_column("follow_up_on", str)  # ISO date: "opvolgen op"
    conversations.add_column("follow_up_reached", str)  # UTC: tick reached that date
    db.table("conversation_messages").add_column("body_html", str)
    db.execute(
        """
        CREATE TABLE conversation_notes (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations (id),
            author TEXT NOT NULL,            -- staff:<email>
            text TEXT NOT NULL,              -- internal: never sent
            created_at TEXT NOT NULL         -- UTC
        )
        """
    )
    db.execute(
        "CREATE INDEX conversation_notes_conversation ON conversation_notes (conversation_id)"
    )
    db.execute(
        """
        CREATE TABLE saved_replies (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            title TEXT NOT NULL UNIQUE,
            body TEXT NOT NULL,              -- Markdown with {aanhef} {naam} ... placeholders
            updated_by TEXT NOT NULL,        -- staff:<email>
            updated_at TEXT NOT NULL         -- UTC
        )
        """
    )
    db.execute(
        """
        CREATE TABLE conversation_presence (
            conversation_id INTEGER NOT NULL,
            staff_email TEXT NOT NULL,
            staff_name TEXT NOT NULL,
            seen_at TEXT NOT NULL,           -- UTC; shown while recent
            PRIMARY KEY (conversation_id, staff_email)
        )
        """
    )


@migrations()
def m017_bounce_undo(db: Database) -> None:
    """A wrong bounce undone by staff (issue #15): the row stays as evidence, but no longer
    counts toward the bounce policy; who undid it, when and why."""
    bounces = db.table("bounces")
    bounces.add_column("undone_at", str)  # UTC
    bounces.add_column("undone_by", str)  # staff:<email>
    bounces.add_column("undo_reason", str)


@migrations()
def m018_listings(db: Database) -> None:
    """The console's lists at size: the readers of a province by name (the preview picker) and
    the items newest first (Inhoud)."""
    db.execute("CREATE INDEX subscribers_listing ON subscribers (province, name, id)")
    # Inhoud, newest first, a page at a time: read in index order instead of sorted each time.
    db.execute("CREATE INDEX items_listing ON items (published DESC, id)")


@migrations()
def m019_doctor(db: Database) -> None:  # `newsletter doctor` runs (issue #17)
    doctor_runs.create_table(db)


@migrations()
def m020_console_at_size(db: Database) -> None:
    """Logboek by person at size: the subscribers' names in a trigram index (a part of a name
    found without reading every name), kept in step by triggers. A migration that rebuilds
    `subscribers` (transform) must create the triggers again. And Inhoud: the items that are
    not removed, newest first, counted and paged in a smaller index (no row read to skip)."""
    db.execute("CREATE INDEX items_live ON items (published DESC, id) WHERE removed_at IS NULL")
    db.execute(
        "CREATE VIRTUAL TABLE subscriber_names USING fts5(name, content='subscribers', "
        "content_rowid='id', tokenize='trigram')"
    )
    db.execute("INSERT INTO subscriber_names (subscriber_names) VALUES ('rebuild')")
    names = "INSERT INTO subscriber_names (subscriber_names, rowid, name)"
    old = f"{names} VALUES ('delete', old.id, old.name);"
    new = "INSERT INTO subscriber_names (rowid, name) VALUES (new.id, new.name);"
    for name, when, body in (
        ("insert", "INSERT", new),
        ("delete", "DELETE", old),
        ("update", "UPDATE OF name", f"{old} {new}"),
    ):
        db.execute(
            f"CREATE TRIGGER subscriber_names_{name} AFTER {when} ON subscribers BEGIN {body} END"
        )
