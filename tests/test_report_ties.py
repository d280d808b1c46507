"""`issue report` counts only bounces and complaints tied to a delivery of ours (issue #13).

A report anyone can write (no signed VERP address, no Message-ID of ours) may name one of our
readers; it must not move the mailing's rates or raise a warning, and the note stored with the
message says so.
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlite_utils import Database

from newsletter.config import Settings

from . import test_processing
from .conftest import Runner
from .test_processing import (
    arf,
    deliver,
    dsn,
    fetch,
    inbound,
    mailing,
    our_message_id,
    status,
)

UNTIED = "niet gekoppeld: niets gewijzigd"


readers = test_processing.people  # four active Gelderland subscribers (a fixture)


def report(run: Runner) -> dict:
    result = run("issue", "report", "2026-12", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def counted(data: dict) -> tuple:
    return data["bounces"], data["complaints"], data["warnings"]


def test_forged_bounces_and_complaints_do_not_count_in_the_report(
    run: Runner, instance: Path, settings: Settings, db: Database, readers: list[str]
) -> None:
    ids = mailing(db, settings, "2026-12", readers)
    # One genuine hard bounce (it quotes our Message-ID): it counts, as before.
    deliver(
        instance,
        dsn(readers[0], "5.1.1", "550 5.1.1 User unknown", our_message_id(db, ids[readers[0]])),
    )
    fetch(run)
    before = report(run)
    assert before["bounces"] == {"hard": 1} and before["complaints"] == 0
    text_before = run("issue", "report", "2026-12").output

    # A stranger writes a bounce and an abuse report naming two of our readers.
    deliver(
        instance,
        dsn(readers[2], "5.1.1", "550 5.1.1 User unknown", number=2),
        arf(readers[1], "<verzonnen@elders.example>"),
    )
    fetch(run)

    after = report(run)
    assert counted(after) == counted(before)
    assert run("issue", "report", "2026-12").output == text_before
    assert [status(db, p) for p in readers[1:3]] == ["active", "active"]
    notes = {row["kind"]: row["reason"] for row in inbound(db)[1:]}
    assert set(notes) == {"bounce", "complaint"}, notes
    for kind, note in notes.items():
        assert UNTIED in note, (kind, note)


def test_a_forged_complaint_alone_raises_no_warning(
    run: Runner, instance: Path, settings: Settings, db: Database, readers: list[str]
) -> None:
    mailing(db, settings, "2026-12", readers)
    deliver(instance, arf(readers[3], "<verzonnen@elders.example>"))
    fetch(run)

    data = report(run)
    assert (data["complaints"], data["warnings"]) == (0, [])
    assert "complaints" not in run("issue", "report", "2026-12").output
