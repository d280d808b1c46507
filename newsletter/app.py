"""The wiring: every erasure holder and inbound hook, registered here in the order written.

Nothing registers itself when its module is imported; each entry point (cli, web, tick, demo,
and the staff console) calls wire() before it works. The order matters for `forget`: it runs
the erasers in this order in one transaction, before it deletes the subscriber row itself, so
rows that point at a subscriber go first.
"""

from __future__ import annotations

from newsletter.editorial import approval
from newsletter.inbound import conversations, mailbox, processing
from newsletter.onboarding import programme as onboarding
from newsletter.people import privacy


def wire() -> None:
    """Register every holder of personal data and every inbound hook (again: a no-op)."""
    # Holders of personal data: what `subscribers show` lists and `subscribers forget` erases.
    privacy.register("mandates", privacy.erase_mandates, privacy.collect_mandates)
    privacy.register("deliveries", privacy.erase_deliveries, privacy.collect_deliveries)
    privacy.register("bounces", privacy.erase_bounces, privacy.collect_bounces)
    privacy.register("outbox", privacy.erase_outbox, privacy.collect_outbox)
    privacy.register("events", privacy.erase_events, privacy.collect_events)
    privacy.register("approved versions", approval.erase_frozen)
    privacy.register("inbound", mailbox.erase_inbound, mailbox.collect_inbound)
    privacy.register("inbound-verdicts", processing.erase_verdicts)
    privacy.register(
        "conversations", conversations.erase_conversations, conversations.collect_conversations
    )
    privacy.register(
        "onboarding", onboarding.erase_onboarding_data, onboarding.collect_onboarding_data
    )
    # The contact mailbox: a message classified as a question becomes a conversation; a
    # catch-up turns questions stored while that failed into conversations after all.
    processing.on_message(conversations.add_inbound_from_processing)
    processing.on_catch_up(conversations.catch_up)
