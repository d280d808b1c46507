"""`make bench`: per-recipient message building against the EmailMessage baseline, same run.

The machine is shared and noisy, so every number is reported as a ratio to a baseline measured
in the same process, interleaved, median of several rounds. No timing is asserted anywhere.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsletter import store
from newsletter.mail.messages import Recipient, make_skeleton
from newsletter.people.subscribers import current_holders
from newsletter.render.issue import HOLDER_ROLES, environment, render_variant
from tests.golden import render_demo

ROUNDS = 7
PER_ROUND = 300


def median_ms(func: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        func()
    return (time.perf_counter() - start) / count * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rendered = render_demo(Path(tmp) / "instance")
        from newsletter.config import load_settings

        settings = load_settings(Path(tmp) / "instance")
        db = store.open_store(settings)
        variant = rendered.variants["GLD"]
        skeleton = make_skeleton(settings, rendered.issue.subject, variant)
        env = environment(settings)

        people = [
            Recipient(
                f"persoon{n}@gld.example",
                f"Persoon {n}",
                f"Geachte heer Persoon{n}",
                f"https://www.ipo.example/nieuwsbrief/afmelden/T{n}",
                f"https://www.ipo.example/nieuwsbrief/voorkeuren/T{n}",
                f"<issue-2026-12.{n}.x@ipo.example>",
            )
            for n in range(PER_ROUND)
        ]
        cursor = iter(range(10**9))

        def ours() -> None:
            skeleton.build(people[next(cursor) % PER_ROUND])

        def baseline() -> None:
            # What a straightforward implementation does per recipient: substitute, then build
            # and serialise an EmailMessage.
            person = people[next(cursor) % PER_ROUND]
            message = EmailMessage()
            message["From"] = settings.sender
            message["To"] = f"{person.name} <{person.email}>"
            message["Subject"] = rendered.issue.subject
            message["Message-ID"] = person.message_id
            message["List-Unsubscribe"] = f"<{person.unsubscribe_url}>"
            message.set_content(variant.text.replace("@@aanhef@@", person.salutation))
            message.add_alternative(
                variant.html.replace("@@aanhef@@", person.salutation), subtype="html"
            )
            message.as_bytes()

        def render_once() -> None:
            holders = current_holders(db, HOLDER_ROLES, rendered.issue.date)
            render_variant(env, settings, rendered.issue, "GLD", holders)

        ours_ms, base_ms = [], []
        for _ in range(ROUNDS):
            base_ms.append(median_ms(baseline, PER_ROUND))
            ours_ms.append(median_ms(ours, PER_ROUND))
        render_ms = statistics.median(median_ms(render_once, 3) for _ in range(3))

    ours_m, base_m = statistics.median(ours_ms), statistics.median(base_ms)
    size = len(skeleton.build(people[0])) / 1024
    print(f"message size: {size:.0f} KB (GLD variant)")
    print(f"{'step':<48}{'ms':>9}{'ratio':>9}")
    print(f"{'baseline: EmailMessage per recipient':<48}{base_m:>9.3f}{1:>9.2f}")
    print(f"{'ours: prebuilt skeleton + substitution':<48}{ours_m:>9.3f}{ours_m / base_m:>9.2f}")
    print(
        f"{'render one variant (Jinja+MJML+premailer)':<48}{render_ms:>9.1f}"
        f"{render_ms / base_m:>9.1f}"
    )
    print(
        f"=> per-recipient building is {base_m / ours_m:.1f}x faster than the baseline; "
        f"rendering per recipient instead would cost {render_ms / ours_m:.0f}x ours"
    )


if __name__ == "__main__":
    main()
