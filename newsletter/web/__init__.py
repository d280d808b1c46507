"""The public web endpoints: one-click unsubscribe, preferences, archive and feed, sign-up.

Rule: an entry point. Parse the request, call a use case, render a page; no logic of its own.
"""
