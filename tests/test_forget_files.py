"""`forget` erases a person from every file of the instance too, or finishes doing so (issue #13).

After the demo issue was built, previewed and sent to the outbox, an AV member's name and address
are in other readers' copies (the "Uw AV-leden" block of their province), in build/ and in the
previews. A privacy officer greps every file, with each message's MIME parts decoded.
"""

from __future__ import annotations

import email
import json
import os
import signal
import subprocess
import sys
from email import policy
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.demo import DEMO_NOW
from newsletter.issues.build import build_issue
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.transports.outbox import OutboxTransport

from .conftest import Runner
from .test_privacy import found

# Two fictional Drenthe AV members from subscribers/demo/drenthe.csv: each is named in the
# Drenthe readers' copies; Erik's name is not ASCII (quoted-printable in the messages).
LOTTE, LOTTE_NAME = "lotte.claessens@dr.example", "Lotte Claessens"
ERIK, ERIK_NAME = "erik.yilmaz@dr.example", "Erik Yılmaz"


def texts(path: Path) -> list[str]:
    """What a file says: its bytes as text and, for a message, every header and decoded part."""
    data = path.read_bytes()
    said = [data.decode("utf-8", "replace")]
    if path.suffix == ".eml":
        # compat32 and each header decoded by hand: the same words as policy.default gives,
        # in a third of the time (a few thousand messages are read per test)
        message = email.message_from_bytes(data, policy=policy.compat32)
        said += [str(make_header(decode_header(value))) for value in message.values()]
        for part in message.walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                said.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return said


def naming(instance: Path, *needles: str) -> list[str]:
    """The files under the instance (outside the store and the import lists) that name them."""
    hits = []
    for path in sorted(instance.rglob("*")):
        relative = path.relative_to(instance)
        if not path.is_file() or relative.parts[0] == "subscribers" or "newsletter.db" in path.name:
            continue
        said = texts(path)
        if any(n.casefold() in s.casefold() for n in needles for s in said):
            hits.append(str(relative))
    return hits


@pytest.fixture
def sent(run: Runner, settings: Settings, loaded: Database, december: Path) -> Path:
    """The December issue built, previewed and sent to all 626 via the outbox."""
    for command in ("build", "preview"):
        result = run("issue", command, "2026-12")
        assert result.exit_code == 0, result.output
    report = deliver_issue(
        loaded,
        settings,
        build_issue(loaded, settings, "2026-12").rendered,
        lambda: OutboxTransport(settings.project / "outbox"),
    )
    assert report.total == 626 and not report.failed
    return settings.project


def kinds(files: list[str]) -> dict[str, int]:
    """Files by where they are: outbox, build/ (previews apart)."""
    counted = {"outbox": 0, "build": 0, "previews": 0}
    for f in files:
        parts = Path(f).parts
        key = "outbox" if parts[0] == "outbox" else "previews" if "preview" in parts else "build"
        counted[key] += 1
    return counted


def test_forget_clears_every_file_that_names_them_and_reports_what_it_did(
    run: Runner, sent: Path
) -> None:
    before = naming(sent, ERIK, ERIK_NAME)
    where = kinds(before)
    # Not only his own copy: the Drenthe readers' copies, the build and the previews name him.
    assert where["outbox"] > 20 and where["build"] >= 2 and where["previews"] >= 1, where
    copies = len(list((sent / "outbox").glob("*.eml")))

    result = run("subscribers", "forget", ERIK, "--yes", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["erased"]["subscriber"] == 1
    assert report["erased"]["outbox"] == 1  # his own copy
    assert report["files"] == {
        "outbox copies redacted": where["outbox"] - 1,
        "build files redacted": where["build"],
        "previews redacted": where["previews"],
        "files deleted": 0,
    }
    assert naming(sent, ERIK, ERIK_NAME) == []
    assert len(list((sent / "outbox").glob("*.eml"))) == copies - 1  # only his own is gone
    # The other copies are still whole messages, and still name the other AV member.
    assert len(naming(sent, LOTTE_NAME)) == len(naming(sent, LOTTE)) > 20

    text = run("subscribers", "forget", LOTTE, "--yes")
    assert text.exit_code == 0, text.output
    assert "outbox 1," in text.stdout
    assert "; files: outbox copies redacted " in text.stdout
    assert "previews redacted" in text.stdout
    assert naming(sent, LOTTE, LOTTE_NAME) == []


def forget_killed_at(point: str, instance: Path, address: str) -> None:
    """`newsletter subscribers forget` in its own process, killed (SIGKILL) at point."""
    env = {**os.environ, "NEWSLETTER_TEST_KILL_AT": point, "NEWSLETTER_NOW": DEMO_NOW}
    command = ["subscribers", "forget", address, "--yes"]
    process = subprocess.run(
        [sys.executable, "-m", "newsletter", "--project", str(instance), *command],
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()


@pytest.mark.slow  # whole processes, killed or held for seconds
def test_a_crash_after_the_commit_is_finished_by_the_next_forget(
    run: Runner, settings: Settings, sent: Path
) -> None:
    named = len(naming(sent, LOTTE, LOTTE_NAME))

    forget_killed_at("forget-committed", sent, LOTTE)

    # The store committed (she is no subscriber), and the files are still to do: recorded.
    assert run("subscribers", "show", LOTTE).exit_code == 2
    assert found(settings.database, LOTTE) == {"pending_erasures.detail"}
    assert len(naming(sent, LOTTE, LOTTE_NAME)) == named

    again = run("subscribers", "forget", LOTTE, "--yes")

    assert again.exit_code == 0, again.output
    assert again.stdout.startswith(f"{LOTTE}: already forgotten")
    assert "finished 1 file erasure an earlier forget left" in again.stdout
    assert "outbox 1, outbox copies redacted " in again.stdout
    assert naming(sent, LOTTE, LOTTE_NAME) == []
    assert found(settings.database, LOTTE) == set()
    assert found(settings.database, LOTTE_NAME) == set()


@pytest.mark.slow  # whole processes, killed or held for seconds
def test_a_crash_among_the_files_is_finished_by_tick(
    run: Runner, settings: Settings, sent: Path
) -> None:
    forget_killed_at("forget-files", sent, ERIK)  # after his own copy went, before the rest

    assert naming(sent, ERIK, ERIK_NAME)  # other readers' copies still name him
    assert found(settings.database, ERIK) == {"pending_erasures.detail"}

    ticked = run("tick")

    assert "erasures: finished 1 file erasure: outbox 0, outbox copies redacted " in ticked.output
    assert naming(sent, ERIK, ERIK_NAME) == []
    assert found(settings.database, ERIK) == set()
    assert "erasures: no file erasure pending" in run("tick").output
