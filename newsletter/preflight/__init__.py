"""Preflight: every outgoing message checked (Python checks, SpamAssassin, the Nu HTML
checker, axe-core in Chromium) before it may go.

Rule: checks return Findings; they never send and never change the store.
"""
