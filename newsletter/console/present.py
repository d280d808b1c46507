"""Dutch words for what the library returns: states, counts, log actions, moments."""

from __future__ import annotations

from datetime import datetime, timedelta

from newsletter import clock
from newsletter.dates import nl_date, nl_time
from newsletter.editorial.schedules import IssueGlance, Problem

DELIVERY_STATES = {
    "queued": "in de wachtrij",
    "deferred": "uitgesteld",
    "in-doubt": "onzeker (na een onderbreking)",
    "sending": "wordt verzonden",
    "sent": "verzonden",
    "failed": "mislukt",
    "skipped": "overgeslagen",
    "cancelled": "geannuleerd",
}
MAILING_STATES = {
    "sending": "wordt verzonden",
    "paused": "gepauzeerd",
    "done": "klaar",
    "sent": "verzonden",
    "sent-with-failures": "verzonden, maar niet alles kwam aan",
    "cancelled": "geannuleerd",
}
ROLE_NAMES = {
    "redacteur": "redacteur",
    "eindredacteur": "eindredacteur",
    "inbox": "inbox",
    "beheerder": "beheerder",
}
# The log's action ids, as staff read them; an id not here is shown as it is.
ACTIONS = {
    "signin": "ingelogd",
    "signout": "uitgelogd",
    "staff-add": "account aangemaakt",
    "staff-disable": "account uitgeschakeld",
    "staff-password": "nieuw wachtwoord",
    "send": "verzonden",
    "tick": "tick",
    "unsubscribe": "afgemeld",
    "subscribe": "aangemeld",
    "confirm": "aanmelding bevestigd",
    "preferences": "voorkeuren gewijzigd",
    "forget": "vergeten (AVG)",
    "bounced": "onbestelbaar",
    "import": "lijst geïmporteerd",
    "resubscribe": "opnieuw aangemeld",
    "undo-bounce": "onbestelbaar ongedaan gemaakt",
    "export": "lijst geëxporteerd",
    "review": "ter beoordeling ingediend",
    "approve": "goedgekeurd",
    "approve-refused": "goedkeuring geweigerd",
    "revoke": "goedkeuring ingetrokken",
    "schedule": "ingepland",
    "unschedule": "niet meer ingepland",
    "test": "testversie verstuurd",
    "pause": "gepauzeerd",
    "resume": "hervat",
    "cancel": "geannuleerd",
    "compose": "nummer samengesteld",
}


def moment(value: datetime | str | None) -> str:
    """An instant as '1 december 2026 9.00 uur' (Europe/Amsterdam)."""
    if value is None:
        return "onbekend"
    instant = clock.parse_instant(value) if isinstance(value, str) else value
    local = instant.astimezone(clock.AMSTERDAM)
    return f"{nl_date(local)} {nl_time(local)}"


def issue_state(issue: IssueGlance) -> str:
    """What an issue's state means, in a sentence fragment."""
    text = {
        "draft": "concept",
        "review": f"ter beoordeling, ingediend door {issue.editor}",
        "approved": f"goedgekeurd door {issue.approved_by}",
        "scheduled": f"goedgekeurd door {issue.approved_by}, ingepland",
        "sending": "wordt verzonden",
    }.get(issue.state, issue.state)
    if issue.state == "draft" and issue.revoked_reason:
        text += f" (goedkeuring ingetrokken: {issue.revoked_reason})"
    if issue.interrupted:
        text += "; het verzenden is onderbroken en moet opnieuw gestart worden"
    elif issue.missed:
        text += f"; het geplande moment ({moment(issue.scheduled_for)}) is gemist, dus "
        text += "het nummer wacht tot iemand het verstuurt"
    return text


def action(name: str) -> str:
    return ACTIONS.get(name, name)


def _dagen(late: timedelta) -> str:
    hours = late.total_seconds() / 3600
    if hours >= 48:
        return f"{hours / 24:.0f} dagen"
    if hours >= 1:
        return f"{hours:.0f} uur"
    minutes = round(late.total_seconds() / 60)
    return f"{minutes} minuut" if minutes == 1 else f"{minutes} minuten"


def problem(p: Problem) -> str:
    """Een probleem van de instantie, zoals een medewerker het leest."""
    if p.code == "stale-tick":
        assert p.late is not None
        return (
            f"De tick heeft al {_dagen(p.late)} niet gedraaid. Controleer of de crontab of de "
            "systemd-timer uit cron/ is geïnstalleerd en draait (zie de README)."
        )
    if p.code == "password":
        host, variable = p.what.rsplit(" ", 1)
        return f"{host} vraagt een wachtwoord: zet {variable}."
    return {
        "demo": "Dit is een demo-instantie (demo = true): links zijn ondertekend met de "
        "gepubliceerde demosleutel. Gebruik dit nooit voor een echte nieuwsbrief.",
        "no-secret": "NEWSLETTER_SECRET_KEY is niet gezet: er kan geen e-mail worden verstuurd.",
        "files-transport": f'[delivery] transport = "{p.what}" schrijft bestanden en '
        "verstuurt niets; stel een smtp://-relay in voor echte e-mail.",
        "dkim-key": "[dkim] is ingesteld, maar NEWSLETTER_DKIM_KEY_FILE niet.",
        "unapproved": "[workflow] require_approval = false: nummers gaan zonder goedkeuring uit.",
        "own-approval": "[workflow] four_eyes = false: een redacteur mag eigen werk goedkeuren.",
    }[p.code]
