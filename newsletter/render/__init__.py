"""Rendering: Jinja2 -> MJML -> mjml-python -> premailer -> HTML, and the text part.

Rule: pure. No SQL, no network, no mail; whatever data a template needs is passed in by the caller.
"""
