"""The doctor's connections: the relay's STARTTLS and certificate, the public web endpoints on
https, and the one-click unsubscribe (RFC 8058) with a probe token that changes nothing.

Host names of the web endpoints are resolved through the doctor's DNS (the same answers the
readers' mail providers get); the relay is reached the way the transport reaches it.
"""

from __future__ import annotations

import http.client
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from cryptography import x509

from newsletter.config import Settings, redact_url
from newsletter.doctor.dns import Resolver, Unreachable, is_loopback
from newsletter.doctor.model import ERROR, OK, WARNING, Check
from newsletter.errors import ConfigError
from newsletter.tokens import PROBE, PROBE_HEADER, make_token

CERT_WARN_DAYS = 14


class _Pinned(http.client.HTTPSConnection):
    """HTTPS to a host name at an address we resolved ourselves (SNI and Host stay the name)."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address, self.tls = address, ssl.create_default_context()

    def connect(self) -> None:
        raw = socket.create_connection((self.address, self.port or 443), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


class _PinnedPlain(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port or 80), self.timeout)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    certificate: str  # "CN=..., valid until 2027-03-01 (86 days)"; "" over http
    expires_in_days: int | None


class Unavailable(Exception):
    """The endpoint could not be reached or its TLS is not trusted; `hard` when that is a
    definite fault (no address, refused, untrusted certificate), not a missing network."""

    def __init__(self, message: str, hard: bool) -> None:
        super().__init__(message)
        self.hard = hard


def fetch(
    resolver: Resolver,
    url: str,
    timeout: float,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One HTTP(S) request, without cookies and without following redirects."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        addresses = resolver.addresses(host)
    except Unreachable as exc:
        raise Unavailable(f"cannot look up {host}: {exc}", hard=False) from None
    if not addresses:
        raise Unavailable(f"{host} has no address in DNS (no A or AAAA record)", hard=True)
    secure = parts.scheme == "https"
    kind = _Pinned if secure else _PinnedPlain
    connection = kind(host, parts.port or (443 if secure else 80), addresses[0], timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read(200_000)
        described, days = "", None
        if secure and isinstance(connection.sock, ssl.SSLSocket):
            described, days = describe_certificate(connection.sock)
        return Reply(response.status, dict(response.getheaders()), data, described, days)
    except ssl.SSLCertVerificationError as exc:
        raise Unavailable(f"{host}: certificate not trusted ({exc.verify_message})", True) from None
    except ConnectionRefusedError:
        raise Unavailable(f"{host} ({addresses[0]}) refused the connection", hard=True) from None
    except (OSError, http.client.HTTPException) as exc:
        raise Unavailable(f"{host} ({addresses[0]}): {exc or type(exc).__name__}", False) from None
    finally:
        connection.close()


def describe_certificate(sock: ssl.SSLSocket) -> tuple[str, int | None]:
    """Who the certificate is for and until when, from the peer's DER certificate."""
    der = sock.getpeercert(binary_form=True)
    if not der:
        return "no certificate", None
    cert = x509.load_der_x509_certificate(der)
    until = cert.not_valid_after_utc
    days = (until - datetime.now(UTC)).days
    return f"{cert.subject.rfc4514_string()}, valid until {until:%Y-%m-%d} ({days} days)", days


def check_relay_tls(settings: Settings) -> Check:
    """The configured relay: STARTTLS offered and used, and a certificate we trust."""
    title, url = "Relay STARTTLS", settings.transport
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"}:
        return Check(
            "relay-tls",
            title,
            WARNING,
            f"the transport is {redact_url(url)}: mail is written to files, not handed to a relay",
            "set [delivery] transport to your relay, e.g. smtp://127.0.0.1:25 (a local Postfix) "
            "or smtp://smtp.office365.com:587?starttls=1",
        )
    host = parts.hostname or ""
    implicit = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit else 25)
    except ValueError:
        return Check("relay-tls", title, ERROR, f"{redact_url(url)}: the port is not a number")
    asked = implicit or parse_qs(parts.query).get("starttls", ["0"])[0] in {"1", "true", "yes"}
    where = f"{host}:{port}"
    timeout = settings.doctor.timeout
    context = ssl.create_default_context()
    client: smtplib.SMTP | None = None
    try:
        if implicit:
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
            client.ehlo()
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
            client.ehlo()
            if not client.has_extn("starttls"):
                if is_loopback(host):
                    return Check(
                        "relay-tls",
                        title,
                        OK,
                        f"{where} is on this machine and offers no STARTTLS; mail to it never "
                        "leaves the machine",
                        "",
                    )
                return Check(
                    "relay-tls",
                    title,
                    ERROR,
                    f"{where} does not offer STARTTLS: mail (and any password) goes in clear",
                    "turn on TLS at the relay (Postfix: smtpd_tls_security_level = may, with a "
                    "certificate) and add ?starttls=1 to the transport",
                )
            client.starttls(context=context)
        assert isinstance(client.sock, ssl.SSLSocket)
        described, days = describe_certificate(client.sock)
        protocol = client.sock.version()
    except ssl.SSLCertVerificationError as exc:
        return Check(
            "relay-tls",
            title,
            ERROR,
            f"{where}: the certificate is not trusted ({exc.verify_message})",
            "give the relay a certificate for its host name from a trusted CA (or add your own "
            "CA to the system's trust store); the transport verifies it",
        )
    except ConnectionRefusedError:
        return Check(
            "relay-tls",
            title,
            ERROR,
            f"{where} refused the connection",
            "start the relay, or correct [delivery] transport",
        )
    except (OSError, smtplib.SMTPException) as exc:
        return Check(
            "relay-tls",
            title,
            WARNING,
            f"could not reach {where} ({exc or type(exc).__name__}); no network from here?",
            "run the doctor where the sending runs, with the relay reachable",
        )
    finally:
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
    found = f"{where}: {protocol}, certificate {described}"
    if not asked and not is_loopback(host):
        return Check(
            "relay-tls",
            title,
            ERROR,
            found + "; but the transport does not ask for STARTTLS",
            f"add ?starttls=1 to [delivery] transport: {redact_url(url)}?starttls=1",
        )
    if days is not None and days < CERT_WARN_DAYS:
        return Check("relay-tls", title, WARNING, found, "renew the relay's certificate")
    return Check("relay-tls", title, OK, found)


def check_https(settings: Settings, resolver: Resolver) -> Check:
    """The public pages (archive, unsubscribe) answer on https with a trusted certificate."""
    title = "Web on https"
    url = f"{settings.base_url}/archief/"
    found: list[str] = []
    result, fix = OK, ""
    try:
        reply = fetch(resolver, url, settings.doctor.timeout)
    except Unavailable as exc:
        return Check(
            "https",
            title,
            ERROR if exc.hard else WARNING,
            str(exc),
            "serve the public app (newsletter serve) behind a reverse proxy with a certificate "
            f"for {urlsplit(url).hostname}, so {url} answers",
        )
    found.append(f"{url}: {reply.status}, certificate {reply.certificate}")
    if reply.status != 200:
        result, fix = ERROR, f"{url} must answer 200; check the proxy's path to newsletter serve"
    elif reply.expires_in_days is not None and reply.expires_in_days < CERT_WARN_DAYS:
        result, fix = WARNING, "renew the web server's certificate"
    console = settings.console.base_url
    if console and not console.startswith("https://"):
        host = urlsplit(console).hostname or ""
        if not is_loopback(host):
            found.append(f"the console is on {console}")
            result, fix = ERROR, "serve the console on https ([console] base_url)"
    return Check("https", title, result, "; ".join(found), fix)


def check_one_click(settings: Settings, resolver: Resolver) -> Check:
    """POST the one-click unsubscribe (RFC 8058) with a probe token: it must answer 200 directly;
    the probe is signed like a real link but names nobody, so nothing changes."""
    title = "One-click unsubscribe"
    try:
        token = make_token(settings, PROBE, 0)
    except ConfigError as exc:
        return Check("one-click", title, ERROR, str(exc), "set NEWSLETTER_SECRET_KEY")
    url = f"{settings.base_url}/afmelden/{token}"
    try:
        reply = fetch(
            resolver,
            url,
            settings.doctor.timeout,
            method="POST",
            body=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    except Unavailable as exc:
        return Check(
            "one-click",
            title,
            ERROR if exc.hard else WARNING,
            str(exc),
            "the unsubscribe links in every message point here: make it reachable",
        )
    shown = f"{settings.base_url}/afmelden/…"
    if reply.status == 200 and reply.headers.get(PROBE_HEADER) == "one-click":
        return Check("one-click", title, OK, f"POST {shown}: 200, answered without a redirect")
    if 300 <= reply.status < 400:
        return Check(
            "one-click",
            title,
            ERROR,
            f"POST {shown}: {reply.status} redirect to {reply.headers.get('Location', '?')}",
            "mail providers do not follow a redirect on a one-click POST: let the proxy pass "
            "POST /afmelden/ straight to newsletter serve",
        )
    if reply.status == 400:
        return Check(
            "one-click",
            title,
            ERROR,
            f"POST {shown}: 400, our signed link was refused",
            "run newsletter serve with the same NEWSLETTER_SECRET_KEY as the sending side "
            "(and this version), or every unsubscribe link in the mail fails",
        )
    return Check(
        "one-click",
        title,
        ERROR,
        f"POST {shown}: {reply.status}, not the newsletter's unsubscribe endpoint",
        "route POST /afmelden/<token> to newsletter serve",
    )
