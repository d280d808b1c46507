"""`newsletter doctor` against a real authoritative DNS server (Debian's nsd on 127.0.0.1) with a
good and a bad domain, an aiosmtpd relay with STARTTLS, and a real `newsletter serve` behind a
small TLS proxy (https with a certificate made here)."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime
import hashlib
import ipaddress
import json
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from newsletter.cli.main import cli
from newsletter.config import load_settings
from newsletter.demo import copy_instance, demo_source
from newsletter.doctor.run import run_doctor
from newsletter.settings import Doctor

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
NSD = shutil.which("nsd") or ("/usr/sbin/nsd" if Path("/usr/sbin/nsd").exists() else None)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def spki(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def txt(value: str) -> str:
    """A TXT value as zone-file strings of at most 255 characters."""
    return " ".join(f'"{value[i : i + 255]}"' for i in range(0, len(value), 255))


def certificate(folder: Path) -> tuple[Path, Path, bytes]:
    """A self-signed certificate for 127.0.0.1 and the good domain's web and mail hosts."""
    key = rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.ipo.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("www.ipo.example"),
                    x509.DNSName("mail.ipo.example"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file, spki(key)


SOA = "@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\nns A 127.0.0.1\n"


def zones(good_key: bytes, wrong_key: bytes, tls_key: bytes) -> dict[str, str]:
    """The good domain (everything right), the bad one and its mailer domain (much wrong)."""
    good = base64.b64encode(good_key).decode()
    wrong = base64.b64encode(wrong_key).decode()
    return {
        "ipo.example": SOA
        + f"""@ MX 10 mail
mail A 127.0.0.1
www A 127.0.0.1
@ TXT "v=spf1 mx include:_spf.ipo.example -all"
_spf TXT "v=spf1 ip4:192.0.2.0/24 -all"
nieuwsbrief2026._domainkey TXT {txt(f"v=DKIM1; k=rsa; p={good}")}
_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc-rapporten@ipo.example"
_25._tcp.mail TLSA 3 1 1 {hashlib.sha256(tls_key).hexdigest()}
""",
        "slecht.example": SOA
        + """@ TXT "v=spf1 ip4:198.51.100.7 ~all"
_dmarc TXT "v=DMARC1; p=none"
_mta-sts TXT "v=STSv1; id=20261201"
""",
        "mailer.example": SOA
        + f"""@ TXT "v=spf1 ip4:198.51.100.7 ~all"
@ MX 10 mx.mailer.example.
mx A 127.0.0.1
nieuwsbrief2026._domainkey TXT {txt(f"v=DKIM1; k=rsa; p={wrong}")}
""",
    }


def start_nsd(folder: Path, port: int, zone_texts: dict[str, str]) -> subprocess.Popen[bytes]:
    conf = [
        "server:",
        "  ip-address: 127.0.0.1",
        f"  port: {port}",
        "  server-count: 1",
        "  verbosity: 1",
        '  username: ""',
        '  chroot: ""',
        f'  zonesdir: "{folder}"',
        '  database: ""',
        f'  zonelistfile: "{folder}/zone.list"',
        f'  xfrdfile: "{folder}/xfrd.state"',
        f'  xfrdir: "{folder}"',
        f'  pidfile: "{folder}/nsd.pid"',
        f'  logfile: "{folder}/nsd.log"',
        "remote-control:",
        "  control-enable: no",
    ]
    for name, text in zone_texts.items():
        (folder / f"{name}.zone").write_text(f"$ORIGIN {name}.\n$TTL 300\n{text}")
        conf += ["zone:", f"  name: {name}", f"  zonefile: {name}.zone"]
    (folder / "nsd.conf").write_text("\n".join(conf) + "\n")
    assert NSD is not None
    process = subprocess.Popen([NSD, "-d", "-c", str(folder / "nsd.conf")])
    deadline = time.monotonic() + 10
    while "zone mailer.example read" not in _read(folder / "nsd.log"):
        assert process.poll() is None and time.monotonic() < deadline, _read(folder / "nsd.log")
        time.sleep(0.05)
    return process


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


class TlsProxy:
    """https on `port` in front of plain http on `target` (what a reverse proxy does)."""

    def __init__(self, cert: Path, key: Path, port: int, target: int) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        self.listener = socket.create_server(("127.0.0.1", port))
        self.target = target
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(client,), daemon=True).start()

    def handle(self, client: socket.socket) -> None:
        try:
            secure = self.context.wrap_socket(client, server_side=True)
        except (OSError, ssl.SSLError):
            client.close()
            return
        upstream = socket.create_connection(("127.0.0.1", self.target))
        threading.Thread(target=self.pump, args=(upstream, secure), daemon=True).start()
        self.pump(secure, upstream)

    @staticmethod
    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


class Accept:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def configure(folder: Path, **values: str) -> Path:
    """A copy of the demo instance with the doctor's settings written into newsletter.toml."""
    copy_instance(demo_source(), folder, fresh=False)
    path = folder / "newsletter.toml"
    text = path.read_text()
    text = re.sub(
        r"(?m)^sender = .*$", f'sender = "IPO Statenleden <statenleden@{values["domain"]}>"', text
    )
    text = text.replace(
        'base_url = "https://www.ipo.example/nieuwsbrief"', f'base_url = "{values["base_url"]}"'
    )
    text = text.replace(
        'transport = "outbox:outbox"',
        f'transport = "{values["transport"]}"\nbounce_address = "{values["bounce"]}"',
    )
    text += (
        f'\n[dkim]\nselector = "nieuwsbrief2026"\ndomain = "{values["dkim_domain"]}"\n'
        f'\n[doctor]\nnameserver = "127.0.0.1:{values["dns_port"]}"\n'
        'sending_ips = ["192.0.2.25"]\ntimeout = 3\n'
    )
    path.write_text(text)
    return folder


@dataclasses.dataclass
class Lab:
    good: Path
    bad: Path
    dkim_key: Path
    cert: Path
    dns_port: int


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if NSD is None:
        pytest.skip("Debian's nsd is not installed (.ci/run installs it)")
    root = tmp_path_factory.mktemp("doctor")
    cert, key, tls_key = certificate(root)
    dkim = rsa_key()
    dkim_key = root / "dkim.pem"
    dkim_key.write_bytes(
        dkim.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    dns_port = free_port(socket.SOCK_DGRAM)
    (root / "dns").mkdir()
    nsd = start_nsd(root / "dns", dns_port, zones(spki(dkim), spki(rsa_key(1024)), tls_key))

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    smtp_port = free_port()
    relay = Controller(Accept(), hostname="127.0.0.1", port=smtp_port, tls_context=tls)
    relay.start()

    serve_port, https_port = free_port(), free_port()
    good = configure(
        root / "good",
        domain="ipo.example",
        base_url=f"https://www.ipo.example:{https_port}",
        transport=f"smtp://127.0.0.1:{smtp_port}?starttls=1",
        bounce="bounces@ipo.example",
        dkim_domain="ipo.example",
        dns_port=str(dns_port),
    )
    bad = configure(
        root / "bad",
        domain="slecht.example",
        base_url="https://www.slecht.example",
        transport=f"smtp://127.0.0.1:{smtp_port}",
        bounce="bounces@mailer.example",
        dkim_domain="mailer.example",
        dns_port=str(dns_port),
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "newsletter",
            "--project",
            str(good),
            "serve",
            "--port",
            f"{serve_port}",
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = TlsProxy(cert, key, https_port, serve_port)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", serve_port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        yield Lab(good, bad, dkim_key, cert, dns_port)
    finally:
        proxy.close()
        server.terminate()
        server.wait(timeout=10)
        relay.stop()
        nsd.terminate()
        nsd.wait(timeout=10)


def doctor(
    lab: Lab, project: Path, monkeypatch: pytest.MonkeyPatch, *args: str, trusted: bool = True
) -> tuple[int, str]:
    monkeypatch.setenv("NEWSLETTER_DKIM_KEY_FILE", str(lab.dkim_key))
    if trusted:  # our test CA, as a system trust store would hold the real ones
        monkeypatch.setenv("SSL_CERT_FILE", str(lab.cert))
    else:
        monkeypatch.setenv("SSL_CERT_FILE", str(lab.dkim_key.parent / "none.pem"))
    result = CliRunner().invoke(cli, ["--project", str(project), "doctor", *args])
    return result.exit_code, result.output


def results(output: str) -> dict[str, str]:
    return {row["key"]: row["result"] for row in json.loads(output)}


def audit_log(project: Path) -> list[dict[str, object]]:
    result = CliRunner().invoke(cli, ["--project", str(project), "log", "--json"])
    return list(json.loads(result.output))


def test_the_good_domain_passes_and_the_one_click_probe_changes_nothing(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, output = doctor(lab, lab.good, monkeypatch)
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0].split()[:2] == ["check", "result"]
    flowing = " ".join(output.split())  # the table wraps long cells
    assert "permits 192.0.2.25" in flowing  # through include:_spf.ipo.example
    assert "nieuwsbrief2026._domainkey.ipo.example: matches the private key" in flowing
    assert "0 error(s)" in lines[-1]

    before = audit_log(lab.good)
    code, output = doctor(lab, lab.good, monkeypatch, "--json")
    assert code == 0
    assert results(output) == {
        "spf": "ok",
        "dkim": "ok",
        "dmarc": "ok",
        "alignment": "ok",
        "mx": "ok",
        "mta-sts": "ok",
        "dane": "warning",  # TLSA present, but nsd here serves an unsigned zone
        "relay-tls": "ok",
        "https": "ok",
        "one-click": "ok",
    }
    rows = {row["key"]: row for row in json.loads(output)}
    assert "DNSSEC" in rows["dane"]["found"] and rows["dane"]["fix"]
    assert "TLSv1.3" in rows["relay-tls"]["found"] or "TLSv1.2" in rows["relay-tls"]["found"]
    assert "answered without a redirect" in rows["one-click"]["found"]
    assert audit_log(lab.good) == before  # the probe names nobody: nothing happened

    status = CliRunner().invoke(cli, ["--project", str(lab.good), "status"])
    assert "doctor: last ran" in status.output and "0 error(s)" in status.output
    assert "DANE (TLSA): warning" in status.output


def test_the_bad_domain_says_what_to_fix(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    code, output = doctor(lab, lab.bad, monkeypatch, "--json", trusted=False)
    assert code == 1
    rows = {row["key"]: row for row in json.loads(output)}
    assert {key: row["result"] for key, row in rows.items()} == {
        "spf": "error",
        "dkim": "error",
        "dmarc": "error",
        "alignment": "error",
        "mx": "error",
        "mta-sts": "error",
        "dane": "warning",  # no MX hosts to look for TLSA at; MTA-STS is (badly) there
        "relay-tls": "error",
        "https": "error",
        "one-click": "error",
    }
    assert "192.0.2.25: softfail" in rows["spf"]["found"]
    assert "is not the public half" in rows["dkim"]["found"]
    assert "p=reject" in rows["dkim"]["fix"] or "TXT" in rows["dkim"]["fix"]
    assert "p=none" in rows["dmarc"]["found"] and "rua" in rows["dmarc"]["fix"]
    assert "NOT aligned" in rows["alignment"]["found"]
    assert "slecht.example has no MX record" in rows["mx"]["found"]
    assert "mta-sts.slecht.example has no address" in rows["mta-sts"]["found"]
    assert "not trusted" in rows["relay-tls"]["found"]
    assert "www.slecht.example has no address" in rows["https"]["found"]
    assert all(row["fix"] for row in rows.values())

    code, text = doctor(lab, lab.bad, monkeypatch, trusted=False)
    assert code == 1 and "to do: move to p=quarantine, then p=reject" in " ".join(text.split())
    status = CliRunner().invoke(cli, ["--project", str(lab.bad), "status", "--json"])
    assert json.loads(status.output)["instance"]["doctor"]["errors"] == 9


def test_without_an_answering_dns_server_the_checks_warn(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_DKIM_KEY_FILE", str(lab.dkim_key))
    monkeypatch.setenv("SSL_CERT_FILE", str(lab.cert))
    settings = load_settings(lab.good)
    silent = free_port(socket.SOCK_DGRAM)  # nothing answers here: like a machine offline
    offline = dataclasses.replace(
        settings, doctor=Doctor(f"127.0.0.1:{silent}", ("192.0.2.25",), 0.2)
    )
    rows = {check.key: check for check in run_doctor(offline)}
    for key in ("spf", "dkim", "dmarc", "mx", "mta-sts", "dane", "https", "one-click"):
        assert rows[key].result == "warning", rows[key]
    assert "could not ask DNS" in rows["spf"].found
    assert rows["relay-tls"].result == "ok"  # the relay is reached without DNS


def test_bad_doctor_settings_are_bad_input(lab: Lab, tmp_path: Path) -> None:
    folder = tmp_path / "instance"
    shutil.copytree(lab.good, folder, ignore=shutil.ignore_patterns("*.db*"))
    path = folder / "newsletter.toml"
    path.write_text(path.read_text().replace(f"127.0.0.1:{lab.dns_port}", "ns.example:53"))
    result = CliRunner().invoke(cli, ["--project", str(folder), "doctor"])
    assert result.exit_code == 2
    assert "[doctor] nameserver" in result.output
