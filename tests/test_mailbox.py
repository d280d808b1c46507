"""The contact mailbox, inbound: every message is stored exactly once, from a Maildir or IMAP."""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Inbox, Settings, load_settings
from newsletter.errors import ConfigError
from newsletter.inbound.mailbox import PASSWORD_ENV, fetch_inbox, purge_raw, raw_message

from .conftest import Runner

USER = "statenleden@ipo.example"
PASSWORD = "geheim-voor-tests"


def message(number: int, subject: str = "Vraag over de AV", message_id: bool = True) -> bytes:
    lines = [
        "From: Kees Sanders <kees.sanders@gld.example>",
        f"To: {USER}",
        f"Subject: {subject} {number}",
        "Date: Mon, 30 Nov 2026 10:00:00 +0100",
        *([f"Message-ID: <vraag-{number}@gld.example>"] if message_id else []),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "Beste collega's, wanneer is de volgende Algemene Vergadering?",
        "",
    ]
    return "\r\n".join(lines).encode()


TRUNCATED = (
    b"From: postmaster@gld.example\r\nTo: statenleden@ipo.example\r\n"
    b"Subject: Onbestelbaar\r\nMessage-ID: <cut-1@gld.example>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="XYZ"\r\n\r\n'
    b"--XYZ\r\nContent-Type: text/plain\r\n\r\nDe aflevering is mislukt voor"
)


def inbound(db: Database) -> list[dict]:
    return list(db.query("select * from inbound order by id"))


# -- Maildir --------------------------------------------------------------------------------


def deliver(folder: Path, name: str, data: bytes, sub: str = "new") -> Path:
    for part in ("new", "cur", "tmp"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    path = folder / sub / name
    path.write_bytes(data)
    return path


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_maildir_messages_are_stored_once_and_moved_to_verwerkt(
    settings: Settings, db: Database
) -> None:
    box = settings.project / "mailbox"
    deliver(box, "1764583200.M1P1.host", message(1))
    deliver(box, "1764583201.M2P1.host:2,S", message(2), sub="cur")  # read in a mail client
    report = fetch_inbox(db, settings, clock.now())
    assert report.summary() == ("Inbox: 2 new, 0 quarantined, 0 stored before; maildir:mailbox ok")
    rows = inbound(db)
    assert [r["message_id"] for r in rows] == ["<vraag-1@gld.example>", "<vraag-2@gld.example>"]
    assert [r["id"] for r in rows] == report.new_ids  # the classifier's hook
    assert {r["status"] for r in rows} == {"new"}
    assert rows[0]["from_address"] == "kees.sanders@gld.example"
    assert rows[0]["subject"] == "Vraag over de AV 1"
    assert raw_message(db, rows[0]["id"]) == message(1)
    # Nothing deleted: both are in the Maildir++ sub-folder, the second keeps its Seen flag.
    assert files(box / "new") == files(box / "cur") == []
    assert files(box / ".Verwerkt" / "cur") == [
        "1764583200.M1P1.host:2,",
        "1764583201.M2P1.host:2,S",
    ]
    assert (box / ".Verwerkt" / "maildirfolder").exists()

    again = fetch_inbox(db, settings, clock.now())
    assert again.new_ids == [] and again.already_stored == 0
    assert len(inbound(db)) == 2


def test_maildir_message_left_behind_by_a_crash_is_not_stored_twice(
    settings: Settings, db: Database
) -> None:
    """Stored, then killed before the move: the next fetch moves it and stores nothing."""
    box = settings.project / "mailbox"
    deliver(box, "1764583200.M1P1.host", message(1))
    fetch_inbox(db, settings, clock.now())
    deliver(box, "1764583200.M1P1.host", message(1))  # as if the move never happened
    deliver(box, "1764583300.M9P1.host", message(1))  # the same mail delivered a second time
    report = fetch_inbox(db, settings, clock.now())
    assert report.new_ids == [] and report.already_stored == 2
    assert len(inbound(db)) == 1
    assert files(box / "new") == []


def test_only_what_cannot_be_read_at_all_is_quarantined(settings: Settings, db: Database) -> None:
    """Issue #13: untidy mail (a cut-off MIME part, no Message-ID, 8-bit header bytes) is stored
    as new for the classifier; only a message that is no mail at all is quarantined."""
    box = settings.project / "mailbox"
    deliver(box, "1.a", TRUNCATED)
    deliver(box, "2.a", message(2, message_id=False))
    deliver(
        box, "3.a", b"From: x@gld.example\r\nSubject: caf\xe9\r\nMessage-ID: <8bit@x>\r\n\r\nhoi"
    )
    deliver(box, "4.a", message(4))
    deliver(box, "5.a", b"\x00\x01 PK\x03\x04 binary junk, no header at all")
    report = fetch_inbox(db, settings, clock.now())
    assert not report.failed
    rows = {r["source_uid"]: r for r in inbound(db)}
    reasons = {uid: (r["status"], r["reason"]) for uid, r in rows.items()}
    assert reasons["1.a"] == reasons["2.a"] == reasons["3.a"] == reasons["4.a"] == ("new", None)
    assert reasons["5.a"] == ("quarantined", "no mail headers: not a mail message")
    assert len(report.quarantined_ids) == 1 and len(report.new_ids) == 4
    assert rows["1.a"]["message_id"] == "<cut-1@gld.example>"
    assert rows["3.a"]["subject"] == "caf\ufffd"
    # Without a Message-ID: a synthetic one from its bytes, so the same mail is stored once.
    assert rows["2.a"]["message_id"].endswith("@no-message-id.invalid>")
    deliver(box, "6.a", message(2, message_id=False))
    again = fetch_inbox(db, settings, clock.now())
    assert again.new_ids == [] and again.already_stored == 1
    # Quarantined mail is kept for staff to look at, and out of the inbox too.
    assert raw_message(db, report.quarantined_ids[0]) == rows["5.a"]["raw"]
    assert files(box / "new") == []


def test_utf8_headers_are_fine(settings: Settings, db: Database) -> None:
    """RFC 6532 allows UTF-8 in headers; only bytes that are not UTF-8 are suspect."""
    box = settings.project / "mailbox"
    data = "From: Anaïs <a@fr.example>\r\nSubject: Fryslân\r\nMessage-ID: <u@fr.example>\r\n\r\nhoi"
    deliver(box, "1.a", data.encode())
    report = fetch_inbox(db, settings, clock.now())
    assert len(report.new_ids) == 1
    assert inbound(db)[0]["subject"] == "Fryslân"


def test_a_30_mb_message_is_quarantined_without_keeping_its_bytes(
    settings: Settings, db: Database
) -> None:
    box = settings.project / "mailbox"
    body = (b"QUFB" * 19 + b"\r\n") * 385_000  # a 30 MB base64 attachment's worth of lines
    deliver(box, "big.a", message(7).replace(b"Beste", body + b"\r\nBeste"))
    report = fetch_inbox(db, settings, clock.now())
    row = inbound(db)[0]
    assert report.quarantined_ids == [row["id"]]
    assert row["status"] == "quarantined" and row["reason"].startswith("too large: 30,")
    assert row["message_id"] == "<vraag-7@gld.example>"  # still known, so never fetched twice
    assert row["raw"] is None and row["size_bytes"] > 25_000_000
    assert files(box / ".Verwerkt" / "cur") == ["big.a:2,"]  # moved, not deleted


def test_raw_bytes_are_purged_after_the_retention(settings: Settings, db: Database) -> None:
    deliver(settings.project / "mailbox", "1.a", message(1))
    now = clock.now()
    [inbound_id] = fetch_inbox(db, settings, now).new_ids
    assert purge_raw(db, now + timedelta(days=89)) == 0
    assert raw_message(db, inbound_id) == message(1)
    assert purge_raw(db, now + timedelta(days=90)) == 1
    assert raw_message(db, inbound_id) is None
    row = inbound(db)[0]
    assert row["message_id"] == "<vraag-1@gld.example>"  # the row stays: still once only
    assert row["raw_purged_at"] == clock.utc_iso(now + timedelta(days=90))


def test_inbox_fetch_command_prints_a_summary(run: Runner, instance: Path) -> None:
    deliver(instance / "mailbox", "1.a", message(1))
    result = run("inbox", "fetch")
    assert result.exit_code == 0
    assert result.output.strip() == (
        "Inbox: 1 new, 0 quarantined, 0 stored before; maildir:mailbox ok\nProcessed: 1 question"
    )


def test_inbox_settings_are_read_and_checked(instance: Path) -> None:
    config = instance / "newsletter.toml"
    original = config.read_text(encoding="utf-8")
    config.write_text(
        original + '\n[inbox]\nsource = "imaps://statenleden@imap.ipo.example/INBOX"\n'
        "retention_days = 30\nmax_bytes = 10_000_000\n",
        encoding="utf-8",
    )
    inbox = load_settings(instance).inbox
    assert inbox.sources == ("imaps://statenleden@imap.ipo.example/INBOX",)
    assert (inbox.retention_days, inbox.max_bytes) == (30, 10_000_000)
    assert load_settings(instance).inbox.source == inbox.sources[0]

    for bad, says in [
        ('source = "pop3://mail.ipo.example"', "is not a known mailbox"),
        ('source = "imaps://imap.ipo.example/INBOX"', "needs a user and a host"),
        ('source = "imaps://u:geheim@imap.ipo.example/INBOX"', "NEWSLETTER_IMAP_PASSWORD"),
        ("retention_days = -1", "retention_days: must be a number"),
    ]:
        config.write_text(original + f"\n[inbox]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_settings(instance)
        assert str(config) in str(caught.value) and "[inbox]" in str(caught.value)
        assert says in str(caught.value)
        assert "geheim" not in str(caught.value)


# -- IMAP against a real Dovecot ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class Dovecot:
    folder: Path
    config: Path
    port: int
    tls_port: int
    cert: Path

    def url(self, scheme: str = "imap", query: str = "", port: int | None = None) -> str:
        default = self.tls_port if scheme == "imaps" else self.port
        return f"{scheme}://{USER}@127.0.0.1:{port or default}/INBOX{query}"

    def client(self):  # type: ignore[no-untyped-def]
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def doveadm(self, *args: str) -> None:
        subprocess.run(["doveadm", "-c", str(self.config), *args], check=True, timeout=30)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A throw-away Dovecot on 127.0.0.1 (see ../shared/recipes/dovecot-for-tests.md)."""
    binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        pytest.skip("the dovecot binary is not installed (apt-get install dovecot-imapd)")
    # Not under pytest's basetemp (mode 0700): Dovecot's auth process (user dovecot) reads the
    # users file and its mail processes (user nobody) the mail folder.
    folder = Path(tempfile.mkdtemp(prefix="newsletter-dovecot-"))
    os.chmod(folder, 0o755)
    for name in ("run", "state", "mail"):
        (folder / name).mkdir()
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    port, tls_port = free_port(), free_port()
    config = folder / "dovecot.conf"
    config.write_text(
        f"""protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{folder}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={folder}/mail/%u
}}
first_valid_uid = 1
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
""",
        encoding="utf-8",
    )
    (folder / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n", encoding="utf-8")
    if os.geteuid() == 0:
        shutil.chown(folder / "mail", "nobody", "nogroup")
    subprocess.run([binary, "-c", str(config)], check=True, timeout=30)
    server = Dovecot(folder, config, port, tls_port, cert)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                server.client().logout()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield server
    finally:
        subprocess.run(["doveadm", "-c", str(config), "stop"], check=False, timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def imap(
    dovecot: Dovecot, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Dovecot, Settings]]:
    """An empty INBOX (no Verwerkt folder yet) and settings that read it."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    client = dovecot.client()
    for folder in ("Verwerkt",):
        if client.folder_exists(folder):
            client.delete_folder(folder)
    client.select_folder("INBOX")
    client.delete_messages(client.search("ALL"))
    client.expunge()
    client.logout()
    yield dovecot, dataclasses.replace(settings, inbox=Inbox(sources=(dovecot.url(),)))


def append(server: Dovecot, *messages: bytes, folder: str = "INBOX") -> None:
    client = server.client()
    for data in messages:
        client.append(folder, data)
    client.logout()


def count(server: Dovecot, folder: str) -> int:
    client = server.client()
    try:
        if not client.folder_exists(folder):
            return 0
        return int(client.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])
    finally:
        client.logout()


def test_imap_messages_are_fetched_once_and_moved_to_verwerkt(
    imap: tuple[Dovecot, Settings], db: Database
) -> None:
    server, settings = imap
    append(server, message(1), message(2), message(3, message_id=False))
    report = fetch_inbox(db, settings, clock.now())
    assert not report.failed, report.failed
    assert len(report.new_ids) == 3 and len(report.quarantined_ids) == 0
    rows = inbound(db)
    assert [r["message_id"] for r in rows[:2]] == ["<vraag-1@gld.example>", "<vraag-2@gld.example>"]
    assert rows[2]["message_id"].endswith("@no-message-id.invalid>")  # none of its own
    assert raw_message(db, rows[0]["id"]) == message(1)
    assert [r["source_uid"] for r in rows] == ["1", "2", "3"]
    assert count(server, "INBOX") == 0 and count(server, "Verwerkt") == 3  # created, nothing lost

    state = db.table("inbox_state").get(server.url())
    assert state["last_uid"] == 3 and state["uidvalidity"] == rows[0]["uidvalidity"] > 0

    append(server, message(4))
    again = fetch_inbox(db, settings, clock.now())
    assert len(again.new_ids) == 1 and again.already_stored == 0
    assert len(inbound(db)) == 4 and count(server, "Verwerkt") == 4


def test_imap_new_uidvalidity_reads_again_but_processes_nothing_twice(
    imap: tuple[Dovecot, Settings], db: Database
) -> None:
    """A rebuilt mailbox: new UIDVALIDITY, old mail back in INBOX. The Message-ID decides."""
    server, settings = imap
    append(server, message(1), message(2))
    first = fetch_inbox(db, settings, clock.now())
    assert len(first.new_ids) == 2
    old = db.table("inbox_state").get(server.url())["uidvalidity"]

    # The server's mailbox was rebuilt: a new UIDVALIDITY, and old mail back in INBOX.
    server.doveadm("mailbox", "update", "-u", USER, "--uid-validity", str(old + 1000), "INBOX")
    append(server, message(1), message(2), message(5))
    report = fetch_inbox(db, settings, clock.now())
    assert not report.failed, report.failed
    assert report.already_stored == 2 and len(report.new_ids) == 1
    assert [r["message_id"] for r in inbound(db)] == [
        "<vraag-1@gld.example>",
        "<vraag-2@gld.example>",
        "<vraag-5@gld.example>",
    ]
    state = db.table("inbox_state").get(server.url())
    assert state["uidvalidity"] != old
    assert count(server, "INBOX") == 0


def test_imap_oversize_message_is_quarantined_without_its_body(
    imap: tuple[Dovecot, Settings], db: Database
) -> None:
    server, settings = imap
    small = dataclasses.replace(
        settings, inbox=dataclasses.replace(settings.inbox, max_bytes=2_000)
    )
    append(server, message(6).replace(b"Beste", b"x" * 5_000 + b"\r\nBeste"))
    report = fetch_inbox(db, small, clock.now())
    row = inbound(db)[0]
    assert report.quarantined_ids == [row["id"]] and row["raw"] is None
    assert row["message_id"] == "<vraag-6@gld.example>" and row["reason"].startswith("too large")
    assert count(server, "Verwerkt") == 1


def test_imap_over_starttls_and_imaps_with_the_servers_certificate(
    imap: tuple[Dovecot, Settings], db: Database
) -> None:
    server, settings = imap
    trusted = dataclasses.replace(
        settings.inbox, sources=(server.url("imap", "?starttls=1"), server.url("imaps"))
    )
    append(server, message(1))
    untrusted = fetch_inbox(db, dataclasses.replace(settings, inbox=trusted), clock.now())
    assert len(untrusted.failed) == 2  # a certificate nobody vouches for is refused
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.failed[0].error
    assert inbound(db) == [] and count(server, "INBOX") == 1

    trusted = dataclasses.replace(trusted, ca_file=str(server.cert))
    report = fetch_inbox(db, dataclasses.replace(settings, inbox=trusted), clock.now())
    assert not report.failed, report.failed
    assert len(report.new_ids) == 1 and count(server, "Verwerkt") == 1


def test_inbox_fetch_names_a_failed_source_and_exits_1(
    imap: tuple[Dovecot, Settings], run: Runner, instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = imap
    config = instance / "newsletter.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'\n[inbox]\nsource = ["maildir:mailbox", "{server.url()}"]\n',
        encoding="utf-8",
    )
    deliver(instance / "mailbox", "1.a", message(1))
    monkeypatch.setenv(PASSWORD_ENV, "verkeerd")
    result = run("inbox", "fetch")
    assert result.exit_code == 2  # the set-up is wrong: the maildir was still read
    assert f"Failed: {server.url()}: login refused" in result.output
    assert result.output.splitlines()[-2:] == [
        f"Inbox: 1 new, 0 quarantined, 0 stored before; maildir:mailbox ok, {server.url()} failed",
        "Processed: 1 question",
    ]
    assert "verkeerd" not in result.output

    monkeypatch.delenv(PASSWORD_ENV)
    result = run("inbox", "fetch")
    assert result.exit_code == 2 and f"set {PASSWORD_ENV}" in result.output


def test_forget_erases_what_the_inbox_holds_about_a_person(
    settings: Settings, loaded: Database, run: Runner
) -> None:
    """AVG: sender, subject and bytes go; the row stays so the mail is never fetched again."""
    box = settings.project / "mailbox"
    deliver(box, "1.a", message(1))  # from kees.sanders@gld.example
    bounce = TRUNCATED.replace(b"voor", b"voor kees.sanders@gld.example")
    deliver(box, "2.a", bounce)
    deliver(box, "3.a", message(3).replace(b"kees.sanders@gld.example", b"anna@ut.example"))
    fetch_inbox(loaded, settings, clock.now())
    shown = run("subscribers", "show", "kees.sanders@gld.example", "--json")
    assert '"inbound"' in shown.output and "Vraag over de AV 1" in shown.output

    result = run("subscribers", "forget", "kees.sanders@gld.example", "--yes")
    assert result.exit_code == 0, result.output
    assert "inbound 2" in result.output
    rows = {r["source_uid"]: r for r in inbound(loaded)}
    for uid in ("1.a", "2.a"):
        assert rows[uid]["from_address"] is None and rows[uid]["raw"] is None
        assert rows[uid]["subject"] is None and rows[uid]["message_id"]
    assert rows["3.a"]["from_address"] == "anna@ut.example" and rows["3.a"]["raw"]
    deliver(box, "1.a", message(1))
    assert fetch_inbox(loaded, settings, clock.now()).new_ids == []


def test_imap_server_without_move_gets_copy_delete_expunge(
    imap: tuple[Dovecot, Settings], db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Older servers lack MOVE (RFC 6851): the mail still ends up in Verwerkt, and only there."""
    from imapclient import IMAPClient

    server, settings = imap
    offered = IMAPClient.capabilities
    monkeypatch.setattr(
        IMAPClient, "capabilities", lambda self: tuple(c for c in offered(self) if c != b"MOVE")
    )
    append(server, message(1), message(2))
    report = fetch_inbox(db, settings, clock.now())
    assert not report.failed, report.failed
    assert len(report.new_ids) == 2
    assert count(server, "INBOX") == 0 and count(server, "Verwerkt") == 2
