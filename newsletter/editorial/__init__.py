"""Editorial: review and four-eyes approval of a frozen version, test copies, schedules,
and the instance's status and history.

Rule: use cases only; they call the engines below them and return data for cli/ and web/ to show.
"""
