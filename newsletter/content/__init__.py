"""Content: the kinds of item staff write and feeds bring, validated; pure, no I/O.

Rule: no SQL, no network, no mail. Sources produce these Items; issues and render consume them.
"""
