"""The preflight's findings as staff read them: in Dutch, with a link to what to fix.

The checks speak English (the CLI's words, with the exact text, address or line they found);
the console shows per check what is wrong and what to do in Dutch, and the check's own words
as the technical detail. A finding that names an item links to its form in Inhoud; one about
the subject, the preheader or the intro links to that field on the issue page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from newsletter.config import Settings
from newsletter.content.items import SECTIONS, Item
from newsletter.preflight.model import Finding

# check id -> (what is wrong, what to do)
WORDS: dict[str, tuple[str, str]] = {
    "lang": ('De taal (lang="nl") ontbreekt.', "Laat de beheerder de sjabloon aanpassen."),
    "lang-wrapper": (
        'Binnen de e-mail staat de taal (lang="nl") nergens.',
        "Laat de beheerder de sjabloon aanpassen.",
    ),
    "headings": (
        "De e-mail heeft niet precies één hoofdkop.",
        "Gebruik in de inleiding en de items geen kop met één #; begin bij ## of ###.",
    ),
    "heading-order": (
        "Een kopniveau wordt overgeslagen.",
        "Gebruik de koppen op volgorde (## en dan ###) in de tekst van het item of de inleiding.",
    ),
    "layout-table": (
        "Een tabel zonder kopcellen.",
        "Geef de tabel in de tekst een kopregel, of laat de tabel weg.",
    ),
    "img-alt": (
        "Een afbeelding heeft geen alternatieve tekst.",
        "Beschrijf in de alt-tekst wat de afbeelding laat zien.",
    ),
    "img-alt-empty": (
        "Een afbeelding heeft een lege alternatieve tekst.",
        "Beschrijf wat de afbeelding laat zien, of laat een versiering weg.",
    ),
    "tracking-pixel": (
        "Een onzichtbare afbeelding (een volgpixel).",
        "Haal de afbeelding weg: volgpixels zijn persoonsgegevens (AVG).",
    ),
    "image-query": (
        "Een afbeelding met parameters in het adres kan bijhouden wie de e-mail opent.",
        "Gebruik het adres van de afbeelding zonder ?-parameters.",
    ),
    "link-text": (
        "Een linktekst zegt niet waar de link heen gaat.",
        "Schrijf wat de lezer daar vindt, bijvoorbeeld 'Lees het besluit over …'.",
    ),
    "link-text-url": (
        "Een linktekst is een kaal webadres.",
        "Schrijf wat de lezer daar vindt in plaats van het adres.",
    ),
    "link-anchor": (
        "Een link naar een plek binnen de e-mail werkt in veel mailprogramma's niet.",
        "Link naar de webversie.",
    ),
    "link-https": (
        "Een link of afbeelding gebruikt geen https.",
        "Schrijf het volledige https://-adres.",
    ),
    "link-host": (
        "Een link gaat naar een website die niet op de lijst van toegestane sites staat.",
        "Controleer het adres; is het goed, laat de beheerder de site toevoegen aan "
        "[preflight] allowed_hosts.",
    ),
    "contrast": (
        "Tekst heeft te weinig contrast met de achtergrond.",
        "Laat de beheerder de kleuren van de sjabloon aanpassen.",
    ),
    "image-only": (
        "De e-mail zegt bijna alles met afbeeldingen.",
        "Schrijf de boodschap als tekst; gebruik afbeeldingen alleen ter illustratie.",
    ),
    "little-text": (
        "Weinig tekst naast de afbeeldingen.",
        "Zorg dat niets alleen in een afbeelding staat.",
    ),
    "preheader": ("De preheader ontbreekt.", "Vul de preheader in."),
    "subject-length": (
        "Het onderwerp is lang; telefoons tonen ongeveer 60 tekens.",
        "Maak het onderwerp korter.",
    ),
    "subject-caps": (
        "Het onderwerp staat in hoofdletters.",
        "Schrijf het onderwerp met gewone hoofdletters; kapitalen lijken op schreeuwen en spam.",
    ),
    "text-part-item": (
        "Een kop staat wel in de HTML-versie, niet in de tekstversie.",
        "Laat de beheerder de tekstsjabloon aanpassen.",
    ),
    "text-part-link": (
        "Een link staat wel in de HTML-versie, niet in de tekstversie.",
        "Laat de beheerder de tekstsjabloon aanpassen.",
    ),
    "text-part-missing": ("De tekstversie ontbreekt.", "Laat de beheerder dit nakijken."),
    "html-part-missing": ("De HTML-versie ontbreekt.", "Laat de beheerder dit nakijken."),
    "html-size": (
        "De e-mail is (bijna) te groot: Gmail knipt berichten boven 102 kB af.",
        "Maak het nummer korter: minder of kortere items.",
    ),
    "multipart": ("De e-mail mist een tekst- of HTML-versie.", "Laat de beheerder dit nakijken."),
    "header-missing": ("Een verplichte kopregel ontbreekt.", "Laat de beheerder dit nakijken."),
    "header-duplicate": ("Een kopregel staat er twee keer in.", "Laat de beheerder dit nakijken."),
    "list-unsubscribe": (
        "De afmeldkopregel is niet compleet.",
        "Laat de beheerder dit nakijken.",
    ),
    "list-unsubscribe-post": (
        "De kopregel voor afmelden met één klik klopt niet.",
        "Laat de beheerder dit nakijken.",
    ),
    "spamassassin": (
        "SpamAssassin vindt de e-mail te veel op spam lijken.",
        "Pas aan wat de regels in het technische detail noemen (vaak: hoofdletters, "
        "uitroeptekens, veel links).",
    ),
    "vnu": ("De HTML bevat een fout.", "Pas de opmaak aan in de tekst waar de fout staat."),
    "tool-missing": (
        "Een controleprogramma is niet geïnstalleerd.",
        "Laat de beheerder het installeren.",
    ),
    "tool-failed": ("Een controleprogramma liep vast.", "Laat de beheerder dit nakijken."),
    "onboarding": ("Een stap van het inwerkprogramma klopt niet.", "Pas het bestand aan."),
    "client-support": (
        "Een mailprogramma dat Statenleden gebruiken, toont een deel van de opmaak niet.",
        "Meestal hoeft u niets te doen: de sjabloon vangt dit op. Twijfelt u, stuur uzelf "
        "dan een testversie en bekijk die in dat mailprogramma.",
    ),
}
AXE = (
    "Toegankelijkheid (axe): een probleem voor lezers met een hulpmiddel.",
    "Pas de tekst of de opmaak aan; het technische detail zegt wat axe vond.",
)
FIELDS = {"subject-length": "subject", "subject-caps": "subject", "preheader": "preheader"}
FIELD_NAMES = {"subject": "het onderwerp", "preheader": "de preheader", "intro": "de inleiding"}
QUOTED = re.compile(r"'([^']{4,})'|(https?://[^\s)'\"]+)")


@dataclass(frozen=True)
class Shown:
    """A finding on the issue page: its Dutch words and where to fix it."""

    finding: Finding
    what: str
    fix: str
    item_id: str = ""  # links to the item's form in Inhoud (a file item) or its place here
    item_title: str = ""
    editable: bool = False  # the item has a file with a form in Inhoud
    field: str = ""  # subject, preheader or intro: links to the field on this page
    field_name: str = ""
    section: str = ""  # the section key, when the finding names one


def shown(finding: Finding, items: Mapping[str, Item], intro_html: str) -> Shown:
    """The Dutch words of a finding, and the item or field it is about (when it names one)."""
    what, fix = WORDS.get(finding.check) or (AXE if finding.check.startswith("axe-") else ("", ""))
    if not what:
        what, fix = "De controle vond iets.", "Zie het technische detail."
    section = next((k for k, t in SECTIONS.items() if finding.section == t), "")
    item = _item(finding, items)
    if item is not None:
        return Shown(finding, what, fix, item.id, item.title, bool(item.path), section=section)
    field = FIELDS.get(finding.check, "")
    if not field and not finding.section and _in_intro(finding, intro_html):
        field = "intro"
    return Shown(
        finding, what, fix, field=field, field_name=FIELD_NAMES.get(field, ""), section=section
    )


def _item(finding: Finding, items: Mapping[str, Item]) -> Item | None:
    """The item a finding names: by its content file, else by the title it found it under."""
    for item in items.values():
        if finding.source and item.path and finding.source == item.path:
            return item
    if finding.item:
        for item in items.values():
            if item.title and finding.item.startswith(item.title):
                return item
    return None


def _in_intro(finding: Finding, intro_html: str) -> bool:
    """The finding quotes a text or address that is in the intro."""
    if not intro_html:
        return False
    for found in QUOTED.finditer(finding.message):
        quoted = (found[1] or found[2]).rstrip(".,")
        if quoted and quoted in intro_html:
            return True
    return False


WEB_PAGES = {
    "web:archief": "het archief op de website",
    "web:aanmelden": "het aanmeldformulier op de website",
}


def variant_name(name: str, settings: Settings) -> str:
    """The variant or page a finding is about, as staff say it: 'Groningen', 'Gelderland
    (AV-leden), zonder het blok BAC Wonen', 'de webversie'; not the code 'GLD+av:a'."""
    if name in WEB_PAGES:
        return WEB_PAGES[name]
    if name.startswith("web:") or name == "WEB":
        return "de webversie"
    if name == "ALG":
        return "de algemene versie (zonder provincie)"
    base, _, reader = name.partition(";")
    base, _, left_out = base.partition(":")
    province, _, facet = base.partition("+")
    if province not in settings.provinces:
        return name
    text = settings.provinces[province]
    if facet == "av":
        text += " (AV-leden)"
    themes = [settings.themes[t].title if t in settings.themes else t for t in left_out.split(",")]
    themes = [t for t in themes if t]
    if themes:
        text += ", zonder " + ("het blok " if len(themes) == 1 else "de blokken ")
        text += ", ".join(themes)
    if reader:
        text += f", de versie voor {reader}"
    return text
