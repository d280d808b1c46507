"""`newsletter doctor`: is the sending set-up right (DNS records, relay, web endpoints)?

Each check returns a Check row (model.py); DNS through dns.py ([doctor] nameserver or the
system resolver), connections through network.py. A check that cannot reach what it needs (no
internet) is a warning that says so, never a crash. Nothing here changes data.
"""
