"""Logboek by person (issue #14, item 6): a part of a name, found through the name index and
kept in step with the subscribers: a new reader, a changed name, a deleted row; very many
matches still counted exactly; quotes and LIKE wildcards are plain characters."""

from __future__ import annotations

from sqlite_utils import Database

from newsletter.store import audit, transaction
from newsletter.store import subscribers as people
from newsletter.store.subscribers import Details


def add(db: Database, email: str, name: str) -> int:
    last = name.split(" ", 1)[1]
    people.add_many(
        db,
        [Details(email, name, name.split()[0], last, f"Beste {name}", "GLD")],
        status="active",
        source="test",
        at="2026-11-01T00:00:00Z",
    )
    found = people.find_by_email(db, email)
    assert found is not None
    audit.record(db, "web", "subscribe", f"subscriber:{found.id}")
    return found.id


def about(db: Database, person: str) -> int:
    return audit.page(db, person=person)[1]


def test_a_part_of_a_name_anywhere_in_it_case_insensitive(db: Database) -> None:
    add(db, "annemiek@gld.example", "Annemiek van Oosterzee-Bakker")
    for part in ("oosterzee", "OOSTERZEE-B", "miek van", "Annemiek"):
        assert about(db, part) == 1, part
    assert about(db, "oosterzee bakker") == 0  # a part, not a set of words
    assert about(db, "zz") == 0 and about(db, "ak") == 1  # short parts read the names
    assert about(db, '"Bakker') == 0 and about(db, "%") == 0 and about(db, "_") == 0


def test_the_index_follows_a_changed_name_and_a_deleted_reader(db: Database) -> None:
    subscriber = add(db, "jeroen@gld.example", "Jeroen Vlietstra")
    details = Details("jeroen@gld.example", "Jeroen Haverkamp", "Jeroen", "Haverkamp", "", "GLD")
    people.update_details(db, subscriber, details, "2026-11-02T00:00:00Z")
    assert about(db, "Vlietstra") == 0 and about(db, "haverkamp") == 1
    with transaction(db):
        people.delete(db, subscriber)
    assert about(db, "haverkamp") == 0


def test_very_many_people_by_one_part_are_all_counted(db: Database) -> None:
    with transaction(db):
        for n in range(audit.MANY + 20):
            add(db, f"veel{n}@gld.example", f"Lid Veelvoud{n:04d}")
    assert about(db, "Veelvoud") == audit.MANY + 20
    entries, total = audit.page(db, person="veelvoud", limit=5, offset=audit.MANY)
    assert total == audit.MANY + 20 and len(entries) == 5
