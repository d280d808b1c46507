"""The onboarding programme's public names (what cli, tick, demo and the preflight call).

The programme itself is in plan.py (the dated plan, pure), enrolment.py (who follows it, and
their plan with what was decided), steps.py (the steps that are due, sent through outbound/)
and messages.py (a member's step message). Importing this module registers the programme as
a holder of personal data with people.privacy (until app.py wires the holders explicitly).
"""

from __future__ import annotations

from newsletter.onboarding.enrolment import (
    collect_onboarding_data,
    enrol,
    enrol_new_members,
    erase_onboarding_data,
    load_calendar,
    member_plan,
    only_sequence,
    status_rows,
    stop,
    stop_if_done,
)
from newsletter.onboarding.messages import (
    OnboardingMessages,
    build_message,
    mailing_id_for,
    preview,
    render_member_step,
    sample_messages,
)
from newsletter.onboarding.plan import (
    Meeting,
    Planned,
    plan,
    plan_json,
    term_end_for,
)
from newsletter.onboarding.steps import DueReport, decide, expire_queued, may_send_at, run_due
from newsletter.render.onboarding import RenderedStep
from newsletter.store.onboarding import Enrolment, enrolments

__all__ = [
    "DueReport",
    "Enrolment",
    "Meeting",
    "OnboardingMessages",
    "Planned",
    "RenderedStep",
    "build_message",
    "collect_onboarding_data",
    "decide",
    "enrol",
    "enrol_new_members",
    "enrolments",
    "erase_onboarding_data",
    "expire_queued",
    "load_calendar",
    "mailing_id_for",
    "may_send_at",
    "member_plan",
    "only_sequence",
    "plan",
    "plan_json",
    "preview",
    "render_member_step",
    "run_due",
    "sample_messages",
    "status_rows",
    "stop",
    "stop_if_done",
    "term_end_for",
]
