"""Secrets files for cron and systemd (`--env-file`): NAME=value lines, read literally."""

from __future__ import annotations

import re
from pathlib import Path

from newsletter.errors import ConfigError

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def read_env_file(path: Path) -> dict[str, str]:
    """NAME=value lines, read literally (no shell: `$`, `;`, backticks and quotes are part of
    the value); blank lines and lines starting with # are skipped. A malformed line is a
    ConfigError naming the file and line (never its value: it may be a secret)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--env-file {path}: cannot read it ({exc})") from None
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, equals, value = line.partition("=")
        if not equals or not ENV_NAME.match(name):
            raise ConfigError(
                f"--env-file {path}, line {number}: not NAME=value (a name of letters, digits "
                "and _, then =, no spaces around it), e.g. NEWSLETTER_SECRET_KEY=..."
            )
        if "\0" in value:
            raise ConfigError(f"--env-file {path}, line {number}: the value contains a NUL byte")
        found[name] = value
    return found
