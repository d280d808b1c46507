"""Golden files of the rendered December issue: `make golden` (python -m tests.golden regenerate).

The test compares today's rendering with tests/golden/; a template change shows up as a diff
to review, and is accepted by regenerating.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from newsletter import clock
from newsletter.demo import (
    DEMO_MONTH,
    DEMO_NOW,
    copy_instance,
    demo_source,
    load_demo,
    write_demo_issue,
)
from newsletter.issues.build import build_issue
from newsletter.render.issue import RenderedIssue

GOLDEN = Path(__file__).parent / "golden" / DEMO_MONTH
# One province variant, the variant without a province, and the web version.
FILES = {
    "GLD.html": ("GLD", "html"),
    "GLD.txt": ("GLD", "text"),
    "ALG.txt": ("ALG", "text"),
    "WEB.html": ("WEB", "html"),
}


def render_demo(folder: Path) -> RenderedIssue:
    """The December issue of the demo instance, exactly as `newsletter demo` builds it."""
    clock.set_now(DEMO_NOW)
    copy_instance(demo_source(), folder, fresh=False)
    settings, db = load_demo(folder)
    write_demo_issue(db, settings)
    return build_issue(db, settings, DEMO_MONTH).rendered


def reviewable(text: str) -> str:
    """One tag per line, so a template change is a readable diff."""
    return re.sub(r">\s*<", ">\n<", text)


def rendered_files(rendered: RenderedIssue) -> dict[str, str]:
    return {
        name: reviewable(getattr(rendered.variants[key], part))
        if part == "html"
        else getattr(rendered.variants[key], part)
        for name, (key, part) in FILES.items()
    }


def regenerate() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        files = rendered_files(render_demo(Path(tmp) / "instance"))
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (GOLDEN / name).write_text(text, encoding="utf-8")
        print(f"wrote {GOLDEN / name}")


if __name__ == "__main__":
    if sys.argv[1:] != ["regenerate"]:
        sys.exit("usage: python -m tests.golden regenerate")
    regenerate()
