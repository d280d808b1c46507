"""Inbound: the contact mailbox. Sources read messages once, classify turns bytes into a
Verdict (pure), processing acts on it, conversations hold the real questions for staff.

Rule: nothing in a message is trusted for what it claims; only signed tokens and our Message-IDs.
"""
