"""Staff: the accounts of the people who run the newsletter (the console signs them in).

Rule: no SQL here (newsletter.store.staff holds it); passwords only as argon2 hashes; every
change is in the audit log with its actor, and an account is named there as staff:<email>.
"""
