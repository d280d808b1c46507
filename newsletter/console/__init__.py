"""The staff console: a Flask app of its own (never mounted on the public app), in Dutch.

Rule: an entry point. A page parses its form, calls a use case with the signed-in account as
the actor (staff:<email> in the audit log) and renders a template; no SQL, no rule of its own.
Every POST carries the CSRF token (csrf.py); every page but sign-in needs a signed-in account
(auth.signed_in) and, where it says so, a role (auth.requires).
"""
