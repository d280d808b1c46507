"""`newsletter subscribers import`: formats, row checks, --dry-run, --replace and --rejects.

Exit 0: every row imported. Exit 1: rows rejected and named, the rest imported. Exit 2: the
file or the options were refused and nothing changed.
"""

from __future__ import annotations

import gc
import sqlite3
from datetime import date
from pathlib import Path

import pytest

from newsletter.people.imports import import_list, read_import
from newsletter.people.privacy import forget
from newsletter.people.subscribers import current_holders

HEADER = "Voornaam;Tussenvoegsel;Achternaam;Aanhef;E-mail;Provincie;Rol;Ingangsdatum\n"
ANOUK = "Anouk;;Verbeek;mevrouw;anouk.verbeek@gld.example;GLD;statenlid;2023-03-30"
BRAM = "Bram;van;Dijk;heer;bram.vandijk@gld.example;GLD;statenlid, av_lid;2023-03-30"
CHANTAL = "Chantal;;Bakker;mevrouw;chantal.bakker@gld.example;GLD;statenlid;2023-03-30"
DAAN = "Daan;de;Graaf;heer;daan.degraaf@gld.example;GLD;griffier;2019-09-01"
EVA = "Eva;;Jansen;mevrouw;eva.jansen@gld.example;GLD;statenlid;2027-03-30"
SANNE = "Sanne;de;Wit;mevrouw;sanne.dewit@ut.example;UT;statenlid;2023-03-30"
AFTER_ELECTIONS = "2027-04-02T09:00"  # the new Staten were installed on 30 March 2027
ROLE_LIST = (
    "statenlid, av_lid, plv_av_lid, griffier, griffiecontactpersoon, gs_lid, cdk, ipo_staff, "
    "burgerstatenlid"
)
SAVE_AS = "in Excel use Save As > 'CSV UTF-8 (Comma delimited)' and import that file"


def write_list(path: Path, *rows: str, header: str = HEADER) -> Path:
    path.write_text(header + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def mandates(db) -> dict[tuple[str, str, str | None, str], str | None]:
    """(email, role, province, starts_on): ends_on, for every mandate in the store."""
    rows = db.execute(
        "select s.email, m.role, m.province, m.starts_on, m.ends_on "
        "from mandates m join subscribers s on s.id = m.subscriber_id"
    ).fetchall()
    return {(e, r, p, s): end for e, r, p, s, end in rows}


def statuses(db) -> dict[str, str]:
    return {row["email"]: row["status"] for row in db.table("subscribers").rows}


def snapshot(instance: Path) -> tuple[bytes, list[str]]:
    """The store file's bytes and every row in it, once every connection to it is closed."""
    gc.collect()  # the CLI's connection: closed, so its WAL is checkpointed into the file
    path = instance / "newsletter.db"
    connection = sqlite3.connect(path)
    dump = list(connection.iterdump())
    connection.close()
    return path.read_bytes(), dump


@pytest.fixture
def elected(run, tmp_path: Path) -> Path:
    """Gelderland's 2023 list (and one Utrecht member) imported; returns the folder of lists."""
    lists = tmp_path / "lijsten"
    lists.mkdir()
    first = write_list(lists / "gelderland-2023.csv", ANOUK, BRAM, CHANTAL, DAAN, SANNE)
    result = run("--now", "2023-04-03T09:00", "subscribers", "import", str(first))
    assert result.exit_code == 0, result.output
    assert result.stdout == ("Subscribers: 5 added, 0 updated, 0 unchanged, 6 mandates added\n")
    return lists


# -- --dry-run ------------------------------------------------------------------------------


def test_a_dry_run_says_what_would_happen_and_changes_nothing(elected, instance, run):
    new = write_list(
        elected / "gelderland-2027.csv",
        ANOUK,
        BRAM.replace(";Dijk;", ";Dijk-Smit;"),
        EVA,
    )
    before = snapshot(instance)

    result = run(
        "--now", AFTER_ELECTIONS, "subscribers", "import", str(new), "--replace", "--dry-run"
    )

    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout == (
        "Would update: Bram van Dijk-Smit <bram.vandijk@gld.example>: name, last_name, "
        "salutation\n"
        "Would add: Eva Jansen <eva.jansen@gld.example>, GLD\n"
        "Would add mandate: eva.jansen@gld.example: statenlid GLD from 2027-03-30\n"
        "Would end mandate: Chantal Bakker <chantal.bakker@gld.example>: statenlid GLD from "
        "2023-03-30, ends 2027-04-01\n"
        "Would end mandate: Daan de Graaf <daan.degraaf@gld.example>: griffier GLD from "
        "2019-09-01, ends 2027-04-01\n"
        "Subscribers (dry run, nothing changed): 1 added, 1 updated, 1 unchanged, "
        "1 mandates added, 2 mandates ended in GLD\n"
    )
    after = snapshot(instance)
    assert after[1] == before[1]
    assert after[0] == before[0]

    real = run("--now", AFTER_ELECTIONS, "subscribers", "import", str(new), "--replace")
    assert real.exit_code == 0, real.output
    assert real.stdout == (
        "Subscribers: 1 added, 1 updated, 1 unchanged, 1 mandates added, 2 mandates ended in GLD\n"
    )


def test_a_dry_run_on_an_instance_without_a_store_does_not_create_one(instance, run, tmp_path):
    new = write_list(tmp_path / "gelderland.csv", ANOUK)
    result = run("subscribers", "import", str(new), "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Would add: Anouk Verbeek <anouk.verbeek@gld.example>, GLD\n"
        "Would add mandate: anouk.verbeek@gld.example: statenlid GLD from 2023-03-30\n"
        "Subscribers (dry run, nothing changed): 1 added, 0 updated, 0 unchanged, "
        "1 mandates added\n"
    )
    assert not (instance / "newsletter.db").exists()


def test_the_library_dry_run_predicts_the_real_run(settings, db, tmp_path):
    path = write_list(tmp_path / "gelderland.csv", ANOUK, BRAM, EVA)
    predicted = import_list(db, settings, path, dry_run=True)
    assert db.table("subscribers").count == 0
    done = import_list(db, settings, path)
    assert [c.kind for c in predicted.changes] == ["add", "add mandate"] * 2 + [
        "add mandate",
        "add",
        "add mandate",
    ]
    assert predicted.changes == done.changes
    assert predicted.summary().replace(" (dry run, nothing changed)", "") == done.summary()
    assert done.summary() == "Subscribers: 3 added, 0 updated, 0 unchanged, 4 mandates added"


# -- --replace ------------------------------------------------------------------------------


def test_replace_ends_exactly_the_mandates_of_people_who_left_and_keeps_history(elected, db, run):
    chantal = db.table("subscribers").rows_where("email = ?", ["chantal.bakker@gld.example"])
    db.table("mandates").insert(  # her earlier term as a substitute AV member
        {
            "subscriber_id": next(chantal)["id"],
            "role": "plv_av_lid",
            "province": "GLD",
            "starts_on": "2019-03-28",
            "ends_on": "2023-03-29",
            "source": "import:gelderland-2019.csv",
        }
    )
    new = write_list(elected / "gelderland-2027.csv", ANOUK, BRAM.replace(", av_lid", ""), EVA)

    result = run("--now", AFTER_ELECTIONS, "subscribers", "import", str(new), "--replace")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Subscribers: 1 added, 0 updated, 2 unchanged, 1 mandates added, 3 mandates ended in GLD\n"
    )
    assert mandates(db) == {
        ("anouk.verbeek@gld.example", "statenlid", "GLD", "2023-03-30"): None,
        ("bram.vandijk@gld.example", "statenlid", "GLD", "2023-03-30"): None,
        # Still on the list, but no longer as AV member: that role ends, the rest stays.
        ("bram.vandijk@gld.example", "av_lid", "GLD", "2023-03-30"): "2027-04-01",
        ("chantal.bakker@gld.example", "statenlid", "GLD", "2023-03-30"): "2027-04-01",
        ("chantal.bakker@gld.example", "plv_av_lid", "GLD", "2019-03-28"): "2023-03-29",
        ("daan.degraaf@gld.example", "griffier", "GLD", "2019-09-01"): "2027-04-01",
        ("eva.jansen@gld.example", "statenlid", "GLD", "2027-03-30"): None,
        ("sanne.dewit@ut.example", "statenlid", "UT", "2023-03-30"): None,  # other province
    }
    assert set(statuses(db).values()) == {"active"}  # nobody deleted or unsubscribed
    assert len(statuses(db)) == 6
    holders = current_holders(db, ("statenlid", "griffier"), date(2027, 4, 2))
    assert [(h["name"], h["province"]) for h in holders] == [
        ("Anouk Verbeek", "GLD"),
        ("Bram van Dijk", "GLD"),
        ("Eva Jansen", "GLD"),
        ("Sanne de Wit", "UT"),
    ]

    again = run("--now", AFTER_ELECTIONS, "subscribers", "import", str(new), "--replace")
    assert again.stdout == (
        "Subscribers: 0 added, 0 updated, 3 unchanged, 0 mandates added, 0 mandates ended in GLD\n"
    )


def test_replace_with_a_list_without_a_role_column_keeps_everyones_roles(elected, db, run):
    names_only = elected / "gelderland-namen.csv"
    names_only.write_text(
        "Naam;E-mail;Provincie\n"
        "Anouk Verbeek;anouk.verbeek@gld.example;GLD\n"
        "Bram van Dijk;bram.vandijk@gld.example;GLD\n",
        encoding="utf-8",
    )
    result = run("--now", AFTER_ELECTIONS, "subscribers", "import", str(names_only), "--replace")
    assert result.exit_code == 0, result.output
    assert mandates(db)[("bram.vandijk@gld.example", "av_lid", "GLD", "2023-03-30")] is None
    assert mandates(db)[("chantal.bakker@gld.example", "statenlid", "GLD", "2023-03-30")] == (
        "2027-04-01"
    )


def test_someone_ended_by_mistake_gets_the_same_mandate_back(elected, db, run):
    new = write_list(elected / "gelderland-2027.csv", ANOUK, BRAM, DAAN, EVA)
    assert (
        run("--now", AFTER_ELECTIONS, "subscribers", "import", str(new), "--replace").exit_code == 0
    )
    key = ("chantal.bakker@gld.example", "statenlid", "GLD", "2023-03-30")
    assert mandates(db)[key] == "2027-04-01"

    corrected = write_list(elected / "gelderland-2027b.csv", ANOUK, BRAM, CHANTAL, DAAN, EVA)
    result = run("--now", AFTER_ELECTIONS, "subscribers", "import", str(corrected), "--replace")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Subscribers: 0 added, 0 updated, 5 unchanged, 0 mandates added, 1 mandates reopened, "
        "0 mandates ended in GLD\n"
    )
    assert mandates(db)[key] is None
    assert len(mandates(db)) == 7  # no second mandate for the same term


def test_replace_with_a_rejected_row_ends_nobody_and_imports_the_good_rows(elected, db, run):
    before = mandates(db)
    femke = "Femke;;Mulder;mevrouw;femke.mulder@gld.example;GLD;wethouder;2027-03-30"
    new = write_list(elected / "gelderland-2027.csv", ANOUK, BRAM, femke, EVA)
    refused = (
        f"Failed: gelderland-2027.csv: row 4, column rol: 'wethouder' is not a role; use one of "
        f"{ROLE_LIST}\n"
    )
    not_ended = (
        "Failed: gelderland-2027.csv: --replace ended no mandates in GLD, because 1 rows were "
        "rejected and a rejected row may be someone still in office (up to 2 mandates would "
        "end); fix the rows in this file and import it with --replace again\n"
    )

    dry = run("--now", AFTER_ELECTIONS, "subscribers", "import", str(new), "--replace", "--dry-run")
    assert dry.exit_code == 1
    assert dry.stderr == refused + not_ended
    assert "Would end" not in dry.stdout
    assert mandates(db) == before

    result = run("--now", AFTER_ELECTIONS, "subscribers", "import", str(new), "--replace")

    assert result.exit_code == 1
    assert result.stderr == refused + not_ended
    assert result.stdout == (
        "Subscribers: 1 added, 0 updated, 2 unchanged, 1 mandates added, "
        "0 mandates ended in GLD, 1 rows rejected\n"
    )
    after = mandates(db)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing ended
    assert after[("eva.jansen@gld.example", "statenlid", "GLD", "2027-03-30")] is None

    write_list(new, ANOUK, BRAM, femke.replace("wethouder", "statenlid"), EVA)
    fixed = run("--now", AFTER_ELECTIONS, "subscribers", "import", str(new), "--replace")
    assert fixed.exit_code == 0, fixed.output
    assert fixed.stdout == (
        "Subscribers: 1 added, 0 updated, 3 unchanged, 1 mandates added, 2 mandates ended in GLD\n"
    )


def test_replace_refuses_a_list_of_more_than_one_province(elected, db, run):
    before = mandates(db)
    mixed = write_list(elected / "gemengd.csv", ANOUK, SANNE, EVA)

    result = run("subscribers", "import", str(mixed), "--replace")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {mixed}: --replace needs one province, but the file has GLD in rows 2, 4; "
        "UT in row 3; pass --province CODE or import one province's list at a time\n"
    )

    result = run("subscribers", "import", str(mixed), "--replace", "--province", "gld")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {mixed}: --replace --province GLD, but the file has other provinces "
        "(row 3 UT); import one province's list at a time\n"
    )
    assert result.stdout == ""
    assert mandates(db) == before
    assert "eva.jansen@gld.example" not in statuses(db)


def test_replace_refuses_a_rejects_file(elected, db, run):
    before = mandates(db)
    rejects = write_list(
        elected / "fouten.csv", EVA + ";row 7, column rol: ...", header=HEADER[:-1] + ";reden\n"
    )
    result = run("subscribers", "import", str(rejects), "--replace")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {rejects}: has a 'reden' column, so it looks like a rejects file; --replace "
        "needs the province's whole list: fix the rows there and import that\n"
    )
    assert mandates(db) == before


# -- --rejects ------------------------------------------------------------------------------


def test_rejected_rows_are_written_with_a_reason_to_fix_and_import_again(db, run, tmp_path):
    lijst = write_list(
        tmp_path / "gelderland.csv",
        ANOUK,
        "Bram;van;Dijk;heer;bram.vandijk@gld.example; b.dijk@gld.example;GLD;statenlid;",
        "Joëlle;;Smeets;mevrouw;joelle.smeets@gld.example;Gelderlandd;statenlid;",
    )
    out = tmp_path / "fouten.csv"
    out.write_text("an older rejects file\n", encoding="utf-8")

    result = run("subscribers", "import", str(lijst), "--rejects", str(out))

    assert result.exit_code == 1
    assert result.stdout == (
        f"Wrote 2 rejected rows to {out}; fix them there and import that file (without "
        "--replace: it holds only these rows)\n"
        "Subscribers: 1 added, 0 updated, 0 unchanged, 1 mandates added, 2 rows rejected\n"
    )
    assert (
        out.read_bytes()
        == (
            "\ufeffVoornaam;Tussenvoegsel;Achternaam;Aanhef;E-mail;Provincie;Rol;Ingangsdatum;reden\r\n"
            'Bram;van;Dijk;heer;"bram.vandijk@gld.example; b.dijk@gld.example";GLD;statenlid;;'
            "\"row 3, column e-mail: 'bram.vandijk@gld.example; b.dijk@gld.example' holds more "
            'than one address; give each person one row"\r\n'
            "Joëlle;;Smeets;mevrouw;joelle.smeets@gld.example;Gelderlandd;statenlid;;"
            "\"row 4, column provincie: 'Gelderlandd' is not a province; use a code like GLD\"\r\n"
        ).encode()
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fouten.csv",
        "gelderland.csv",
        "instance",
    ]  # no temporary file left behind

    out.write_text(
        out.read_text(encoding="utf-8-sig")
        .replace("bram.vandijk@gld.example; b.dijk@gld.example", "bram.vandijk@gld.example")
        .replace("Gelderlandd", "GLD"),
        encoding="utf-8-sig",
    )
    again = run("subscribers", "import", str(out))
    assert again.exit_code == 0, again.output
    assert again.stderr == ""  # the reden column is expected, not warned about
    assert again.stdout == "Subscribers: 2 added, 0 updated, 0 unchanged, 2 mandates added\n"
    assert sorted(statuses(db)) == [
        "anouk.verbeek@gld.example",
        "bram.vandijk@gld.example",
        "joelle.smeets@gld.example",
    ]


def test_rejects_may_not_overwrite_the_list_itself(db, run, tmp_path):
    lijst = write_list(tmp_path / "gelderland.csv", ANOUK, "Bram;;Dijk;heer;;GLD;statenlid;")
    text = lijst.read_text(encoding="utf-8")
    result = run("subscribers", "import", str(lijst), "--rejects", str(lijst))
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: --rejects {lijst}: that is the list being imported; name another file\n"
    )
    assert lijst.read_text(encoding="utf-8") == text
    assert db.table("subscribers").count == 0


# -- bad files ------------------------------------------------------------------------------

BAD_FILES = {
    "utf-16-le": (
        ("\ufeff" + HEADER + ANOUK + "\n").encode("utf-16-le"),
        f"is UTF-16 text, which the import does not read; {SAVE_AS}",
    ),
    "utf-16-be": (
        ("\ufeff" + HEADER + ANOUK + "\n").encode("utf-16-be"),
        f"is UTF-16 text, which the import does not read; {SAVE_AS}",
    ),
    "empty": (
        b"",
        "the file is empty; export the list again with a header row (at least 'e-mail' and "
        "'naam') and a row per person",
    ),
    "only-a-bom-and-blank-lines": (
        b"\xef\xbb\xbf\r\n\r\n",
        "the file is empty; export the list again with a header row (at least 'e-mail' and "
        "'naam') and a row per person",
    ),
    "header-only": (HEADER.encode(), "has a header row but no people; add a row per person"),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_a_file_that_is_not_a_list_is_refused_in_one_line_and_changes_nothing(
    elected, db, run, case
):
    data, reason = BAD_FILES[case]
    path = elected / "gelderland-2027.csv"
    path.write_bytes(data)
    before = mandates(db), statuses(db)

    result = run("subscribers", "import", str(path), "--replace", "--province", "GLD")

    assert result.exit_code == 2
    assert result.stderr == f"Error: {path}: {reason}\n"
    assert result.stdout == ""
    assert (mandates(db), statuses(db)) == before


def test_an_unknown_column_is_a_warning_with_a_guess(db, run, tmp_path):
    lijst = tmp_path / "lijst.csv"
    lijst.write_text(
        "Voornaam;Achternaam;E-mail;Provincie;Ingansdatum;Fractie\n"
        "Anouk;Verbeek;anouk.verbeek@gld.example;GLD;2023-03-30;Groen\n",
        encoding="utf-8",
    )
    result = run("subscribers", "import", str(lijst))
    assert result.exit_code == 0
    assert result.stderr == (
        "Warning: lijst.csv: column 'Ingansdatum' is not known and is ignored; did you mean "
        "'ingangsdatum'?\n"
        "Warning: lijst.csv: column 'Fractie' is not known and is ignored; the known columns "
        "are naam, voornaam, tussenvoegsel, achternaam, aanhef, e-mail, provincie, rol, "
        "ingangsdatum, thema's\n"
    )
    assert result.stdout == "Subscribers: 1 added, 0 updated, 0 unchanged, 1 mandates added\n"
    # Only known columns are read: the start date came from the import day, not the typo.
    assert list(mandates(db)) == [("anouk.verbeek@gld.example", "statenlid", "GLD", "2026-12-01")]


def test_a_misspelt_e_mail_column_is_named_in_the_warning_and_the_error(settings, run, tmp_path):
    lijst = tmp_path / "lijst.csv"
    lijst.write_text("Naam;Mail;Emial\nAnouk Verbeek;anouk.verbeek@gld.example;x\n")
    assert read_import(lijst, settings, "GLD").warnings == [
        "lijst.csv: column 'Emial' is not known and is ignored; did you mean 'e-mail'?"
    ]
    lijst.write_text("Naam;Emial\nAnouk Verbeek;anouk.verbeek@gld.example\n")
    result = run("subscribers", "import", str(lijst), "--province", "GLD")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {lijst}: no e-mail column; the header row needs a column 'e-mail' (did you "
        "mean 'Emial' for 'e-mail'?)\n"
    )


# -- rows -----------------------------------------------------------------------------------


def test_two_addresses_in_one_cell_and_a_name_on_two_lines_are_rejected(db, run, tmp_path):
    lijst = write_list(
        tmp_path / "gelderland.csv",
        ANOUK,
        "Alice;;Bos;mevrouw;alice@x.example)<bob@y.example>;GLD;statenlid;",
        "Bram;van;Dijk;heer;a@x.example; b@x.example;GLD;statenlid;",  # ; splits the cell
        'Chantal;;Bakker;mevrouw;"c@x.example; d@x.example";GLD;statenlid;',
        '"Daan\nBcc: iedereen@ipo.example";de;Graaf;heer;daan.degraaf@gld.example;GLD;griffier;',
        "Anouk;;Verbeek;mevrouw;  ANOUK.Verbeek@GLD.example ;GLD;av_lid;2023-03-30",
    )

    result = run("subscribers", "import", str(lijst))

    assert result.exit_code == 1
    assert result.stderr == (
        # The same address twice is reported, naming both rows (issue #13, item 10).
        "Warning: gelderland.csv: rows 2 and 7 have the same e-mail address "
        "anouk.verbeek@gld.example; they are read as one person with the roles of both: if "
        "they are two people, give each their own address\n"
        "Failed: gelderland.csv: row 3, column e-mail: 'alice@x.example)<bob@y.example>' holds "
        "more than one address; give each person one row\n"
        "Failed: gelderland.csv: row 4, column e-mail: 'a@x.example; b@x.example' holds more "
        "than one address; give each person one row\n"
        "Failed: gelderland.csv: row 5, column e-mail: 'c@x.example; d@x.example' holds more "
        "than one address; give each person one row\n"
        "Failed: gelderland.csv: row 6, column voornaam: holds a line break; write it on one "
        "line\n"
    )
    assert result.stdout == (
        "Subscribers: 1 added, 0 updated, 0 unchanged, 2 mandates added, 4 rows rejected\n"
    )
    # The same person twice (case and spaces differ): one subscriber with both roles.
    assert statuses(db) == {"anouk.verbeek@gld.example": "active"}
    assert sorted(role for _, role, _, _ in mandates(db)) == ["av_lid", "statenlid"]


def test_two_addresses_in_a_comma_separated_list_are_rejected(db, run, tmp_path):
    lijst = tmp_path / "utrecht.csv"
    lijst.write_text(
        "naam,e-mail,provincie\n"
        "Sanne de Wit,sanne.dewit@ut.example; s.wit@ut.example,UT\n"
        "Tim Kok,tim.kok@ut.example,UT\n",
        encoding="utf-8",
    )
    result = run("subscribers", "import", str(lijst))
    assert result.exit_code == 1
    assert result.stderr == (
        "Failed: utrecht.csv: row 2, column e-mail: 'sanne.dewit@ut.example; s.wit@ut.example' "
        "holds more than one address; give each person one row\n"
    )
    assert statuses(db) == {"tim.kok@ut.example": "active"}


def test_importing_the_same_list_later_adds_no_second_mandate(db, run, tmp_path):
    lijst = tmp_path / "lijst.csv"
    lijst.write_text(
        "naam;e-mail;provincie;rol\n"
        "Anouk Verbeek;anouk.verbeek@gld.example;GLD;statenlid\n"
        "Kim Hoekstra;kim.hoekstra@ipo.example;;ipo_staff\n",  # staff: no province
        encoding="utf-8",
    )
    assert run("subscribers", "import", str(lijst)).exit_code == 0
    later = run("--now", "2027-01-15T09:00", "subscribers", "import", str(lijst))
    assert later.stdout == "Subscribers: 0 added, 0 updated, 2 unchanged, 0 mandates added\n"
    assert mandates(db) == {
        ("anouk.verbeek@gld.example", "statenlid", "GLD", "2026-12-01"): None,
        ("kim.hoekstra@ipo.example", "ipo_staff", None, "2026-12-01"): None,
    }


# -- who never comes back -------------------------------------------------------------------


def test_unsubscribed_bounced_and_forgotten_addresses_stay_out(elected, settings, db, run):
    forget(db, settings, "daan.degraaf@gld.example")
    db.table("subscribers").update(
        statuses_id(db, "bram.vandijk@gld.example"), {"status": "unsubscribed"}
    )
    db.table("subscribers").update(
        statuses_id(db, "chantal.bakker@gld.example"), {"status": "bounced"}
    )
    new = write_list(
        elected / "gelderland-2027.csv",
        BRAM.replace(";Dijk;", ";Dijk-Smit;"),
        CHANTAL,
        DAAN,
        EVA,
    )

    dry = run("--now", AFTER_ELECTIONS, "subscribers", "import", str(new), "--replace", "--dry-run")
    assert dry.stdout.splitlines()[:3] == [
        "Would leave alone: bram.vandijk@gld.example (unsubscribed)",
        "Would leave alone: chantal.bakker@gld.example (bounced)",
        "Would leave alone: daan.degraaf@gld.example (on the suppression list)",
    ]
    result = run("--now", AFTER_ELECTIONS, "subscribers", "import", str(new), "--replace")

    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Subscribers: 1 added, 0 updated, 0 unchanged, 1 mandates added, 1 mandates ended in GLD, "
        "3 left alone (unsubscribed, bounced or erased)\n"
    )
    assert statuses(db) == {
        "anouk.verbeek@gld.example": "active",
        "bram.vandijk@gld.example": "unsubscribed",
        "chantal.bakker@gld.example": "bounced",
        "eva.jansen@gld.example": "active",
        "sanne.dewit@ut.example": "active",
    }
    assert db.table("subscribers").get(statuses_id(db, "bram.vandijk@gld.example"))["name"] == (
        "Bram van Dijk"
    )
    # Still on the list, so still in office: only Anouk, who left, has her mandate ended.
    ended = {k for k, v in mandates(db).items() if v}
    assert ended == {("anouk.verbeek@gld.example", "statenlid", "GLD", "2023-03-30")}


def statuses_id(db, email: str) -> int:
    return next(db.table("subscribers").rows_where("email = ?", [email]))["id"]


def test_addresses_are_stored_in_the_ascii_form_every_header_can_carry(settings, db, tmp_path):
    from newsletter.people.subscribers import import_subscribers

    path = tmp_path / "idn.csv"
    path.write_text(
        "naam;e-mail;provincie\nJan Idn;jan@münchen.example;GLD\nJosé Utf;jösé@gld.example;GLD\n",
        encoding="utf-8",
    )
    report = import_subscribers(db, settings, path)
    assert [r["email"] for r in db.query("select email from subscribers")] == [
        "jan@xn--mnchen-3ya.example"
    ]
    assert len(report.rejected) == 1 and "jösé@gld.example" in report.rejected[0]
