"""Delivery throughput: the real `issue send` path against smtplib pushing pre-built bytes.

Same sink (benchmarks/sink.py, its own process), same message (~70 KB on the wire), same run.
Each measurement runs in a fresh child process so its peak RSS is its own. Sizes come from
BENCH_SIZES (default 10000,100000); DKIM is measured on BENCH_DKIM messages (default 2000)
because pure-Python RSA signing is two orders of magnitude slower than the rest.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MONTH = "2026-12"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_instance(folder: Path, recipients: int) -> Path:
    """The demo instance with `recipients` synthetic active subscribers and a built issue."""
    from newsletter import clock
    from newsletter.demo import DEMO_NOW, copy_instance, demo_source, load_demo, write_demo_issue
    from newsletter.issues.build import build_issue

    clock.set_now(DEMO_NOW)
    copy_instance(demo_source(), folder, fresh=False)
    settings, db = load_demo(folder)  # the demo lists give the province blocks
    db.execute("update subscribers set status = 'unsubscribed'")  # only the synthetic ones get it
    provinces = list(settings.provinces)
    now = clock.utc_iso()
    with db.atomic():
        db.conn.executemany(
            "insert into subscribers (email, name, first_name, last_name, salutation, province, "
            "status, themes, source, created_at, updated_at) "
            "values (?, ?, 'Lid', ?, ?, ?, 'active', '[]', 'bench', ?, ?)",
            (
                (
                    f"lid{n:06d}@{provinces[n % 12].lower()}.example",
                    f"Lid Nummer{n:06d}",
                    f"Nummer{n:06d}",
                    f"Geachte heer Nummer{n:06d}",
                    provinces[n % 12],
                    now,
                    now,
                )
                for n in range(recipients)
            ),
        )
    write_demo_issue(db, settings)
    build_issue(db, settings, MONTH)
    db.conn.close()
    return folder


def child(
    mode: str,
    instance: Path,
    port: int,
    connections: int,
    count: int,
    dkim_key: str | None = None,
    left: float = 1.0,
    durability: str = "power-loss",
) -> dict[str, float]:
    """Run one measurement in a fresh process on a fresh copy of the instance."""
    work = Path(tempfile.mkdtemp(prefix="bench-run-"))
    try:
        copy = work / "instance"
        shutil.copytree(instance, copy, ignore=shutil.ignore_patterns("outbox", ".locks"))
        if durability != "power-loss":
            config = copy / "newsletter.toml"
            config.write_text(
                config.read_text().replace(
                    "[delivery]\n", f'[delivery]\ndurability = "{durability}"\n'
                )
            )
        env = dict(os.environ)
        if dkim_key:
            env["NEWSLETTER_DKIM_KEY_FILE"] = dkim_key
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                mode,
                str(copy),
                str(port),
                str(connections),
                str(count),
                "1" if dkim_key else "0",
                str(left),
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=3600,
        )
        if out.returncode != 0:  # say why, not only that it failed
            raise SystemExit(f"benchmark child {mode} failed:\n{out.stderr}")
        return dict(json.loads(out.stdout.strip().splitlines()[-1]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_child(
    mode: str, instance: Path, port: int, connections: int, count: int, dkim: bool, left: float
) -> None:
    from dataclasses import replace

    from newsletter import clock, store
    from newsletter.config import load_settings
    from newsletter.issues.build import build_issue
    from newsletter.mail.dkim import signer_for
    from newsletter.outbound.delivery import SendOptions, send_summary
    from newsletter.outbound.issue_mail import IssueMessages, deliver_issue, queue_issue
    from newsletter.outbound.transports import transport_factory

    clock.set_now("2026-12-01T09:00:00+01:00")
    settings = load_settings(instance)
    if dkim:
        settings = replace(
            settings,
            delivery=replace(settings.delivery, dkim_selector="bench", dkim_domain="ipo.example"),
        )
    db = store.open_store(settings)
    rendered = build_issue(db, settings, MONTH).rendered
    if count < db.table("subscribers").count_where("status = 'active'"):
        db.execute(
            "update subscribers set status = 'unsubscribed' where status = 'active' "
            "and id not in (select id from subscribers where status = 'active' "
            "order by id limit ?)",
            [count],
        )
        db.conn.commit()
    url = f"smtp://127.0.0.1:{port}"
    if mode == "baseline":
        person = next(db.query("select * from subscribers where status = 'active' limit 1"))
        row = {"variant": "GLD", "message_id": "<bench@ipo.example>"}
        data = IssueMessages(settings, rendered).build(row, person)
        per = [
            count // connections + (1 if i < count % connections else 0) for i in range(connections)
        ]

        def push(n: int) -> None:
            smtp = smtplib.SMTP("127.0.0.1", port)
            for i in range(n):
                smtp.sendmail("statenleden@ipo.example", [f"lid{i:06d}@gld.example"], data)
            smtp.quit()

        threads = [threading.Thread(target=push, args=(n,)) for n in per]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - began
        sent, size = count, len(data)
    else:
        if left < 1.0:  # a crash that left only the last part unsent
            queue_issue(db, settings, rendered)
            keep = int(count * left)
            db.execute(
                "update deliveries set status = 'sent' where id <= "
                "(select max(id) from deliveries) - ?",
                [keep],
            )
            db.execute(
                "update deliveries set status = 'sending' where id = "
                "(select max(id) from deliveries where status = 'sent')"
            )
            db.conn.commit()
        options = SendOptions(connections=connections, signer=signer_for(settings))
        began = time.perf_counter()
        report = deliver_issue(db, settings, rendered, transport_factory(url, instance), options)
        seconds = time.perf_counter() - began
        sent, size = report.sent, 0
        assert not report.had_failures, send_summary(report)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {"sent": sent, "seconds": seconds, "rate": sent / seconds, "rss_mb": rss, "size": size}
        )
    )


def main() -> None:
    sizes = [int(n) for n in os.environ.get("BENCH_SIZES", "10000,100000").split(",")]
    dkim_count = int(os.environ.get("BENCH_DKIM", "2000"))
    port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "sink.py"), str(port)])
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            instance = make_instance(Path(tmp) / "instance", max(sizes))
            key = Path(tmp) / "bench.key"
            from dkim import dknewkey

            dknewkey.GenRSAKeys(str(key))
            rows: list[tuple[str, dict[str, float], float]] = []
            print(f"{'recipients / what':<44}{'msg/s':>9}{'ratio':>8}{'seconds':>9}{'RSS MB':>8}")
            for n in sizes:
                base = child("baseline", instance, port, 1, n)
                print(f"message on the wire: {base['size'] / 1024:.0f} KB") if n == sizes[
                    0
                ] else None
                results = [
                    (f"{n:,} smtplib, pre-built bytes, 1 conn", base),
                    (f"{n:,} issue send, 1 connection", child("ours", instance, port, 1, n)),
                    (
                        f"{n:,} smtplib, pre-built bytes, 2 conns",
                        child("baseline", instance, port, 2, n),
                    ),
                    (f"{n:,} issue send, 2 connections", child("ours", instance, port, 2, n)),
                    (
                        f"{n:,}   the same, durability = crash",
                        child("ours", instance, port, 2, n, durability="crash"),
                    ),
                ]
                for label, result in results:
                    ratio = result["rate"] / base["rate"]
                    print(
                        f"{label:<44}{result['rate']:>9.0f}{ratio:>8.2f}"
                        f"{result['seconds']:>9.1f}{result['rss_mb']:>8.0f}"
                    )
                if n == sizes[0]:
                    full = results[1][1]
                    tail = child("ours", instance, port, 1, n, left=0.1)
                    print(
                        f"{'  resume with 10% left (time vs full send)':<44}{tail['rate']:>9.0f}"
                        f"{tail['seconds'] / full['seconds']:>8.2f}{tail['seconds']:>9.1f}"
                        f"{tail['rss_mb']:>8.0f}"
                    )
            base = child("baseline", instance, port, 1, dkim_count)
            signed = child("ours", instance, port, 1, dkim_count, dkim_key=str(key))
            print(
                f"{f'{dkim_count:,} issue send with DKIM, 1 conn':<44}{signed['rate']:>9.0f}"
                f"{signed['rate'] / base['rate']:>8.2f}{signed['seconds']:>9.1f}"
                f"{signed['rss_mb']:>8.0f}"
            )
            del rows
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    print(
        "ratio: against the 1-connection smtplib baseline of the same size, same run. "
        "Targets: 1 conn >= 0.75, 2 conns >= 1.3, RSS <= 150 MB at 100,000."
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        mode, instance, port, connections, count, dkim, left = sys.argv[2:9]
        run_child(
            mode, Path(instance), int(port), int(connections), int(count), dkim == "1", float(left)
        )
    else:
        main()
