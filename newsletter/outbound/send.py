"""The one way to send an issue: `issue send`, scheduled starts and tick's retries all call it.

send_issue resolves the version that may go out (the approved, frozen one; the live build only
without [workflow] require_approval or for a send begun without it), passes it through the
preflight gate (editorial/gate.py: a version that passed before is not checked again), and
delivers it through the engine and the ledger. The workflow's state follows the mailing:
"sending" is recorded once the mailing exists, so a refusal leaves the issue approved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.editorial import gate
from newsletter.editorial.approval import after_send, rendered_for_send
from newsletter.outbound.delivery import Progress, SendOptions, SendReport, TransportFactory
from newsletter.outbound.issue_mail import deliver_issue, mailing_id_for
from newsletter.outbound.transports import transport_factory
from newsletter.preflight import runner as preflight

__all__ = ["IssueSend", "mailing_id_for", "send_issue"]


@dataclass(frozen=True)
class IssueSend:
    """What a send did: the preflight it passed, and the engine's report."""

    month: str
    checked: gate.Checked
    delivery: SendReport

    @property
    def had_failures(self) -> bool:
        return self.delivery.had_failures


def send_issue(
    db: Database,
    settings: Settings,
    month: str,
    transport: str | TransportFactory | None = None,
    *,
    by: str,
    connections: int | None = None,
    rate: float | None = None,
    in_doubt: str = "resend",
    progress: Progress | None = None,
    on_checked: Callable[[gate.Checked], object] | None = None,
) -> IssueSend:
    """Send the issue of `month` to everyone who has not had it; a rerun sends nothing twice.

    transport: a URL (default [delivery] transport) or a maker of transports; connections,
    rate and in_doubt override [delivery]. Raises a NewsletterError, with nothing sent, when the
    version may not go out (not approved, changed since approval, preflight errors), before
    the transport or the options are looked at. `on_checked` runs once the version passed the
    preflight, before anything is sent (the CLI shows its warnings there)."""
    preflight.allowed_hosts(settings)  # a bad [preflight] setting: refused before building
    # rendered_for_send changes no state: a refusal below leaves the issue approved.
    rendered = rendered_for_send(db, settings, month, by)
    checked = gate.check(db, settings, rendered)
    if on_checked is not None:
        on_checked(checked)
    factory = (
        transport
        if callable(transport)
        else transport_factory(transport or settings.transport, settings.project)
    )
    options = SendOptions.from_settings(settings, connections, rate, in_doubt)
    report = deliver_issue(
        db,
        settings,
        rendered,
        factory,
        options,
        progress,
        on_queued=lambda: after_send(db, month, by),
    )
    after_send(db, month, by)
    return IssueSend(month, checked, report)
