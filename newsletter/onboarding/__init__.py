"""Onboarding: sequences (content/onboarding/), the dated plan per new AV member, enrolment
and sending the steps that are due.

Rule: planning is pure (dates in, steps out); sending goes through outbound/ like every message.
"""
