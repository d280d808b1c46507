"""The external tools of the preflight check: SpamAssassin, the Nu HTML checker, Chromium + axe.

Each runner takes every message or page at once (one JVM, one browser, one SpamAssassin
process per core), returns findings, and never raises for a tool that is missing: it says which
tool and how to install it, and the other checks run on. Results are cached by content hash
(toolcache.py), so `issue send` right after `issue check` does not run them again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from newsletter.errors import NewsletterError
from newsletter.preflight.toolcache import Cache, Issue, cached, stamp

REPO = Path(__file__).resolve().parents[2]
TOOLS = Path(os.environ.get("NEWSLETTER_TOOLS_DIR") or REPO / "tools")
SPAM_LIMIT = 2.0
# Email HTML is table layout for Outlook: "obsolete" presentational markup, Outlook's mso-*
# CSS and its VML namespaces are expected; real faults (no alt, bad nesting, ids) still show.
VNU_FILTER = (
    r".*(obsolete|Almost standards mode|Property “mso-[a-z-]+” doesn't exist"
    r"|Attribute “xmlns:[vo]” not allowed).*"
)
CHROMIUM_PATHS = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Mail has no landmarks: these two fire on every email, so they stay on for web pages only.
EMAIL_AXE = {
    "resultTypes": ["violations"],
    "rules": {"region": {"enabled": False}, "landmark-one-main": {"enabled": False}},
}
WEB_AXE = {"resultTypes": ["violations"]}
INSTALL = {
    "spamassassin": "sudo apt-get install --no-install-recommends spamassassin",
    "java": "sudo apt-get install --no-install-recommends default-jre-headless",
    "vnu": "make tools (npm install --prefix tools vnu-jar axe-core)",
    "playwright": "make tools (pip install -e '.[check]' into the venv)",
    "chromium": "sudo apt-get install --no-install-recommends chromium fonts-liberation",
}


@dataclass
class ToolRun:
    """What one tool did: run or not (and how to install it), and what it found per name."""

    tool: str
    ran: bool
    note: str
    issues: dict[str, list[Issue]] = field(default_factory=dict)
    install: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "ran": self.ran, "note": self.note, "install": self.install}


def missing(tool: str, what: str, key: str) -> ToolRun:
    return ToolRun(tool, False, f"not run: {what}", install=INSTALL[key])


def guarded(tool: str, run: Callable[..., ToolRun], *args: Any) -> ToolRun:
    """A tool that breaks (a crash, a timeout, output we cannot read) is reported, not raised:
    the other checks' findings still reach the reader."""
    try:
        return run(*args)
    except Exception as exc:
        note = f"not run: it failed ({type(exc).__name__}: {str(exc).strip()[:200]})"
        return ToolRun(tool, False, note)


# -- SpamAssassin ---------------------------------------------------------------------------

# What a check's SpamAssassin run may take: SPAM_DEADLINE seconds plus SPAM_PER_MESSAGE for each
# message of the largest batch (batches run side by side). A busy machine scores an approval's
# 62 variants within it; a spamassassin that hangs costs it once.
SPAM_DEADLINE = 120.0
SPAM_PER_MESSAGE = 2.0
SPAM_PROCESSES = 4  # at most, and no more than the machine has cores
SPAM_BATCH = 8  # messages per process at least: each process compiles the rules first
SPAM_SCRIPT = Path(__file__).with_name("spamscore.pl")
Rule = tuple[float, str, str]  # points, name, description

_SCORE = re.compile(rb"^X-Spam-Status: .*?score=(-?\d+(?:\.\d+)?)", re.M)
_RULE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s+([A-Z0-9_]+)\s+(.*)$")


def spam_scores(messages: list[bytes], timeout: float) -> list[tuple[float, list[Rule]]]:
    """SpamAssassin's offline score of each message, and the rules that fired.

    One Perl process reads the rules once and scores them all (spamscore.pl, through the
    Mail::SpamAssassin API), with the settings of `spamassassin -L -t -x`: no network tests (so
    a lower bound), never a preferences file written, no Bayes and no learning, so the score
    does not depend on what this machine learnt before; it answers what -t mode prints.
    """
    framed = b"".join(b"%d\n%s" % (len(raw), raw) for raw in messages)
    result = subprocess.run(
        ["perl", str(SPAM_SCRIPT)],
        input=framed,
        capture_output=True,
        timeout=timeout,
    )
    out, answers = result.stdout, []
    while out:
        length, _, rest = out.partition(b"\n")
        if not length.isdigit() or len(rest) < int(length):
            break
        answers.append(rest[: int(length)])
        out = rest[int(length) :]
    if result.returncode != 0 or len(answers) != len(messages):
        raise NewsletterError(
            f"spamassassin scored {len(answers)} of {len(messages)} messages: "
            f"{result.stderr.decode(errors='replace')[:200]}"
        )
    return [_spam_report(answer, result.stderr) for answer in answers]


@functools.cache
def _script_hash() -> str:
    """spamscore.pl's identity for the cache: a changed script scores again."""
    return hashlib.sha256(SPAM_SCRIPT.read_bytes()).hexdigest()[:16]


def _spam_report(output: bytes, stderr: bytes = b"") -> tuple[float, list[Rule]]:
    """The score and the rules of what `spamassassin -t` prints for one message."""
    match = _SCORE.search(output)
    if not match:
        raise NewsletterError(
            f"spamassassin gave no score: {stderr.decode(errors='replace')[:200]}"
        )
    rules = []
    report = output.decode("utf-8", "replace").split("Content analysis details:", 1)
    if len(report) == 2:
        lines = report[1].splitlines()
        start = next((n for n, line in enumerate(lines) if line.startswith("----")), len(lines))
        for line in lines[start + 1 :]:
            rule = _RULE.match(line)
            if rule:
                rules.append((float(rule[1]), rule[2], rule[3].strip()))
            elif line.strip() and not line.startswith(" "):
                break
    return float(match[1]), rules


def run_spamassassin(
    messages: Mapping[str, bytes],
    cache: Cache | None,
    key_content: Callable[[bytes], bytes] = lambda data: data,
) -> ToolRun:
    if not shutil.which("spamassassin"):
        return missing("SpamAssassin", "spamassassin is not installed", "spamassassin")

    def score_all(todo: dict[str, bytes]) -> dict[str, list[Issue]]:
        # One Perl process per batch reads the rules once (starting SpamAssassin costs more
        # than scoring a message); with many messages, a batch per core. The batches run side
        # by side, so a spamassassin that hangs costs the deadline once.
        names = list(todo)
        batches = max(1, min(SPAM_PROCESSES, os.cpu_count() or 1, len(names) // SPAM_BATCH))
        chunks = [names[n::batches] for n in range(batches)]
        deadline = SPAM_DEADLINE + SPAM_PER_MESSAGE * len(chunks[0])

        def score_batch(chunk: list[str]) -> list[tuple[float, list[Rule]]]:
            return spam_scores([todo[n] for n in chunk], deadline)

        with ThreadPoolExecutor(batches) as pool:
            results = pool.map(score_batch, chunks)
            scored = {
                n: r
                for chunk, rs in zip(chunks, results, strict=True)
                for n, r in zip(chunk, rs, strict=True)
            }
        out = {}
        for name, (score, rules) in scored.items():
            fired = ", ".join(f"{n} {p:g}" for p, n, _ in rules if p) or "none with points"
            # The score rides along as an "info" issue, so the cache keeps it too.
            out[name] = [Issue("spam-score", "info", f"{score:g}", "")]
            if score > SPAM_LIMIT:
                worst = "; ".join(f"{n} ({p:g}): {d}" for p, n, d in rules if p > 0)
                out[name].append(
                    Issue(
                        "spamassassin",
                        "error",
                        f"SpamAssassin scores {score:g} (limit {SPAM_LIMIT:g}); rules: {fired}",
                        f"remove what the rules point at: {worst}",
                    )
                )
        return out

    found = cached(
        cache,
        "spamassassin",
        messages,
        score_all,
        key_content,
        f"{stamp(shutil.which('spamassassin'))} {_script_hash()} {SPAM_LIMIT}",
    )
    scores = {
        name: float(i.message) + 0.0  # SpamAssassin says -0.0 for "nothing"
        for name, issues in found.items()
        for i in issues
        if i.check == "spam-score"
    }
    issues = {n: [i for i in v if i.severity != "info"] for n, v in found.items()}
    highest = max(scores.values(), default=0.0)
    shown = ", ".join(f"{n} {s:g}" for n, s in scores.items())
    note = f"ran; score {shown} (highest {highest:g}, limit {SPAM_LIMIT:g})"
    return ToolRun("SpamAssassin", True, note, issues)


# -- Nu HTML checker --------------------------------------------------------------------------


# One short run over every page: the quick (C1) compiler alone does it in half the CPU time of
# the JVM's default, with the same report; C1 frames are larger, so a larger stack (the checker
# asks for at least 512k with the default compiler).
VNU_JAVA = ("-Xss16m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def vnu_jar() -> Path | None:
    path = Path(os.environ.get("NEWSLETTER_VNU_JAR") or TOOLS / "node_modules/vnu-jar/build/dist")
    jar = path / "vnu.jar" if path.is_dir() else path
    return jar if jar.is_file() else None


def _file_key(path: Path) -> str:
    return unicodedata.normalize("NFC", str(path.resolve()))


def _url_key(url: str) -> str:
    """vnu's file: URL (percent-encoded or not, any accents) as the path it names."""
    return unicodedata.normalize("NFC", str(Path(unquote(urlsplit(url).path)).resolve()))


def run_vnu(files: Mapping[str, Path], cache: Cache | None) -> ToolRun:
    """All files in one Java call (the JVM start is most of its time)."""
    jar = vnu_jar()
    if jar is None:
        return missing("Nu HTML checker", f"vnu.jar not found under {TOOLS}", "vnu")
    if not shutil.which("java"):
        return missing("Nu HTML checker", "java is not installed", "java")

    def check(todo: dict[str, bytes]) -> dict[str, list[Issue]]:
        paths = {_file_key(files[name]): name for name in todo}
        result = subprocess.run(
            [
                "java",
                *VNU_JAVA,
                "-jar",
                str(jar),
                "--errors-only",
                "--format",
                "json",
                "--stdout",
                "--filterpattern",
                VNU_FILTER,
                *(str(files[name]) for name in todo),
            ],
            capture_output=True,
            timeout=300,
        )
        try:
            messages = json.loads(result.stdout)["messages"]
        except (ValueError, KeyError):
            raise NewsletterError(
                f"the Nu HTML checker gave no report: {result.stderr.decode()[:200]}"
            ) from None
        out: dict[str, list[Issue]] = {name: [] for name in todo}
        for message in messages:
            url = str(message.get("url", ""))
            if message.get("type") == "non-document-error":
                raise NewsletterError(f"the Nu HTML checker could not read {url or 'a file'}")
            name = paths.get(_url_key(url))
            if name is None and url:
                # A report for a file we cannot place: never a clean result for it.
                raise NewsletterError(f"the Nu HTML checker reported on an unknown file: {url}")
            if name is None or message.get("type") != "error":
                continue
            out[name].append(
                Issue(
                    "vnu",
                    "error",
                    f"HTML error: {message.get('message', '')}",
                    "fix the markup in the template or the content it comes from "
                    f"(near: {str(message.get('extract', '')).strip()[:80]!r})",
                    line=message.get("lastLine"),
                )
            )
        return out

    contents = {name: files[name].read_bytes() for name in files}
    found = cached(cache, "vnu", contents, check, _without_csrf, f"{stamp(jar)} {VNU_FILTER}")
    errors = sum(len(v) for v in found.values())
    return ToolRun("Nu HTML checker", True, f"ran; {errors} errors in {len(files)} files", found)


# -- Chromium + axe-core ------------------------------------------------------------------------


def axe_script() -> Path | None:
    """axe-core from `make tools` (npm), else the copy axe-playwright-python bundles."""
    path = TOOLS / "node_modules/axe-core/axe.min.js"
    if path.is_file():
        return path
    try:
        from importlib.resources import files

        bundled = Path(str(files("axe_playwright_python") / "axe.min.js"))
    except (ImportError, ModuleNotFoundError):
        return None
    return bundled if bundled.is_file() else None


def chromium_path() -> Path | None:
    """$CHROMIUM when set, else Debian's chromium."""
    configured = os.environ.get("CHROMIUM")
    for candidate in (configured,) if configured else CHROMIUM_PATHS:
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def browser_problem() -> ToolRun | None:
    """Why no browser check can run here (with how to install it), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return missing("axe-core (Chromium)", "Python playwright is not installed", "playwright")
    if chromium_path() is None:
        return missing("axe-core (Chromium)", "Chromium is not installed", "chromium")
    if axe_script() is None:
        return missing("axe-core (Chromium)", "axe.min.js not found", "vnu")
    return None


@contextmanager
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through playwright; never downloads a browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(chromium_path()), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@contextmanager
def page_in(instance: Any, width: int, script: str = "") -> Iterator[Any]:
    """One offline page (remote images fail fast, nothing leaves the machine), reused for every
    file; script (axe) is loaded into each document as it opens."""
    context = instance.new_context(offline=True, viewport={"width": width, "height": 600})
    try:
        if script:
            context.add_init_script(script)
        yield context.new_page()
    finally:
        context.close()


def run_axe(pages: Mapping[str, tuple[Path, bool]], cache: Cache | None) -> ToolRun:
    """axe-core on each page (path, is_email): serious/critical are errors, moderate warnings."""
    problem = browser_problem()
    if problem:
        return problem
    script = axe_script()
    assert script is not None
    source = script.read_text(encoding="utf-8")
    version = source[:40].encode()

    def scan(todo: dict[str, bytes]) -> dict[str, list[Issue]]:
        out: dict[str, list[Issue]] = {}
        with browser() as instance, page_in(instance, 375, source) as page:
            for name in todo:
                path, is_email = pages[name]
                page.goto(path.resolve().as_uri(), wait_until="load")
                options = EMAIL_AXE if is_email else WEB_AXE
                result = page.evaluate("o => axe.run(document, o)", options)
                out[name] = [
                    _axe_issue(v, node)
                    for v in result["violations"]
                    if v.get("impact") in ("serious", "critical", "moderate")
                    for node in v["nodes"][:5]
                ]
        return out

    contents = {name: version + path.read_bytes() for name, (path, _) in pages.items()}
    found = cached(cache, "axe", contents, scan, _without_csrf)
    serious = sum(1 for v in found.values() for i in v if i.severity == "error")
    note = f"ran; {len(pages)} pages, {serious} serious or critical violations"
    return ToolRun("axe-core (Chromium)", True, note, found)


def _without_csrf(page: bytes) -> bytes:
    """A web form's CSRF token changes on every render; the page is the same for axe."""
    return re.sub(rb'name="csrf" value="[^"]*"', b'name="csrf"', page)


def _axe_issue(violation: dict[str, Any], node: dict[str, Any]) -> Issue:
    impact = violation.get("impact", "")
    summary = " ".join(str(node.get("failureSummary", "")).split())
    return Issue(
        f"axe-{violation['id']}",
        "error" if impact in ("serious", "critical") else "warning",
        f"axe {impact}: {violation.get('help', '')} ({str(node.get('html', ''))[:100]})",
        f"{summary[:300]} (see {violation.get('helpUrl', '')})",
        selector=" ".join(map(str, node.get("target", []))),
    )


def screenshots(pages: Mapping[str, Path], folder: Path, widths: tuple[int, ...]) -> list[Path]:
    """Full-page PNGs of each page at each width, in folder; raises when no browser is here."""
    problem = browser_problem()
    if problem:
        raise NewsletterError(
            f"no screenshots: {problem.note.removeprefix('not run: ')}; install with: "
            f"{problem.install}"
        )
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with browser() as instance, page_in(instance, widths[0]) as page:
        for name, path in pages.items():
            page.goto(path.resolve().as_uri(), wait_until="load")
            for width in widths:
                # a small height: a full-page shot of a short mail is never padded
                page.set_viewport_size({"width": width, "height": 600})
                target = folder / f"{name}-{width}.png"
                page.screenshot(path=str(target), full_page=True)
                written.append(target)
    return written


# The preflight code's own version: raise it when a check or a limit changes, so versions that
# passed before are checked again (send and approve remember a pass by this and the tools).
CHECKS_VERSION = 1


def versions() -> str:
    """Which preflight this machine runs: the code's version, each tool's installed file."""
    try:
        from importlib.metadata import version

        playwright = version("playwright")
    except Exception:  # not installed: axe does not run, which is part of the identity
        playwright = "none"
    return "\n".join(
        [
            f"checks {CHECKS_VERSION} spam-limit {SPAM_LIMIT} vnu-filter {VNU_FILTER}",
            f"spamassassin {stamp(shutil.which('spamassassin'))} {_script_hash()}",
            f"java {stamp(shutil.which('java'))} vnu {stamp(vnu_jar())}",
            f"axe {stamp(axe_script())} chromium {stamp(chromium_path())} {playwright}",
        ]
    )
