"""`make bench`: `issue send` of an approved, already-checked issue against `issue build`.

Issue #12's bar: the send of a version that passed the preflight (at approval) delivers its first
message in no more than twice the time an `issue build` of the same issue takes. Both run as the
command line runs them (a fresh process each, `newsletter --project DIR ...`), side by side,
interleaved, median of several rounds; the send goes to the benchmark sink (sink.py) and is
timed up to its first delivered message (the sink reports it). No timing is asserted anywhere.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
HERE = Path(__file__).resolve().parent
NEWSLETTER = [sys.executable, "-m", "newsletter"]
NOW = ["--now", "2026-12-01T08:00"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_message(port: int) -> socket.socket:
    """A listener that accepts one SMTP session and returns when its first DATA is done."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(1)
    return server


def serve_until_first(server: socket.socket) -> float:
    """Speak just enough SMTP to take one message; the moment it is in, then refuse the rest
    (421: the sender stops and keeps the others queued)."""
    conn, _ = server.accept()
    with conn:
        conn.sendall(b"220 bench ESMTP\r\n")
        buffer, in_data = b"", False
        while True:
            chunk = conn.recv(262144)
            if not chunk:
                return time.perf_counter()
            buffer += chunk
            while True:
                if in_data:
                    end = buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        buffer = buffer[-4:]
                        break
                    done = time.perf_counter()
                    conn.sendall(b"250 2.0.0 Ok\r\n421 4.3.2 bench done\r\n")
                    return done
                end = buffer.find(b"\r\n")
                if end < 0:
                    break
                line, buffer = buffer[:end], buffer[end + 2 :]
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-bench\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
                elif verb == b"DATA":
                    in_data = True
                    buffer = b"\r\n" + buffer
                    conn.sendall(b"354 go on\r\n")
                else:
                    conn.sendall(b"250 OK\r\n")


def build_once(instance: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [*NEWSLETTER, "--project", str(instance), *NOW, "issue", "build", "2026-12"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def send_once(approved: Path, work: Path) -> float:
    """A fresh copy of the approved instance, sent to the listener up to its first message."""
    instance = work / "send"
    shutil.rmtree(instance, ignore_errors=True)
    shutil.copytree(approved, instance)
    port = free_port()
    server = first_message(port)
    start = time.perf_counter()
    process = subprocess.Popen(
        [
            *NEWSLETTER,
            "--project",
            str(instance),
            *NOW,
            "issue",
            "send",
            "2026-12",
            "--transport",
            f"smtp://127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        first = serve_until_first(server)
    finally:
        server.close()
        process.kill()
        process.wait()
    return first - start


CHECK = """
import sys
from pathlib import Path
from newsletter import clock, store
from newsletter.config import load_settings
from newsletter.editorial import approval, gate
clock.set_now("2026-12-01T08:00")
settings = load_settings(Path(sys.argv[1]))
db = store.open_store(settings)
for _ in range(3):  # a tool that timed out on a busy machine is no pass: check again
    gate.check(db, settings, approval.rendered_for_send(db, settings, "2026-12", "bench"))
    if db["preflight_passes"].count:
        break
else:
    sys.exit("the preflight did not complete (a tool kept failing); no checked version")
"""


def ensure_checked(instance: Path) -> None:
    """The approval's check passed completely (else check again, as a first send would)."""
    subprocess.run([sys.executable, "-c", CHECK, str(instance)], check=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        approved = work / "approved"
        # The demo instance: content synced, lists imported, December built, reviewed and
        # approved (the approval ran the whole preflight and remembered the pass).
        subprocess.run(
            [*NEWSLETTER, "demo", "--dir", str(approved), "--fresh", "--no-send"],
            check=True,
            capture_output=True,
        )
        ensure_checked(approved)
        builds, sends = [], []
        for _ in range(ROUNDS):
            builds.append(build_once(approved))
            sends.append(send_once(approved, work))
        build, send = statistics.median(builds), statistics.median(sends)
        print("issue build vs issue send of the approved, already-checked demo issue")
        print(f"{'what':<46} {'seconds':>8} {'ratio':>6}")
        print(f"{'issue build 2026-12':<46} {build:8.2f} {1.0:6.2f}")
        label = "issue send 2026-12, up to the first message"
        print(f"{label:<46} {send:8.2f} {send / build:6.2f}")
        verdict = "met" if send <= 2 * build else "NOT met"
        print(f"bar: send-to-first-message <= 2 x build: {verdict} (median of {ROUNDS} rounds)")


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    main()
