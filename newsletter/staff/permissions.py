"""Which role each staff action needs: the one rule, for the CLI and the console alike.

An action is named as the CLI names it (`issue approve` is "approve"); the console maps each
of its buttons and pages to one of these names. An action mapped to None needs an active
account with any role (it is still done by, and logged as, that account); a tuple of roles
means any one of them.

Personal data is for the roles that answer people (inbox), decide what is sent
(eindredacteur) and keep the lists (beheerder); a redacteur writes content and does not need
it. Taking a list in or out, and erasing someone, is the beheerder's (the AVG's duties).
"""

from __future__ import annotations

from newsletter.staff.accounts import StaffError
from newsletter.store.staff import StaffRow

PEOPLE = ("inbox", "eindredacteur", "beheerder")
EDITORS = ("redacteur", "eindredacteur")

ACTIONS: dict[str, str | tuple[str, ...] | None] = {
    # the monthly issue
    "review": "redacteur",
    "compose": "redacteur",
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
    "subscribers-set": PEOPLE,
    "subscribers-resubscribe": PEOPLE,
    "subscribers-unsubscribe": PEOPLE,
    "subscribers-undo-bounce": PEOPLE,
    "people-view": PEOPLE,  # Mensen, a person, Bounces and away
    # the contact mailbox
    "inbox-reply": "inbox",
    "inbox-close": "inbox",
    "inbox-reopen": "inbox",
    "inbox-assign": "inbox",
    # onboarding by hand, and who reads the programme and the reports
    "onboarding-enroll": "eindredacteur",
    "onboarding-stop": "eindredacteur",
    "onboarding-view": EDITORS,
    "reports-view": EDITORS,
}

# How a refusal names the action (the CLI's words).
WORDS = {
    "review": "submitting an issue for review",
    "compose": "composing an issue",
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
    "subscribers-resubscribe": "subscribing someone again",
    "subscribers-unsubscribe": "unsubscribing someone at their request",
    "subscribers-undo-bounce": "undoing a bounce",
    "people-view": "seeing people and bounces",
    "inbox-reply": "answering from the contact mailbox",
    "inbox-close": "closing a conversation",
    "inbox-reopen": "reopening a conversation",
    "inbox-assign": "assigning a conversation",
    "onboarding-enroll": "enrolling someone in onboarding",
    "onboarding-stop": "stopping someone's onboarding",
    "onboarding-view": "reading the onboarding programme",
    "reports-view": "reading the reports",
}


class RoleRefused(StaffError):
    """The account lacks the role an action needs (exit 2; 403 in the console)."""

    def __init__(self, message: str, action: str, role: str) -> None:
        super().__init__(message)
        self.action = action
        self.role = role


def roles_for(action: str) -> tuple[str, ...]:
    """The roles any one of which may do `action` (empty: any account); KeyError for an
    unknown action."""
    role = ACTIONS[action]
    return (role,) if isinstance(role, str) else role or ()


def allowed(account: StaffRow, action: str) -> bool:
    """Whether the active account may do `action`."""
    roles = roles_for(action)
    return account.active and (not roles or bool(set(roles) & set(account.roles)))


def require(account: StaffRow, action: str) -> StaffRow:
    """The account, when it may do `action`; RoleRefused naming role and roles otherwise."""
    roles = roles_for(action)
    if not allowed(account, action):
        has = ", ".join(account.roles) or "no role"
        if not roles:
            needed = "an active account"
        elif len(roles) == 1:
            needed = f"the role {roles[0]}"
        else:
            needed = f"one of the roles {', '.join(roles)}"
        raise RoleRefused(
            f"{WORDS[action][0].upper()}{WORDS[action][1:]} needs {needed}; "
            f"{account.name} has: {has}",
            action,
            roles[0] if len(roles) == 1 else ", ".join(roles),
        )
    return account
