"""Dutch words for the Logboek: what a log entry is about and its details, built from the data
the library stores with it (counts, codes, ids), never from an English text it also keeps for
the CLI (a send's or an import's `summary`: `newsletter log` prints that)."""

from __future__ import annotations

import re
from typing import Any

from sqlite_utils import Database

from newsletter.console.content_form import KIND_NAMES
from newsletter.console.issue_words import STATES as ISSUE_STATES
from newsletter.console.plan_words import plan_text
from newsletter.console.present import (
    ROLE_NAMES,
    STATUS_WORDS,
    history_details,
    issue_title,
    mailing_name,
    moment,
    names_in,
    who,
)
from newsletter.dates import nl_date
from newsletter.store import subscribers


def log_subject(db: Database, subject: str | None) -> str:
    """What a log entry is about, as staff name it: 'Nummer december 2026', not issue-2026-12."""
    if not subject:
        return "–"
    issue = re.fullmatch(r"issue-(\d{4}-\d{2})", subject)
    if issue:
        return issue_title(issue[1])
    if subject.startswith(("onboarding-", "reply-")):
        return mailing_name(subject)
    kind, _, rest = subject.partition(":")
    if kind == "staff":
        return f"account van {who(db, subject)}"
    if subject == "subscriber:forgotten":
        return "een vergeten persoon"
    if kind == "subscriber" and rest.isdigit():
        found = subscribers.get(db, int(rest))
        return found.name or found.email if found else f"persoon {rest} (niet meer bekend)"
    named = {
        "subscriber": "persoon",
        "conversation": "gesprek",
        "saved-reply": "standaardantwoord",
        "item": "inhoud",
        "import": "lijst",
    }
    if kind in named and rest:
        return f"{named[kind]} {rest}"
    return {"subscribers": "de lijst van abonnees", "tick": "de tick"}.get(subject, subject)


def _count(number: Any, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _send(details: dict[str, Any]) -> str:
    """A run of the send engine; a row from before the counts were kept says only that."""
    if "sent" not in details:
        return "Verzonden (de aantallen zijn bij deze oudere regel niet apart bewaard)"
    total = _count(details.get("total", 0), "ontvanger", "ontvangers")
    line = f"Aan {details['sent']} van {total} verzonden"
    if details.get("already_sent"):
        line += f", aan {details['already_sent']} al eerder"
    extra = [
        f"{details[key]} {word}"
        for key, word in (
            ("deferred", "uitgesteld"),
            ("failed", "mislukt"),
            ("skipped", "overgeslagen (niet meer ingeschreven)"),
            ("in_doubt", "onzeker"),
        )
        if details.get(key)
    ]
    if extra:
        line += "; " + ", ".join(extra)
    waiting = details.get("waiting", 0)
    if details.get("stopped"):
        stopped = "gepauzeerd" if details["stopped"] == "paused" else "geannuleerd"
        line += f"; {stopped}, {waiting} wachten nog"
    elif details.get("relay_down"):
        line += f"; gestopt, de mailserver was onbereikbaar; {waiting} wachten nog"
    elif waiting and details.get("next_retry"):
        line += f"; {waiting} wachten nog, volgende poging {moment(details['next_retry'])}"
    return line


def _import(details: dict[str, Any]) -> str:
    """A griffie list imported; a row from before the counts were kept says only that."""
    if "added" not in details:
        return "Lijst geïmporteerd (de aantallen zijn bij deze oudere regel niet apart bewaard)"
    parts = [
        f"{details['added']} toegevoegd",
        f"{details.get('updated', 0)} bijgewerkt",
        f"{details.get('unchanged', 0)} ongewijzigd",
        _count(details.get("mandates_added", 0), "functie toegevoegd", "functies toegevoegd"),
    ]
    for key, one, many in (
        ("mandates_reopened", "functie heropend", "functies heropend"),
        ("mandates_ended", "functie beëindigd", "functies beëindigd"),
        ("left_alone", "persoon ongemoeid gelaten", "personen ongemoeid gelaten"),
        ("rejected", "regel afgewezen", "regels afgewezen"),
    ):
        if details.get(key):
            parts.append(_count(details[key], one, many))
    return ", ".join(parts)


# Reasons the library writes itself (in English), as staff read them.
REASONS = {
    "four-eyes: the editor cannot approve": "vier ogen: wie het indiende, keurt het niet goed",
    "disabled": "het account is uitgeschakeld",
}
# The tick's jobs (newsletter.tick.JOBS), as staff read them.
TICK_JOBS = {
    "content": "inhoud bijwerken",
    "inbox": "contactadres lezen",
    "unsubscribes": "afmeldingen verwerken",
    "scheduled": "ingeplande nummers",
    "deliveries": "uitgestelde berichten",
    "onboarding": "inwerkprogramma",
    "postvak": "opvolgdata in het postvak",
    "retention": "oude gegevens opruimen",
    "erasures": "verzoeken om vergeten",
}
# The log's detail keys, as staff read them (a key not here is shown as it is).
DETAIL_KEYS = {
    "reason": "reden",
    "why": "waarom",
    "state": "stand",
    "status": "status",
    "conversation": "gesprek",
    "version": "versie",
    "sequence": "programma",
    "variant": "variant",
    "error": "fout",
    "note": "notitie",
    "title": "titel",
    "path": "bestand",
    "item": "onderdeel",
    "people": "personen",
    "format": "formaat",
    "consent": "toestemmingstekst",
}
# What history_details (the person's page) words: an entry with only these is worded the same.
HISTORY_KEYS = {"how", "sent", "reason", "why", "conversation", "bounces", "themes", "status"}
# Keys that are no use to staff reading the log (a keyed client address, a Message-ID).
HIDDEN = {"client", "message_id", "summary"}


def _value(db: Database, key: str, value: Any) -> str:
    """One detail in Dutch ('' to leave it out)."""
    if key in HIDDEN:
        return ""
    if key in ("editor", "to", "approved_by"):
        return f"{'redacteur' if key == 'editor' else 'aan'} {who(db, str(value))}"
    if key in ("roles", "was"):
        roles = ", ".join(ROLE_NAMES.get(r, r) for r in value) or "geen"
        return f"{'rollen' if key == 'roles' else 'was'}: {roles}"
    if key in ("start", "on"):
        return f"{'start' if key == 'start' else 'op'} {nl_date(str(value))}" if value else ""
    if key == "at":
        return f"moment {moment(str(value))}"
    if key == "failed":  # the tick's jobs that failed
        jobs = ", ".join(TICK_JOBS.get(job, job) for job in value)
        return f"mislukt: {jobs}" if value else "alles gelukt"
    if key == "sessions_ended":
        return _count(value, "sessie beëindigd", "sessies beëindigd")
    if key == "address":
        return f"vanaf {value}"
    if key == "via":
        return "met het organisatieaccount" if value == "oidc" else f"via {value}"
    if key == "kind":
        return KIND_NAMES.get(str(value), str(value))
    if key == "change":
        return {"text": "tekst gewijzigd", "add": "toegevoegd", "remove": "weggehaald",
                "up": "omhoog", "down": "omlaag"}.get(str(value), str(value))  # fmt: skip
    if key == "source":
        if value == "mandate":  # an enrolment from the member's mandate
            return "vanuit de functie"
        return f"bron: {who(db, str(value))}"
    if isinstance(value, bool):
        shown = "ja" if value else "nee"
    elif value is None:
        shown = "–"
    elif isinstance(value, list | tuple):
        shown = ", ".join(map(str, value)) or "–"
    elif key == "state":
        shown = ISSUE_STATES.get(str(value), str(value))
    elif key == "status":
        shown = STATUS_WORDS.get(str(value), str(value))
    elif key in ("reason", "why"):
        shown = names_in(db, REASONS.get(str(value), str(value)))
    else:  # a text that names an issue's mailing names the issue
        shown = re.sub(r"\bissue-(\d{4}-\d{2})\b", lambda m: issue_title(m[1]).lower(), str(value))
    return f"{DETAIL_KEYS.get(key, key)}: {shown}"


def log_details(db: Database, action: str, details: dict[str, Any]) -> str:
    """A log entry's details for the Logboek, in Dutch, built from the data it holds."""
    if action == "send":
        return _send(details)
    if action == "import":
        return _import(details)
    if "reason" in details and action != "bounced":
        reason = str(details["reason"])
        reason = plan_text(reason) if action == "onboarding-stop" else REASONS.get(reason, reason)
        details = {**details, "reason": reason}
    if details and set(details) <= HISTORY_KEYS:
        return history_details(db, action, details)  # worded as on the person's page
    parts = [_value(db, key, value) for key, value in details.items()]
    return "; ".join(part for part in parts if part)
