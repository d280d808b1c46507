"""The hand-off to a local Postfix under load (issue #17): `issue send` against smtplib, 1, 2, 4
connections, the same bytes into the same Postfix, side by side.

A private Postfix (tests/postfix.py: its own config, queue and port on 127.0.0.1, the queue on
the same disk as the store) relays into the fast socket sink (sink.py) behind it. Each
measurement is a fresh child process on a fresh copy of the instance (delivery.py's child), and
Postfix's queue is drained before the next one starts. The ratio that matters is ours/smtplib
at the same connection count, taken per round (the two runs follow each other) and shown as the
median with its spread over the rounds; both rates are also shown against smtplib on one
connection. `make bench-relay` runs it (about 15 minutes at 10,000 messages: not in `make bench`).
BENCH_RELAY_COUNT (default 10000) messages a run; BENCH_RELAY_CONNECTIONS (default 1,2,4);
BENCH_RELAY_ROUNDS (default 3) rounds, interleaved, each rate the median of its rounds (the
machine is shared: one run alone moves by a third). BENCH_RELAY_DKIM=1 puts OpenDKIM in front
(Postfix then signs, and is itself the limit). BENCH_RELAY_DURABILITY=crash runs ours with
`[delivery] durability = "crash"` (no fsync per commit: what the power-loss promise costs).
Needs root and Debian's postfix (and opendkim for DKIM); without them it says so and stops.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from delivery import child, free_port, make_instance  # noqa: E402

from tests.postfix import Relay, available, relay  # noqa: E402

COUNT = int(os.environ.get("BENCH_RELAY_COUNT", "10000"))
CONNECTIONS = [int(n) for n in os.environ.get("BENCH_RELAY_CONNECTIONS", "1,2,4").split(",")]
ROUNDS = int(os.environ.get("BENCH_RELAY_ROUNDS", "3"))
DKIM = os.environ.get("BENCH_RELAY_DKIM") == "1"
DURABILITY = os.environ.get("BENCH_RELAY_DURABILITY", "power-loss")
TARGET = 0.9


def drain(postfix: Relay, timeout: float = 600) -> None:
    """Wait until Postfix has passed everything on to the sink (its queue is empty)."""
    deadline = time.monotonic() + timeout
    while not postfix.queue_empty():
        if time.monotonic() > deadline:
            raise SystemExit("Postfix did not empty its queue in time; see its log")
        time.sleep(0.5)


def main() -> None:
    why = available()
    if why:
        print(f"relay benchmark skipped: {why}")
        return
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, str(HERE / "sink.py"), str(sink_port)])
    try:
        with tempfile.TemporaryDirectory(prefix="bench-relay-", dir="/var/tmp") as tmp:
            work = Path(tmp)
            work.chmod(0o755)
            instance = make_instance(work / "instance", COUNT)
            with relay(sign=DKIM, remote_port=sink_port, parent=work) as postfix:
                port = postfix.port
                runs: dict[tuple[str, int], list[float]] = {}
                for round_ in range(1, ROUNDS + 1):
                    for n in CONNECTIONS:
                        # who goes first alternates: neither side always meets a warmer Postfix
                        for mode in ("baseline", "ours")[:: 1 if round_ % 2 else -1]:
                            rate = child(mode, instance, port, n, COUNT, durability=DURABILITY)[
                                "rate"
                            ]
                            runs.setdefault((mode, n), []).append(rate)
                            drain(postfix)
                        theirs, ours = runs["baseline", n][-1], runs["ours", n][-1]
                        print(
                            f"round {round_}, {n} conn: smtplib {theirs:.0f}/s, "
                            f"issue send {ours:.0f}/s, ratio {ours / theirs:.2f}",
                            flush=True,
                        )
        report(runs)
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def report(runs: dict[tuple[str, int], list[float]]) -> None:
    """Rates as medians of the rounds; the ratio per round (ours / smtplib in the same round,
    one after the other), its median and its spread (lowest-highest) over the rounds."""
    signing = "with OpenDKIM signing" if DKIM else "no milter"
    print(
        f"{COUNT:,} messages into a local Postfix ({signing}) relaying to the sink; "
        f"median of {ROUNDS} rounds; the store's durability: {DURABILITY}"
    )
    print(
        f"{'conns':>5}{'smtplib msg/s':>15}{'vs 1 conn':>11}{'issue send msg/s':>18}"
        f"{'vs 1 conn':>11}{'ours/smtplib':>14}{'spread':>13}"
    )
    floor = statistics.median(runs["baseline", CONNECTIONS[0]])
    verdicts = []
    for n in CONNECTIONS:
        theirs = statistics.median(runs["baseline", n])
        ours = statistics.median(runs["ours", n])
        ratios = [o / t for o, t in zip(runs["ours", n], runs["baseline", n], strict=True)]
        ratio = statistics.median(ratios)
        verdicts.append(ratio >= TARGET)
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        print(
            f"{n:>5}{theirs:>15.0f}{theirs / floor:>11.2f}"
            f"{ours:>18.0f}{ours / floor:>11.2f}{ratio:>14.2f}{spread:>13}"
        )
    met = "met" if all(verdicts) else "not met"
    print(f"target: ours >= {TARGET} x smtplib at every connection count (median ratio): {met}")


if __name__ == "__main__":
    main()
