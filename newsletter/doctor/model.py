"""What a check returns: one row of the doctor's table."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

OK, WARNING, ERROR = "ok", "warning", "error"
ORDER = {OK: 0, WARNING: 1, ERROR: 2}


@dataclass(frozen=True)
class Check:
    """One check: its key (for monitoring), title, result, what was found and what to do."""

    key: str  # spf, dkim, dmarc, alignment, mx, mta-sts, dane, relay-tls, one-click, https
    title: str
    result: str  # ok, warning, error
    found: str
    fix: str = ""  # empty when there is nothing to do

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def worst(checks: list[Check]) -> str:
    """The worst result of the run (ok when there are none)."""
    return max((c.result for c in checks), key=ORDER.__getitem__, default=OK)


def counts(checks: list[Check]) -> dict[str, int]:
    return {result: sum(c.result == result for c in checks) for result in ORDER}
