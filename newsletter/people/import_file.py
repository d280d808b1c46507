"""Reading a griffie list: the CSV as text, its columns, every row checked into a Person (or a
RejectedRow that says why), and the rejects file written back. Nothing here touches the store.
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from email_validator import EmailNotValidError

from newsletter import clock
from newsletter.addresses import canonical_address, normalise_email
from newsletter.config import Settings
from newsletter.errors import HeaderError, ImportRowError, NewsletterError
from newsletter.headers import check_header_value
from newsletter.people.roles import ROLES, salutation_for
from newsletter.store.subscribers import Details

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
# How a column is named in messages (and suggested for a misspelt one).
TITLES = {"email": "e-mail", "themas": "thema's"}
# The reason column of a rejects file: expected when staff import a fixed one, never read.
REASON_COLUMN = "reden"
_NAME_CELLS = ("voornaam", "tussenvoegsel", "achternaam", "naam", "aanhef")
_LINE_BREAK = re.compile(r"[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")
SAVE_AS_CSV = "in Excel use Save As > 'CSV UTF-8 (Comma delimited)' and import that file"


def _fold(title: str) -> str:
    return re.sub(r"[^a-z]", "", title.lower())


def title(key: str) -> str:
    return TITLES.get(key, key)


KNOWN = ", ".join(title(key) for key in dict.fromkeys(COLUMNS.values()))


@dataclass(frozen=True)
class Person(Details):
    """One validated row of an import: who the person is, and what the list says they hold."""

    row: int
    roles: tuple[str, ...]
    starts_on: date
    themes: tuple[str, ...]


@dataclass(frozen=True)
class RejectedRow:
    row: int
    cells: list[str]  # as in the file (an address list split by the separator joined again)
    reason: str  # "row 3, column e-mail: ..."


@dataclass
class ImportFile:
    """A griffie list as read: nothing in the store has been looked at yet."""

    path: Path
    header: list[str]
    delimiter: str
    people: list[Person]  # duplicates merged
    rejected: list[RejectedRow]
    warnings: list[str]
    rows_by_province: dict[str | None, list[int]]  # the accepted rows
    has_reason_column: bool = False

    @property
    def rejected_lines(self) -> list[str]:
        return [f"{self.path.name}: {r.reason}" for r in self.rejected]


def read_csv_text(path: Path) -> str:
    """The file as text: UTF-8 with or without BOM, else cp1252 as Excel writes it."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NewsletterError(f"{path}: cannot read ({exc.strerror})") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NewsletterError(
            f"{path}: is UTF-16 text, which the import does not read; {SAVE_AS_CSV}"
        )
    if data.startswith(b"PK\x03\x04"):
        raise NewsletterError(f"{path}: is an Excel workbook, not a CSV file; {SAVE_AS_CSV}")
    if b"\x00" in data:
        raise NewsletterError(f"{path}: holds NUL bytes, so it is not CSV text; {SAVE_AS_CSV}")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise NewsletterError(f"{path}: neither UTF-8 nor Windows-1252 text; {SAVE_AS_CSV}")
    if not text.strip():
        raise NewsletterError(
            f"{path}: the file is empty; export the list again with a header row "
            "(at least 'e-mail' and 'naam') and a row per person"
        )
    return text


def _columns(path: Path, header: list[str]) -> tuple[dict[str, int], list[str], bool]:
    """The known columns by key and their index, a warning per column that is ignored."""
    columns: dict[str, int] = {}
    warnings = []
    has_reason = False
    guesses: dict[str, str] = {}  # key: "'emial' for 'e-mail'", for the error below
    for index, heading in enumerate(header):
        folded = _fold(heading)
        if not heading.strip():
            continue
        if folded == REASON_COLUMN:
            has_reason = True
            continue
        key = COLUMNS.get(folded)
        if key is None:
            guess = _guess(folded)
            if guess:
                guesses.setdefault(COLUMNS[guess], f"'{heading.strip()}' for '{_shown(guess)}'")
            hint = f"did you mean '{_shown(guess)}'?" if guess else f"the known columns are {KNOWN}"
            warnings.append(
                f"{path.name}: column '{heading.strip()}' is not known and is ignored; {hint}"
            )
        elif key in columns:
            warnings.append(
                f"{path.name}: column '{heading.strip()}' is a second {title(key)} column "
                f"and is ignored; the first one, '{header[columns[key]].strip()}', is read"
            )
        else:
            columns[key] = index
    if "email" not in columns:
        meant = f" (did you mean {guesses['email']}?)" if "email" in guesses else ""
        raise NewsletterError(
            f"{path}: no e-mail column; the header row needs a column 'e-mail'{meant}"
        )
    if "naam" not in columns and "achternaam" not in columns:
        meant = next(
            (f" (did you mean {guesses[k]}?)" for k in ("naam", "achternaam") if k in guesses), ""
        )
        raise NewsletterError(
            f"{path}: no name column; add 'naam' or 'voornaam' and 'achternaam'{meant}"
        )
    return columns, warnings, has_reason


def _guess(folded: str) -> str | None:
    """The known column name a misspelt one is closest to (folded), if any is close."""
    close = difflib.get_close_matches(folded, COLUMNS, n=1, cutoff=0.75)
    return close[0] if close else None


def _shown(alias: str | None) -> str:
    """A folded column name as staff write it: 'email' is shown as 'e-mail'."""
    key = COLUMNS.get(alias or "", "")
    return title(key) if alias == _fold(title(key)) else alias or ""


def _overflow(
    number: int, row: list[str], width: int, email_at: int, delimiter: str
) -> tuple[list[str], ImportRowError | None]:
    """A row with more cells than the header has columns: a separator in an unquoted cell."""
    extra = len(row) - width
    if extra <= 0:
        return row, None
    if any("@" in cell for cell in row[email_at + 1 : email_at + 1 + extra]):
        joined = delimiter.join(row[email_at : email_at + 1 + extra])
        cells = [*row[:email_at], joined, *row[email_at + 1 + extra :]]
        return cells, ImportRowError(
            f"row {number}, column e-mail: '{joined.strip()}' holds more than one address; "
            "give each person one row"
        )
    if not any(cell.strip() for cell in row[width:]):
        return row[:width], None  # Excel's empty cells at the end of a row
    return row, ImportRowError(
        f"row {number}: {len(row)} cells where the header has {width} columns; put a cell "
        f"that holds '{delimiter}' in double quotes"
    )


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
    normalised = normalise_email(raw_email)
    if not normalised:
        raise fail("e-mail", "empty; every person needs an address")
    if normalised.count("@") > 1:
        raise fail("e-mail", f"'{raw_email}' holds more than one address; give each person one row")
    try:
        email = canonical_address(normalised)
    except EmailNotValidError as exc:
        raise fail("e-mail", f"'{raw_email}' is not a valid address ({exc})") from None
    for column in _NAME_CELLS:
        value = cells.get(column, "").strip()
        if _LINE_BREAK.search(value):
            raise fail(column, "holds a line break; write it on one line")
        if _CONTROL.search(value):
            raise fail(column, "holds a control character; type the text again")
        try:
            check_header_value(value, column)  # encoded-words, length: the gate for headers
        except HeaderError as exc:
            raise fail(column, str(exc)) from None
    first = cells.get("voornaam", "").strip()
    middle = cells.get("tussenvoegsel", "").strip()
    last = " ".join(p for p in (middle, cells.get("achternaam", "").strip()) if p)
    name = cells.get("naam", "").strip() or " ".join(p for p in (first, last) if p)
    if not name:
        raise fail("naam", "empty; write the person's name")
    if not first and not last:  # one name column: the first word is the first name
        first, _, last = name.partition(" ")
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
        role = _ROLE_ALIASES.get(_fold(part))
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
        email=email,
        name=name,
        first_name=first,
        last_name=last,
        salutation=salutation_for(cells.get("aanhef", ""), first, last, name),
        province=province,
        row=row_number,
        roles=tuple(dict.fromkeys(roles)),
        starts_on=starts_on,
        themes=tuple(themes),
    )


def _parse_day(text: str) -> date:
    match = re.fullmatch(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})", text)
    if match:
        return date(int(match[3]), int(match[2]), int(match[1]))
    return date.fromisoformat(text)


def _check_separator(path: Path, number: int, cells: list[str], width: int, used: str) -> None:
    """A rejected row written with the other separator (a ';' row in a ',' file, or the other
    way round) is a file problem, not a row problem: NewsletterError naming both separators."""
    other = ";" if used == "," else ","
    if len(cells) >= width:
        return
    again = next(csv.reader([used.join(cells)], delimiter=other), [])
    if len(again) > len(cells) and len(again) >= min(width, 2):
        raise NewsletterError(
            f"{path}: row {number} is separated by '{other}', but the header row by "
            f"'{used}'; use one separator in the whole file ({SAVE_AS_CSV})"
        )


def read_import(
    path: Path, settings: Settings, province: str | None = None, default_start: date | None = None
) -> ImportFile:
    """Every row of an import file: the valid people, the rejected rows, the warnings.

    A file that cannot be read as a list (encoding, no header, no e-mail column, no rows)
    raises NewsletterError; a bad row is a RejectedRow and the others are still read.
    """
    text = read_csv_text(path)
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") >= first.count(",") else ","
    reader = enumerate(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), start=1)
    try:
        header = next((row for _, row in reader if any(c.strip() for c in row)), None)
        if header is None:
            raise NewsletterError(f"{path}: the file is empty; it needs a header row")
        columns, warnings, has_reason = _columns(path, header)
        people: dict[str, Person] = {}
        rejected: list[RejectedRow] = []
        by_province: dict[str | None, list[int]] = {}
        start = default_start or clock.today()
        for number, raw in reader:
            if not any(cell.strip() for cell in raw):
                continue
            row, problem = _overflow(number, raw, len(header), columns["email"], delimiter)
            cells = {key: row[i] if i < len(row) else "" for key, i in columns.items()}
            try:
                if problem:
                    raise problem
                person = parse_person(number, cells, settings, province, start)
            except ImportRowError as exc:
                _check_separator(path, number, raw, len(header), delimiter)
                rejected.append(RejectedRow(number, row, str(exc)))
                continue
            by_province.setdefault(person.province, []).append(number)
            if person.email in people:  # the same person twice: their roles are merged
                earlier = people[person.email]
                warnings.append(
                    f"{path.name}: rows {earlier.row} and {number} have the same e-mail "
                    f"address {person.email}; they are read as one person with the roles of "
                    "both: if they are two people, give each their own address"
                )
                person = replace(
                    earlier,
                    roles=tuple(dict.fromkeys(earlier.roles + person.roles)),
                    starts_on=min(earlier.starts_on, person.starts_on),
                )
            people[person.email] = person
    except csv.Error as exc:
        raise NewsletterError(f"{path}: not readable as CSV ({exc}); {SAVE_AS_CSV}") from None
    if not people and not rejected:
        raise NewsletterError(f"{path}: has a header row but no people; add a row per person")
    return ImportFile(
        path,
        header,
        delimiter,
        list(people.values()),
        rejected,
        warnings,
        by_province,
        has_reason,
    )


def _rows_text(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def has_role_column(listed: ImportFile) -> bool:
    return any(COLUMNS.get(_fold(heading)) == "rol" for heading in listed.header)


def replace_province(listed: ImportFile, province: str | None) -> str | None:
    """The one province whose mandates a --replace import replaces, or NewsletterError."""
    path = listed.path
    if listed.has_reason_column:
        raise NewsletterError(
            f"{path}: has a '{REASON_COLUMN}' column, so it looks like a rejects file; "
            "--replace needs the province's whole list: fix the rows there and import that"
        )
    seen = sorted(listed.rows_by_province.items(), key=lambda kv: (-len(kv[1]), kv[0] or ""))
    if province is not None:
        others = [(code, rows) for code, rows in seen if code != province]
        if others:
            where = "; ".join(f"{_rows_text(rows)} {code or 'none'}" for code, rows in others)
            raise NewsletterError(
                f"{path}: --replace --province {province}, but the file has other provinces "
                f"({where}); import one province's list at a time"
            )
        return province
    if len(seen) == 1 and seen[0][0] is not None:
        return seen[0][0]
    if not seen:  # every row was rejected: --replace will end nothing anyway
        return None
    where = "; ".join(f"{code or 'no province'} in {_rows_text(rows)}" for code, rows in seen)
    raise NewsletterError(
        f"{path}: --replace needs one province, but the file has {where}; pass --province CODE "
        "or import one province's list at a time"
    )


def write_rejects(path: Path, listed: ImportFile) -> None:
    """The rejected rows as they were, plus a 'reden' column; replaced atomically.

    UTF-8 with a BOM so that Excel shows the accents, in the separator of the list.
    """
    text = rejects_text(listed)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def rejects_text(listed: ImportFile, reason: Callable[[str], str] | None = None) -> str:
    """The rejected rows as they were, plus a 'reden' column (CSV in the list's separator);
    `reason` words each reason ("row 3, column e-mail: ...") for whoever reads the file."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=listed.delimiter, lineterminator="\r\n")
    writer.writerow([*listed.header, REASON_COLUMN])
    width = len(listed.header)
    for rejected in listed.rejected:
        cells = rejected.cells + [""] * (width - len(rejected.cells))
        writer.writerow([*cells, reason(rejected.reason) if reason else rejected.reason])
    return buffer.getvalue()


def check_rejects_path(rejects: Path, source: Path) -> None:
    if rejects.exists() and rejects.resolve() == source.resolve():
        raise NewsletterError(
            f"--rejects {rejects}: that is the list being imported; name another file"
        )
    if rejects.is_dir():
        raise NewsletterError(f"--rejects {rejects}: is a folder; name a file, e.g. fouten.csv")
    if not rejects.parent.is_dir():
        raise NewsletterError(f"--rejects {rejects}: folder {rejects.parent} does not exist")
