"""Onboarding: sequences (content/onboarding/), the dated plan per new AV member, enrolment
and sending the steps that are due.

expressions.py and sequences.py read and check a sequence; plan.py computes a member's dated
plan (pure); enrolment.py enrols, re-enrols and stops; steps.py decides what is due and sends it
through outbound/; messages.py makes a member's step message (rendered by render/onboarding.py);
programme.py holds the public names. Every query is in store/onboarding.py.

Rule: planning is pure (dates in, steps out); sending goes through outbound/ like every message.
"""
