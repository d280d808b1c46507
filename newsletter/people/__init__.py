"""People: subscribers and their mandates, griffie-list imports, segments, a reader's own
preferences, sign-up, and the AVG duties (export, forget).

Rule: every address is normalised by people.subscribers.normalise_email before it is looked up.
"""
