"""What people are and how they are addressed: the mandate roles and the salutation (aanhef)."""

from __future__ import annotations

import re

ROLES = {
    "statenlid": "Statenlid",
    "av_lid": "AV-lid",
    "plv_av_lid": "Plaatsvervangend AV-lid",
    "griffier": "Griffier",
    "griffiecontactpersoon": "Griffiecontactpersoon",
    "gs_lid": "Gedeputeerde",
    "cdk": "Commissaris van de Koning",
    "ipo_staff": "Medewerker IPO",
    "burgerstatenlid": "Burgerstatenlid",
}
_FORMAL = {
    "mevrouw": "mevrouw",
    "mw": "mevrouw",
    "mevr": "mevrouw",
    "heer": "heer",
    "deheer": "heer",
    "dhr": "heer",
    "hr": "heer",
}


def salutation_for(aanhef: str, first_name: str, last_name: str, name: str) -> str:
    """The aanhef column as the opening line of a mail: "Geachte mevrouw De Vries"."""
    key = re.sub(r"[^a-z]", "", aanhef.lower())
    surname = last_name or name.rsplit(" ", 1)[-1]
    surname = surname[:1].upper() + surname[1:]
    if key in _FORMAL:
        return f"Geachte {_FORMAL[key]} {surname}"
    if aanhef.strip():
        return aanhef.strip()
    return f"Beste {first_name or name}"
