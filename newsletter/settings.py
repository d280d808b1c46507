"""The settings of an instance as typed values, and the keys newsletter.toml may hold (what
config.load_settings reads from it and the environment)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path

from newsletter.wsgi import url_path


@dataclass(frozen=True)
class Theme:
    key: str
    title: str
    bac: bool  # a block of its own in "Uit de BAC's"
    # What the body is, with its article, above its decisions ("de BAC", "het BOD"):
    # a BOD or a bestuurlijk aanspreekpunt is not a BAC (issue #16).
    body: str = "de BAC"


@dataclass(frozen=True)
class Feed:
    name: str
    url: str
    theme: str
    timeout: float = 10.0
    max_bytes: int = 5_000_000
    interval_minutes: float = 60.0  # tick fetches the feed at most this often
    allow_redirects_to: tuple[str, ...] = ()  # hosts besides the feed's own a redirect may reach


@dataclass(frozen=True)
class Delivery:
    """[delivery]: how the engine sends (see delivery.py)."""

    transport: str = "outbox:outbox"
    connections: int = 1
    rate_per_minute: float = 0.0  # 0: as fast as the relay takes it
    retry_window_hours: float = 48.0
    backoff_minutes: float = 5.0  # first retry of a deferred message; doubles each time
    backoff_max_minutes: float = 360.0
    bounce_address: str = ""  # e.g. bounces@ipo.example: envelope sender bounces+TOKEN@...
    dkim_selector: str = ""
    dkim_domain: str = ""
    # "power-loss": every commit is fsynced (the default); "crash": safe against a crashed or
    # killed process but not a power cut, and faster with several connections.
    durability: str = "power-loss"


@dataclass(frozen=True)
class Inbox:
    """[inbox]: where the contact mailbox is read from (see mailbox.py)."""

    sources: tuple[str, ...] = ("maildir:mailbox",)  # maildir:DIR, imap://user@host/INBOX, imaps://
    retention_days: float = 90.0  # raw message bytes are kept this long, then purged
    max_bytes: int = 25_000_000  # a larger message is quarantined without its raw bytes
    ca_file: str = ""  # optional: a CA certificate (PEM) the IMAP server's TLS must chain to
    acknowledge: bool = False  # a new conversation gets one automatic reply (RFC 3834)
    hard_bounces: int = 1  # this many hard bounces mark an address bounced
    soft_bounce_mailings: int = 3  # soft bounces only when this many mailings in a row bounced
    # The authserv-id our receiving server writes in Authentication-Results: only its verdict
    # (DMARC, or DKIM/SPF aligned with From) can prove an unsubscribe by mail; "" trusts none.
    trusted_authserv_id: str = ""

    @property
    def source(self) -> str:
        return self.sources[0]


@dataclass(frozen=True)
class Onboarding:
    """[onboarding]: when steps of the programme for new AV members go (see onboarding.py)."""

    send_from: time = time(9, 0)  # steps go on working days from this hour (Europe/Amsterdam)
    send_until: time = time(17, 0)  # ... and not after this one: a missed morning waits a day
    term_end: date = date(2027, 3, 31)  # the last day of the Statenperiode
    enrol_window_days: int = 90  # a mandate that started longer ago is not a new member
    secretary: str = ""  # the AV secretary, named in the introduction step


@dataclass(frozen=True)
class Workflow:
    """[workflow]: review, approval, test sends and schedules (see workflow.py)."""

    require_approval: bool = True  # `issue send` and tick send only an approved issue
    four_eyes: bool = True  # the approver must not be who submitted it for review
    missed_window_minutes: float = 120.0  # a schedule missed by longer waits for staff
    # Who may get a test copy: full addresses, or "@domain" for a whole domain; empty means
    # the contact mailbox's own domain (the staff's).
    test_recipients: tuple[str, ...] = ()


# Public sites an issue commonly links to; [preflight] allowed_hosts replaces this list.
DEFAULT_ALLOWED_HOSTS = (
    "ipo.nl",
    "bij12.nl",
    "statenlid.nu",
    "rijksoverheid.nl",
    "overheid.nl",
    "officielebekendmakingen.nl",
    "tweedekamer.nl",
    "europa.eu",
)


@dataclass(frozen=True)
class Web:
    """[web]: the reverse proxies whose X-Forwarded-For names the reader's address."""

    # Networks (or single addresses) of proxies in front of `newsletter serve`; empty: the
    # socket peer is the client, and X-Forwarded-For (which anyone can send) is ignored.
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()


@dataclass(frozen=True)
class Preflight:
    """[preflight]: the hosts beyond ours that links in a message may point to."""

    allowed_hosts: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS
    # A bad [preflight] setting, said when the preflight runs: only the commands that check
    # (issue check, send, approve) stop on it; the others keep working.
    problem: str = ""


@dataclass(frozen=True)
class Doctor:
    """[doctor]: where `newsletter doctor` looks (see doctor/)."""

    nameserver: str = ""  # "127.0.0.1:5353": ask this DNS server; "": the system resolver
    # The public addresses the relay sends from, for the SPF check; (): the relay's own
    # addresses (a relay on this machine sends from the machine's public address: name it).
    sending_ips: tuple[str, ...] = ()
    timeout: float = 5.0  # seconds per DNS question or connection


# The roles of a staff account (issue #14): pages and use cases check these names.
STAFF_ROLES = ("redacteur", "eindredacteur", "inbox", "beheerder")


@dataclass(frozen=True)
class Oidc:
    """[console.oidc]: single sign-on through OpenID Connect (the association's Entra ID)."""

    issuer: str  # e.g. https://login.microsoftonline.com/TENANT/v2.0
    client_id: str
    allowed_domain: str  # only a verified e-mail address in this domain signs in
    roles: dict[str, tuple[str, ...]]  # a value of `claim` -> the console roles it gives
    claim: str = "groups"  # the ID token claim whose values map to roles
    scope: str = "openid email profile"  # what the sign-in asks the provider for
    client_secret: str = field(default="", repr=False)  # NEWSLETTER_OIDC_CLIENT_SECRET


# The scope of Exchange Online for IMAP and SMTP with an app's own permissions (Microsoft 365).
MICROSOFT_SCOPE = "https://outlook.office365.com/.default"


@dataclass(frozen=True)
class OAuth2:
    """[oauth2]: mail sign-in with an access token (client credentials), e.g. Microsoft 365."""

    token_url: str  # from `tenant`: https://login.microsoftonline.com/TENANT/oauth2/v2.0/token
    client_id: str
    scope: str = MICROSOFT_SCOPE
    tenant: str = ""
    certificate: str = ""  # a PEM file with the app's private key and its certificate
    secret: str = field(default="", repr=False)  # NEWSLETTER_OAUTH2_SECRET


@dataclass(frozen=True)
class Console:
    """[console]: the staff console (newsletter console), an app of its own (see console/)."""

    base_url: str = ""  # e.g. https://intranet.ipo.example/nieuwsbrief-console; "": served at /
    idle_minutes: float = 30.0  # a session not used for this long signs out
    trusted_proxy: str = ""  # the reverse proxy's address: its X-Forwarded-For/-Proto count
    # Who runs a CLI command without --by: an operating-system user name -> a staff e-mail.
    os_users: dict[str, str] = field(default_factory=dict)
    oidc: Oidc | None = None  # [console.oidc]; None: sign-in with a password only

    @property
    def path(self) -> str:
        """The path the console is served under ("" for the root), e.g. /nieuwsbrief-console."""
        return url_path(self.base_url)

    def local_url(self, host: str = "127.0.0.1", port: int = 8001) -> str:
        """Where `newsletter console` answers directly: host and port, under the path."""
        return f"http://{host}:{port}{self.path}/"


@dataclass(frozen=True)
class Settings:
    """Everything an instance is configured with; built only by load_settings()."""

    project: Path
    config_file: Path
    name: str
    sender: str  # "Display Name <address>": the contact mailbox
    sender_address: str
    reply_to: str
    list_id: str
    base_url: str
    privacy_url: str
    content_dir: Path
    subscribers_dir: Path
    build_dir: Path
    database: Path
    templates_dir: Path
    themes: dict[str, Theme]
    provinces: dict[str, str]
    feeds: tuple[Feed, ...]
    demo: bool = False
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    delivery: Delivery = field(default_factory=Delivery)
    inbox: Inbox = field(default_factory=Inbox)
    onboarding: Onboarding = field(default_factory=Onboarding)
    workflow: Workflow = field(default_factory=Workflow)
    preflight: Preflight = field(default_factory=Preflight)
    web: Web = field(default_factory=Web)
    console: Console = field(default_factory=Console)
    doctor: Doctor = field(default_factory=Doctor)
    oauth2: OAuth2 | None = None  # [oauth2]; None: mail servers take a password

    def shown(self, path: Path) -> str:
        """A path as messages show it: inside the instance folder relative to it."""
        return (
            str(path.relative_to(self.project)) if path.is_relative_to(self.project) else str(path)
        )

    @property
    def path(self) -> str:
        """The path `newsletter serve` serves the public pages under ("" for the root), from
        base_url, e.g. /nieuwsbrief."""
        return url_path(self.base_url)

    def local_url(self, host: str = "127.0.0.1", port: int = 8000) -> str:
        """Where `newsletter serve` answers directly: host and port, under the path."""
        return f"http://{host}:{port}{self.path}/"

    @property
    def sender_domain(self) -> str:
        return self.sender_address.rpartition("@")[2]

    @property
    def transport(self) -> str:
        return self.delivery.transport


# Every table and key newsletter.toml may hold; anything else is a typo (or a setting this
# version does not know) and stops the command with a suggestion. [themes] and [provinces]
# hold keys of the instance's own choosing.
KNOWN_KEYS: dict[str, frozenset[str] | None] = {
    "newsletter": frozenset(
        {"sender", "reply_to", "base_url", "list_id", "privacy_url", "demo", "name"}
    ),
    "paths": frozenset({"content", "subscribers", "build", "database", "templates"}),
    "delivery": frozenset(
        {
            "transport",
            "connections",
            "rate_per_minute",
            "retry_window_hours",
            "backoff_minutes",
            "backoff_max_minutes",
            "bounce_address",
            "durability",
        }
    ),
    "dkim": frozenset({"selector", "domain"}),
    "inbox": frozenset(
        {
            "source",
            "ca_file",
            "retention_days",
            "max_bytes",
            "acknowledge",
            "hard_bounces",
            "soft_bounce_mailings",
            "trusted_authserv_id",
        }
    ),
    "onboarding": frozenset(
        {"send_from", "send_until", "term_end", "enrol_window_days", "secretary"}
    ),
    "workflow": frozenset({"require_approval", "four_eyes", "missed_window", "test_recipients"}),
    "preflight": frozenset({"allowed_hosts"}),
    "web": frozenset({"trusted_proxies"}),
    "console": frozenset({"base_url", "idle_timeout", "trusted_proxy", "os_users", "oidc"}),
    "doctor": frozenset({"nameserver", "sending_ips", "timeout"}),
    "oauth2": frozenset({"tenant", "token_url", "client_id", "scope", "certificate"}),
    "themes": None,
    "provinces": None,
    "feeds": None,  # an array of tables: FEED_KEYS
}
FEED_KEYS = frozenset(
    {"name", "url", "theme", "timeout", "max_bytes", "interval", "allow_redirects_to"}
)
THEME_KEYS = frozenset({"title", "bac", "body"})
OIDC_KEYS = frozenset({"issuer", "client_id", "allowed_domain", "claim", "roles", "scope"})
