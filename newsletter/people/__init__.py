"""People: subscribers and their mandates, griffie-list imports, segments, a reader's own
preferences, sign-up, and the AVG duties (export, forget).

Rule: no SQL here; the rows are read and written through newsletter.store.subscribers (and
store.erasure for a person's other rows), which normalises every address before a look-up.
"""
