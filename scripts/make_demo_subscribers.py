"""Write the fictional griffie lists under subscribers/demo/ (run once; the output is committed).

Everyone here is made up; addresses are on .example domains. Deterministic: the same seed gives
the same people, so the golden files stay put.
"""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

SEATS = {
    "GR": 43,
    "FR": 43,
    "DR": 43,
    "OV": 47,
    "FL": 41,
    "GLD": 55,
    "UT": 49,
    "NH": 55,
    "ZH": 55,
    "ZLD": 39,
    "NB": 55,
    "LI": 47,
}
FILES = {
    "GR": "groningen",
    "FR": "fryslan",
    "DR": "drenthe",
    "OV": "overijssel",
    "FL": "flevoland",
    "GLD": "gelderland",
    "UT": "utrecht",
    "NH": "noord-holland",
    "ZH": "zuid-holland",
    "ZLD": "zeeland",
    "NB": "noord-brabant",
    "LI": "limburg",
}
WOMEN = [
    "Anna",
    "Sanne",
    "Fleur",
    "Lotte",
    "Eva",
    "Iris",
    "Femke",
    "Noor",
    "Julia",
    "Lisa",
    "Marieke",
    "Ingrid",
    "Esther",
    "Petra",
    "Karin",
    "Monique",
    "Hanneke",
    "Wietske",
    "Sietske",
    "Annemarie",
    "Yvonne",
    "Nicole",
    "Chantal",
    "Mirjam",
    "Ilse",
    "Renée",
    "Hélène",
    "Zoë",
    "Fatma",
    "Samira",
    "Aukje",
    "Geertje",
    "Tineke",
    "Loes",
    "Marloes",
]
MEN = [
    "Jan",
    "Pieter",
    "Kees",
    "Henk",
    "Bram",
    "Daan",
    "Joost",
    "Sander",
    "Ruben",
    "Tim",
    "Mark",
    "Erik",
    "Frank",
    "Hans",
    "Gerrit",
    "Sjoerd",
    "Wiebe",
    "Johan",
    "Bart",
    "Maarten",
    "Stefan",
    "Thijs",
    "Jeroen",
    "Ahmed",
    "Mehmet",
    "Koen",
    "Wouter",
    "Dirk",
    "René",
    "Frits",
    "Hidde",
    "Jelle",
    "Olaf",
    "Niels",
    "Sven",
]
SURNAMES = [
    ("", "Jansen"),
    ("de", "Vries"),
    ("van den", "Berg"),
    ("van", "Dijk"),
    ("", "Bakker"),
    ("", "Visser"),
    ("", "Smit"),
    ("", "Meijer"),
    ("de", "Boer"),
    ("", "Mulder"),
    ("de", "Groot"),
    ("", "Bos"),
    ("", "Vos"),
    ("", "Peters"),
    ("", "Hendriks"),
    ("van", "Leeuwen"),
    ("", "Dekker"),
    ("", "Brouwer"),
    ("de", "Wit"),
    ("", "Dijkstra"),
    ("", "Smits"),
    ("de", "Graaf"),
    ("van der", "Meer"),
    ("van der", "Linden"),
    ("", "Kok"),
    ("", "Jacobs"),
    ("de", "Haan"),
    ("", "Vermeulen"),
    ("van den", "Heuvel"),
    ("van der", "Veen"),
    ("van den", "Broek"),
    ("de", "Bruijn"),
    ("de", "Jong"),
    ("", "Schouten"),
    ("", "Hoekstra"),
    ("", "Postma"),
    ("", "Wijnands"),
    ("", "Schipper"),
    ("", "Koster"),
    ("van", "Beek"),
    ("", "Willems"),
    ("", "Verhoeven"),
    ("", "Prins"),
    ("", "Huisman"),
    ("", "Kuipers"),
    ("van", "Vliet"),
    ("", "Jonker"),
    ("", "Zwart"),
    ("", "Sanders"),
    ("", "Timmermans"),
    ("", "Yılmaz"),
    ("", "El Amrani"),
    ("", "Bouzid"),
    ("", "Nijenhuis"),
    ("", "Boersma"),
    ("", "Wouters"),
    ("", "Maas"),
    ("", "Claessens"),
    ("", "Sluiter"),
    ("ter", "Horst"),
]
FOLDED = str.maketrans("éèëêáàäâíïóöôúüûçñı", "eeeeaaaaiiooouuucni")


def address(first: str, middle: str, last: str, code: str, taken: set[str]) -> str:
    local = f"{first}.{middle}{last}".lower().translate(FOLDED)
    local = "".join(c for c in local if c.isalnum() or c == ".")
    candidate, n = f"{local}@{code.lower()}.example", 2
    while candidate in taken:
        candidate, n = f"{local}{n}@{code.lower()}.example", n + 1
    taken.add(candidate)
    return candidate


def person(rng: random.Random, code: str, taken: set[str]) -> dict[str, str]:
    woman = rng.random() < 0.45
    first = rng.choice(WOMEN if woman else MEN)
    middle, last = rng.choice(SURNAMES)
    return {
        "voornaam": first,
        "tussenvoegsel": middle,
        "achternaam": last,
        "aanhef": "mevrouw" if woman else "heer",
        "e-mail": address(first, middle.replace(" ", ""), last.replace(" ", ""), code, taken),
    }


def main() -> None:
    rng = random.Random(20261201)
    out = Path(__file__).resolve().parent.parent / "subscribers" / "demo"
    out.mkdir(parents=True, exist_ok=True)
    themes = [
        "",
        "",
        "",
        "wonen-bereikbaarheid",
        "landelijk-gebied",
        "klimaat-leefomgeving",
        "financien-openbaar-bestuur",
    ]
    for code, seats in SEATS.items():
        taken: set[str] = set()
        rows = []
        for seat in range(seats):
            row = person(rng, code, taken)
            roles = ["statenlid"]
            start = "2023-03-30"
            if seat in (0, 1):
                roles.append("av_lid")
            if seat == 2:
                roles.append("plv_av_lid")
            if code == "UT" and seat == 1:
                start = "2026-10-20"  # a new AV member, appointed this autumn (onboarding demo)
            if code == "NB" and seat == 2:
                start = "2026-11-26"  # a new substitute, appointed last week (onboarding demo)
            row.update(rol=", ".join(roles), ingangsdatum=start, thema=rng.choice(themes))
            rows.append(row)
        for role in ("griffier", "griffiecontactpersoon", "gs_lid", "cdk"):
            row = person(rng, code, taken)
            row.update(rol=role, ingangsdatum="2023-03-30", thema="")
            rows.append(row)
        write(out / f"{FILES[code]}.csv", code, rows)
    staff_taken: set[str] = set()
    staff = []
    for _ in range(6):
        row = person(rng, "ipo", staff_taken)
        row.update(rol="ipo_staff", ingangsdatum="2023-01-01", thema="", provincie="")
        staff.append(row)
    write(out / "ipo-staf.csv", "", staff)


def write(path: Path, code: str, rows: list[dict[str, str]]) -> None:
    """Each griffie writes its list a little differently, as real griffies do."""
    buffer = io.StringIO(newline="")
    if code == "NH":  # comma-separated, one name column
        writer = csv.writer(buffer, delimiter=",", lineterminator="\r\n")
        writer.writerow(["Naam", "Aanhef", "E-mail", "Provincie", "Rol", "Ingangsdatum", "Thema's"])
        for r in rows:
            name = " ".join(p for p in (r["voornaam"], r["tussenvoegsel"], r["achternaam"]) if p)
            writer.writerow(
                [
                    name,
                    r["aanhef"],
                    r["e-mail"],
                    "Noord-Holland",
                    r["rol"],
                    r["ingangsdatum"],
                    r["thema"],
                ]
            )
    else:
        writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
        writer.writerow(
            [
                "Voornaam",
                "Tussenvoegsel",
                "Achternaam",
                "Aanhef",
                "E-mail",
                "Provincie",
                "Rol",
                "Ingangsdatum",
                "Thema's",
            ]
        )
        for r in rows:
            writer.writerow(
                [
                    r["voornaam"],
                    r["tussenvoegsel"],
                    r["achternaam"],
                    r["aanhef"],
                    r["e-mail"],
                    code,
                    r["rol"],
                    r["ingangsdatum"],
                    r["thema"],
                ]
            )
    text = buffer.getvalue()
    if code == "ZLD":  # saved from Excel: Windows-1252 (which has no dotless i)
        path.write_bytes(text.replace("ı", "i").encode("cp1252"))
    elif code == "FR":  # Excel's "CSV UTF-8": with a BOM
        path.write_bytes(text.encode("utf-8-sig"))
    else:
        path.write_bytes(text.encode("utf-8"))


if __name__ == "__main__":
    main()
