"""A busy store loses no unsubscribe (issue #13, item 4): a real `newsletter serve` process takes
300 one-click unsubscribes while a second process imports a list of 60,000 people."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from newsletter.sources.catalog import SyncReport, sync_files
from newsletter.tokens import UNSUBSCRIBE, make_token

REPO = Path(__file__).resolve().parent.parent
ROWS = 60_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def newsletter(instance: Path, *args: str, **options: Any) -> subprocess.Popen[bytes]:
    """The CLI as its own process, the way cron or staff start it."""
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE} | options
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--project", str(instance), *args],
        cwd=REPO,
        **streams,
    )


def start_server(instance: Path, port: int) -> subprocess.Popen[bytes]:
    """`newsletter serve` as its own process, listening once this returns (its log discarded:
    a pipe nobody reads would block it after a few hundred requests)."""
    server = newsletter(instance, "serve", "--port", str(port), stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise AssertionError(f"the server did not listen on port {port}")


def one_click(url: str) -> tuple[int, str]:
    """An RFC 8058 one-click POST, as a mail provider sends it."""
    request = urllib.request.Request(
        url,
        data=b"List-Unsubscribe=One-Click",
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")
    except (TimeoutError, urllib.error.URLError) as exc:  # no answer at all
        return 0, str(exc)


def import_is_writing(database: Path) -> bool:
    """True when another process holds the write lock (the import has begun writing)."""
    probe = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        probe.execute("begin immediate")
        probe.execute("rollback")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def big_list(path: Path) -> None:
    lines = ["voornaam;achternaam;e-mail;provincie;rol"]
    lines += [f"Lid;Nummer{n:05d};lid{n:05d}@groot.example;GLD;statenlid" for n in range(ROWS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.slow  # whole processes, killed or held for seconds
def test_300_one_click_unsubscribes_during_a_60000_row_import_are_all_kept(
    settings, loaded, instance, tmp_path
) -> None:
    readers = [
        dict(row)
        for row in loaded.query(
            "select id, email from subscribers where status = 'active' order by id limit 300"
        )
    ]
    assert len(readers) == 300
    before = loaded.execute("select count(*) from subscribers").fetchone()[0]
    big_list(tmp_path / "groot.csv")
    port = free_port()
    server = start_server(instance, port)
    importer = None
    try:
        importer = newsletter(instance, "subscribers", "import", str(tmp_path / "groot.csv"))
        deadline = time.monotonic() + 60
        while not import_is_writing(settings.database):
            assert importer.poll() is None, importer.communicate()
            assert time.monotonic() < deadline, "the import wrote nothing in a minute"
            time.sleep(0.02)
        urls = [
            f"{settings.local_url(port=port)}afmelden/{make_token(settings, UNSUBSCRIBE, r['id'])}"
            for r in readers
        ]
        with ThreadPoolExecutor(max_workers=30) as pool:
            answers = list(pool.map(one_click, urls))
        contended = importer.poll() is None
        out, err = importer.communicate(timeout=300)
        assert importer.returncode == 0, err.decode()
        assert f"{ROWS} added" in out.decode()
    finally:
        if importer is not None and importer.poll() is None:
            importer.kill()
        server.terminate()
        server.wait(timeout=10)
    codes = [code for code, _ in answers]
    assert codes == [200] * 300, {code: codes.count(code) for code in set(codes)}
    assert contended, "the import ended before the last unsubscribe: nothing was tested"
    assert all("U bent afgemeld" in page for _, page in answers)
    tick = newsletter(instance, "tick")  # writes what was queued, if the store stayed busy
    tick.communicate(timeout=300)
    ids = [r["id"] for r in readers]
    statuses = {
        row["status"]
        for row in loaded.query(
            f"select status from subscribers where id in ({','.join('?' * len(ids))})", ids
        )
    }
    assert statuses == {"unsubscribed"}
    total = loaded.execute("select count(*) from subscribers").fetchone()[0]
    assert total == before + ROWS


@pytest.mark.slow  # whole processes, killed or held for seconds
def test_an_unsubscribe_queued_while_the_store_stays_locked_is_written_by_tick(
    settings, loaded, instance, run
) -> None:
    """When the retries run out, the reader still gets the confirmation page and the request
    waits in a file next to the store, until tick (or the next request) writes it."""
    from newsletter.web.public import create_app

    reader = dict(next(loaded.query("select id from subscribers where status = 'active'")))
    url = f"/afmelden/{make_token(settings, UNSUBSCRIBE, reader['id'])}"
    holder = subprocess.Popen(  # another process holds the write lock for 20 seconds
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            f"db = sqlite3.connect({str(settings.database)!r}, isolation_level=None)\n"
            "db.execute('begin immediate')\nprint('locked', flush=True)\ntime.sleep(20)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        client = create_app(settings).test_client()
        page = client.post(
            url, data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data"
        )
        assert holder.poll() is None  # answered while the store was still locked, not after
        assert page.status_code == 200 and "U bent afgemeld" in page.get_data(as_text=True)
        queued = settings.database.with_name(settings.database.name + ".afmeldingen")
        assert queued.read_text().count("\n") == 1
    finally:
        holder.kill()
        holder.wait()
    status = "select status from subscribers where id = ?"
    assert loaded.execute(status, [reader["id"]]).fetchone()[0] == "active"
    result = run("tick")
    assert "unsubscribes: queued unsubscribes: 1 done, 0 already" in result.output
    assert loaded.execute(status, [reader["id"]]).fetchone()[0] == "unsubscribed"
    again = run("tick")  # replayed once: nothing queued any more, no line
    assert "unsubscribes" not in again.output
    assert not queued.exists()


@pytest.mark.parametrize("how", ["tick", "request"])
def test_replaying_the_queue_twice_changes_nothing_the_second_time(settings, loaded, how) -> None:
    from newsletter.people import unsubscribe_queue
    from newsletter.web.public import create_app

    reader = dict(next(loaded.query("select id from subscribers where status = 'active'")))
    token = make_token(settings, UNSUBSCRIBE, reader["id"])
    unsubscribe_queue.enqueue(settings, token, "one-click", "2026-12-01T08:00:00Z")
    unsubscribe_queue.enqueue(settings, token, "one-click", "2026-12-01T08:00:01Z")
    unsubscribe_queue.enqueue(settings, "vervalst", "one-click", "2026-12-01T08:00:02Z")
    if how == "tick":
        replayed = unsubscribe_queue.replay(loaded, settings)
        assert (replayed.unsubscribed, replayed.already, replayed.dropped) == (1, 1, 1)
    else:
        assert create_app(settings).test_client().get("/archief/").status_code == 200
    assert not unsubscribe_queue.pending(settings)
    events = loaded.execute(
        "select count(*) from events where action = 'unsubscribe' and subject = ?",
        [f"subscriber:{reader['id']}"],
    ).fetchone()[0]
    assert events == 1


@pytest.mark.slow  # whole processes, killed or held for seconds
def test_an_import_killed_halfway_is_finished_by_running_it_again(
    settings, loaded, instance, tmp_path
) -> None:
    """Each batch is committed on its own: what a killed run wrote stays, and the same
    import run again adds the rest and reports the others unchanged."""
    before = loaded.execute("select count(*) from subscribers").fetchone()[0]
    big_list(tmp_path / "groot.csv")
    importer = newsletter(instance, "subscribers", "import", str(tmp_path / "groot.csv"))
    deadline = time.monotonic() + 60
    while loaded.execute("select count(*) from subscribers").fetchone()[0] < before + 2000:
        assert importer.poll() is None, importer.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    importer.kill()  # kill -9, halfway
    importer.wait()
    halfway = loaded.execute("select count(*) from subscribers").fetchone()[0] - before
    assert 2000 <= halfway < ROWS
    mandates = "select count(*) from mandates where source = 'import:groot.csv'"
    assert loaded.execute(mandates).fetchone()[0] == halfway  # nobody without their mandate
    again = newsletter(instance, "subscribers", "import", str(tmp_path / "groot.csv"))
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()
    assert f"{ROWS - halfway} added, 0 updated, {halfway} unchanged" in out.decode()
    assert loaded.execute("select count(*) from subscribers").fetchone()[0] == before + ROWS
    assert loaded.execute(mandates).fetchone()[0] == ROWS


class LockWatch:
    """Another writer, as the web server is one: each time it gets the write lock it notes how
    many items the store holds then, i.e. what the writer under test had committed so far."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.seen: list[int] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        db = sqlite3.connect(self.database, timeout=0, isolation_level=None)
        while not self.stop.is_set():
            while True:  # polling every millisecond, as the web server's retries do
                try:
                    db.execute("begin immediate")
                    break
                except sqlite3.OperationalError:
                    time.sleep(0.001)
            self.seen.append(db.execute("select count(*) from items").fetchone()[0])
            db.execute("rollback")
            time.sleep(0.005)
        db.close()

    def __enter__(self) -> LockWatch:
        self.thread.start()
        while len(self.seen) < 3:  # watching before the writer under test begins
            time.sleep(0.005)
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


def test_a_content_sync_of_3000_files_keeps_no_other_writer_waiting(settings, db) -> None:
    news = settings.project / "content" / "news"
    for n in range(3000):
        (news / f"2026-11-01-bericht-{n:04d}.md").write_text(
            f'---\nkind: news\ntitle: "Bericht {n}"\ndate: 2026-11-01\n'
            "theme: financien-openbaar-bestuur\nsection: av\nsummary: Kort.\n---\nTekst.\n",
            encoding="utf-8",
        )
    report = SyncReport()
    before = db.execute("select count(*) from items").fetchone()[0]
    with LockWatch(settings.database) as watch:
        sync_files(db, settings, report)
    assert not report.errors and report.added > 3000
    # The sync commits in short pieces and the other writer gets in between them: it saw the
    # store part-way, many times (one long transaction would let it in only before and after).
    between = sorted({n for n in watch.seen if before < n < before + report.added})
    assert len(between) >= 5, f"the other writer got in only at {sorted(set(watch.seen))}"
