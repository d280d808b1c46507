"""Run every check, in the order of the table: DNS first, then the message, then connections."""

from __future__ import annotations

from collections.abc import Callable

from newsletter.config import Settings
from newsletter.doctor.dns import Resolver
from newsletter.doctor.message import check_alignment
from newsletter.doctor.model import WARNING, Check
from newsletter.doctor.network import check_https, check_one_click, check_relay_tls
from newsletter.doctor.records import (
    check_dane,
    check_dkim,
    check_dmarc,
    check_mta_sts,
    check_mx,
    check_spf,
)

CHECKS: tuple[Callable[[Settings, Resolver], Check], ...] = (
    check_spf,
    check_dkim,
    check_dmarc,
    check_alignment,
    check_mx,
    check_mta_sts,
    check_dane,
    lambda settings, _: check_relay_tls(settings),
    check_https,
    check_one_click,
)


def run_doctor(settings: Settings) -> list[Check]:
    """Every check's row; a check that breaks on something unforeseen says so as a warning."""
    resolver = Resolver(settings.doctor)
    rows = []
    for check in CHECKS:
        try:
            rows.append(check(settings, resolver))
        except Exception as exc:
            name = getattr(check, "__name__", "check").removeprefix("check_")
            rows.append(
                Check(
                    name,
                    name,
                    WARNING,
                    f"the check itself failed: {type(exc).__name__}: {exc}",
                    "report this; the other checks still ran",
                )
            )
    return rows
