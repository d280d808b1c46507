"""Dutch words for the Mensen and Bounces pages: who may do what, statuses, report kinds, the
import's changes and the library's refusals."""

from __future__ import annotations

from newsletter.console.issue_words import dutch as dutch_with
from newsletter.errors import NewsletterError

# Who may do what with people and bounces (issue #15), in this one place. Personal data is
# for the roles that answer people (inbox), decide what is sent (eindredacteur) and keep the
# lists (beheerder); a redacteur writes content and does not need it. Taking a list in or
# out, and erasing someone, is the beheerder's (the AVG's duties).
SEE_PEOPLE = ("inbox", "eindredacteur", "beheerder")  # Mensen, a person, Bounces and away
CHANGE_PEOPLE = SEE_PEOPLE  # themes, pause, re-subscribe, undo a bounce: at someone's request
MANAGE_LISTS = ("beheerder",)  # import, export, forget

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
