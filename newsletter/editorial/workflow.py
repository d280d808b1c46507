"""The editorial workflow (issue #7) in one import: approval, test copies, schedules, status.

The parts: approval.py (review, four-eyes approval, the frozen version), copies.py (test
copies), schedules.py (schedules, tick's starts, status lines), gate.py (the preflight gate of
approve and send).
"""

from __future__ import annotations

from newsletter.editorial.approval import (
    APPROVED,
    FROM_MAILING,
    STATES,
    WorkflowError,
    actor_name,
    after_send,
    approve,
    approved_ics,
    approved_web_html,
    change_reason,
    check_all,
    check_approval,
    default_actor,
    frozen_variants,
    issue_from_snapshot,
    issue_snapshot,
    rendered_for_send,
    rendered_hash,
    review,
    revoke,
    state_of,
)
from newsletter.editorial.copies import TEST_PREFIX, TestCopy, allowed_test_address, send_test
from newsletter.editorial.schedules import (
    ScheduledRun,
    config_problems,
    run_scheduled,
    schedule,
    stale_tick,
    unschedule,
    workflow_status,
)

__all__ = [
    "APPROVED",
    "FROM_MAILING",
    "STATES",
    "TEST_PREFIX",
    "ScheduledRun",
    "TestCopy",
    "WorkflowError",
    "actor_name",
    "after_send",
    "allowed_test_address",
    "approve",
    "approved_ics",
    "approved_web_html",
    "change_reason",
    "check_all",
    "check_approval",
    "config_problems",
    "default_actor",
    "frozen_variants",
    "issue_from_snapshot",
    "issue_snapshot",
    "rendered_for_send",
    "rendered_hash",
    "review",
    "revoke",
    "run_scheduled",
    "schedule",
    "send_test",
    "stale_tick",
    "state_of",
    "unschedule",
    "workflow_status",
]
