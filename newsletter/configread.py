"""Reading one table of newsletter.toml with errors that name file, key and a fix; [console],
[oauth2]."""

from __future__ import annotations

import difflib
import re
from ipaddress import ip_address
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from newsletter.errors import ConfigError
from newsletter.settings import (
    MICROSOFT_SCOPE,
    OIDC_KEYS,
    STAFF_ROLES,
    Console,
    Doctor,
    OAuth2,
    Oidc,
)

OIDC_SECRET_ENV = "NEWSLETTER_OIDC_CLIENT_SECRET"
OAUTH2_SECRET_ENV = "NEWSLETTER_OAUTH2_SECRET"
MICROSOFT_TOKEN_URL = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")  # a GUID or a domain
OS_USER = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._@$-]*$")  # what login names are made of
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,63}$")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class TableReader:
    """Reads one table of the TOML file and names file, key and a fix in every error."""

    def __init__(self, path: Path, data: dict[str, Any], section: str) -> None:
        self.path, self.section = path, section
        value = data.get(section, {})
        if not isinstance(value, dict):
            self.fail("", f"must be a table, e.g. [{section}]")
        self.data: dict[str, Any] = value

    def fail(self, key: str, what: str) -> None:
        where = f"[{self.section}] {key}".strip()
        raise ConfigError(f"{self.path}: {where}: {what}")

    def text(self, key: str, example: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value is None:
            self.fail(key, f'is missing; write {key} = "{example}"')
        if not isinstance(value, str) or not value.strip():
            self.fail(key, f'must be a non-empty string, e.g. {key} = "{example}"')
        return str(value).strip()

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.data.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            self.fail(key, f"must be a number from {low:g} to {high:g}, e.g. {key} = {default:g}")
        return float(value)

    def url(self, key: str, example: str, default: str | None = None) -> str:
        value = self.text(key, example, default)
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc:
            self.fail(key, f"'{value}' must be an absolute https:// URL, e.g. {example}")
        return value.rstrip("/")


def flag(reader: TableReader, key: str) -> bool:
    value = reader.data.get(key, False)
    if not isinstance(value, bool):
        reader.fail(key, f"must be true or false, e.g. {key} = false")
    return bool(value)


DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d)\s*$")


def parse_minutes(value: object) -> float | None:
    """A duration as minutes: 90 (minutes), "90m", "2h", "1d"; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    match = DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        return None
    unit = {"m": 1, "min": 1, "h": 60, "d": 24 * 60}[match.group(2)]
    return float(match.group(1)) * unit


def read_console(path: Path, data: dict[str, Any], environ: dict[str, str]) -> Console:
    """[console], with os_users and [console.oidc] (its client secret from the environment)."""
    reader = TableReader(path, data, "console")
    base_url = str(reader.data.get("base_url", "")).strip().rstrip("/")
    parts = urlsplit(base_url)
    if base_url and (parts.scheme not in {"http", "https"} or not parts.netloc or parts.query):
        reader.fail("base_url", f"'{base_url}' must be a URL, e.g. https://intranet.ipo.example/nb")
    idle = parse_minutes(reader.data.get("idle_timeout", "30m"))
    if idle is None or not 1 <= idle <= 24 * 60:
        reader.fail("idle_timeout", 'must be from 1 minute to 1 day, e.g. idle_timeout = "30m"')
    proxy = reader.data.get("trusted_proxy", "")
    if not isinstance(proxy, str):
        reader.fail("trusted_proxy", 'must be an address, e.g. trusted_proxy = "127.0.0.1"')
    return Console(
        base_url,
        float(idle or 30),
        str(proxy).strip(),
        os_users=_os_users(reader),
        oidc=_oidc(path, reader.data, environ),
    )


def _os_users(reader: TableReader) -> dict[str, str]:
    """os_users = { jan = "jan@ipo.example" }: who a CLI command without --by is done by."""
    value = reader.data.get("os_users", {})
    example = 'os_users = { jan = "jan@ipo.example" }'
    if not isinstance(value, dict):
        reader.fail("os_users", f"must map user names to staff e-mail addresses, e.g. {example}")
    users = {}
    for user, email in value.items():
        if not OS_USER.match(user):
            reader.fail("os_users", f"'{user}' is not a user name, e.g. {example}")
        if not isinstance(email, str) or email.count("@") != 1 or email.strip() != email:
            reader.fail("os_users", f"{user}: give the staff account's e-mail, e.g. {example}")
        users[user] = email.lower()
    return users


def _oidc(path: Path, console: dict[str, Any], environ: dict[str, str]) -> Oidc | None:
    """[console.oidc]: issuer, client_id, allowed_domain, claim and roles; None when absent."""
    if "oidc" not in console:
        return None
    reader = TableReader(path, console, "oidc")
    reader.section = "console.oidc"
    for key in reader.data:
        if key not in OIDC_KEYS:
            close = difflib.get_close_matches(key, sorted(OIDC_KEYS), n=1, cutoff=0.6)
            hint = (
                f"did you mean '{close[0]}'?" if close else f"known: {', '.join(sorted(OIDC_KEYS))}"
            )
            raise ConfigError(f"{path}: [console.oidc]: '{key}' is not a known setting; {hint}")
    issuer = reader.text("issuer", "https://login.microsoftonline.com/TENANT/v2.0").rstrip("/")
    parts = urlsplit(issuer)
    local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS  # a test's own provider
    if not parts.netloc or (parts.scheme != "https" and not local):
        reader.fail("issuer", f"'{issuer}' must be an https:// URL (http only on 127.0.0.1)")
    domain = reader.text("allowed_domain", "ipo.example").lower().lstrip("@")
    if not DOMAIN.match(domain):
        reader.fail(
            "allowed_domain", f"'{domain}' is not a domain, e.g. allowed_domain = \"ipo.example\""
        )
    claim = reader.text("claim", "groups", default="groups")
    return Oidc(
        issuer=issuer,
        client_id=reader.text("client_id", "00000000-0000-0000-0000-000000000000"),
        allowed_domain=domain,
        roles=_claim_roles(reader),
        claim=claim,
        scope=_scope(reader),
        client_secret=environ.get(OIDC_SECRET_ENV, "").strip(),
    )


def _claim_roles(reader: TableReader) -> dict[str, tuple[str, ...]]:
    """roles = { redactie = ["redacteur"] }: each claim value and the console roles it gives."""
    value = reader.data.get("roles")
    example = 'roles = { redactie = ["redacteur"], eindredactie = ["eindredacteur"] }'
    if not isinstance(value, dict) or not value:
        raise ConfigError(
            f"{reader.path}: [console.oidc] roles: map values of the claim to console roles, "
            f"e.g. {example}"
        )
    mapped: dict[str, tuple[str, ...]] = {}
    for name, roles in value.items():
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not roles:
            reader.fail("roles", f"{name}: give a list of roles, e.g. {example}")
        unknown = [r for r in roles if r not in STAFF_ROLES]
        if unknown:
            reader.fail(
                "roles",
                f"{name}: unknown role '{unknown[0]}'; the roles are: {', '.join(STAFF_ROLES)}",
            )
        mapped[str(name)] = tuple(r for r in STAFF_ROLES if r in roles)
    return mapped


def _scope(reader: TableReader) -> str:
    """scope = "openid email profile": always with openid (it is what makes it OpenID Connect)."""
    scope = " ".join(reader.text("scope", "openid email profile", "openid email profile").split())
    if "openid" not in scope.split():
        reader.fail(
            "scope", f"'{scope}' must include openid, e.g. scope = \"openid email profile\""
        )
    return scope


def read_doctor(path: Path, data: dict[str, Any]) -> Doctor:
    """[doctor]: the DNS server to ask (host:port) and the relay's public sending addresses."""
    reader = TableReader(path, data, "doctor")
    nameserver = reader.data.get("nameserver", "")
    example = 'e.g. nameserver = "127.0.0.1:5353", or leave it out for the system resolver'
    if not isinstance(nameserver, str) or (nameserver.strip() and not split_nameserver(nameserver)):
        reader.fail(
            "nameserver", f"'{nameserver}' is not an IP address with an optional port, {example}"
        )
    ips = reader.data.get("sending_ips", [])
    if not isinstance(ips, list) or not all(isinstance(v, str) for v in ips):
        reader.fail("sending_ips", 'must be a list of addresses, e.g. sending_ips = ["192.0.2.25"]')
    for value in ips:
        try:
            ip_address(value.strip())
        except ValueError:
            reader.fail("sending_ips", f"'{value}' is not an IP address")
    return Doctor(
        nameserver=str(nameserver).strip(),
        sending_ips=tuple(v.strip() for v in ips),
        timeout=reader.number("timeout", 5, 0.1, 120),
    )


def split_nameserver(value: str) -> tuple[str, int] | None:
    """ "127.0.0.1:5353", "127.0.0.1", "[::1]:5353" -> (address, port); None when not one."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") if rest.startswith(":") else ("" if not rest else "x")
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host, port = value, ""
    try:
        ip_address(host)
    except ValueError:
        return None
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        return None
    return host, int(port or 53)


def read_oauth2(
    path: Path, data: dict[str, Any], environ: dict[str, str], project: Path
) -> OAuth2 | None:
    """[oauth2]: tenant (Microsoft 365) or token_url, client_id, scope, certificate; the client
    secret from NEWSLETTER_OAUTH2_SECRET. None when the table is absent."""
    if "oauth2" not in data:
        return None
    reader = TableReader(path, data, "oauth2")
    tenant = str(reader.data.get("tenant", "")).strip()
    if tenant and not TENANT.match(tenant):
        reader.fail(
            "tenant", f"'{tenant}' is not a tenant id or domain, e.g. tenant = \"ipo.example\""
        )
    if tenant and "token_url" in reader.data:
        reader.fail("token_url", "give tenant (Microsoft 365) or token_url, not both")
    if tenant:
        token_url = MICROSOFT_TOKEN_URL.format(tenant=tenant)
    elif "token_url" in reader.data:
        token_url = reader.text("token_url", "https://login.example/oauth2/token")
        parts = urlsplit(token_url)
        local = parts.scheme == "http" and parts.hostname in LOCAL_HOSTS  # a test's own provider
        if not parts.netloc or (parts.scheme != "https" and not local):
            reader.fail(
                "token_url", f"'{token_url}' must be an https:// URL (http only on 127.0.0.1)"
            )
    else:
        reader.fail("tenant", 'is missing; write tenant = "ipo.example" (or give token_url)')
    scope = " ".join(reader.text("scope", MICROSOFT_SCOPE, MICROSOFT_SCOPE).split())
    certificate = reader.data.get("certificate", "")
    if certificate:
        if not isinstance(certificate, str) or not (project / certificate).is_file():
            reader.fail(
                "certificate",
                f"'{certificate}' is not a file; name a PEM file with the app's private key "
                "and certificate, or leave it out and set NEWSLETTER_OAUTH2_SECRET",
            )
        certificate = str(project / certificate)
    return OAuth2(
        token_url=token_url,
        client_id=reader.text("client_id", "00000000-0000-0000-0000-000000000000"),
        scope=scope,
        tenant=tenant,
        certificate=str(certificate),
        secret=environ.get(OAUTH2_SECRET_ENV, "").strip(),
    )


def check_mail_auth(path: Path, where: str, url: str, oauth2: OAuth2 | None) -> None:
    """A mail server URL's ?auth=: oauth2 (then [oauth2] must exist and the URL name the
    mailbox) or password (the default)."""
    parts = urlsplit(url)
    auth = parse_qs(parts.query).get("auth", ["password"])[0]
    if auth not in {"password", "oauth2"}:
        raise ConfigError(
            f"{path}: {where}: auth={auth} is not known; write auth=oauth2 or leave it out"
        )
    if auth == "oauth2" and oauth2 is None:
        raise ConfigError(
            f"{path}: {where}: auth=oauth2 needs an [oauth2] table, e.g. "
            '[oauth2] tenant = "ipo.example" and client_id = "…" (see README, Microsoft 365)'
        )
    if auth == "oauth2" and not parts.username:
        raise ConfigError(
            f"{path}: {where}: auth=oauth2 signs in to a mailbox; name it in the URL, e.g. "
            "smtp://statenleden%40ipo.example@smtp.office365.com:587?starttls=1&auth=oauth2"
        )
