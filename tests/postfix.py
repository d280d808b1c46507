"""A private Debian Postfix on 127.0.0.1 with OpenDKIM signing, relaying to an aiosmtpd "remote".

Nothing of the system's Postfix is used or touched: its own config directory, queue directory,
data directory, log file and ports, in a fresh folder (see shared/recipes/postfix-opendkim-for-
tests.md). OpenDKIM runs as a milter (on a Unix socket: on a loopback TCP socket each message
took ~0.1 s more) with a key generated here for the sender domain. Postfix
relays everything to the remote (a FaultySMTP from tests/faultsmtp.py that can refuse or defer
recipients after Postfix accepted them) and delivers mail for the sender domain itself, such as
its own DSNs to our VERP addresses, into a Maildir: the contact mailbox.

Queue and retry times are seconds, not minutes, so a deferred message goes out again at once.
Needs root (postfix start) and the packages postfix, opendkim and opendkim-tools; .ci/run
installs them. Without them a test skips locally and fails in CI.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.faultsmtp import FaultySMTP, free_port

DOMAIN = "ipo.example"
SELECTOR = "nieuwsbrief"
MAILBOX_USER = "contact"  # every address of DOMAIN is delivered to this one Maildir


class Remote(FaultySMTP):
    """The receiving side: FaultySMTP plus recipients deferred (451) a number of times."""

    def __init__(self) -> None:
        super().__init__()
        self.defer_times: dict[str, int] = {}  # 451 this many times, then accepted

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self.lock:
            left = self.defer_times.get(address, 0)
            if left:
                self.defer_times[address] = left - 1
                return "451 4.2.0 Mailbox busy, try again later"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


@dataclass
class Relay:
    """A running Postfix + OpenDKIM + remote; see relay()."""

    folder: Path
    port: int  # Postfix's smtpd: where our app hands off
    remote: Remote
    remote_port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.folder / "etc"

    @property
    def mailbox(self) -> Path:
        """The contact mailbox (a Maildir: new/, cur/, tmp/) Postfix delivers DSNs into."""
        return self.folder / "mail" / MAILBOX_USER

    @property
    def log(self) -> str:
        path = self.folder / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def public_key(self) -> bytes:
        """The DKIM public key as its DNS TXT record reads (v=DKIM1; k=rsa; p=...)."""
        text = (self.folder / "dkim" / f"{SELECTOR}.txt").read_text()
        parts = re.findall(r'"([^"]*)"', text)
        return "".join(parts).encode()

    def dns(self) -> Callable[..., bytes]:
        """dkimpy's dnsfunc: the selector's TXT record from the key file, no DNS."""
        record = self.public_key()
        name = f"{SELECTOR}._domainkey.{DOMAIN}."

        def lookup(query: bytes | str, timeout: int = 5) -> bytes:
            asked = query.decode() if isinstance(query, bytes) else query
            return record if asked.rstrip(".") + "." == name else b""

        return lookup

    def flush(self) -> None:
        """Try every deferred message now (postqueue -f)."""
        subprocess.run(["postqueue", "-c", str(self.config), "-f"], check=True, timeout=30)

    def queue_empty(self) -> bool:
        out = subprocess.run(
            ["postqueue", "-c", str(self.config), "-j"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return out.returncode == 0 and not out.stdout.strip()

    def mailbox_messages(self) -> list[Path]:
        return sorted(
            path
            for sub in ("new", "cur")
            if (self.mailbox / sub).is_dir()
            for path in (self.mailbox / sub).iterdir()
        )


def wait_for(what: str, check: Callable[[], bool], timeout: float, relay: Relay) -> None:
    """Poll until check() holds; on timeout fail with the Postfix log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = "\n".join(relay.log.splitlines()[-30:])
    raise AssertionError(f"timed out waiting for {what}; Postfix log:\n{tail}")


def available() -> str:
    """'' when Postfix and OpenDKIM can run here, else why not."""
    missing = [tool for tool in ("postfix", "opendkim", "opendkim-genkey") if not _which(tool)]
    if missing:
        return (
            f"not installed: {', '.join(missing)} (apt-get install postfix opendkim opendkim-tools)"
        )
    if os.geteuid() != 0:
        return "postfix start needs root"
    return ""


def _which(tool: str) -> str | None:
    return shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/bin")


def skip_or_fail_without_postfix() -> None:
    """Skip when Postfix cannot run here; in CI (CI=true) fail instead: it must run there."""
    why = available()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Postfix tests cannot run in CI: {why}")
        pytest.skip(why)


MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.{domain}
mydomain = {domain}
myorigin = {domain}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{remote}
virtual_mailbox_domains = {domain}
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = static:{user}/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = {d}/postfix.log
maillog_file_prefixes = {d}
smtp_tls_security_level = none
alias_maps =
alias_database =
smtpd_milters = unix:{d}/milter/opendkim.sock
non_smtpd_milters = unix:{d}/milter/opendkim.sock
milter_default_action = tempfail
# seconds, not minutes: a deferred message is tried again at once (tests and benchmarks)
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# no pause per message when arrivals outrun deliveries: the hand-off is what is measured
in_flow_delay = 0s
{extra}
"""

OPENDKIM_CONF = """\
Syslog no
Mode s
Domain {domain}
Selector {selector}
KeyFile {d}/dkim/{selector}.private
Socket local:{d}/milter/opendkim.sock
UMask 000
Canonicalization relaxed/relaxed
SignHeaders {signed}
OversignHeaders From,Subject,List-Unsubscribe,List-Unsubscribe-Post
UserID opendkim
PidFile {d}/opendkim.pid
RequireSafeKeys no
"""
# OpenDKIM's default list leaves List-Unsubscribe-Post out (RFC 8058 wants it signed), and an
# oversigned header that is not also signed makes every signature fail once it is present.
SIGNED_HEADERS = (
    "From,Reply-To,Subject,Date,To,Cc,Message-ID,MIME-Version,Content-Type,"
    "Content-Transfer-Encoding,Content-Language,List-Id,List-Unsubscribe,List-Unsubscribe-Post"
)


@contextmanager
def relay(
    remote: Remote | None = None,
    extra: str = "",
    sign: bool = True,
    remote_port: int | None = None,
    parent: Path | None = None,
) -> Iterator[Relay]:
    """Start the remote, OpenDKIM and Postfix; stop exactly those at the end.

    `extra` is appended to main.cf (e.g. delay_warning_time = 1s); `sign=False` leaves the
    milter out; `remote_port` relays to a server already listening there (the benchmark's
    sink) instead of starting the aiosmtpd remote; `parent` is where the folder is made.
    """
    remote = remote or Remote()
    folder = Path(tempfile.mkdtemp(prefix="postfix-", dir=parent))
    folder.chmod(0o755)  # the postfix and opendkim users must reach what is inside
    port = free_port()
    controller = None
    if remote_port is None:
        remote_port = free_port()
        controller = Controller(remote, hostname="127.0.0.1", port=remote_port)
        controller.start()
    started: list[str] = []
    try:
        _configure(folder, port, remote_port, extra, sign)
        if sign:
            subprocess.run(["opendkim", "-x", str(folder / "opendkim.conf")], check=True)
            started.append("opendkim")
        out = subprocess.run(
            ["postfix", "-c", str(folder / "etc"), "start"], capture_output=True, text=True
        )
        if out.returncode != 0:
            raise RuntimeError(f"postfix start failed: {out.stdout}{out.stderr}")
        started.append("postfix")
        running = Relay(folder, port, remote, remote_port)
        wait_for("Postfix to listen", lambda: _listening(port), 20, running)
        yield running
    finally:
        if "postfix" in started:
            subprocess.run(
                ["postfix", "-c", str(folder / "etc"), "abort"], capture_output=True, timeout=60
            )
        if "opendkim" in started:
            _stop_pid(folder / "opendkim.pid")
        if controller is not None:
            controller.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _configure(folder: Path, port: int, remote: int, extra: str, sign: bool) -> None:
    for sub in ("etc", "queue", "data", "mail", "dkim", "milter"):
        (folder / sub).mkdir()
    shutil.chown(folder / "milter", "opendkim")
    shutil.chown(folder / "data", "postfix")
    os.chown(folder / "mail", 65534, 65534)
    # Debian's master.cf ("No configuration" leaves the .proto only on a fresh install)
    master = next(
        path
        for path in (Path("/etc/postfix/master.cf"), Path("/etc/postfix/master.cf.proto"))
        if path.exists()
    ).read_text()
    master, n = re.subn(
        r"(?m)^smtp\s+inet\s+n\s+-\s+\S+\s+-\s+-\s+smtpd",
        f"127.0.0.1:{port}      inet  n       -       n       -       -       smtpd",
        master,
    )
    assert n == 1, "the smtpd line of /etc/postfix/master.cf is not as expected"
    (folder / "etc" / "master.cf").write_text(master)
    main = MAIN_CF.format(d=folder, domain=DOMAIN, user=MAILBOX_USER, remote=remote, extra=extra)
    if not sign:
        main = re.sub(
            r"(?m)^(smtpd_milters|non_smtpd_milters|milter_default_action) .*\n", "", main
        )
    (folder / "etc" / "main.cf").write_text(main)
    if sign:
        subprocess.run(
            [
                "opendkim-genkey",
                "-b",
                "2048",
                "-d",
                DOMAIN,
                "-s",
                SELECTOR,
                "-D",
                str(folder / "dkim"),
            ],
            check=True,
        )
        subprocess.run(["chown", "-R", "opendkim", str(folder / "dkim")], check=True)
        (folder / "opendkim.conf").write_text(
            OPENDKIM_CONF.format(d=folder, domain=DOMAIN, selector=SELECTOR, signed=SIGNED_HEADERS)
        )


def _listening(port: int) -> bool:
    with suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        return sock.recv(3) == b"220"
    return False


def _stop_pid(pidfile: Path) -> None:
    """End the one process whose id the file holds (ours), and wait for it to go."""
    with suppress(FileNotFoundError, ValueError, ProcessLookupError):
        pid = int(pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(pid, 0)  # raises ProcessLookupError once it is gone
            time.sleep(0.05)
