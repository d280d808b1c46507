"""Settings: newsletter.toml in the instance folder, secrets from the environment."""

from __future__ import annotations

import difflib
import math
import os
import re
import tomllib
from datetime import date, time
from ipaddress import ip_network
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from newsletter.configread import TableReader as _Reader
from newsletter.configread import (
    check_mail_auth,
    parse_minutes,
    read_console,
    read_doctor,
    read_oauth2,
)
from newsletter.configread import flag as _flag
from newsletter.errors import ConfigError, HeaderError
from newsletter.headers import check_address, check_header_value, parse_sender
from newsletter.settings import (
    DEFAULT_ALLOWED_HOSTS,
    FEED_KEYS,
    KNOWN_KEYS,
    THEME_KEYS,
    Delivery,
    Feed,
    Inbox,
    Onboarding,
    Preflight,
    Settings,
    Theme,
    Web,
    Workflow,
)

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "Delivery",
    "Feed",
    "Inbox",
    "Onboarding",
    "Preflight",
    "Settings",
    "Theme",
    "Web",
    "Workflow",
    "load_settings",
    "require_secret",
]

CONFIG_NAME = "newsletter.toml"
SECRET_ENV = "NEWSLETTER_SECRET_KEY"
# Only a demo instance may sign links with a published key; a real one sets NEWSLETTER_SECRET_KEY.
DEMO_SECRET = "demo-only-not-secret"
THEME_KEY = re.compile(r"^[a-z0-9][a-z0-9-]*$")
PROVINCE_CODE = re.compile(r"^[A-Z]{2,3}$")


def builtin_templates() -> Path:
    """The templates shipped with the package (the repository's templates/ in a checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "templates", here / "templates"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(
        "The built-in templates are missing; reinstall the package (pip install -e .)"
    )


def _unknown(path: Path, where: str, key: str, known: frozenset[str] | Any) -> ConfigError:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"known here: {', '.join(sorted(known))}"
    return ConfigError(f"{path}: {where}: '{key}' is not a known setting; {hint}")


def _check_known(path: Path, data: dict[str, Any]) -> None:
    """Refuse a table or key newsletter.toml may not hold, naming the nearest known one."""
    for table, value in data.items():
        if table not in KNOWN_KEYS:
            raise _unknown(path, "tables", table, KNOWN_KEYS.keys())
        known = KNOWN_KEYS[table]
        if known is not None and isinstance(value, dict):
            for key in value:
                if key not in known:
                    raise _unknown(path, f"[{table}]", key, known)
    for number, entry in enumerate(data.get("feeds", []) or [], start=1):
        if isinstance(entry, dict):
            for key in entry:
                if key not in FEED_KEYS:
                    raise _unknown(path, f"[[feeds]] #{number}", key, FEED_KEYS)
    themes = data.get("themes", {})
    if isinstance(themes, dict):
        for name, theme in themes.items():
            if isinstance(theme, dict):
                for key in theme:
                    if key not in THEME_KEYS:
                        raise _unknown(path, f"[themes] {name}", key, THEME_KEYS)


def load_settings(project: Path | str = ".") -> Settings:
    """Read newsletter.toml from the instance folder and the secrets from the environment."""
    project = Path(project).resolve()
    path = project / CONFIG_NAME
    if not path.is_file():
        raise ConfigError(
            f"{path}: not found; run the command in an instance folder, pass --project DIR, "
            "or create one with 'newsletter demo --dir DIR'"
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the line it names") from None

    _check_known(path, data)
    main = _Reader(path, data, "newsletter")
    sender = main.text("sender", "IPO Statenleden <statenleden@ipo.example>")
    try:
        display, address = parse_sender(sender)
    except HeaderError as exc:
        raise ConfigError(
            f"{path}: [newsletter] sender: {exc}; write e.g. "
            f'sender = "IPO Statenleden <statenleden@ipo.example>"'
        ) from None
    reply_to = main.text("reply_to", address, default=address)
    try:
        check_header_value(reply_to, "reply_to")
    except HeaderError as exc:
        raise ConfigError(f"{path}: [newsletter] reply_to: {exc}") from None
    base_url = main.url("base_url", "https://www.ipo.example/nieuwsbrief")
    list_id = main.text(
        "list_id", "statenleden.ipo.example", default=f"statenleden.{address.rpartition('@')[2]}"
    )
    if not re.fullmatch(r"[A-Za-z0-9.-]+", list_id):
        main.fail("list_id", f"'{list_id}' may hold only letters, digits, dots and dashes")
    privacy_url = main.url("privacy_url", f"{base_url}/privacy", default=f"{base_url}/privacy")
    demo = bool(main.data.get("demo", False))

    paths = _Reader(path, data, "paths")

    def folder(key: str, default: str) -> Path:
        return project / paths.text(key, default, default=default)

    templates = paths.data.get("templates")
    templates_dir = folder("templates", templates) if templates else builtin_templates()

    delivery = _read_delivery(path, data)
    inbox = _read_inbox(path, data, project)
    onboarding = _read_onboarding(path, data)

    themes = _read_themes(path, data)
    provinces = _read_provinces(path, data)
    feeds = _read_feeds(path, data, themes)

    oauth2 = read_oauth2(path, data, dict(os.environ), project)
    if delivery.transport.startswith(("smtp:", "smtps:")):
        check_mail_auth(path, "[delivery] transport", delivery.transport, oauth2)
    for url in inbox.sources:
        if url.startswith(("imap:", "imaps:")):
            check_mail_auth(path, "[inbox] source", url, oauth2)

    keys = tuple(k.strip() for k in os.environ.get(SECRET_ENV, "").split(",") if k.strip())
    if not keys and demo:
        keys = (DEMO_SECRET,)
    return Settings(
        project=project,
        config_file=path,
        name=display or main.text("name", "IPO Statenleden", default="IPO Statenleden"),
        sender=sender,
        sender_address=address,
        reply_to=reply_to,
        list_id=list_id,
        base_url=base_url,
        privacy_url=privacy_url,
        content_dir=folder("content", "content"),
        subscribers_dir=folder("subscribers", "subscribers"),
        build_dir=folder("build", "build"),
        database=folder("database", "newsletter.db"),
        templates_dir=templates_dir,
        themes=themes,
        provinces=provinces,
        feeds=feeds,
        demo=demo,
        secret_keys=keys,
        delivery=delivery,
        inbox=inbox,
        onboarding=onboarding,
        workflow=_read_workflow(path, data),
        preflight=_read_preflight(path, data),
        web=_read_web(path, data),
        console=read_console(path, data, dict(os.environ)),
        doctor=read_doctor(path, data),
        oauth2=oauth2,
    )


def require_secret(settings: Settings) -> tuple[str, ...]:
    """The signing keys (newest last, for rotation), or an error that says how to set them."""
    if not settings.secret_keys:
        raise ConfigError(
            f"{SECRET_ENV} is not set; links in mail are signed with it. Set it to a long random "
            "value (python3 -c 'import secrets; print(secrets.token_urlsafe(32))'); to rotate, "
            "give OLD,NEW separated by a comma"
        )
    return settings.secret_keys


def _read_delivery(path: Path, data: dict[str, Any]) -> Delivery:
    reader = _Reader(path, data, "delivery")
    transport = reader.text("transport", "outbox:outbox", default="outbox:outbox")
    if transport.split(":", 1)[0] not in {"outbox", "maildir", "smtp", "smtps", "memory"}:
        reader.fail(
            "transport",
            f"'{redact_url(transport)}' is not a known transport; write outbox:DIR, maildir:DIR or "
            "smtp://host:port",
        )

    if urlsplit(transport).password is not None:
        reader.fail(
            "transport",
            f"'{redact_url(transport)}' holds a password; remove it and set "
            "NEWSLETTER_SMTP_PASSWORD instead",
        )
    bounce = reader.data.get("bounce_address", "")
    if bounce:
        try:
            check_address(str(bounce), "bounce_address")
        except HeaderError as exc:
            reader.fail(
                "bounce_address", f'{exc}; write e.g. bounce_address = "bounces@ipo.example"'
            )
    durability = reader.text("durability", "power-loss", default="power-loss")
    if durability not in {"power-loss", "crash"}:
        reader.fail("durability", f'\'{durability}\' is not known; write "power-loss" or "crash"')
    dkim = _Reader(path, data, "dkim")
    selector = dkim.text("selector", "nieuwsbrief2026", default="") if dkim.data else ""
    domain = dkim.text("domain", "ipo.example", default="") if dkim.data else ""
    if dkim.data and not (selector and domain):
        dkim.fail("", 'needs both selector and domain, e.g. selector = "nieuwsbrief2026"')
    return Delivery(
        transport=transport,
        connections=int(reader.number("connections", 1, 1, 16)),
        rate_per_minute=reader.number("rate_per_minute", 0, 0, 1_000_000),
        retry_window_hours=reader.number("retry_window_hours", 48, 0, 24 * 14),
        backoff_minutes=reader.number("backoff_minutes", 5, 0, 24 * 60),
        backoff_max_minutes=reader.number("backoff_max_minutes", 360, 0, 7 * 24 * 60),
        bounce_address=str(bounce),
        dkim_selector=selector,
        dkim_domain=domain,
        durability=durability,
    )


INBOX_SCHEMES = {"maildir", "imap", "imaps"}


def redact_url(url: str) -> str:
    """The URL as it may be shown: a password in it becomes '…' (it is never printed)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return parts._replace(netloc=f"{parts.username or ''}:…@{host}").geturl()


def _read_inbox(path: Path, data: dict[str, Any], project: Path) -> Inbox:
    reader = _Reader(path, data, "inbox")
    example = "maildir:mailbox"
    value = reader.data.get("source", example)
    raw = [value] if isinstance(value, str) else value
    if not isinstance(raw, list) or not raw or not all(isinstance(v, str) for v in raw):
        reader.fail("source", f'must be a URL or a list of URLs, e.g. source = "{example}"')
    sources = []
    for url in (str(v).strip() for v in raw):
        scheme = url.split(":", 1)[0]
        if scheme not in INBOX_SCHEMES:
            reader.fail(
                "source",
                f"'{url}' is not a known mailbox; write maildir:DIR, "
                "imap://user@host/INBOX?starttls=1 or imaps://user@host/INBOX",
            )
        if scheme == "maildir" and not url.split(":", 1)[1].removeprefix("//"):
            reader.fail("source", f"'{url}' names no folder; write e.g. {example}")
        if scheme in {"imap", "imaps"}:
            parts = urlsplit(url)
            if not parts.hostname or not parts.username:
                reader.fail(
                    "source",
                    f"'{url}' needs a user and a host, e.g. "
                    "imaps://statenleden@imap.ipo.example/INBOX",
                )
            if parts.password is not None:
                reader.fail(
                    "source",
                    f"'{parts.scheme}://{parts.username}:…@{parts.hostname}' holds a password; "
                    "remove it and set NEWSLETTER_IMAP_PASSWORD instead",
                )
            try:
                parts.port  # noqa: B018 - raises on a port that is not a number
            except ValueError:
                reader.fail("source", f"'{url}': the port is not a number")
        sources.append(url)

    ca_file = reader.data.get("ca_file", "")
    if ca_file:
        if not isinstance(ca_file, str) or not (project / ca_file).is_file():
            reader.fail(
                "ca_file", f"'{ca_file}' is not a file; name a PEM certificate or leave it out"
            )
        ca_file = str(project / ca_file)
    return Inbox(
        sources=tuple(sources),
        retention_days=reader.number("retention_days", 90, 0, 3650),
        max_bytes=int(reader.number("max_bytes", 25_000_000, 1_000, 1_000_000_000)),
        ca_file=str(ca_file),
        acknowledge=_flag(reader, "acknowledge"),
        hard_bounces=int(reader.number("hard_bounces", 1, 1, 100)),
        soft_bounce_mailings=int(reader.number("soft_bounce_mailings", 3, 1, 100)),
        trusted_authserv_id=_authserv_id(reader),
    )


def _authserv_id(reader: _Reader) -> str:
    """[inbox] trusted_authserv_id: a host name as the receiving server writes it, or ""."""
    value = reader.data.get("trusted_authserv_id", "")
    if not isinstance(value, str) or (
        value and not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", value)
    ):
        reader.fail(
            "trusted_authserv_id",
            "must be the authserv-id your receiving mail server writes in "
            'Authentication-Results, e.g. trusted_authserv_id = "mx.ipo.example"',
        )
    return str(value).lower()


def _read_onboarding(path: Path, data: dict[str, Any]) -> Onboarding:
    reader = _Reader(path, data, "onboarding")
    default = Onboarding()

    def hour(key: str, fallback: time) -> time:
        value = reader.data.get(key, f"{fallback:%H.%M}")
        match = re.fullmatch(r"(\d{1,2})[.:](\d{2})", str(value).strip())
        if not match or int(match[1]) > 23 or int(match[2]) > 59:
            reader.fail(key, f'"{value}" is not a time; write e.g. {key} = "{fallback:%H.%M}"')
        assert match is not None
        return time(int(match[1]), int(match[2]))

    send_from, send_until = (
        hour("send_from", default.send_from),
        hour("send_until", default.send_until),
    )
    if send_until <= send_from:
        reader.fail("send_until", "must be later than send_from")
    value = reader.data.get("term_end", default.term_end)
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            reader.fail("term_end", f'"{value}" is not a date; write e.g. term_end = 2027-03-31')
    if not isinstance(value, date):
        reader.fail("term_end", "must be a date, e.g. term_end = 2027-03-31")
    secretary = reader.data.get("secretary", "")
    if not isinstance(secretary, str):
        reader.fail("secretary", 'must be a name, e.g. secretary = "Marieke Verhoef"')
    return Onboarding(
        send_from=send_from,
        send_until=send_until,
        term_end=value,
        enrol_window_days=int(reader.number("enrol_window_days", 90, 0, 3650)),
        secretary=secretary.strip(),
    )


def _read_themes(path: Path, data: dict[str, Any]) -> dict[str, Theme]:
    reader = _Reader(path, data, "themes")
    if not reader.data:
        reader.fail("", 'is missing; add e.g. [themes] algemeen = { title = "Algemeen" }')
    themes = {}
    for key, value in reader.data.items():
        if not THEME_KEY.match(key):
            reader.fail(key, "theme keys are lowercase words with dashes, e.g. landelijk-gebied")
        if isinstance(value, str):
            value = {"title": value}
        if not isinstance(value, dict) or not isinstance(value.get("title"), str):
            reader.fail(key, f'write {key} = {{ title = "Landelijk Gebied", bac = true }}')
        body = value.get("body", "de BAC")
        if not isinstance(body, str) or not body.strip():
            reader.fail(key, f'body is what the body is, e.g. {key} = {{ body = "het BOD" }}')
        themes[key] = Theme(
            key=key, title=value["title"], bac=bool(value.get("bac", False)), body=body.strip()
        )
    return themes


def _read_provinces(path: Path, data: dict[str, Any]) -> dict[str, str]:
    reader = _Reader(path, data, "provinces")
    if not reader.data:
        reader.fail("", 'is missing; add e.g. [provinces] GR = "Groningen"')
    for code, name in reader.data.items():
        if not PROVINCE_CODE.match(code) or not isinstance(name, str):
            reader.fail(code, 'write a code of 2-3 capitals and the name, e.g. GLD = "Gelderland"')
    return dict(reader.data)


def _read_feeds(path: Path, data: dict[str, Any], themes: dict[str, Theme]) -> tuple[Feed, ...]:
    raw = data.get("feeds", [])
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: feeds: write each feed as a [[feeds]] table")
    feeds = []
    seen = set()
    for number, entry in enumerate(raw, start=1):
        where = f"{path}: [[feeds]] #{number}"
        if isinstance(entry, dict) and isinstance(entry.get("name"), str) and entry["name"].strip():
            where += f" ({entry['name'].strip()})"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: must be a table with name, url and theme")
        for key in ("name", "url"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ConfigError(f'{where}: {key} is missing; write {key} = "..."')
        name, url = entry["name"].strip(), entry["url"].strip()
        if name in seen:
            raise ConfigError(f"{where}: name '{name}' is used twice; give each feed its own name")
        seen.add(name)
        if urlsplit(url).scheme not in {"http", "https", "file"}:
            raise ConfigError(f"{where}: url '{url}' must start with https://, http:// or file:")
        theme = entry.get("theme", "algemeen")
        if theme not in themes:
            raise ConfigError(
                f"{where}: theme '{theme}' is not in [themes]; use one of {', '.join(themes)}"
            )
        try:
            timeout = float(entry.get("timeout", 10))
            max_bytes = int(entry.get("max_bytes", 5_000_000))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: timeout and max_bytes must be numbers") from None
        interval = _feed_interval(where, entry.get("interval", "60m"))
        hosts = entry.get("allow_redirects_to", [])
        if not isinstance(hosts, list) or not all(
            isinstance(h, str) and HOSTNAME.match(h.strip()) for h in hosts
        ):
            raise ConfigError(
                f"{where}: allow_redirects_to must be a list of host names, "
                'e.g. ["www.ipo.example"]'
            )
        redirects = tuple(h.strip().lower() for h in hosts)
        feeds.append(Feed(name, url, theme, timeout, max_bytes, interval, redirects))
    return tuple(feeds)


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


def _feed_interval(where: str, value: object) -> float:
    minutes = parse_minutes(value)
    if minutes is None or minutes < 1:
        raise ConfigError(f'{where}: interval must be a duration of 1 minute or more, e.g. "60m"')
    return minutes


def _read_preflight(path: Path, data: dict[str, Any]) -> Preflight:
    section = data.get("preflight", {})
    hosts = (
        section.get("allowed_hosts", DEFAULT_ALLOWED_HOSTS) if isinstance(section, dict) else None
    )
    if not isinstance(hosts, list | tuple) or not all(
        isinstance(h, str) and h.strip() for h in hosts
    ):
        return Preflight(
            (),
            f"{path}: [preflight] allowed_hosts: must be a list of host names, "
            'e.g. allowed_hosts = ["ipo.nl", "rijksoverheid.nl"]',
        )
    return Preflight(tuple(hosts))


def _read_web(path: Path, data: dict[str, Any]) -> Web:
    reader = _Reader(path, data, "web")
    proxies = reader.data.get("trusted_proxies", [])
    example = 'e.g. trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]'
    if not isinstance(proxies, list):
        reader.fail("trusted_proxies", f"must be a list of addresses or networks, {example}")
    networks = []
    for proxy in proxies:
        try:
            networks.append(ip_network(str(proxy).strip(), strict=False))
        except ValueError:
            reader.fail("trusted_proxies", f"'{proxy}' is not an IP address or network; {example}")
    return Web(tuple(networks))


def _read_workflow(path: Path, data: dict[str, Any]) -> Workflow:
    reader = _Reader(path, data, "workflow")
    window = parse_minutes(reader.data.get("missed_window", "2h"))
    if window is None:
        reader.fail("missed_window", 'must be a duration, e.g. missed_window = "2h" (or "90m")')
    elif not math.isfinite(window) or window < 10:
        reader.fail(
            "missed_window",
            'must be 10 minutes or more (tick runs every 5) and finite, e.g. missed_window = "2h"',
        )
    raw = reader.data.get("test_recipients", [])
    if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
        reader.fail(
            "test_recipients",
            'must be a list of addresses or "@domain" entries, e.g. '
            'test_recipients = ["@ipo.example"]',
        )
    allowed = []
    for entry in (str(v).strip().lower() for v in raw):
        try:
            check_address(f"staff{entry}" if entry.startswith("@") else entry, "test_recipients")
        except HeaderError as exc:
            reader.fail("test_recipients", f"'{entry}': {exc}")
        allowed.append(entry)
    return Workflow(
        require_approval=_flag_default(reader, "require_approval", True),
        four_eyes=_flag_default(reader, "four_eyes", True),
        missed_window_minutes=float(window or 0),
        test_recipients=tuple(allowed),
    )


def _flag_default(reader: _Reader, key: str, default: bool) -> bool:
    return _flag(reader, key) if key in reader.data else default
