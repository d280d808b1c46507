"""The mail composer: every outgoing message (issues, onboarding, replies, confirmations, sign-up,
test copies) is built here, with the same headers.

Rule: pure. Builds bytes; never sends them (outbound/ does) and never reads the store.
"""
