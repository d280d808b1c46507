"""Bad input at the edges of an import (issue #13, item 10): a quoted local part that is valid,
a row in another separator, and the same address on two rows."""

from __future__ import annotations

import email
from email import policy

from newsletter.mail.compose import compose
from tests.test_import import ANOUK, statuses, write_list


def test_a_valid_quoted_local_part_is_imported_and_can_be_mailed(settings, db, run, tmp_path):
    # As Excel writes a cell that holds double quotes: the cell quoted, its quotes doubled.
    lijst = write_list(
        tmp_path / "gelderland.csv",
        'Jan;de;Vries;heer;"""jan.de vries""@gelderland.example";GLD;statenlid;2023-03-30',
    )
    result = run("subscribers", "import", str(lijst))
    assert result.exit_code == 0, result.stderr
    assert statuses(db) == {'"jan.de vries"@gelderland.example': "active"}
    message = compose(
        settings,
        to_address='"jan.de vries"@gelderland.example',
        to_name="Jan de Vries",
        subject="Nieuwsbrief",
        text="Beste Jan,\n",
    )
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == '"jan.de vries"@gelderland.example'


def test_a_row_in_another_separator_is_named_and_nothing_is_imported(db, run, tmp_path):
    lijst = tmp_path / "utrecht.csv"
    lijst.write_text(
        "naam,e-mail,provincie\n"
        "Tim Kok,tim.kok@ut.example,UT\n"
        "Sanne de Wit;sanne.dewit@ut.example;UT\n",
        encoding="utf-8",
    )
    result = run("subscribers", "import", str(lijst))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert f"{lijst}: row 3 is separated by ';', but the header row by ','" in result.stderr
    assert "empty" not in result.stderr
    assert statuses(db) == {}  # nothing changed, also not the good row


def test_the_same_address_on_two_rows_is_reported_naming_both(db, run, tmp_path):
    lijst = write_list(
        tmp_path / "gelderland.csv",
        ANOUK,
        "Bram;van;Dijk;heer;bram.vandijk@gld.example;GLD;statenlid;2023-03-30",
        "Anouk;;Verbeek;mevrouw;  ANOUK.Verbeek@GLD.example ;GLD;av_lid;2023-03-30",
    )
    result = run("subscribers", "import", str(lijst))
    assert result.exit_code == 0
    assert (
        "Warning: gelderland.csv: rows 2 and 4 have the same e-mail address "
        "anouk.verbeek@gld.example" in result.stderr
    )
    assert len(statuses(db)) == 2


def test_a_semicolon_list_with_commas_in_names_is_still_read(db, run, tmp_path):
    lijst = write_list(
        tmp_path / "gelderland.csv", "Jan, jr.;;Vries;heer;jan@gld.example;GLD;statenlid;"
    )
    result = run("subscribers", "import", str(lijst))
    assert result.exit_code == 0, result.stderr
