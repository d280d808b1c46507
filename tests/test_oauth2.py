"""Microsoft 365 sign-in (issue #17): IMAP and SMTP with an OAuth2 access token (XOAUTH2) got by
the client-credentials flow, against real parts on 127.0.0.1: the OpenID provider of the
console's sign-on tests (tests/oidc/server.mjs) hands out the tokens, and Dovecot, with its
`oauth2` passdb, checks each one at that provider (token introspection) for IMAP and for its
submission service, which relays to an aiosmtpd "remote" server.

One provider, one Dovecot and one relay for the module; the instance is fresh per test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from base64 import urlsafe_b64encode
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller

from newsletter import oauth2
from newsletter.config import load_settings
from newsletter.errors import ConfigError
from newsletter.outbound.transports import Envelope, send_one
from tests.conftest import Runner
from tests.test_console import free_port

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("staff")]

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "tests" / "oidc" / "server.mjs"
TOOLS = ROOT / "tools"
IN_CI = os.environ.get("CI") == "true"
MAILBOX = "statenleden@ipo.example"
QUESTION = (
    "From: Kees Sanders <kees.sanders@gld.example>\r\n"
    "To: IPO Statenleden <statenleden@ipo.example>\r\n"
    "Subject: Vraag over de AV\r\n"
    "Date: Mon, 30 Nov 2026 10:00:00 +0100\r\n"
    "Message-ID: <vraag-{n}@gld.example>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Wanneer is de volgende Algemene Vergadering?\r\n\r\nKees\r\n"
)


def _missing() -> str:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (TOOLS / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider is not in tools/ (make tools)"
    if shutil.which("dovecot", path=f"{os.environ.get('PATH', '')}:/usr/sbin") is None:
        return "the dovecot binary is not installed (apt-get install dovecot-imapd)"
    if not Path("/usr/lib/dovecot/submission").exists():
        return "Dovecot's submission service is not installed (apt-get install dovecot-submissiond)"
    return ""


@dataclass
class Provider:
    url: str
    process: subprocess.Popen[bytes]
    output: bytes = b""

    def issued(self, client: str = "mailer") -> int:
        """How many client-credentials tokens the provider has handed to `client`. It prints
        the line before it answers, and Node writes to a pipe synchronously on Linux: what an
        answered request printed is in the pipe already."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.output += chunk
        return self.output.decode().splitlines().count(f"issued {client}")

    def revoke(self, token: str) -> None:
        answer = requests.post(
            f"{self.url}/token/revocation",
            data={"token": token, "client_id": "mailer", "client_secret": "mailer-secret"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text


@dataclass
class Servers:
    provider: Provider
    folder: Path
    config: Path
    imaps: int
    submission: int
    relayed: list[Any]
    cert: Path
    key: Path

    def deliver(self, data: str) -> None:
        """Put a message into the mailbox as the mail server's delivery would."""
        subprocess.run(
            ["doveadm", "-c", str(self.config), "save", "-u", MAILBOX],
            input=data.encode(),
            check=True,
            timeout=30,
        )

    def log(self) -> str:
        return (self.folder / "dovecot.log").read_text(encoding="utf-8", errors="replace")


class Relay:
    """The remote server Dovecot's submission service relays to: keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


def _start_provider(port: int, jwk: str) -> Provider:
    process = subprocess.Popen(
        ["node", str(SERVER), str(port), "http://127.0.0.1:1/cb", str(TOOLS.resolve())],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, MAILER_CERT_JWK=jwk),
    )
    assert process.stdout is not None
    first = process.stdout.readline().decode().strip()
    assert first.startswith("ready "), first
    os.set_blocking(process.stdout.fileno(), False)
    return Provider(first.removeprefix("ready "), process)


def _dovecot_config(folder: Path, provider: str, imaps: int, submission: int, relay: int) -> str:
    introspection = provider.replace("http://", "http://dovecot:dovecot-secret@")
    (folder / "oauth2.conf.ext").write_text(
        f"""introspection_mode = post
introspection_url = {introspection}/token/introspection
force_introspection = yes
username_attribute = email
active_attribute = active
active_value = true
""",
        encoding="utf-8",
    )
    return f"""protocols = imap submission
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
ssl = yes
ssl_cert = <{folder}/cert.pem
ssl_key = <{folder}/key.pem
disable_plaintext_auth = no
auth_mechanisms = xoauth2 oauthbearer
auth_failure_delay = 0
auth_verbose = yes
mail_location = maildir:{folder}/mail/%u
hostname = mail.ipo.example
submission_relay_host = 127.0.0.1
submission_relay_port = {relay}
submission_relay_trusted = yes
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {folder}/oauth2.conf.ext
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={folder}/mail/%u allow_all_users=yes
}}
first_valid_uid = 1
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
  }}
  chroot =
}}
service submission-login {{
  inet_listener submission {{
    address = 127.0.0.1
    port = {submission}
  }}
  chroot =
}}
service anvil {{
  chroot =
  # No growing delay (up to 15 s) after the refusals the tests provoke: the auth penalty of
  # an address is off when the auth process cannot reach this socket.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""


def public_jwk(cert: Path) -> dict[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = x509.load_pem_x509_certificate(cert.read_bytes()).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    numbers = key.public_numbers()

    def b64(number: int) -> str:
        data = number.to_bytes((number.bit_length() + 7) // 8, "big")
        return urlsafe_b64encode(data).decode().rstrip("=")

    return {"kty": "RSA", "alg": "RS256", "use": "sig", "n": b64(numbers.n), "e": b64(numbers.e)}


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    missing = _missing()
    if missing:
        if IN_CI:
            pytest.fail(f"missing in CI: {missing}")
        pytest.skip(missing)
    # Not under pytest's basetemp (mode 0700): Dovecot's auth and mail processes read it.
    folder = Path(tempfile.mkdtemp(prefix="newsletter-oauth2-"))
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
    jwk = public_jwk(cert)  # the app's certificate, as uploaded to its registration
    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=free_port())
    controller.start()
    provider = _start_provider(free_port(), json.dumps(jwk))
    imaps, submission = free_port(), free_port()
    config = folder / "dovecot.conf"
    config.write_text(
        _dovecot_config(folder, provider.url, imaps, submission, controller.port),
        encoding="utf-8",
    )
    if os.geteuid() == 0:
        shutil.chown(folder / "mail", "nobody", "nogroup")
    try:
        subprocess.run(["dovecot", "-c", str(config)], check=True, timeout=30)
        yield Servers(provider, folder, config, imaps, submission, relay.messages, cert, key)
    finally:
        subprocess.run(["doveadm", "-c", str(config), "stop"], check=False, timeout=30)
        provider.process.terminate()
        provider.process.wait(timeout=10)
        controller.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def fresh_tokens() -> Iterator[None]:
    """Every test starts as a new process would: no token kept."""
    oauth2._cache.clear()
    yield
    oauth2._cache.clear()


def configure(
    instance: Path, servers: Servers, client: str = "mailer", token_url: str = ""
) -> None:
    """The instance reads the mailbox and sends through Dovecot, signing in with OAuth2."""
    shutil.copy(servers.cert, instance / "imap-ca.pem")
    config = instance / "newsletter.toml"
    text = config.read_text(encoding="utf-8")
    mailbox = MAILBOX.replace("@", "%40")
    transport = f"smtp://{mailbox}@127.0.0.1:{servers.submission}?auth=oauth2"
    text = text.replace('transport = "outbox:outbox"', f'transport = "{transport}"')
    text += f"""
[inbox]
source = "imaps://{mailbox}@127.0.0.1:{servers.imaps}/INBOX?auth=oauth2"
ca_file = "imap-ca.pem"

[oauth2]
token_url = "{token_url or servers.provider.url + "/token"}"
client_id = "{client}"
scope = "mail"
"""
    config.write_text(text, encoding="utf-8")


def test_the_mailbox_is_read_and_a_reply_sent_with_one_oauth2_token(
    servers: Servers,
    instance: Path,
    run: Runner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(instance, servers)
    monkeypatch.setenv("NEWSLETTER_OAUTH2_SECRET", "mailer-secret")
    before = servers.provider.issued()
    servers.deliver(QUESTION.format(n=1))

    fetched = run("inbox", "fetch")
    assert fetched.exit_code == 0, fetched.output
    assert "Inbox: 1 new" in fetched.output and "Processed: 1 question" in fetched.output
    listed = json.loads(run("inbox", "list", "--json").stdout)
    assert [(c["subject"], c["status"]) for c in listed] == [("Vraag over de AV", "new")]

    answer = tmp_path / "antwoord.md"
    answer.write_text("De AV is op **4 december**.", encoding="utf-8")
    replied = run("inbox", "reply", "1", "--file", str(answer), "--yes", "--by", "Sanne de Vries")
    assert replied.exit_code == 0, replied.output
    assert "replied to kees.sanders@gld.example" in replied.output

    # Through Dovecot's submission service to the remote server, signed in as the mailbox.
    envelope = servers.relayed[-1]
    assert envelope.rcpt_tos == ["kees.sanders@gld.example"]
    sent = message_from_bytes(envelope.content)
    assert sent["Subject"] == "Re: Vraag over de AV"
    assert sent["In-Reply-To"] == "<vraag-1@gld.example>"
    log = servers.log()
    assert f"imap-login: Info: Login: user=<{MAILBOX}>, method=XOAUTH2" in log
    assert f"submission-login: Info: Login: user=<{MAILBOX}>, method=XOAUTH2" in log

    # One process, two connections and a second fetch: the provider was asked once.
    servers.deliver(QUESTION.format(n=2))
    assert run("inbox", "fetch").exit_code == 0
    assert servers.provider.issued() - before == 1


def test_a_token_is_fetched_again_before_it_expires_and_after_it_was_revoked(
    servers: Servers, instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(instance, servers)
    monkeypatch.setenv("NEWSLETTER_OAUTH2_SECRET", "mailer-secret")
    settings = load_settings(instance)
    assert settings.oauth2 is not None
    before = servers.provider.issued()

    def send() -> str:
        envelope = Envelope(sender=MAILBOX, recipient="griffie@gld.example", message_id="<t@x>")
        data = b"From: statenleden@ipo.example\r\nSubject: test\r\nMessage-ID: <t@x>\r\n\r\nx\r\n"
        return send_one(settings.transport, settings.project, envelope, data)

    assert send().startswith("250")
    _, cached = oauth2.access_token(settings.oauth2)
    assert cached and servers.provider.issued() - before == 1

    # The provider's tokens live 600 s; one that expires within REFRESH_MARGIN is not used.
    now = time.monotonic()
    monkeypatch.setattr(oauth2, "_monotonic", lambda: now + 600 - oauth2.REFRESH_MARGIN + 1)
    assert send().startswith("250")
    assert servers.provider.issued() - before == 2
    monkeypatch.setattr(oauth2, "_monotonic", time.monotonic)

    # Revoked at the provider (Dovecot asks it at every sign-in): the server refuses the
    # cached token, and the next sign-in gets a fresh one once.
    newest, _ = oauth2.access_token(settings.oauth2)
    servers.provider.revoke(newest)
    assert send().startswith("250")
    assert servers.provider.issued() - before == 3
    assert "oauth2 failed: Introspection failed: Provided token is not valid" in servers.log()


def test_a_refused_token_a_wrong_secret_and_no_endpoint_are_one_line_and_exit_2(
    servers: Servers, instance: Path, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = instance / "newsletter.toml"
    original = config.read_text(encoding="utf-8")
    servers.deliver(QUESTION.format(n=3))

    # A token the server refuses even when fresh (an app without access to this mailbox).
    configure(instance, servers, client="mailer-elders")
    monkeypatch.setenv("NEWSLETTER_OAUTH2_SECRET", "elders-secret")
    result = run("inbox", "fetch")
    assert result.exit_code == 2
    [line] = [ln for ln in result.output.splitlines() if ln.startswith("Failed:")]
    assert f"refused the OAuth2 token of client mailer-elders for {MAILBOX}" in line
    assert "expired or revoked" in line and "IMAP.AccessAsApp" in line
    settings = load_settings(instance)
    with pytest.raises(oauth2.OAuth2Error, match=r"SMTP\.SendAsApp"):
        send_one(
            settings.transport,
            settings.project,
            Envelope(MAILBOX, "kees.sanders@gld.example", "<x@y>"),
            b"Subject: x\r\n\r\nx\r\n",
        )

    # A wrong secret: the provider refuses the client itself.
    config.write_text(original, encoding="utf-8")
    configure(instance, servers)
    monkeypatch.setenv("NEWSLETTER_OAUTH2_SECRET", "verkeerd")
    result = run("inbox", "fetch")
    assert result.exit_code == 2
    assert (
        f"the OAuth2 token endpoint {servers.provider.url}/token refused client mailer "
        "(invalid_client: client authentication failed); check [oauth2] client_id and "
        "NEWSLETTER_OAUTH2_SECRET" in result.output
    )
    assert "verkeerd" not in result.output and "Traceback" not in result.output

    # No secret at all, and a token endpoint nobody answers at.
    monkeypatch.delenv("NEWSLETTER_OAUTH2_SECRET")
    assert "needs its secret: set NEWSLETTER_OAUTH2_SECRET" in run("inbox", "fetch").output
    config.write_text(original, encoding="utf-8")
    closed = f"http://127.0.0.1:{free_port()}/token"
    configure(instance, servers, token_url=closed)
    monkeypatch.setenv("NEWSLETTER_OAUTH2_SECRET", "mailer-secret")
    result = run("inbox", "fetch")
    assert result.exit_code == 2
    assert f"cannot reach the OAuth2 token endpoint {closed} (connection refused)" in (
        result.output
    )


def test_the_app_can_sign_in_with_a_certificate_instead_of_a_secret(
    servers: Servers, instance: Path, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(instance, servers, client="mailer-cert")
    pem = instance / "app.pem"
    pem.write_bytes(servers.key.read_bytes() + servers.cert.read_bytes())
    config = instance / "newsletter.toml"
    config.write_text(
        config.read_text(encoding="utf-8") + 'certificate = "app.pem"\n', encoding="utf-8"
    )
    monkeypatch.delenv("NEWSLETTER_OAUTH2_SECRET", raising=False)
    servers.deliver(QUESTION.format(n=4))
    result = run("inbox", "fetch")
    assert result.exit_code == 0, result.output
    assert servers.provider.issued("mailer-cert") >= 1


# -- the settings, without servers -----------------------------------------------------------


def test_oauth2_settings_derive_the_microsoft_token_url_and_name_the_key_when_wrong(
    instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = instance / "newsletter.toml"
    original = config.read_text(encoding="utf-8")
    oauth = (
        '\n[oauth2]\ntenant = "ipo.example"\nclient_id = "11111111-2222-3333-4444-555555555555"\n'
    )
    transport = "smtp://statenleden%40ipo.example@smtp.office365.com:587?starttls=1&auth=oauth2"
    with_transport = original.replace('"outbox:outbox"', f'"{transport}"')
    config.write_text(with_transport + oauth, encoding="utf-8")
    monkeypatch.setenv("NEWSLETTER_OAUTH2_SECRET", "geheim")
    settings = load_settings(instance).oauth2
    assert settings is not None
    assert settings.token_url == "https://login.microsoftonline.com/ipo.example/oauth2/v2.0/token"
    assert settings.scope == "https://outlook.office365.com/.default"
    assert settings.secret == "geheim" and "geheim" not in repr(settings)

    for text, says in [
        (with_transport, "auth=oauth2 needs an [oauth2] table"),
        (with_transport.replace("auth=oauth2", "auth=kerberos") + oauth, "auth=kerberos"),
        (
            with_transport + oauth + 'token_url = "https://login.example/token"\n',
            "give tenant (Microsoft 365) or token_url, not both",
        ),
        (with_transport + oauth + 'certificate = "geen.pem"\n', "'geen.pem' is not a file"),
        (
            with_transport + oauth.replace('tenant = "ipo.example"', 'token_url = "http://x"'),
            "must be an https:// URL",
        ),
    ]:
        config.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError) as raised:
            load_settings(instance)
        assert str(config) in str(raised.value) and says in str(raised.value)
