"""The theme of a question, guessed from its words: a keyword score per theme of [themes]."""

from __future__ import annotations

import re

from newsletter.config import Settings

DEFAULT_THEME = "algemeen"

# Theme -> (pattern, label). Patterns are case-insensitive unless they start with (?-i).
KEYWORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "landelijk-gebied": (
        (r"stikstof\w*", "stikstof"),
        (r"natuur\w*", "natuur"),
        (r"natura[ -]?2000", "natura 2000"),
        (r"landbouw\w*", "landbouw"),
        (r"boer(en)?", "boeren"),
        (r"platteland\w*", "platteland"),
        (r"landelijk(e)? gebied\w*", "landelijk gebied"),
        (r"mest\w*", "mest"),
        (r"(?-i:NPLG)", "NPLG"),
    ),
    "wonen-bereikbaarheid": (
        (r"(?-i:OV)", "OV"),
        (r"openbaar vervoer", "openbaar vervoer"),
        (r"woningbouw\w*", "woningbouw"),
        (r"woning(en)?", "woning"),
        (r"wonen", "wonen"),
        (r"bereikbaar\w*", "bereikbaarheid"),
        (r"mobiliteit\w*", "mobiliteit"),
        (r"spoor\w*", "spoor"),
        (r"(trein|bus)(sen|dienst\w*)?", "trein/bus"),
        (r"infrastructuur", "infrastructuur"),
    ),
    "klimaat-leefomgeving": (
        (r"klimaat\w*", "klimaat"),
        (r"energie\w*", "energie"),
        (r"omgevingswet", "omgevingswet"),
        (r"leefomgeving", "leefomgeving"),
        (r"netcongestie", "netcongestie"),
        (r"wind(molen|park)\w*", "wind"),
        (r"circulai\w*", "circulair"),
        (r"milieu\w*", "milieu"),
    ),
    "ondernemen-cultuur": (
        (r"ondernem\w*", "ondernemen"),
        (r"economi\w*", "economie"),
        (r"innovatie\w*", "innovatie"),
        (r"cultu(ur|rele)\w*", "cultuur"),
        (r"erfgoed", "erfgoed"),
        (r"(?-i:MKB|mkb)", "mkb"),
        (r"toerisme", "toerisme"),
    ),
    "financien-openbaar-bestuur": (
        (r"begroting\w*", "begroting"),
        (r"jaarrekening\w*", "jaarrekening"),
        (r"financi[eë]n|financieel", "financiën"),
        (r"provinciefonds", "provinciefonds"),
        (r"opcenten", "opcenten"),
        (r"voorjaarsnota|kadernota|kaderbrief", "voorjaarsnota"),
        (r"openbaar bestuur", "openbaar bestuur"),
        (r"integriteit", "integriteit"),
    ),
    "werkgeverszaken": (
        (r"(?-i:cao|CAO|Cao)", "cao"),
        (r"werkgever\w*", "werkgever"),
        (r"arbeidsvoorwaarden", "arbeidsvoorwaarden"),
        (r"personeel\w*", "personeel"),
        (r"pensioen\w*", "pensioen"),
        (r"salaris\w*", "salaris"),
    ),
    "digitalisering": (
        (r"digita\w*", "digitaal"),
        (r"cyber\w*", "cyber"),
        (r"(?-i:ICT|ict)", "ict"),
        (r"informatiebeveiliging", "informatiebeveiliging"),
        (r"(?-i:AI)|kunstmatige intelligentie", "AI"),
        (r"algoritme\w*", "algoritme"),
    ),
}
_COMPILED = {
    theme: tuple((re.compile(rf"(?<!\w)(?:{p})(?!\w)", re.I), label) for p, label in words)
    for theme, words in KEYWORDS.items()
}


def guess_theme(settings: Settings, subject: str, body: str) -> tuple[str, str]:
    """(theme, evidence): the configured theme whose words occur most (subject counts twice)."""
    best, best_score, best_words = fallback_theme(settings), 0, ""
    for theme, patterns in _COMPILED.items():
        if theme not in settings.themes:
            continue
        score, words = 0, []
        for pattern, label in patterns:
            hits = 2 * len(pattern.findall(subject)) + len(pattern.findall(body))
            if hits:
                score += hits
                words.append(f"{label} {hits}")
        if score > best_score:
            best, best_score, best_words = theme, score, ", ".join(words)
    return best, best_words or "geen trefwoorden"


def fallback_theme(settings: Settings) -> str:
    if DEFAULT_THEME in settings.themes or not settings.themes:
        return DEFAULT_THEME
    return next(iter(settings.themes))
