"""Shared fixtures: a fresh copy of the demo instance per test, a fixed clock, the CLI."""

from __future__ import annotations

import functools
import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner, Result
from sqlite_utils import Database

from newsletter import app, clock, store
from newsletter.cli.main import cli
from newsletter.config import Settings, load_settings
from newsletter.console.demo import DEMO_STAFF
from newsletter.demo import (
    DEMO_EDITOR,
    DEMO_MONTH,
    DEMO_NOW,
    DemoSummary,
    copy_instance,
    demo_source,
    load_demo,
    map_os_user,
    write_demo_issue,
)
from newsletter.editorial import workflow
from newsletter.people.subscribers import import_subscribers
from newsletter.sources.catalog import sync_content
from newsletter.store import staff as staff_rows

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test runs on the morning of 1 December 2026 unless it says otherwise."""
    monkeypatch.delenv("NEWSLETTER_NOW", raising=False)
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY", raising=False)
    clock.set_now(DEMO_NOW)
    yield
    clock.set_now(None)


@pytest.fixture(scope="session", autouse=True)
def wired() -> None:
    """Tests call the library as an entry point does: after newsletter.app.wire()."""
    app.wire()


@pytest.fixture(scope="session", autouse=True)
def preflight_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One preflight tool cache for the session (and the processes tests start): each test's
    instance is new, but the same rendered issue is not scored and scanned again."""
    base = tmp_path_factory.getbasetemp()
    # Under pytest-xdist every worker has its own base under one run folder: share the cache.
    path = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "preflight.json"
    old = os.environ.get("NEWSLETTER_PREFLIGHT_CACHE")
    os.environ["NEWSLETTER_PREFLIGHT_CACHE"] = str(path)
    yield
    if old is None:
        os.environ.pop("NEWSLETTER_PREFLIGHT_CACHE", None)
    else:
        os.environ["NEWSLETTER_PREFLIGHT_CACHE"] = old


# Tests that use these fixtures run a real server or browser for long: they are marked slow
# (`make test-fast` leaves them out). Other slow tests carry @pytest.mark.slow themselves.
SLOW_FIXTURES = {
    "dovecot": "a real Dovecot IMAP server",
    "axe_run": "axe-core in Chromium",
}


# The files that take longest (measured with `pytest --durations=0`, summed per file), longest
# first. `make test` gives each file whole to one of its processes in collection order: started
# last, the longest files would leave one process running alone at the end. Only the order
# changes; a file not named here runs after these, in its usual order.
LONGEST_FILES = (
    "test_workflow.py", "test_preflight.py", "test_console_issues.py", "test_workflow_replay.py",
    "test_forget_files.py",
    "test_engine.py", "test_busy.py", "test_status.py", "test_demo.py", "test_send.py",
    "test_smtp.py", "test_postfix.py", "test_console_programme.py", "test_console.py",
    "test_console_compose.py",
)  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    rank = {name: n for n, name in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: order kept within


@pytest.fixture(autouse=True)
def preflight_tools(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In `make test-fast` (NEWSLETTER_TEST_FAST=1) SpamAssassin, the Nu HTML checker and axe in
    Chromium run only in tests marked slow; `make test` runs them everywhere, as in production.

    In the fast loop, where the preflight is not the subject (SMTP delivery, the workflow,
    tick), an approval or a send runs every Python check as always and the external tools
    report nothing. The tools themselves, and that the demo issue passes every one of them, are
    tested in test_preflight.py (slow); a test that needs their findings is marked slow.
    """
    if _tools_stubbed(request):
        monkeypatch.setattr(
            "newsletter.preflight.runner.run_external", lambda messages, files, settings: []
        )


def _tools_stubbed(request: pytest.FixtureRequest) -> bool:
    fast = os.environ.get("NEWSLETTER_TEST_FAST") == "1"
    # A test that takes the tools off PATH (no_tools) runs the real, quick, tool-less path.
    tool_less = "no_tools" in request.fixturenames
    return fast and request.node.get_closest_marker("slow") is None and not tool_less


@pytest.fixture
def instance(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A fresh copy of the repository's demo instance (no December issue file yet), set up as
    `make demo` sets it up: a command without --by is done as Sanne's account.

    A test that asks for `approved` and nothing else that could touch the instance before the
    approval gets a copy of one approved instance of the session (see approved_template)."""
    folder = tmp_path / "instance"
    template = _approved_template(request)
    if template is not None:
        shutil.copytree(template, folder)
        request.node.stash[FROM_TEMPLATE] = True
        return folder
    copy_instance(demo_source(), folder, fresh=False)
    map_os_user(folder / "newsletter.toml", DEMO_EDITOR)
    return folder


# What may be set up for a test before `approved` when its instance is a copy of the session's
# approved one: these fixtures do nothing to the instance, or exactly what the template did.
TEMPLATE_FIXTURES = {
    "instance", "settings", "db", "staff", "loaded", "december", "approved", "run", "tmp_path",
    "tmp_path_factory", "monkeypatch", "request", "fixed_now", "wired", "preflight_cache",
    "preflight_tools",
}  # fmt: skip
FROM_TEMPLATE = pytest.StashKey[bool]()
_TEMPLATES: dict[bool, Path] = {}


def _approved_template(request: pytest.FixtureRequest) -> Path | None:
    """The session's approved December instance for this test, or None when the test needs its
    own approval: it does not ask for `approved`, or it asks for a fixture that may change the
    instance first. One per way the preflight runs (with or without the external tools)."""
    names = set(request.fixturenames)
    if "approved" not in names or not names <= TEMPLATE_FIXTURES:
        return None
    stubbed = _tools_stubbed(request)
    if stubbed not in _TEMPLATES:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        _TEMPLATES[stubbed] = _build_approved(factory.mktemp("approved") / "instance", stubbed)
    return _TEMPLATES[stubbed]


def _build_approved(folder: Path, stubbed: bool) -> Path:
    """What the instance, loaded, december and approved fixtures do, once, at the same clock."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("NEWSLETTER_NOW", raising=False)
        patch.delenv("NEWSLETTER_SECRET_KEY", raising=False)
        if stubbed:
            patch.setattr("newsletter.preflight.runner.run_external", lambda m, f, s: [])
        before = clock.now() if clock.is_fixed() else None
        clock.set_now(DEMO_NOW)
        try:
            copy_instance(demo_source(), folder, fresh=False)
            map_os_user(folder / "newsletter.toml", DEMO_EDITOR)
            settings = load_settings(folder)
            db = store.open_store(settings)
            try:
                add_test_staff(db)
                summary = DemoSummary(settings.project)
                load_demo(settings.project, summary)
                assert not summary.problems, summary.problems
                write_demo_issue(db, settings)
                approve_issue(db, settings)
            finally:
                db.conn.close()
        finally:
            clock.set_now(before)
    return folder


@pytest.fixture
def settings(instance: Path) -> Settings:
    return load_settings(instance)


@pytest.fixture
def db(settings: Settings) -> Database:
    return store.open_store(settings)


# The staff accounts of a loaded instance: the demo's two (console/demo.py) and a colleague the
# tests approve as. `--by` names an account (issue #14); a typed name alone is nobody.
TEST_STAFF = (
    *((email, name, roles) for email, name, roles, _ in DEMO_STAFF),
    ("joris@ipo.example", "Joris Bakker", ("redacteur", "eindredacteur")),
)
STAFF_PASSWORD = "test-password-2026"


@functools.cache
def staff_hash() -> str:
    """One argon2 hash of STAFF_PASSWORD for the session (hashing takes a tenth of a second)."""
    return PasswordHasher().hash(STAFF_PASSWORD)


def add_test_staff(db: Database) -> None:
    """TEST_STAFF into the store (those not there yet), each with STAFF_PASSWORD."""
    for email, name, roles in TEST_STAFF:
        if staff_rows.by_email(db, email) is None:
            staff_rows.add(db, email, name, roles, staff_hash())


@pytest.fixture
def staff(db: Database) -> Database:
    """The instance's store with the staff accounts of TEST_STAFF."""
    add_test_staff(db)
    return db


@pytest.fixture
def loaded(settings: Settings, staff: Database, request: pytest.FixtureRequest) -> Database:
    """The instance with its content synced, the demo lists imported and the staff accounts
    (TEST_STAFF) added."""
    if request.node.stash.get(FROM_TEMPLATE, False):
        return staff  # a copy of the approved instance: loaded already
    summary = DemoSummary(settings.project)
    load_demo(settings.project, summary)
    assert not summary.problems, summary.problems
    return staff


@pytest.fixture
def december(settings: Settings, loaded: Database, request: pytest.FixtureRequest) -> Path:
    """The December issue file as `issue new` writes it, with the demo intro filled in."""
    if request.node.stash.get(FROM_TEMPLATE, False):
        return settings.project / "content" / "issues" / f"{DEMO_MONTH}.md"
    return write_demo_issue(loaded, settings)[0]


def approve_issue(db: Database, settings: Settings, month: str = "2026-12") -> None:
    """What staff do before a send: one submits the issue, a colleague approves it."""
    add_test_staff(db)
    workflow.review(db, settings, month, "Sanne de Vries")
    workflow.approve(db, settings, month, "Joris Bakker")


@pytest.fixture
def approved(
    settings: Settings, loaded: Database, december: Path, request: pytest.FixtureRequest
) -> Path:
    """The December issue, submitted and approved (four-eyes), ready for `issue send`."""
    if not request.node.stash.get(FROM_TEMPLATE, False):
        approve_issue(loaded, settings)
    return december


# Commands done by a staff account that need no issue (staff.permissions): the OS user is
# mapped to Sanne's account, so on an instance whose store has no accounts yet the test
# accounts are added first, as `make demo` adds its own. A --dry-run import needs none.
ACCOUNT_COMMANDS = {
    ("subscribers", "import"),
    ("subscribers", "export"),
    ("subscribers", "forget"),
    ("subscribers", "set"),
    ("inbox", "reply"),
    ("inbox", "close"),
    ("onboarding", "enroll"),
}


class Runner:
    """The CLI against one instance folder, the way a user types it."""

    def __init__(self, project: Path) -> None:
        self.project = project

    def __call__(self, *args: str) -> Result:
        pairs = set(itertools.pairwise(args))
        if pairs & ACCOUNT_COMMANDS and "--dry-run" not in args:
            db = store.open_store(load_settings(self.project))
            add_test_staff(db)
            db.conn.close()
        return CliRunner().invoke(
            cli, ["--project", str(self.project), *args], catch_exceptions=False
        )


@pytest.fixture
def run(instance: Path) -> Runner:
    return Runner(instance)


def write_people(path: Path, count: int, province: str = "GLD") -> list[str]:
    """A griffie list of `count` fictional Statenleden; returns their addresses."""
    lines = ["voornaam;achternaam;aanhef;e-mail;provincie;rol"]
    emails = []
    for n in range(count):
        address = f"lid{n:04d}@{province.lower()}.example"
        emails.append(address)
        lines.append(
            f"Lid;Nummer{n:04d};{'mevrouw' if n % 2 else 'heer'};{address};{province};statenlid"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return emails


@pytest.fixture
def small(settings: Settings, db: Database, tmp_path: Path) -> Callable[[int], list[str]]:
    """An instance with `count` subscribers and the December issue ready to build."""

    def make(count: int) -> list[str]:
        assert not sync_content(db, settings).errors
        emails = write_people(tmp_path / "lijst.csv", count)
        assert not import_subscribers(db, settings, tmp_path / "lijst.csv").rejected
        write_demo_issue(db, settings)
        return emails

    return make
