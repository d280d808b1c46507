"""Dutch words for what the library returns: states, counts, log actions, moments."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from babel.dates import format_date
from sqlite_utils import Database

from newsletter import clock
from newsletter.dates import nl_date, nl_time
from newsletter.editorial.schedules import IssueGlance, Problem
from newsletter.staff.identity import shown

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
    "subscribe-request": "aanmelding aangevraagd",
    "subscribe-confirm": "aanmelding bevestigd",
    "unsubscribe-confirmation": "bevestiging van de afmelding",
    "onboarding-enrol": "ingeschreven voor het inwerkprogramma",
    "onboarding-stop": "inwerkprogramma gestopt",
    "reply": "antwoord verstuurd",
    "test-send": "testversie verstuurd",
    "test-send-failed": "testversie mislukt",
    "state": "stand gewijzigd",
    "schedule-missed": "gepland moment gemist",
    "staff-roles": "rollen gewijzigd",
    "signin-refused": "inloggen geweigerd",
    "inbox-close": "gesprek gesloten",
    "assign": "gesprek toegewezen",
    "close": "gesprek gesloten",
    "reopen": "gesprek heropend",
    "note": "notitie toegevoegd",
    "follow-up": "opvolgdatum gezet",
    "follow-up due": "opvolgdatum bereikt",
    "saved reply": "standaardantwoord opgeslagen",
    "saved reply deleted": "standaardantwoord verwijderd",
    "content-add": "inhoud toegevoegd",
    "content-edit": "inhoud gewijzigd",
}
# Who did something, when it is no staff account (an account is shown by its name).
ACTORS = {
    "mailbox": "het contactadres (automatisch)",
    "web": "de persoon zelf (website)",
    "tick": "de tick (automatisch)",
    "send": "het verzenden (automatisch)",
    "onboarding": "het inwerkprogramma (automatisch)",
    "oidc": "inloggen met het organisatieaccount",
    "demo": "de demo (automatisch)",
    "cli": "de opdrachtregel",
}
# How an unsubscribe came in (the log's `how`).
HOW = {
    "mail": "per e-mail",
    "staff": "door een medewerker, op verzoek van de persoon",
    "complaint": "na een klacht (spam gemeld)",
    "page": "via de afmeldpagina",
    "one-click": "met één klik in het e-mailprogramma",
    "page (queued)": "via de afmeldpagina (later verwerkt)",
    "one-click (queued)": "met één klik in het e-mailprogramma (later verwerkt)",
}
STATUS_WORDS = {
    "pending": "wacht op bevestiging",
    "active": "actief",
    "paused": "gepauzeerd",
    "unsubscribed": "afgemeld",
    "bounced": "onbestelbaar",
}
_STAFF = re.compile(r"staff:[^\s:;,]+@[^\s:;,]+")


def who(db: Database, value: str | None) -> str:
    """Who did something, as staff read it: a colleague's name, or what the system part is."""
    if not value:
        return "onbekend"
    if value.startswith("cli:"):
        return f"{value[4:]} (op de opdrachtregel)"
    if value.startswith("import:"):
        return f"de import van {value[7:]}"
    if value.startswith("web:"):  # the sign-up form
        return ACTORS["web"]
    return ACTORS.get(value) or shown(db, value) or value


def names_in(db: Database, text: str | None) -> str:
    """A stored text with every staff:<email> in it replaced by that colleague's name."""
    return _STAFF.sub(lambda m: who(db, m[0]), text or "")


def month_name(month: str) -> str:
    """'2026-12' as 'december 2026'."""
    year, number = month.split("-")
    return format_date(date(int(year), int(number), 1), "MMMM y", locale="nl")


def issue_of(mailing_id: str | None) -> str | None:
    """The month of an issue's mailing ('2026-12' for issue-2026-12), None for any other."""
    found = re.fullmatch(r"issue-(\d{4}-\d{2})", mailing_id or "")
    return found[1] if found else None


def issue_title(month: str) -> str:
    """'2026-12' as staff name the issue: 'Nummer december 2026'."""
    return f"Nummer {month_name(month)}"


def mailing_name(mailing_id: str | None) -> str:
    """A mailing as staff call it: 'nieuwsbrief december 2026', not issue-2026-12."""
    if not mailing_id:
        return "–"
    issue = re.fullmatch(r"issue-(\d{4}-\d{2})", mailing_id)
    if issue:
        return f"nieuwsbrief {month_name(issue[1])}"
    step = re.fullmatch(r"onboarding-[\w-]+?-(\d+)(--.*)?", mailing_id)
    if step:
        return f"inwerkprogramma, stap {step[1]}"
    if mailing_id.startswith("onboarding-"):
        return "inwerkprogramma"
    reply = re.fullmatch(r"reply-(\d+)-.*", mailing_id)
    if reply:
        return f"antwoord in gesprek {reply[1]}"
    return mailing_id


def history_details(db: Database, name: str, details: dict[str, Any]) -> str:
    """The details of a log entry about a person, in Dutch; what is not known is left out."""
    parts: list[str] = []
    for key, value in details.items():
        if key == "how":
            parts.append(HOW.get(str(value), str(value)))
        elif key == "sent":
            parts.append("bevestiging verstuurd" if value else "bevestiging niet verstuurd")
        elif key in ("reason", "why") and name == "bounced":
            parts.append(_why_bounced(str(value)))
        elif key == "reason":
            parts.append(f"reden: {names_in(db, str(value))}")
        elif key == "conversation":
            parts.append(f"op verzoek in gesprek {value}")
        elif key == "bounces":
            count = int(value)
            parts.append(
                f"{count} {'bounce telt' if count == 1 else 'bounces tellen'} niet meer mee"
            )
        elif key == "themes":
            parts.append("thema's: " + (", ".join(value) if value else "alle"))
        elif key == "status":
            parts.append(STATUS_WORDS.get(str(value), str(value)))
        elif key == "start":
            parts.append(f"start {nl_date(str(value))}")
        elif key == "to":
            parts.append(f"aan {value}")
    return "; ".join(parts)


def _why_bounced(why: str) -> str:
    hard = re.fullmatch(r"(\d+) hard bounces?", why)
    if hard:
        count = int(hard[1])
        return f"{count} harde {'bounce' if count == 1 else 'bounces'}"
    each = re.fullmatch(r"a bounce in each of the last (\d+) mailings", why)
    if each:
        return f"een bounce bij elk van de laatste {each[1]} verzendingen"
    return why


def server_reply(reply: str | None) -> str:
    """A delivery's last answer: the relay's own words, or what the file transport did."""
    if not reply:
        return "–"
    if reply.startswith("written "):
        return "als bestand opgeslagen (testinstelling: niet echt verstuurd)"
    return reply


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
