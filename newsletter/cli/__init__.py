"""The command line: one module per command group.

Rule: an entry point. Parse, call one library function, format what it returns; no SQL or SMTP.
"""
