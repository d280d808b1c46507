"""Dutch words for the import preview (Mensen > Lijst importeren): the library gives the plan
as data (people.imports.Change, ImportReport); this module words it for staff. The library's
English lines stay the CLI's."""

from __future__ import annotations

import re

from newsletter.config import Settings
from newsletter.dates import nl_date
from newsletter.people.imports import Change, ImportReport
from newsletter.people.roles import ROLES

FIELDS = {
    "email": "e-mailadres",
    "name": "naam",
    "first_name": "voornaam",
    "last_name": "achternaam",
    "salutation": "aanhef",
    "province": "provincie",
}
LEFT_ALONE = {
    "unsubscribed": "afgemeld",
    "bounced": "onbestelbaar",
    "erased": "gewist",
    "suppressed": "staat op de lijst van gewiste adressen",
}
# A rejected row's reason (after "row N, column C: "), as (pattern, Dutch); groups fill {0}.
REASONS: list[tuple[str, str]] = [
    (r"^empty; every person needs an address", "leeg; iedereen heeft een e-mailadres nodig"),
    (
        r"^'(.*)' holds more than one address",
        "'{0}' bevat meer dan één adres; één persoon per regel",
    ),
    (r"^'(.*)' is not a valid address", "'{0}' is geen geldig e-mailadres"),
    (r"^holds a line break", "bevat een regeleinde; zet de tekst op één regel"),
    (r"^holds a control character", "bevat een onzichtbaar stuurteken; typ de tekst opnieuw"),
    (r"^empty; write the person's name", "leeg; vul de naam van de persoon in"),
    (r"^'(.*)' is not a province", "'{0}' is geen provincie; gebruik een code zoals GLD"),
    (r"^'(.*)' is not a role", "'{0}' is geen rol; gebruik bijvoorbeeld statenlid of av_lid"),
    (r"^empty; give the province", "leeg; vul de provincie in of kies er een bij het importeren"),
    (r"^'(.*)' is not a date", "'{0}' is geen datum; schrijf 30-03-2023 of 2023-03-30"),
    (r"^'(.*)' is not a theme", "'{0}' is geen thema"),
    (
        r"cells where the header has",
        "meer cellen dan de kopregel kolommen heeft; zet een cel "
        "met het scheidingsteken tussen dubbele aanhalingstekens",
    ),
]
WARNINGS: list[tuple[str, str]] = [
    (
        r"column '(.*)' is not known and is ignored; did you mean '(.*)'\?",
        "De kolom '{0}' is onbekend en wordt overgeslagen. Bedoelt u '{1}'?",
    ),
    (
        r"column '(.*)' is not known and is ignored",
        "De kolom '{0}' is onbekend en wordt overgeslagen.",
    ),
    (
        r"column '(.*)' is a second .* column and is ignored; the first one, '(.*)', is read",
        "De kolom '{0}' staat er twee keer in en wordt overgeslagen; de eerste, '{1}', telt.",
    ),
    (
        r"rows (\d+) and (\d+) have the same e-mail address (\S+);",
        "Regel {0} en {1} hebben hetzelfde e-mailadres {2}: ze worden gelezen als één persoon "
        "met de rollen van beide. Zijn het twee mensen, geef ieder dan een eigen adres.",
    ),
]


def count(number: int, one: str, more: str) -> str:
    """'1 functie', '2 functies'."""
    return f"{number} {one if number == 1 else more}"


def _where(settings: Settings, province: str | None) -> str:
    return settings.provinces.get(province, province) if province else "geen provincie"


def _mandate(settings: Settings, change: Change) -> str:
    role = ROLES.get(change.role, change.role)
    return f"{role}, {_where(settings, change.province)}"


def change_text(settings: Settings, change: Change) -> str:
    """One change of the preview, in Dutch."""
    who = f"{change.name} <{change.email}>" if change.name else change.email
    if change.kind == "add":
        return f"{who}, {_where(settings, change.province)}"
    if change.kind == "update":
        fields = ", ".join(FIELDS.get(f, f) for f in change.fields)
        return f"{who}: {fields} gewijzigd"
    if change.kind in ("add mandate", "reopen mandate"):
        return f"{change.email}: {_mandate(settings, change)}, vanaf {nl_date(change.starts_on)}"
    if change.kind == "end mandate":
        return (
            f"{who}: {_mandate(settings, change)} (sinds {nl_date(change.starts_on)}), "
            f"tot en met {nl_date(change.ends_on)}"
        )
    if change.kind == "leave alone":
        return f"{who} ({LEFT_ALONE.get(change.why, change.why)})"
    return change.text


def _translated(text: str, table: list[tuple[str, str]]) -> str | None:
    for pattern, dutch in table:
        found = re.search(pattern, text)
        if found:
            return dutch.format(*found.groups())
    return None


def rejected_text(line: str) -> str:
    """'file.csv: row 61, column e-mail: ...' as 'Regel 61, kolom e-mail: ...'."""
    found = re.search(r"row (\d+)(?:, column ([^:]+))?: (.*)$", line)
    if not found:
        return line
    number, column, reason = found.groups()
    where = f"Regel {number}" + (f", kolom {column}" if column else "")
    return f"{where}: {_translated(reason, REASONS) or reason}"


def reason_text(reason: str) -> str:
    """A rejected row's reason for the rejects file's 'reden' column ("row 3, column e-mail:
    ..." as "Regel 3, kolom e-mail: ...")."""
    return rejected_text(reason)


def warning_text(line: str) -> str:
    return _translated(line, WARNINGS) or line


def held_back_text(settings: Settings, report: ImportReport) -> str:
    """Why --replace ended no mandates, in Dutch ('' when it did not hold any back)."""
    if report.ends_held_back is None:
        return ""
    if report.ends_held_back < 0:
        return (
            "Er worden geen functies beëindigd: alle regels zijn afgewezen. Verbeter de lijst "
            "en importeer hem opnieuw met vervangen."
        )
    where = f" in {_where(settings, report.replace)}" if report.replace else ""
    rejected = count(len(report.rejected), "regel is", "regels zijn")
    return (
        f"Er worden geen functies beëindigd{where}, omdat {rejected} afgewezen: een afgewezen "
        "regel kan iemand zijn die nog in functie is (anders "
        + ("zou er " if report.ends_held_back == 1 else "zouden er ")
        + f"{count(report.ends_held_back, 'functie', 'functies')} eindigen). Verbeter de regels "
        "in de lijst en importeer hem opnieuw met vervangen."
    )


def summary(report: ImportReport, done: bool = False) -> str:
    """What the import changes (or changed): '2 nieuw, 1 bijgewerkt, 1 functie erbij, ...'."""
    parts = [f"{report.added} nieuw", f"{report.updated} bijgewerkt"]
    if not done:
        parts.append(f"{report.unchanged} ongewijzigd")
    parts.append(count(report.mandates_added, "functie", "functies") + " erbij")
    if report.mandates_reopened:
        parts.append(count(report.mandates_reopened, "functie", "functies") + " heropend")
    if report.replacing:
        parts.append(count(report.mandates_ended, "functie", "functies") + " beëindigd")
    if report.skipped_suppressed:
        parts.append(
            f"{report.skipped_suppressed} niet opnieuw aangemeld (afgemeld, onbestelbaar of gewist)"
        )
    parts.append(count(len(report.rejected), "regel", "regels") + " afgewezen")
    return ", ".join(parts)
