"""Bad input through the CLI: one line naming file/row/field and the fix, the right exit code,
and nothing already stored damaged.

Exit 2: the command refused its input and changed nothing. Exit 1: part of the input (one
file, one row) was refused and named; the rest went through.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from newsletter.demo import DEMO_INTRO
from newsletter.errors import ConfigError, ContentError
from newsletter.issues.files import INTRO_PLACEHOLDER
from newsletter.sources.files import NOT_ITEMS

FEED_ITEMS = 3  # the demo feed's items, synced along with the files


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding=encoding)
    return path


def stored(run) -> dict[str, dict]:
    """The items as `content list --json` shows them, by id."""
    result = run("content", "list", "--json")
    assert result.exit_code == 0, result.output
    return {row["id"]: row for row in json.loads(result.stdout)}


def content_file_ids(instance: Path) -> set[str]:
    content = instance / "content"
    return {
        p.stem for p in content.rglob("*.md") if p.relative_to(content).parts[0] not in NOT_ITEMS
    }


GOOD_NEWS = """
    ---
    kind: news
    title: Werkbezoek Statenleden aan de haven van Vlissingen
    date: 2026-11-25
    theme: algemeen
    summary: Twintig Statenleden bezochten de haven en spraken over de energietransitie.
    link: https://www.ipo.example/nieuws/werkbezoek-vlissingen
    ---
    Het verslag volgt in de volgende nieuwsbrief.
"""

BAC_DECISION = """
    ---
    kind: bac_decision
    bac: landelijk-gebied
    meeting_date: 2026-11-26
    number: LG-2026-09
    subject: {subject}
    summary: De BAC Landelijk Gebied besprak de voortgang van de gebiedsprogramma's.
    link: https://www.ipo.example/bac/landelijk-gebied/2026-11-26
    {decisions}
    ---
"""
DECISIONS = "decisions:\n      - stemt in met de planning van de gebiedsprogramma's."


def bac(subject: str = "Voortgang gebiedsprogramma's", decisions: str = DECISIONS) -> str:
    return BAC_DECISION.format(subject=subject, decisions=decisions)


BAD_FILES = {
    "malformed-yaml": (
        "news/2026-11-25-havenbezoek.md",
        GOOD_NEWS.replace("title: Werkbezoek", "title: Werkbezoek: bezoek"),
        "front matter is not valid YAML near line 3 (mapping values are not allowed in "
        "this context); fix it",
    ),
    "unknown-kind": (
        "news/2026-11-25-havenbezoek.md",
        GOOD_NEWS.replace("kind: news", "kind: nieuwsbericht"),
        "field 'kind' 'nieuwsbericht' is not known; use one of: bac_decision, av_meeting, "
        "position_paper, event, news",
    ),
    "kind-is-a-list": (
        "news/2026-11-25-havenbezoek.md",
        GOOD_NEWS.replace("kind: news", "kind: [news]"),
        "field 'kind' '['news']' is not known; use one of: bac_decision, av_meeting, "
        "position_paper, event, news",
    ),
    "bac-decision-without-decisions": (
        "bac/2026-11-26-lg-gebiedsprogramma.md",
        bac(decisions=""),
        "field 'decisions' is missing; write a list, one '- ' line per entry",
    ),
    "date-in-the-wrong-order": (
        "news/2026-11-25-havenbezoek.md",
        GOOD_NEWS.replace("date: 2026-11-25", 'date: "25-11-2026"'),
        "field 'date' '25-11-2026' is not a date; write it as 2026-11-03",
    ),
    "date-that-does-not-exist": (
        "news/2026-11-25-havenbezoek.md",
        GOOD_NEWS.replace("date: 2026-11-25", "date: 2026-11-31"),
        "field 'date' '2026-11-31' is not a date (day is out of range for month); "
        "write it as 2026-11-03",
    ),
    "no-front-matter": (
        "news/2026-11-25-havenbezoek.md",
        "Werkbezoek aan de haven van Vlissingen.\n\nHet verslag volgt.\n",
        "no front matter; start the file with a '---' block with kind: ...",
    ),
    "front-matter-not-closed": (
        "news/2026-11-25-havenbezoek.md",
        GOOD_NEWS.rsplit("---", 1)[0],
        "front matter holds no fields; write 'key: value' lines between two '---' lines, "
        "at least kind: ...",
    ),
    "encoded-word-in-bac-subject": (
        "bac/2026-11-26-lg-gebiedsprogramma.md",
        bac(subject='"Voortgang =?utf-8?q?gebiedsprogramma=27s?="'),
        "field 'subject' cannot be used in a mail header: subject contains an encoded-word "
        "(=?...?=); write the plain text instead",
    ),
    "line-break-in-bac-subject": (
        "bac/2026-11-26-lg-gebiedsprogramma.md",
        bac(subject='"Voortgang\\nBcc: iedereen@ipo.example"'),
        "field 'subject' cannot be used in a mail header: subject contains a line break or NUL; "
        "write it on one line",
    ),
}


@pytest.mark.parametrize("case", BAD_FILES, ids=list(BAD_FILES))
def test_a_bad_content_file_is_named_and_every_other_file_still_syncs(instance, run, case):
    relative, text, reason = BAD_FILES[case]
    write(instance / "content" / relative, text)
    write(instance / "content" / "news" / "2026-11-28-werkbezoek.md", GOOD_NEWS)
    good = content_file_ids(instance) - {Path(relative).stem}

    result = run("content", "sync")

    assert result.exit_code == 1
    assert result.stderr == f"Failed: content/{relative}: {reason}\n"
    assert result.stdout == (
        f"Content: {len(good) + FEED_ITEMS} added, 0 updated, 0 unchanged; "
        "feeds: ipo-nieuws ok; 1 failed\n"
    )
    items = stored(run)
    assert good <= set(items)
    assert Path(relative).stem not in items
    assert items["2026-11-28-werkbezoek"]["title"] == (
        "Werkbezoek Statenleden aan de haven van Vlissingen"
    )


def test_several_bad_files_are_each_named_in_one_run(instance, run):
    for case in ("unknown-kind", "no-front-matter"):
        relative, text, _ = BAD_FILES[case]
        write(instance / "content" / relative.replace("havenbezoek", case), text)
    result = run("content", "sync")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "Failed: content/news/2026-11-25-no-front-matter.md: " + BAD_FILES["no-front-matter"][2],
        "Failed: content/news/2026-11-25-unknown-kind.md: " + BAD_FILES["unknown-kind"][2],
    ]
    assert set(stored(run)) >= content_file_ids(instance) - {
        "2026-11-25-no-front-matter",
        "2026-11-25-unknown-kind",
    }


def test_a_stored_item_that_breaks_later_keeps_its_stored_version(instance, run):
    path = instance / "content" / "bac" / "2026-11-12-wb-regionaal-ov.md"
    assert run("content", "sync").exit_code == 0
    before = stored(run)["2026-11-12-wb-regionaal-ov"]

    # An editor retitles the decision and, in the same edit, breaks the date.
    text = path.read_text(encoding="utf-8")
    broken = text.replace("subject: Gezamenlijke inbreng", "subject: Nieuwe inbreng").replace(
        "meeting_date: 2026-11-12", "meeting_date: 2026-11-31"
    )
    assert broken != text
    path.write_text(broken, encoding="utf-8")
    result = run("content", "sync")

    assert result.exit_code == 1
    assert result.stderr == (
        "Failed: content/bac/2026-11-12-wb-regionaal-ov.md: field 'meeting_date' '2026-11-31' "
        "is not a date (day is out of range for month); write it as 2026-11-03\n"
    )
    assert "0 added, 0 updated" in result.stdout
    assert "removed" not in result.stdout
    after = stored(run)["2026-11-12-wb-regionaal-ov"]
    assert after == before
    assert after["title"].startswith("Gezamenlijke inbreng")


# -- issue files ----------------------------------------------------------------------------


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


SUBJECT = 'subject: "Nieuwsbrief Statenleden december 2026"'
ISSUE = "content/issues/2026-12.md"


# The preheader `issue new` proposes: the issue's top items (issue #16).
PREHEADER = (
    'preheader: "Regionaal OV na 2027, de Algemene Vergadering van 10 februari en 9 besluiten '
    "uit de BAC's.\""
)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (
            SUBJECT,
            'subject: "Nieuwsbrief december\\nBcc: iedereen@ipo.example"',
            "field 'subject': subject contains a line break or NUL; write it on one line",
        ),
        (
            SUBJECT,
            "subject: |\n  Nieuwsbrief december\n  Bcc: iedereen@ipo.example",
            "field 'subject': subject contains a line break or NUL; write it on one line",
        ),
        (
            SUBJECT,
            'subject: "=?utf-8?q?Nieuwsbrief_december?="',
            "field 'subject': subject contains an encoded-word (=?...?=); write the plain "
            "text instead",
        ),
        (
            PREHEADER,
            'preheader: "Lees =?utf-8?b?bWVlcg==?= over de AV"',
            "field 'preheader': preheader contains an encoded-word (=?...?=); write the plain text "
            "instead",
        ),
    ],
    ids=["escaped-newline", "block-scalar", "encoded-word", "encoded-word-in-preheader"],
)
def test_an_unsafe_subject_stops_the_build_and_names_the_field(december, db, run, old, new, reason):
    edit(december, old, new)
    result = run("issue", "build", "2026-12")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {ISSUE}: {reason}\n"
    assert db.table("issues").count == 0
    assert not (december.parents[2] / "build").exists()


def test_an_unknown_item_id_names_the_file_the_section_and_the_id(december, db, run):
    edit(december, "    - 2026-11-20-bestuur", "    - 2026-11-21-bestuur-extra")
    result = run("issue", "build", "2026-12")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {ISSUE}: sections.bestuur: unknown item '2026-11-21-bestuur-extra'; run "
        "'newsletter content sync', check 'newsletter content list', or remove it\n"
    )
    assert db.table("issues").count == 0


def test_an_issue_file_with_an_impossible_date_is_named(december, run):
    edit(december, "date: 2026-12-01", "date: 2026-12-32")
    result = run("issue", "build", "2026-12")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {ISSUE}: field 'date' '2026-12-32' is not a date (day is out of range for "
        "month); write it as 2026-11-03\n"
    )


def test_an_empty_intro_stops_the_build(december, db, run):
    edit(december, DEMO_INTRO.strip(), INTRO_PLACEHOLDER)
    result = run("issue", "build", "2026-12")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {ISSUE}: the intro is empty; write two or three sentences below the front matter\n"
    )
    assert db.table("issues").count == 0


def test_a_broken_issue_file_leaves_the_earlier_build_alone(december, db, run):
    assert run("issue", "build", "2026-12").exit_code == 0
    web = december.parents[2] / "build" / "archief" / "2026-12" / "index.html"
    page, recorded = web.read_bytes(), db.table("issues").get("2026-12")

    edit(december, SUBJECT, 'subject: "=?utf-8?q?Nieuwsbrief?="')
    result = run("issue", "build", "2026-12")

    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {ISSUE}: field 'subject'")
    assert web.read_bytes() == page
    assert db.table("issues").get("2026-12") == recorded


def test_issue_new_twice_refuses_and_keeps_what_staff_wrote(instance, run):
    assert run("content", "sync").exit_code == 0
    first = run("issue", "new", "2026-12")
    assert first.exit_code == 0, first.output
    path = instance / ISSUE
    edit(path, INTRO_PLACEHOLDER, "Onze inleiding voor december.")
    written = path.read_text(encoding="utf-8")

    again = run("issue", "new", "2026-12")

    assert again.exit_code == 2
    assert again.stderr == (
        f"Error: {ISSUE} already exists; edit it, or pass --force to start it again\n"
    )
    assert path.read_text(encoding="utf-8") == written


def test_issue_new_refuses_a_month_that_does_not_exist(instance, run):
    result = run("issue", "new", "2026-13")
    assert result.exit_code == 2
    assert result.stderr == "Error: '2026-13' is not a month; write it as 2026-12\n"
    assert "Traceback" not in result.output
    assert not (instance / "content" / "issues" / "2026-13.md").exists()


# -- subscriber imports ---------------------------------------------------------------------

HEADER = "Voornaam;Tussenvoegsel;Achternaam;Aanhef;E-mail;Provincie;Rol\n"


def people(db) -> dict[str, str]:
    return {row["email"]: row["name"] for row in db.table("subscribers").rows}


def test_a_row_with_two_addresses_is_named_and_the_other_rows_are_imported(tmp_path, db, run):
    csv = write(
        tmp_path / "gelderland-nov.csv",
        HEADER + "Anouk;;Verbeek;mevrouw;anouk.verbeek@gld.example;GLD;statenlid\n"
        "Bram;van;Dijk;heer;bram.vandijk@gld.example, b.dijk@gld.example;GLD;statenlid\n"
        "Joost;;Hermans;heer;joost.hermans@gld.example;GLD;statenlid, av_lid\n",
    )
    result = run("subscribers", "import", str(csv))
    assert result.exit_code == 1
    assert result.stderr == (
        "Failed: gelderland-nov.csv: row 3, column e-mail: 'bram.vandijk@gld.example, "
        "b.dijk@gld.example' holds more than one address; give each person one row\n"
    )
    assert result.stdout == (
        "Subscribers: 2 added, 0 updated, 0 unchanged, 3 mandates added, 1 rows rejected\n"
    )
    assert people(db) == {
        "anouk.verbeek@gld.example": "Anouk Verbeek",
        "joost.hermans@gld.example": "Joost Hermans",
    }


def test_a_list_without_an_e_mail_column_imports_nothing(tmp_path, db, run):
    first = write(
        tmp_path / "utrecht.csv", "Naam;E-mail;Provincie\nSanne de Wit;sanne.dewit@ut.example;UT\n"
    )
    assert run("subscribers", "import", str(first)).exit_code == 0
    before = list(db.table("subscribers").rows)
    csv = write(
        tmp_path / "utrecht-nieuw.csv",
        "Naam;Provincie;Rol\nSanne de Wit-Bakker;UT;statenlid\nTim Kok;UT;statenlid\n",
    )

    result = run("subscribers", "import", str(csv))

    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {csv}: no e-mail column; the header row needs a column 'e-mail'\n"
    )
    assert list(db.table("subscribers").rows) == before


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8-sig"])
def test_excel_files_keep_their_accents(tmp_path, db, run, encoding):
    csv = write(
        tmp_path / "limburg.csv",
        "E-mail;Voornaam;Achternaam;Aanhef;Provincie\n"
        "rene.geraerts@li.example;René;Geraerts;heer;LI\n"
        "joelle.smeets@li.example;Joëlle;Smeets-Ruhé;mevrouw;Limburg\n",
        encoding=encoding,
    )
    result = run("subscribers", "import", str(csv))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    rows = {row["email"]: row for row in db.table("subscribers").rows}
    assert {email: row["name"] for email, row in rows.items()} == {
        "rene.geraerts@li.example": "René Geraerts",
        "joelle.smeets@li.example": "Joëlle Smeets-Ruhé",
    }
    assert rows["joelle.smeets@li.example"]["salutation"] == "Geachte mevrouw Smeets-Ruhé"
    assert {row["province"] for row in rows.values()} == {"LI"}


# -- configuration --------------------------------------------------------------------------


def toml(instance: Path, old: str, new: str) -> None:
    edit(instance / "newsletter.toml", old, new)


CONFIG_CASES = {
    "missing-file": (
        lambda i: (i / "newsletter.toml").unlink(),
        "not found; run the command in an instance folder, pass --project DIR, or create one "
        "with 'newsletter demo --dir DIR'",
    ),
    "invalid-toml": (
        lambda i: toml(i, "[newsletter]", "[newsletter"),
        "not valid TOML (Expected ']' at the end of a table declaration (at line 4, "
        "column 12)); fix the line it names",
    ),
    "missing-sender": (
        lambda i: toml(i, 'sender = "IPO Statenleden <statenleden@ipo.example>"', ""),
        '[newsletter] sender: is missing; write sender = "IPO Statenleden '
        '<statenleden@ipo.example>"',
    ),
    "base-url-not-https": (
        lambda i: toml(i, 'base_url = "https://', 'base_url = "http://'),
        "[newsletter] base_url: 'http://www.ipo.example/nieuwsbrief' must be an absolute "
        "https:// URL, e.g. https://www.ipo.example/nieuwsbrief",
    ),
    "unknown-durability": (
        lambda i: toml(i, "[delivery]\n", '[delivery]\ndurability = "soms"\n'),
        '[delivery] durability: \'soms\' is not known; write "power-loss" or "crash"',
    ),
    "connections-out-of-range": (
        lambda i: toml(i, "[delivery]\n", "[delivery]\nconnections = 40\n"),
        "[delivery] connections: must be a number from 1 to 16, e.g. connections = 1",
    ),
    "unknown-feed-theme": (
        lambda i: toml(i, 'theme = "algemeen"', 'theme = "verkeer"'),
        "[[feeds]] #1 (ipo-nieuws): theme 'verkeer' is not in [themes]; use one of "
        "wonen-bereikbaarheid, landelijk-gebied, klimaat-leefomgeving, ondernemen-cultuur, "
        "financien-openbaar-bestuur, werkgeverszaken, digitalisering, algemeen",
    ),
    "misspelt-key": (
        lambda i: toml(i, "[delivery]\n", '[delivery]\ntrasport = "outbox:outbox"\n'),
        "[delivery]: 'trasport' is not a known setting; did you mean 'transport'?",
    ),
    "misspelt-table": (
        lambda i: toml(i, "[delivery]\n", "[delivry]\n"),
        "tables: 'delivry' is not a known setting; did you mean 'delivery'?",
    ),
    "misspelt-feed-key": (
        lambda i: toml(i, 'theme = "algemeen"', 'theme = "algemeen"\ntimout = 5'),
        "[[feeds]] #1: 'timout' is not a known setting; did you mean 'timeout'?",
    ),
    "password-in-transport": (
        lambda i: toml(i, '"outbox:outbox"', '"smtp://nb:Geheim123@relay.example:587"'),
        "[delivery] transport: 'smtp://nb:…@relay.example:587' holds a password; remove it and "
        "set NEWSLETTER_SMTP_PASSWORD instead",
    ),
}


@pytest.mark.parametrize("case", CONFIG_CASES, ids=list(CONFIG_CASES))
def test_a_bad_config_names_the_file_and_the_key_and_touches_nothing(instance, run, case):
    spoil, reason = CONFIG_CASES[case]
    spoil(instance)
    result = run("content", "sync")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {instance.resolve() / 'newsletter.toml'}: {reason}\n"
    assert result.stdout == ""
    assert not (instance / "newsletter.db").exists()


def test_debug_lets_the_exception_through_where_a_normal_run_prints_one_line(instance, run):
    toml(instance, 'base_url = "https://', 'base_url = "http://')
    normal = run("content", "sync")
    assert normal.exit_code == 2
    assert len(normal.stderr.splitlines()) == 1
    assert "Traceback" not in normal.output
    with pytest.raises(ConfigError, match=r"\[newsletter\] base_url: 'http://"):
        run("--debug", "content", "sync")


def test_debug_shows_where_an_issue_file_error_came_from(december, run):
    edit(december, SUBJECT, 'subject: "=?utf-8?q?Nieuwsbrief?="')
    assert run("issue", "build", "2026-12").exit_code == 2
    with pytest.raises(ContentError, match=r"field 'subject': subject contains an encoded-word"):
        run("--debug", "issue", "build", "2026-12")


def test_a_misspelt_field_is_a_warning_with_a_guess_and_the_item_still_syncs(instance, run):
    path = instance / "content" / "news" / "2026-11-30-overdrachtsdossier.md"
    path.write_text(
        path.read_text(encoding="utf-8").replace("summary:", "sumary: x\nsummary:"),
        encoding="utf-8",
    )
    result = run("content", "sync")
    assert result.exit_code == 0
    assert (
        "Warning: content/news/2026-11-30-overdrachtsdossier.md: field 'sumary' is not a field "
        "of news; did you mean 'summary'?\n"
    ) in result.stderr
    assert "28 added" in result.stdout


@pytest.mark.parametrize("command", ["new", "build"])
def test_a_month_with_a_trailing_newline_is_refused(instance, run, command):
    result = run("issue", command, "2026-12\n")
    assert result.exit_code == 2
    assert result.stderr == "Error: '2026-12\\n' is not a month; write it as 2026-12\n"
    assert not list((instance / "content" / "issues").glob("2026-12*"))


@pytest.mark.parametrize("month", ["0001-01", "2018-12", "2031-04", "9999-12"])
def test_a_month_outside_the_known_statenperiodes_is_refused(instance, run, month):
    result = run("issue", "new", month)
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: '{month}' is outside the Statenperiodes this instance knows (2019-04 to "
        "2031-03, from [onboarding] term_end); write a month such as 2026-12\n"
    )
    assert not (instance / "content" / "issues" / f"{month}.md").exists()


def test_a_month_of_the_next_statenperiode_is_accepted(instance, run):
    result = run("issue", "new", "2027-06")
    assert result.exit_code == 0, result.output
    assert (instance / "content" / "issues" / "2027-06.md").exists()
