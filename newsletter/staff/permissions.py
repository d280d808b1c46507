"""Which role each staff action needs: the one rule, for the CLI and the console alike.

An action is named as the CLI names it (`issue approve` is "approve"); the console maps each
of its buttons to one of these names. An action mapped to None needs an active account with
any role (it is still done by, and logged as, that account).
"""

from __future__ import annotations

from newsletter.staff.accounts import StaffError
from newsletter.store.staff import StaffRow

ACTIONS: dict[str, str | None] = {
    # the monthly issue
    "review": "redacteur",
    "approve": "eindredacteur",
    "test": "eindredacteur",
    "schedule": "eindredacteur",
    "unschedule": "eindredacteur",
    "send": "eindredacteur",
    "pause": "eindredacteur",
    "resume": "eindredacteur",
    "cancel": "eindredacteur",
    # subscribers: personal data
    "subscribers-import": "beheerder",
    "subscribers-export": "beheerder",
    "subscribers-forget": "beheerder",
    "subscribers-set": None,
    # the contact mailbox
    "inbox-reply": "inbox",
    "inbox-close": "inbox",
    # onboarding by hand
    "onboarding-enroll": None,
}

# How a refusal names the action (the CLI's words).
WORDS = {
    "review": "submitting an issue for review",
    "approve": "approving an issue",
    "test": "sending a test copy",
    "schedule": "scheduling an issue",
    "unschedule": "taking an issue off its schedule",
    "send": "sending an issue",
    "pause": "pausing a send",
    "resume": "resuming a send",
    "cancel": "cancelling a send",
    "subscribers-import": "importing subscribers",
    "subscribers-export": "exporting subscribers",
    "subscribers-forget": "forgetting a subscriber",
    "subscribers-set": "setting a reader's preferences",
    "inbox-reply": "answering from the contact mailbox",
    "inbox-close": "closing a conversation",
    "onboarding-enroll": "enrolling someone in onboarding",
}


class RoleRefused(StaffError):
    """The account lacks the role an action needs (exit 2; 403 in the console)."""

    def __init__(self, message: str, action: str, role: str) -> None:
        super().__init__(message)
        self.action = action
        self.role = role


def role_for(action: str) -> str | None:
    """The role `action` needs (None: any account); KeyError for an unknown action."""
    return ACTIONS[action]


def allowed(account: StaffRow, action: str) -> bool:
    """Whether the active account may do `action`."""
    role = role_for(action)
    return account.active and (role is None or role in account.roles)


def require(account: StaffRow, action: str) -> StaffRow:
    """The account, when it may do `action`; RoleRefused naming role and roles otherwise."""
    role = role_for(action)
    if not allowed(account, action):
        has = ", ".join(account.roles) or "no role"
        needed = f"the role {role}" if role else "an active account"
        raise RoleRefused(
            f"{WORDS[action][0].upper()}{WORDS[action][1:]} needs {needed}; "
            f"{account.name} has: {has}",
            action,
            role or "",
        )
    return account
