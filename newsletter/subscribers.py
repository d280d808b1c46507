"""Subscribers and their mandates: the griffie list import and the active audience."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from sqlite_utils import Database

from . import clock
from .config import Settings
from .errors import ImportRowError, NewsletterError
from .headers import check_header_value
from .store import dumps, loads, transaction

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
_ROLE_ALIASES = (
    {re.sub(r"[^a-z]", "", label.lower()): key for key, label in ROLES.items()}
    | {re.sub(r"[^a-z]", "", key): key for key in ROLES}
    | {
        "plvavlid": "plv_av_lid",
        "gedeputeerde": "gs_lid",
        "gslid": "gs_lid",
        "ipo": "ipo_staff",
        "commissarisvandekoning": "cdk",
        "medewerker": "ipo_staff",
    }
)
# Column names as griffies write them, folded to lowercase letters only.
COLUMNS = {
    "naam": "naam",
    "volledigenaam": "naam",
    "name": "naam",
    "voornaam": "voornaam",
    "firstname": "voornaam",
    "tussenvoegsel": "tussenvoegsel",
    "tussenvoegsels": "tussenvoegsel",
    "achternaam": "achternaam",
    "lastname": "achternaam",
    "aanhef": "aanhef",
    "salutation": "aanhef",
    "email": "email",
    "emailadres": "email",
    "mail": "email",
    "provincie": "provincie",
    "province": "provincie",
    "rol": "rol",
    "rollen": "rol",
    "role": "rol",
    "functie": "rol",
    "ingangsdatum": "ingangsdatum",
    "start": "ingangsdatum",
    "startdatum": "ingangsdatum",
    "themas": "themas",
    "thema": "themas",
    "themes": "themas",
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
_SEVERAL = re.compile(r"[;,\s]")


@dataclass(frozen=True)
class Person:
    """One validated row of an import."""

    row: int
    email: str
    name: str
    first_name: str
    last_name: str
    salutation: str
    province: str | None
    roles: tuple[str, ...]
    starts_on: date
    themes: tuple[str, ...]


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    mandates_added: int = 0
    skipped_suppressed: int = 0
    rejected: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.rejected)

    def summary(self) -> str:
        line = (
            f"Subscribers: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.mandates_added} mandates added"
        )
        if self.skipped_suppressed:
            line += f", {self.skipped_suppressed} left alone (unsubscribed, bounced or erased)"
        if self.rejected:
            line += f", {len(self.rejected)} rows rejected"
        return line


def normalise_email(raw: str) -> str:
    """Trim, NFKC and lowercase an address (we never rely on case-sensitive local parts)."""
    return unicodedata.normalize("NFKC", raw).strip().lower()


def email_hash(address: str) -> str:
    """The suppression key: a person can be refused later without keeping their address."""
    return hashlib.sha256(normalise_email(address).encode()).hexdigest()


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


def read_csv_text(path: Path) -> str:
    """The file as text: UTF-8 with or without BOM, else cp1252 as Excel writes it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NewsletterError(f"{path}: cannot read ({exc.strerror})") from None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise NewsletterError(f"{path}: neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8")


def _rows(path: Path, text: str) -> tuple[dict[str, str], Iterator[list[str]]]:
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise NewsletterError(f"{path}: the file is empty; it needs a header row")
    columns: dict[str, str] = {}
    for index, title in enumerate(header):
        key = COLUMNS.get(re.sub(r"[^a-z]", "", title.lower()))
        if key and key not in columns:
            columns[key] = str(index)
    if "email" not in columns:
        raise NewsletterError(f"{path}: no e-mail column; the header row needs a column 'e-mail'")
    if "naam" not in columns and "achternaam" not in columns:
        raise NewsletterError(f"{path}: no name column; add 'naam' or 'voornaam' and 'achternaam'")
    return columns, reader


def parse_person(
    row_number: int,
    cells: dict[str, str],
    settings: Settings,
    default_province: str | None,
    default_start: date,
) -> Person:
    """One row as a Person, or ImportRowError naming the row, the column and the reason."""

    def fail(column: str, what: str) -> ImportRowError:
        return ImportRowError(f"row {row_number}, column {column}: {what}")

    raw_email = cells.get("email", "").strip()
    if not raw_email:
        raise fail("e-mail", "empty; every person needs an address")
    if _SEVERAL.search(raw_email.strip()):
        raise fail("e-mail", f"'{raw_email}' holds more than one address; give each person one row")
    try:
        email = validate_email(normalise_email(raw_email), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise fail("e-mail", f"'{raw_email}' is not a valid address ({exc})") from None
    first = cells.get("voornaam", "").strip()
    middle = cells.get("tussenvoegsel", "").strip()
    last = " ".join(p for p in (middle, cells.get("achternaam", "").strip()) if p)
    name = cells.get("naam", "").strip() or " ".join(p for p in (first, last) if p)
    if not name:
        raise fail("naam", "empty; write the person's name")
    if not first and not last:  # one name column: the first word is the first name
        first, _, last = name.partition(" ")
    for column, value in (("naam", name), ("aanhef", cells.get("aanhef", ""))):
        try:
            check_header_value(value, column)
        except NewsletterError as exc:
            raise fail(column, str(exc)) from None
    province_raw = cells.get("provincie", "").strip()
    province = default_province
    if province_raw:
        by_name = {n.lower(): c for c, n in settings.provinces.items()}
        province = (
            province_raw.upper()
            if province_raw.upper() in settings.provinces
            else by_name.get(province_raw.lower())
        )
        if province is None:
            raise fail("provincie", f"'{province_raw}' is not a province; use a code like GLD")
    roles = []
    for part in re.split(r"[,|/]", cells.get("rol", "") or "statenlid"):
        if not part.strip():
            continue
        role = _ROLE_ALIASES.get(re.sub(r"[^a-z]", "", part.lower()))
        if role is None:
            raise fail("rol", f"'{part.strip()}' is not a role; use one of {', '.join(ROLES)}")
        roles.append(role)
    if province is None and set(roles) - {"ipo_staff"}:
        raise fail("provincie", "empty; give the province, or use --province")
    start_raw = cells.get("ingangsdatum", "").strip()
    try:
        starts_on = _parse_day(start_raw) if start_raw else default_start
    except ValueError:
        raise fail(
            "ingangsdatum", f"'{start_raw}' is not a date; write 2023-03-30 or 30-03-2023"
        ) from None
    themes = []
    for part in re.split(r"[,|]", cells.get("themas", "")):
        key = part.strip().lower()
        if key and key not in settings.themes:
            raise fail(
                "thema's", f"'{part.strip()}' is not a theme; use {', '.join(settings.themes)}"
            )
        if key:
            themes.append(key)
    return Person(
        row_number,
        email,
        name,
        first,
        last,
        salutation_for(cells.get("aanhef", ""), first, last, name),
        province,
        tuple(dict.fromkeys(roles)),
        starts_on,
        tuple(themes),
    )


def _parse_day(text: str) -> date:
    match = re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", text)
    if match:
        return date(int(match[3]), int(match[2]), int(match[1]))
    return date.fromisoformat(text)


def read_import(
    path: Path, settings: Settings, province: str | None = None, default_start: date | None = None
) -> tuple[list[Person], list[str]]:
    """Every row of an import file: the valid people, and a line per rejected row."""
    columns, reader = _rows(path, read_csv_text(path))
    people: dict[str, Person] = {}
    rejected = []
    start = default_start or clock.today()
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {key: row[int(i)] if int(i) < len(row) else "" for key, i in columns.items()}
        try:
            person = parse_person(number, cells, settings, province, start)
        except ImportRowError as exc:
            rejected.append(f"{path.name}: {exc}")
            continue
        if person.email in people:  # the same person twice: their roles are merged
            earlier = people[person.email]
            person = Person(
                earlier.row,
                earlier.email,
                earlier.name,
                earlier.first_name,
                earlier.last_name,
                earlier.salutation,
                earlier.province,
                tuple(dict.fromkeys(earlier.roles + person.roles)),
                min(earlier.starts_on, person.starts_on),
                earlier.themes,
            )
        people[person.email] = person
    return list(people.values()), rejected


def import_subscribers(
    db: Database, settings: Settings, path: Path, province: str | None = None
) -> ImportReport:
    """Add or update the people of one griffie list, in one transaction."""
    people, rejected = read_import(path, settings, province)
    report = ImportReport(rejected=rejected)
    now = clock.utc_iso()
    suppressed = {row["email_hash"] for row in db.table("suppressions").rows}
    with transaction(db):
        for person in people:
            existing = next(
                iter(db.table("subscribers").rows_where("email = ?", [person.email])), None
            )
            if email_hash(person.email) in suppressed or (
                existing and existing["status"] in {"unsubscribed", "bounced", "erased"}
            ):
                report.skipped_suppressed += 1
                continue
            values = {
                "email": person.email,
                "name": person.name,
                "first_name": person.first_name,
                "last_name": person.last_name,
                "salutation": person.salutation,
                "province": person.province,
            }
            if existing is None:
                subscriber_id = (
                    db.table("subscribers")
                    .insert(
                        {
                            **values,
                            "status": "active",
                            "themes": dumps(list(person.themes)),
                            "source": f"import:{path.name}",
                            "consent_at": now,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                    .last_pk
                )
                report.added += 1
            else:
                subscriber_id = existing["id"]
                if any(existing[k] != v for k, v in values.items()):
                    db.table("subscribers").update(subscriber_id, {**values, "updated_at": now})
                    report.updated += 1
                else:
                    report.unchanged += 1
            for role in person.roles:
                before = db.table("mandates").count
                db.table("mandates").insert(
                    {
                        "subscriber_id": subscriber_id,
                        "role": role,
                        "province": person.province,
                        "starts_on": person.starts_on.isoformat(),
                        "ends_on": None,
                        "source": f"import:{path.name}",
                    },
                    ignore=True,
                )
                report.mandates_added += db.table("mandates").count - before
    return report


@dataclass(frozen=True)
class Recipient:
    id: int
    email: str
    name: str
    salutation: str
    province: str | None
    themes: tuple[str, ...]


def active_recipients(db: Database) -> Iterator[Recipient]:
    """Everyone who should get the monthly issue: active subscribers, in a stable order."""
    rows = db.table("subscribers").rows_where("status = 'active'", order_by="id")
    return (
        Recipient(
            r["id"],
            r["email"],
            r["name"],
            r["salutation"] or f"Beste {r['name']}",
            r["province"],
            tuple(loads(r["themes"], [])),
        )
        for r in rows
    )


def current_holders(db: Database, roles: tuple[str, ...], on: date) -> list[dict[str, str]]:
    """People with one of these roles on a day: name, email, role, province."""
    marks = ",".join("?" * len(roles))
    sql = f"""
        select s.name, s.email, m.role, m.province from mandates m
        join subscribers s on s.id = m.subscriber_id
        where m.role in ({marks}) and m.starts_on <= ? and (m.ends_on is null or m.ends_on >= ?)
          and s.status != 'erased'
        order by m.province, m.role, s.name"""
    return [dict(row) for row in db.query(sql, [*roles, on.isoformat(), on.isoformat()])]
