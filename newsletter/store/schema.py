"""The schema: versioned migrations (sqlite-utils Migrations), applied when the store is opened."""

from __future__ import annotations

import re

from sqlite_utils import Database, Migrations

migrations = Migrations("newsletter")


@migrations()
def m001_content(db: Database) -> None:
    db.table("items").create(
        {
            "id": str,
            "kind": str,
            "source": str,  # "file" or "feed:<name>"
            "path": str,  # content file relative to the instance, or the feed item's link
            "title": str,
            "theme": str,
            "section": str,
            "published": str,  # ISO date
            "starts_at": str,  # ISO date-time (Europe/Amsterdam) for meetings and events
            "link": str,
            "data": str,  # JSON: every validated field of the kind
            "body_html": str,
            "body_text": str,
            "content_hash": str,
            "synced_at": str,
            "removed_at": str,  # the file is gone; kept so sent issues stay explainable
        },
        pk="id",
    )
    db.table("items").create_index(["kind", "published"])
    db.table("feeds").create(
        {
            "name": str,
            "url": str,
            "etag": str,
            "last_modified": str,
            "fetched_at": str,
            "status": str,  # ok, not-modified, error
            "error": str,
            "items_seen": int,
        },
        pk="name",
    )


@migrations()
def m002_subscribers(db: Database) -> None:
    db.table("subscribers").create(
        {
            "id": int,
            "email": str,
            "name": str,
            "first_name": str,
            "last_name": str,
            "salutation": str,
            "province": str,  # None for staff
            "status": str,  # pending, active, unsubscribed, bounced, erased
            "themes": str,  # JSON list of theme keys; empty list = all
            "source": str,
            "consent_at": str,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"email", "status"},
    )
    db.table("subscribers").create_index(["email"], unique=True)
    db.table("mandates").create(
        {
            "id": int,
            "subscriber_id": int,
            "role": str,
            "province": str,
            "starts_on": str,
            "ends_on": str,
            "source": str,
        },
        pk="id",
        foreign_keys=[("subscriber_id", "subscribers", "id")],
    )
    db.table("mandates").create_index(
        ["subscriber_id", "role", "province", "starts_on"], unique=True
    )
    db.table("suppressions").create(
        {"email_hash": str, "reason": str, "created_at": str}, pk="email_hash"
    )


@migrations()
def m003_mailings(db: Database) -> None:
    db.table("issues").create(
        {
            "month": str,
            "subject": str,
            "content_hash": str,
            "item_ids": str,  # JSON list
            "variants": str,  # JSON list of variant keys
            "built_at": str,
        },
        pk="month",
    )
    db.table("mailings").create(
        {
            "id": str,  # e.g. issue-2026-12
            "kind": str,  # issue, onboarding, test
            "issue_month": str,
            "subject": str,
            "content_hash": str,
            "status": str,  # sending, sent, sent-with-failures
            "created_at": str,
            "started_at": str,
            "finished_at": str,
        },
        pk="id",
    )
    db.table("deliveries").create(
        {
            "id": int,
            "mailing_id": str,
            "subscriber_id": int,
            "email": str,
            "variant": str,
            "status": str,  # queued, sending, sent, failed
            "message_id": str,
            "attempts": int,
            "last_reply": str,
            "queued_at": str,
            "sending_at": str,
            "sent_at": str,
        },
        pk="id",
        foreign_keys=[("mailing_id", "mailings", "id")],
    )
    db.table("deliveries").create_index(["mailing_id", "subscriber_id"], unique=True)
    db.table("deliveries").create_index(["mailing_id", "status"])


@migrations()
def m004_delivery_engine(db: Database) -> None:
    deliveries = db.table("deliveries")
    deliveries.add_column("next_attempt_at", str)  # a deferred row waits until then (UTC)
    deliveries.add_column("first_attempt_at", str)  # the retry window counts from here
    deliveries.add_column("duration_ms", float)  # how long the relay took to answer
    deliveries.add_column("envelope_from", str)  # MAIL FROM, e.g. bounces+TOKEN@...
    db.table("bounces").create(
        {
            "id": int,
            "subscriber_id": int,
            "delivery_id": int,
            "mailing_id": str,
            "source": str,  # smtp (refused while sending) or dsn (a report that came back)
            "kind": str,  # hard, soft, policy: the contact mailbox's policy decides what follows
            "reply": str,
            "created_at": str,
        },
        pk="id",
    )
    db.table("bounces").create_index(["subscriber_id"])


@migrations()
def m005_audit(db: Database) -> None:
    db.table("events").create(
        {
            "id": int,
            "at": str,  # UTC
            "actor": str,  # web, cli:<user>, tick, import:<file> ...
            "action": str,  # unsubscribe, preferences, subscribe, confirm, forget, send ...
            "subject": str,  # what it was about: subscriber:<id>, issue-2026-12 ...
            "detail": str,  # JSON
        },
        pk="id",
    )
    db.table("events").create_index(["subject"])
    db.table("subscribers").add_column("consent_text", str)  # the version of the consent text


@migrations(transactional=False)  # PRAGMA foreign_keys can only change outside a transaction
def m006_privacy(db: Database) -> None:
    """Ids are never handed out again (AUTOINCREMENT): after `subscribers forget` the person's
    old signed links (subscriber id) and bounce addresses (delivery id) cannot name someone new.
    """
    db.execute("PRAGMA foreign_keys = OFF")  # the tables are rebuilt with every row kept
    try:
        with db.atomic():
            for name in ("subscribers", "deliveries"):
                _never_reuse_ids(db, name)
            broken = db.execute("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"m006_privacy would break foreign keys: {broken[:3]}")
    finally:
        db.execute("PRAGMA foreign_keys = ON")


def _never_reuse_ids(db: Database, name: str) -> None:
    """Rebuild a table with `id INTEGER PRIMARY KEY AUTOINCREMENT`, keeping rows and indexes."""
    schema = str(db.table(name).schema)
    if "AUTOINCREMENT" in schema.upper():
        return  # already done (the migration is not transactional, so it may run twice)
    new = f"{name}_m006"
    sql, found = re.subn(
        r"""^(CREATE TABLE\s+)(?:IF NOT EXISTS\s+)?["\[`]?\w+["\]`]?(.*?["\[`]?id["\]`]?"""
        r"""\s+INTEGER\s+PRIMARY\s+KEY)""",
        rf'\1"{new}"\2 AUTOINCREMENT',
        schema,
        count=1,
        flags=re.I | re.S,
    )
    if not found:
        raise RuntimeError(f"m006_privacy: {name} has no id INTEGER PRIMARY KEY: {schema}")
    extras = [
        row[0]
        for row in db.execute(
            "select sql from sqlite_master where tbl_name = ? and type in ('index', 'trigger') "
            "and sql is not null",
            [name],
        )
    ]
    columns = ", ".join(f'"{c}"' for c in db.table(name).columns_dict)
    db.execute(sql)
    db.execute(f'insert into "{new}" ({columns}) select {columns} from "{name}"')
    db.execute(f'drop table "{name}"')
    db.execute(f'alter table "{new}" rename to "{name}"')
    for statement in extras:
        db.execute(statement)


@migrations()
def m007_inbox(db: Database) -> None:
    """The contact mailbox: every message read (`inbound`) and how far each source was read."""
    db.execute(
        """
        CREATE TABLE inbound (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            source TEXT NOT NULL,            -- the [inbox] source URL it came from
            source_uid TEXT NOT NULL,        -- IMAP UID, or the Maildir file's key
            uidvalidity INTEGER NOT NULL,    -- the IMAP folder's UIDVALIDITY; 0 for a Maildir
            message_id TEXT,                 -- the Message-ID header, if it has one
            from_address TEXT,
            subject TEXT,
            received_at TEXT,                -- when the mailbox got it (UTC)
            fetched_at TEXT,                 -- when `inbox fetch` stored it (UTC)
            size_bytes INTEGER,
            raw BLOB,                        -- the message as received; purged after retention
            raw_purge_after TEXT,
            raw_purged_at TEXT,
            status TEXT NOT NULL,            -- new, processed, quarantined
            reason TEXT                      -- why it is quarantined, or how it was processed
        )
        """
    )
    # Exactly once: a message is stored once per source position, and once per Message-ID.
    db.execute(
        "CREATE UNIQUE INDEX inbound_once_per_source ON inbound (source, uidvalidity, source_uid)"
    )
    db.execute(
        "CREATE UNIQUE INDEX inbound_once_per_message_id ON inbound (message_id) "
        "WHERE message_id IS NOT NULL"
    )
    db.execute("CREATE INDEX inbound_status ON inbound (status)")
    db.table("inbox_state").create(
        {"source": str, "uidvalidity": int, "last_uid": int, "fetched_at": str}, pk="source"
    )


@migrations()
def m008_processing(db: Database) -> None:
    """Processing the contact mailbox: what each message was and what was done about it."""
    inbound = db.table("inbound")
    inbound.add_column("kind", str)  # bounce, complaint, autoreply, unsubscribe, delivered, message
    inbound.add_column("verdict", str)  # JSON: classify.Verdict with its findings and evidence
    inbound.add_column("outcome", str)  # JSON: what processing did (deliveries tied, changes)
    inbound.add_column("processed_at", str)  # UTC
    inbound.add_column("subscriber_id", int)  # the subscriber it is about, when known
    inbound.add_column("delivery_id", int)  # the delivery a bounce or complaint is about
    inbound.add_column("return_date", str)  # an auto-reply's first day back (ISO date)
    db.execute("CREATE INDEX inbound_kind ON inbound (kind, status)")
    bounces = db.table("bounces")
    bounces.add_column("inbound_id", int)  # the report it came from (source dsn or arf)
    bounces.add_column("tied_by", str)  # verp, message-id or final-recipient
    bounces.create_index(["mailing_id", "kind"])


@migrations()
def m009_conversations(db: Database) -> None:
    """Conversations: the questions staff answer, and every message in and out of them."""
    db.execute(
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            subject TEXT,
            status TEXT NOT NULL,            -- new, open, waiting, closed
            assignee TEXT,
            theme TEXT NOT NULL,             -- a key of [themes]
            theme_guessed INTEGER NOT NULL,  -- 1: guessed from the words, 0: set by staff
            theme_evidence TEXT,             -- the words that decided the guess
            correspondent_email TEXT NOT NULL,
            correspondent_name TEXT,
            subscriber_id INTEGER,           -- the subscriber with that address, if any
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX conversations_status ON conversations (status, theme)")
    db.execute("CREATE INDEX conversations_correspondent ON conversations (correspondent_email)")
    db.execute(
        """
        CREATE TABLE conversation_messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL REFERENCES conversations (id),
            inbound_id INTEGER,              -- the inbound row of a received message
            direction TEXT NOT NULL,         -- in, out
            kind TEXT NOT NULL,              -- question, reply, acknowledgement
            message_id TEXT,
            in_reply_to TEXT,
            references_chain TEXT,           -- the References header, ids separated by spaces
            from_address TEXT,
            from_name TEXT,
            to_address TEXT,
            subject TEXT,
            body_text TEXT,
            received_at TEXT,                -- in: when the mailbox got it
            sent_at TEXT,                    -- out: when we sent it; in: its Date header
            author TEXT                      -- out: who wrote the reply
        )
        """
    )
    db.execute(
        "CREATE UNIQUE INDEX conversation_messages_inbound ON conversation_messages (inbound_id) "
        "WHERE inbound_id IS NOT NULL"
    )
    db.execute(
        "CREATE INDEX conversation_messages_message_id ON conversation_messages (message_id)"
    )
    db.execute(
        "CREATE INDEX conversation_messages_thread ON conversation_messages (conversation_id)"
    )


@migrations()
def m010_workflow(db: Database) -> None:
    """The editorial workflow: each issue's state, who reviewed and approved it, its schedule,
    and the approved (frozen) rendering that is what gets sent and archived."""
    db.execute(
        """
        CREATE TABLE issue_workflow (
            month TEXT PRIMARY KEY,          -- YYYY-MM, as content/issues/MONTH.md
            state TEXT NOT NULL,             -- draft, review, approved, scheduled, sending,
                                             -- sent, cancelled
            editor TEXT,                     -- who last submitted it for review
            reviewed_at TEXT,
            reviewed_hash TEXT,              -- Issue.content_hash() when submitted
            approved_by TEXT,
            approved_at TEXT,
            approved_hash TEXT,              -- sha256 over subject and every rendered variant
            approved_content_hash TEXT,      -- Issue.content_hash() of the approved version
            approved_items TEXT,             -- JSON {item id: content hash}, to say what changed
            approved_subject TEXT,
            approved_issue TEXT,             -- JSON: the approved issue with its items, so a
                                             -- send goes on unchanged whatever is edited
            scheduled_for TEXT,              -- UTC; set while scheduled, kept when missed
            schedule_missed_at TEXT,         -- when tick held back a schedule missed too long
            revoked_reason TEXT,             -- why the last approval was withdrawn
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE approved_variants (
            month TEXT NOT NULL,
            variant TEXT NOT NULL,           -- province code, ALG, WEB, or GLD:themes-left-out
            html TEXT NOT NULL,
            text TEXT NOT NULL,
            PRIMARY KEY (month, variant)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE approved_calendar (
            month TEXT NOT NULL,
            item_id TEXT NOT NULL,           -- the archive's agenda/<item_id>.ics
            ics BLOB NOT NULL,
            PRIMARY KEY (month, item_id)
        )
        """
    )


@migrations()
def m011_onboarding(db: Database) -> None:
    """The onboarding programme: who follows which sequence, and what was decided per step.

    A step is decided once per (person, sequence, step): queued (its delivery row is in the
    ledger, made in the same transaction), merged (sent inside another step's message) or
    skipped (its moment passed). A re-appointed member keeps these, so nothing goes twice.
    """
    db.execute(
        """
        CREATE TABLE onboarding_enrolments (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
            sequence TEXT NOT NULL,          -- content/onboarding/<sequence>.yaml
            starts_on TEXT NOT NULL,         -- T0: the first day of the mandate (ISO date)
            source TEXT NOT NULL,            -- mandate, manual
            mandate_id INTEGER,              -- the mandate it follows, when from one
            buddy_id INTEGER,                -- an AV member from another province
            status TEXT NOT NULL,            -- active, stopped
            stopped_reason TEXT,
            enrolled_at TEXT NOT NULL,       -- UTC
            updated_at TEXT NOT NULL
        )
        """
    )
    db.execute(
        "CREATE UNIQUE INDEX onboarding_enrolment_once "
        "ON onboarding_enrolments (subscriber_id, sequence)"
    )
    db.execute(
        """
        CREATE TABLE onboarding_steps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            subscriber_id INTEGER NOT NULL REFERENCES subscribers (id),
            sequence TEXT NOT NULL,
            step_key TEXT NOT NULL,          -- the step id, or id@meeting for a recurring one
            status TEXT NOT NULL,            -- queued, merged, skipped
            mailing_id TEXT,                 -- the ledger mailing that carries it
            planned_for TEXT,                -- the moment the plan gave it (UTC)
            expires_at TEXT,                 -- after this it is stale: not sent, even if queued
            decided_at TEXT NOT NULL,        -- UTC
            reason TEXT
        )
        """
    )
    db.execute(
        "CREATE UNIQUE INDEX onboarding_step_once "
        "ON onboarding_steps (subscriber_id, sequence, step_key)"
    )
    db.execute("CREATE INDEX onboarding_step_mailing ON onboarding_steps (mailing_id)")
    # A member's own deliveries (their onboarding steps), without scanning every issue's rows.
    db.execute("CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id)")


@migrations()
def m012_preflight_passes(db: Database) -> None:
    """Versions that passed the preflight (issue #12): approve and send check a version once.

    The key is a hash of the version's rendered messages and pages as the preflight checks
    them, with the versions of the preflight code and tools: a change to either checks again.
    """
    db.execute(
        """
        CREATE TABLE preflight_passes (
            key TEXT PRIMARY KEY,            -- sha256: rendered version + tool versions
            month TEXT NOT NULL,             -- the issue it was
            checked_at TEXT NOT NULL,        -- UTC
            summary TEXT NOT NULL,           -- the check's summary line
            names TEXT NOT NULL,             -- JSON: the messages and pages checked
            warnings TEXT NOT NULL           -- JSON: the warnings it found (a pass has no errors)
        )
        """
    )


@migrations()
def m013_conversation_note(db: Database) -> None:
    """A note on a conversation for staff, e.g. "afmelding niet bevestigd" (issue #13)."""
    db.table("conversations").add_column("note", str)


@migrations()
def m014_pending_erasures(db: Database) -> None:
    """Files still to be cleared of a forgotten person (issue #13): `forget` writes the record
    in the transaction that erases them from the store, clears the files after the commit and
    then deletes the record; the next `forget` or tick finishes a record a crash left behind."""
    db.execute(
        """
        CREATE TABLE pending_erasures (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at TEXT NOT NULL,        -- UTC
            detail TEXT NOT NULL             -- JSON: what to look for, their own outbox files
        )
        """
    )


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
def m019_console_at_size(db: Database) -> None:
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
