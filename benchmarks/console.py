"""The console at size (issue #14): its main pages against the public archive page.

One instance with 100,000 subscribers, 10,000 items and 20,000 log entries (loaded directly
through the store's bulk functions), a real `newsletter console` and a real `newsletter serve`
(both under waitress, as in production), a signed-in session. The pages are asked for in
turns, so both apps see the same machine at the same moments; the p95 of each page is
reported with its ratio to the archive page's p95 (the target: each within 3x). Sizes from
BENCH_SUBSCRIBERS, BENCH_ITEMS (default 100000, 10000); BENCH_ROUNDS rounds (default 30).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from html import unescape
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MONTH = "2026-12"
PASSWORD = "benchmark-password-2026"
EMAIL = "bank@ipo.example"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_instance(folder: Path, subscribers: int, items: int) -> None:
    """The demo instance, its December issue sent (so the archive lists it), then grown."""
    from newsletter import clock
    from newsletter.demo import DEMO_NOW, copy_instance, demo_source, load_demo, write_demo_issue
    from newsletter.issues.build import build_issue
    from newsletter.outbound.issue_mail import deliver_issue
    from newsletter.outbound.transports import MemoryTransport
    from newsletter.staff.accounts import add_account
    from newsletter.store import audit, transaction
    from newsletter.store import items as stored
    from newsletter.store import subscribers as people
    from newsletter.store.subscribers import Details

    clock.set_now(DEMO_NOW)
    copy_instance(demo_source(), folder, fresh=False)
    settings, db = load_demo(folder)
    write_demo_issue(db, settings)
    deliver_issue(db, settings, build_issue(db, settings, MONTH).rendered, MemoryTransport)
    add_account(
        db, EMAIL, "Sanne de Vries", ["redacteur", "eindredacteur", "beheerder"], "bench", PASSWORD
    )
    provinces = list(settings.provinces)
    started = time.perf_counter()
    with transaction(db):
        people.add_many(
            db,
            (
                Details(
                    email=f"lid{n:06d}@{provinces[n % len(provinces)].lower()}.example",
                    name=f"Lid Nummer{n:06d}",
                    first_name="Lid",
                    last_name=f"Nummer{n:06d}",
                    salutation=f"Geachte heer Nummer{n:06d}",
                    province=provinces[n % len(provinces)],
                )
                for n in range(subscribers)
            ),
            status="active",
            source="bench",
            at=clock.utc_iso(),
        )
    # A kind that is not on the calendar (10,000 meetings would be another instance).
    template = next(r for r in stored.file_items(db) if r.kind == "bac_decision")
    with transaction(db):
        stored.save_items(
            db,
            (
                replace(template, id=f"bulk-{n:05d}", title=f"Bulk {n}", path=f"bulk/{n}.md")
                for n in range(items)
            ),
        )
        for n in range(20_000):
            audit.record(db, "web", "unsubscribe", f"subscriber:{1000 + n}", how="link")
    print(
        f"instance: {subscribers} subscribers, {items} items, 20000 log entries "
        f"loaded in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    db.conn.close()


def start(folder: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env["NEWSLETTER_NOW"] = "2026-12-01T08:30:00+01:00"
    return subprocess.Popen(
        [sys.executable, "-m", "newsletter", "--project", str(folder), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5, allow_redirects=False)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"nothing answered at {url}")


def sign_in(base: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{base}/inloggen", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    answer = http.post(
        f"{base}/inloggen",
        data={"email": EMAIL, "wachtwoord": PASSWORD, "csrf_token": token[1]},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 302, answer.text[:500]
    return http


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    subscribers = int(os.environ.get("BENCH_SUBSCRIBERS", "100000"))
    items = int(os.environ.get("BENCH_ITEMS", "10000"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "30"))
    work = Path(tempfile.mkdtemp(prefix="bench-console-"))
    folder = work / "instance"
    make_instance(folder, subscribers, items)
    console_port, public_port = free_port(), free_port()
    servers = [
        start(folder, "console", "--port", str(console_port)),
        start(folder, "serve", "--port", str(public_port)),
    ]
    try:
        console = f"http://127.0.0.1:{console_port}"
        public = f"http://127.0.0.1:{public_port}/nieuwsbrief"
        wait_for(f"{console}/inloggen")
        wait_for(f"{public}/archief/")
        http, reader = sign_in(console), requests.Session()
        pages = {
            "archive (public)": (reader, f"{public}/archief/"),
            "Overzicht": (http, f"{console}/"),
            "Inhoud": (http, f"{console}/inhoud"),
            "Inhoud p.150": (http, f"{console}/inhoud?pagina=150"),
            "Logboek": (http, f"{console}/logboek"),
            "Logboek persoon": (http, f"{console}/logboek?persoon=Nummer000999"),
            "Nummers": (http, f"{console}/nummers"),
            "Medewerkers": (http, f"{console}/medewerkers"),
            f"Nummer {MONTH}": (http, f"{console}/nummers/{MONTH}"),
        }
        # Page 150 as an editor reaches it: "Volgende" on page 149 (keyset, from its last row).
        before = session_text(http, f"{console}/inhoud?pagina=149")
        following = re.search(r'<a href="([^"]+)" rel="next"', before)
        assert following, "no Volgende on page 149"
        pages["Inhoud p.150 Volgende"] = (http, console + unescape(following[1]))
        pages[f"Nummer {MONTH} voorbeeld"] = (http, f"{console}/nummers/{MONTH}/voorbeeld")
        for name, (session, url) in pages.items():  # warm up, and check what comes back
            answer = session.get(url, timeout=120, allow_redirects=False)
            assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])
        assert "Pagina 1 van " in session_text(http, f"{console}/inhoud")
        timings: dict[str, list[float]] = {name: [] for name in pages}
        deadline = time.monotonic() + 600  # bounded: at most ten minutes of requests
        for _ in range(rounds):
            for name, (session, url) in pages.items():
                began = time.perf_counter()
                session.get(url, timeout=120, allow_redirects=False)
                timings[name].append(time.perf_counter() - began)
            if time.monotonic() > deadline:
                break
    finally:
        for server in servers:
            server.send_signal(signal.SIGINT)
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
    base = p95(timings["archive (public)"])
    print(f"\n{'page':<26} {'p50 ms':>8} {'p95 ms':>8} {'x archive':>10}")
    over = []
    for name, values in timings.items():
        ratio = p95(values) / base
        ordered = sorted(values)
        print(
            f"{name:<26} {ordered[len(ordered) // 2] * 1000:8.1f} {p95(values) * 1000:8.1f} "
            f"{ratio:10.1f}"
        )
        if ratio > 3:
            over.append(name)
    print(
        f"\n{len(timings['archive (public)'])} rounds; target: each console page within 3x the "
        f"archive page's p95. Over: {', '.join(over) if over else 'none'}"
    )


def session_text(session: requests.Session, url: str) -> str:
    return session.get(url, timeout=120).text


if __name__ == "__main__":
    main()
