"""The one place that reads the wall clock, so every command can be replayed with --now."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from newsletter.errors import ConfigError

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

_override: datetime | None = None


def parse_instant(text: str, *, what: str = "--now") -> datetime:
    """Parse an ISO 8601 date or date-time; a naive value is taken as Europe/Amsterdam."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(
            f"{what}: '{text}' is not an ISO 8601 date-time; write e.g. 2026-12-01T09:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=AMSTERDAM)
    return value.astimezone(UTC)


def set_now(value: datetime | str | None) -> None:
    """Fix "now" for this process (from --now); None returns to the environment or wall clock."""
    global _override
    _override = parse_instant(value) if isinstance(value, str) else value


def is_fixed() -> bool:
    """True when --now or NEWSLETTER_NOW decides what "now" is."""
    return _override is not None or bool(os.environ.get("NEWSLETTER_NOW"))


def now() -> datetime:
    """The current instant in UTC: --now, else NEWSLETTER_NOW, else the wall clock."""
    if _override is not None:
        return _override
    env = os.environ.get("NEWSLETTER_NOW")
    if env:
        return parse_instant(env, what="NEWSLETTER_NOW")
    return datetime.now(UTC)


def wall_seconds() -> float:
    """Real seconds since the epoch, for the age of a running process's lock; never for what
    is due (that is now(), which --now replays)."""
    return time.time()


def local_now() -> datetime:
    """Now in Europe/Amsterdam."""
    return now().astimezone(AMSTERDAM)


def today() -> date:
    """Today's date in Europe/Amsterdam."""
    return local_now().date()


def utc_iso(value: datetime | None = None) -> str:
    """A UTC ISO 8601 timestamp for the store."""
    return (value or now()).astimezone(UTC).isoformat(timespec="seconds")
