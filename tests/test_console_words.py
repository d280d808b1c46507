"""The console's Dutch words for what the library gives as data or says in English (no server:
the pages that show them are tested over HTTP in tests/test_console_*.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsletter.config import Settings, load_settings
from newsletter.console import import_words
from newsletter.console.finding_words import variant_name
from newsletter.console.people_words import outcome
from newsletter.console.present import mailing_name, server_reply
from newsletter.demo import demo_source
from newsletter.people.imports import Change, ImportReport


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(Path(demo_source()))


def test_a_variant_is_named_by_its_province_and_theme_choice(settings: Settings) -> None:
    assert variant_name("GR", settings) == "Groningen"
    theme = next(iter(settings.themes))
    title = settings.themes[theme].title
    assert (
        variant_name(f"GLD+av:{theme}", settings)
        == f"Gelderland (AV-leden), zonder het blok {title}"
    )
    assert variant_name("GLD+av;a@gld.example", settings).endswith("de versie voor a@gld.example")
    assert variant_name("WEB", settings) == "de webversie"
    assert variant_name("web:archief", settings) == "het archief op de website"
    assert variant_name("ALG", settings).startswith("de algemene versie")


def test_mailings_by_month_and_processing_notes_in_dutch() -> None:
    assert mailing_name("issue-2026-12") == "nieuwsbrief december 2026"
    assert mailing_name("onboarding-av-2-welkom").startswith("inwerkprogramma")
    assert server_reply("written /x/outbox/abc.eml").startswith("als bestand opgeslagen")
    assert server_reply("250 2.0.0 Ok") == "250 2.0.0 Ok"
    note = "hard bounce of p@zh.example (by message-id), marked bounced"
    assert outcome(note) == "adres op onbestelbaar gezet"
    assert outcome("auto-reply, not answered; back on 2026-12-16").startswith("niet beantwoord")
    assert outcome("complaint by e@zh.example: unsubscribed") == "afgemeld na de klacht"


def test_the_import_plan_in_dutch_with_singular_and_plural(settings: Settings) -> None:
    end = Change(
        "end mandate",
        "x",
        "a@gld.example",
        "Anna Jansen",
        "GLD",
        role="statenlid",
        starts_on="2023-03-30",
        ends_on="2027-01-06",
    )
    assert import_words.change_text(settings, end) == (
        "Anna Jansen <a@gld.example>: Statenlid, Gelderland (sinds 30 maart 2023), "
        "tot en met 6 januari 2027"
    )
    update = Change("update", "x", "b@gld.example", "Bo", "GLD", fields=("name", "first_name"))
    assert (
        import_words.change_text(settings, update) == "Bo <b@gld.example>: naam, voornaam gewijzigd"
    )
    report = ImportReport(added=1, mandates_added=1, rejected=["l.csv: row 61, column e-mail: x"])
    assert import_words.summary(report).endswith("1 functie erbij, 1 regel afgewezen")
    line = "l.csv: row 61, column e-mail: 'a@@b' is not a valid address (The email address ...)"
    assert (
        import_words.rejected_text(line)
        == "Regel 61, kolom e-mail: 'a@@b' is geen geldig e-mailadres"
    )
    held = ImportReport(rejected=["r"], replacing=True, replace="GLD", ends_held_back=1)
    text = import_words.held_back_text(settings, held)
    assert (
        "in Gelderland" in text and "1 regel is afgewezen" in text and "1 functie eindigen" in text
    )
    warning = "l.csv: column 'emial' is not known and is ignored; did you mean 'e-mail'?"
    assert import_words.warning_text(warning) == (
        "De kolom 'emial' is onbekend en wordt overgeslagen. Bedoelt u 'e-mail'?"
    )
