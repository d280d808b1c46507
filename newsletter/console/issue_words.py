"""Dutch words for the Nummers pages: issue states, actions, and the library's refusals."""

from __future__ import annotations

import re

from newsletter.errors import NewsletterError

STATES = {
    "draft": "concept",
    "review": "ter beoordeling",
    "approved": "goedgekeurd",
    "scheduled": "ingepland",
    "sending": "wordt verzonden",
    "sent": "verzonden",
    "cancelled": "geannuleerd",
}

# The workflow actions of an issue page: form id -> (button, the library's action name). Who
# may do which is staff.permissions' rule, the same as the CLI's.
ACTIONS = {
    "indienen": ("Ter beoordeling indienen", "review"),
    "goedkeuren": ("Goedkeuren", "approve"),
    "testversie": ("Stuur mij een testversie", "test"),
    "inplannen": ("Inplannen", "schedule"),
    "niet-inplannen": ("Niet meer inplannen", "unschedule"),
    "versturen": ("Nu versturen", "send"),
    "pauzeren": ("Pauzeren", "pause"),
    "hervatten": ("Hervatten", "resume"),
    "annuleren": ("Verzending annuleren", "cancel"),
}

DONE = {
    "nieuw": (
        "Het nummer is aangemaakt, met de items die sinds het vorige nummer verschenen. Voeg "
        "onder Item toevoegen toe wat ontbreekt, en schrijf de inleiding."
    ),
    "tekst": "Onderwerp, preheader en inleiding zijn opgeslagen.",
    "indienen": "Het nummer is ter beoordeling ingediend. Een collega keurt het goed.",
    "goedkeuren": "Het nummer is goedgekeurd. Deze versie wordt verstuurd.",
    "testversie": "De testversie is verstuurd naar {email}.",
    "inplannen": "Het nummer is ingepland.",
    "niet-inplannen": "Het nummer is niet meer ingepland; het blijft goedgekeurd.",
    "versturen": "De verzending is begonnen. Deze pagina toont de voortgang en ververst zichzelf.",
    "pauzeren": "De verzending is gepauzeerd.",
    "hervatten": "De verzending gaat verder waar ze stopte.",
    "annuleren": "De verzending is geannuleerd; wat nog niet weg was, gaat niet meer weg.",
}

# The library speaks English (the CLI's words); staff read these. (pattern, Dutch text); the
# groups of the pattern may be used in the text. The first that matches wins.
REFUSALS: list[tuple[str, str]] = [
    (
        r"submitted it for review and cannot also approve it",
        "U hebt dit nummer zelf ter beoordeling ingediend en mag het daarom niet ook "
        "goedkeuren (vier ogen). Vraag een collega met de rol eindredacteur om het goed te keuren.",
    ),
    (
        r"is (draft), not in review",
        "Het nummer is nog een concept. Dien het eerst ter beoordeling in; daarna keurt een "
        "collega het goed.",
    ),
    (r"is already (approved|scheduled)", "Het nummer is al goedgekeurd; er is niets veranderd."),
    (
        r"only a draft can be submitted",
        "Alleen een concept kan ter beoordeling worden ingediend.",
    ),
    (
        r"changed after .* submitted it for review",
        "Het nummer is veranderd nadat het ter beoordeling werd ingediend; het is weer een "
        "concept. Dien het opnieuw in.",
    ),
    (
        r"only an approved issue can be scheduled",
        "Alleen een goedgekeurd nummer kan worden ingepland.",
    ),
    (r"that is in the past", "Dat moment is al voorbij; kies een later moment."),
    (r"is \w+, not scheduled", "Het nummer is niet ingepland."),
    (
        r"test copies go to staff only",
        "Testversies gaan alleen naar adressen van medewerkers; uw adres staat niet in "
        "[workflow] test_recipients.",
    ),
    (
        r"not approved; run",
        "Het nummer is niet goedgekeurd; alleen een goedgekeurd nummer wordt verstuurd.",
    ),
    (
        r"its approval was revoked \((.*)\); it is a draft",
        "Het nummer is niet verstuurd: het is veranderd sinds de goedkeuring en weer een "
        "concept. Dien het opnieuw in.",
    ),
    (
        r"has (\d+) preflight errors?",
        "De controle vond {0} fout(en) die het versturen of goedkeuren tegenhouden; zie "
        "'Controle' hieronder.",
    ),
    (
        r"only a mailing that is (.*) can be (paused|resumed|cancelled|canceld|cancel)",
        "Dat kan nu niet: de verzending heeft niet de juiste status.",
    ),
    (r"there is no mailing", "Dit nummer is nog niet verstuurd."),
    (
        r"is (?:sending|paused|sent|sent-with-failures) \(mailing",
        "Dit nummer wordt of is verstuurd; de inhoud ligt vast en het nummerbestand wordt niet "
        "meer gewijzigd.",
    ),
    (r"is cancelled \(mailing", "Dit nummer is geannuleerd; de inhoud wordt niet meer gewijzigd."),
    (
        r"its approved version is frozen",
        "Dit nummer is goedgekeurd: de goedgekeurde versie ligt vast en is wat verstuurd wordt. "
        "De console wijzigt het daarom niet. (Wie het bestand op schijf bewerkt, trekt de "
        "goedkeuring in; daarna moet het opnieuw worden ingediend en goedgekeurd.)",
    ),
    (r"item '([^']+)' is already in sections\.(\w+)", "Het item '{0}' staat al in het nummer."),
    (r"item '([^']+)' is not in this issue", "Het item '{0}' staat niet (meer) in het nummer."),
    (r"is already the first", "Dit item staat al bovenaan in zijn rubriek."),
    (r"is already the last", "Dit item staat al onderaan in zijn rubriek."),
    (r"is not a section", "Kies een rubriek uit de lijst."),
    (
        r"unknown item '([^']+)'; run 'newsletter content sync' or",
        "Het item '{0}' bestaat niet; kies een item uit de lijst.",
    ),
    (r"the intro is empty", "De inleiding is leeg; schrijf twee of drie zinnen."),
    (r"already exists", "Dat nummer bestaat al; open het in de lijst."),
    (r"is not a month", "Dat is geen maand; schrijf jaar en maand, bijvoorbeeld 2026-12."),
    (r"is outside the Statenperiodes", "Die maand ligt buiten de Statenperiodes die we kennen."),
    (r"no items in any section", "Er staat nog geen enkel item in het nummer."),
    (r"unknown item '([^']+)'", "Het item '{0}' bestaat niet (meer); haal het uit het nummer."),
    (r"field '(\w+)' is empty", "Het veld '{0}' is leeg."),
    (r"another command is busy|is busy", "Er loopt al een andere taak; probeer het zo opnieuw."),
]


def dutch(exc: NewsletterError, refusals: list[tuple[str, str]] | None = None) -> str:
    """What a refusal of the library means, in Dutch (by these refusals, default the Nummers
    pages'); the library's own words follow when no translation is known (never hidden)."""
    text = str(exc)
    for pattern, dutch_text in REFUSALS if refusals is None else refusals:
        found = re.search(pattern, text)
        if found:
            return dutch_text.format(*found.groups())
    return f"Dat lukte niet. De melding van het systeem: {text}"
