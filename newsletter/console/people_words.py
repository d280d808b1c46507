"""Dutch words for the Mensen and Bounces pages: who may do what, statuses, report kinds, the
import's changes and the library's refusals."""

from __future__ import annotations

import re

from newsletter.console.issue_words import dutch as dutch_with
from newsletter.errors import NewsletterError
from newsletter.staff.permissions import roles_for

# Who may do what with people and bounces (issue #15): staff.permissions, the one rule.
SEE_PEOPLE = roles_for("people-view")  # Mensen, a person, Bounces and away
CHANGE_PEOPLE = roles_for("subscribers-resubscribe")  # themes, pause, re-subscribe, undo
MANAGE_LISTS = roles_for("subscribers-import")  # import, export, forget

STATUSES = {
    "pending": "wacht op bevestiging",
    "active": "actief",
    "paused": "gepauzeerd",
    "unsubscribed": "afgemeld",
    "bounced": "onbestelbaar",
    "erased": "gewist",
}
REPORT_KINDS = {
    "hard": "harde bounce",
    "soft": "zachte bounce",
    "policy": "geweigerd (beleid)",
    "delayed": "vertraagd",
    "complaint": "klacht",
    "autoreply": "automatisch antwoord",
}
TIED_BY = {
    "verp": "ondertekend bounce-adres",
    "message-id": "onze Message-ID",
    "final-recipient": "alleen het genoemde adres",
}
CHANGES = {
    "add": "nieuw",
    "update": "bijgewerkt",
    "add mandate": "functie erbij",
    "reopen mandate": "functie heropend",
    "end mandate": "functie beëindigd",
    "leave alone": "niet opnieuw aangemeld",
}

REFUSALS: list[tuple[str, str]] = [
    (r"re-subscription needs a reason", "Vul een reden in: wat vroeg de persoon, wanneer en hoe?"),
    (r"undoing a bounce needs a reason", "Vul een reden in: hoe weet u dat het adres werkt?"),
    (
        r"is (\w+), not unsubscribed",
        "Deze persoon is niet afgemeld; er valt niets terug te zetten.",
    ),
    (
        r"is (\w+), not bounced",
        "Deze persoon staat niet op onbestelbaar; er is geen bounce ongedaan te maken.",
    ),
    (r"--request (\d+): no such conversation", "Er is geen gesprek met nummer {0}."),
    (
        r"an unsubscribe by staff needs a reason",
        "Vul een reden in: wat vroeg de persoon, wanneer en hoe?",
    ),
    (
        r"--request (\d+): that conversation is with (\S+), not",
        "Gesprek {0} is met {1}, niet met deze persoon. Iemand wordt alleen op eigen verzoek "
        "afgemeld; wijs een ander op de afmeldlink in elke nieuwsbrief.",
    ),
    (r"is (\w+), not subscribed", "Deze persoon is niet aangemeld; er valt niets af te melden."),
    (r"changes only an active or paused", "Alleen een actief of gepauzeerd abonnement."),
    (r"cannot be changed any more", "Dit abonnement kan niet meer worden gewijzigd."),
    (r"unknown theme (.*); use", "Onbekend thema: {0}."),
    (
        r"is not a CSV file",
        "Dit is geen CSV-bestand. Sla de lijst in Excel op als CSV en kies dat.",
    ),
    (r"the file is empty", "Het bestand is leeg."),
    (
        r"changed since the preview|no longer there",
        "Het bestand is veranderd of weg sinds de controle. Upload de lijst opnieuw.",
    ),
    (
        r"would now change something else",
        "De lijst zou nu iets anders veranderen dan de controle liet zien: de gegevens zijn "
        "intussen gewijzigd. Hieronder staat de nieuwe controle; bevestig die als hij klopt.",
    ),
    (r"UTF-16", "Het bestand is in UTF-16 opgeslagen. Sla het op als 'CSV UTF-8' en kies dat."),
    (r"no e-mail column|no column", "De lijst heeft geen kolom met e-mailadressen."),
    (
        r"--replace needs one province",
        "Om te vervangen moet de lijst van één provincie zijn; kies de provincie.",
    ),
    (r"has other provinces", "De lijst bevat ook andere provincies dan de gekozen provincie."),
    (
        r"looks like a rejects file",
        "Dit lijkt een bestand met afgewezen regels; vervangen kan "
        "alleen met de hele lijst van de provincie.",
    ),
    (r"no such subscriber", "Deze persoon staat niet (meer) in de lijsten."),
    (r"another command is busy|is busy", "Er loopt al een andere taak; probeer het zo opnieuw."),
]


def dutch(exc: NewsletterError) -> str:
    """A refusal of the library in Dutch (its own words when no translation is known)."""
    return dutch_with(exc, REFUSALS)


# The holders of personal data (privacy.register), as the forget page lists them.
HOLDER_NAMES = {
    "mandates": "Functies",
    "deliveries": "Verzonden berichten",
    "bounces": "Bounces en klachten",
    "outbox": "Berichten als bestand in de map outbox",
    "events": "Regels in het logboek",
    "approved versions": "Goedgekeurde versies die de persoon noemen",
    "inbound": "Berichten aan het contactadres",
    "inbound-verdicts": "Beoordelingen van binnengekomen berichten",
    "conversations": "Gesprekken in het postvak",
    "onboarding": "Inwerkprogramma",
}

# What processing did with a message (inbound.reason, the CLI's English note), for staff.
SAME = "niets gewijzigd"
OUTCOMES: list[tuple[str, str]] = [
    (r"^auto-reply, not answered", "niet beantwoord (automatisch antwoord)"),
    (r"^(hard|soft) bounce of [^,;]+ \(by [^)]*\), marked bounced", "adres op onbestelbaar gezet"),
    (r"niet gekoppeld", "niet aan een verzending van ons te koppelen: niets gewijzigd"),
    (r"^hard bounce of [^,;]+ \(by [^)]*\)$", "geteld; het adres staat nog niet op onbestelbaar"),
    (r"^soft bounce of [^,;]+ \(by [^)]*\)$", "geteld als tijdelijke fout; niets gewijzigd"),
    (r"^complaint by [^:]+: unsubscribed", "afgemeld na de klacht"),
    (
        r"^answers our unsubscribe confirmation",
        "antwoord op onze afmeldbevestiging; niets gewijzigd",
    ),
    (
        r"^afmelding niet bevestigd",
        "vraagt om afmelding, maar dat is niet bewezen: niets gewijzigd",
    ),
    (
        r"^asks to unsubscribe, but From",
        "vraagt om afmelding vanaf een onbekend adres: niets gewijzigd",
    ),
    (r"^asks to unsubscribe; \S+ is (\w+) already", "vraagt om afmelding, maar is al {0}"),
    (r"unsubscribed; confirmation sent", "afgemeld per e-mail; bevestiging verstuurd"),
    (
        r"unsubscribed; the confirmation could not be sent",
        "afgemeld; de bevestiging kon niet worden verstuurd",
    ),
    (
        r"unsubscribed; no confirmation to automatic mail",
        "afgemeld; geen bevestiging (automatische mail)",
    ),
    (r"unsubscribed; confirmation pending", "afgemeld; bevestiging volgt"),
    (r"^processing failed", "kon niet worden verwerkt (in quarantaine)"),
]


def outcome(note: str | None) -> str:
    """What processing did, in Dutch; a note no pattern knows is shown as it is."""
    if not note:
        return "–"
    for pattern, dutch_text in OUTCOMES:
        found = re.search(pattern, note)
        if found:
            words = [STATUSES.get(g, g) for g in found.groups()]
            return dutch_text.format(*words)
    return note
