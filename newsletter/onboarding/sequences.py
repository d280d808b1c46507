"""Onboarding sequences: content/onboarding/NAME.yaml and its step files, read and checked.

A step's moment is an expression over anchors (expressions.py), evaluated per member by plan.py:

    start                          the first day of the mandate (T0)
    av                             the member's first formal AV meeting after T0
                                   (in a recurring step: each AV meeting in turn)
    next technische_briefing       the first event of that type after T0 (any event type)
    term_end                       the last day of the Statenperiode ([onboarding] term_end)
    STEP-ID                        the moment another step of the sequence goes out
    ... + 3 working days           offsets: days, working days (no weekend, no Dutch public
    ... - 21 days                  holiday), weeks, months
    max(A, B) / min(A, B)          the later / earlier of two moments

Everything wrong in a sequence (an unknown anchor, a cycle, an offset without a unit, a step
file without a subject) is found when it loads, naming the file and the step: nothing is
planned or sent from a sequence that does not load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.sandbox import SandboxedEnvironment

from newsletter.config import Settings
from newsletter.errors import ContentError, NewsletterError
from newsletter.headers import check_header_value
from newsletter.onboarding.expressions import (
    Condition,
    Expression,
    parse_condition,
    parse_expression,
)
from newsletter.people.subscribers import ROLES

# What a step file may use; render/onboarding.py fills in every one of them.
PLACEHOLDERS = frozenset(
    {
        "voornaam",
        "naam",
        "provincie",
        "rol",
        "av",
        "vragen_deadline",
        "briefings",
        "gcp",
        "buddy",
        "contactadres",
        "secretaris",
        "samengevoegd",
    }
)
STEP_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class SequenceError(ContentError):
    """A sequence or step file that cannot be used; the message names file and step."""


# ---------------------------------------------------------------------------------------------
# Sequences


@dataclass(frozen=True)
class StepText:
    path: Path
    subject: str
    preheader: str
    body: str  # Markdown with Jinja2 placeholders (sandboxed)


@dataclass(frozen=True)
class Override:
    at: Expression | None = None
    merge_into: str = ""
    skip: bool = False


@dataclass(frozen=True)
class CatchUp:
    when: Condition
    reason: str
    steps: dict[str, Override]


@dataclass(frozen=True)
class Step:
    id: str
    number: int  # 1-based position in the file
    title: str
    text: StepText
    at: Expression
    expires: Expression | None
    every: str = ""  # "av_meeting": one occurrence per AV meeting
    after: str = ""  # recurring: only occurrences after this step's moment


@dataclass(frozen=True)
class Sequence:
    name: str
    path: Path
    title: str
    roles: tuple[str, ...]
    stale_after_days: int
    steps: tuple[Step, ...]
    catch_up: tuple[CatchUp, ...] = field(default=())

    def step(self, step_id: str) -> Step:
        for step in self.steps:
            if step.id == step_id:
                return step
        raise SequenceError(
            f"{self.path.name}: there is no step '{step_id}'; the steps are "
            f"{', '.join(s.id for s in self.steps)}"
        )


SEQUENCE_KEYS = {"title", "roles", "stale_after", "steps", "catch_up"}
STEP_KEYS = {"id", "title", "file", "at", "expires", "every", "after"}
OVERRIDE_KEYS = {"at", "merge_into", "skip"}


def onboarding_dir(settings: Settings) -> Path:
    return settings.content_dir / "onboarding"


def sequence_names(settings: Settings) -> list[str]:
    folder = onboarding_dir(settings)
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


_CACHE: dict[tuple[str, str], tuple[tuple[tuple[str, int, int], ...], Sequence]] = {}


def _signature(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """What the sequence files are now: a cheap check, so tick does not reparse every time."""
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    return tuple((str(p), (st := p.stat()).st_mtime_ns, st.st_size) for p in files)


def load_sequences(settings: Settings) -> list[Sequence]:
    return [load_sequence(settings, name) for name in sequence_names(settings)]


def load_sequence(settings: Settings, name: str) -> Sequence:
    """Read and check one sequence and all its step files; SequenceError names what is wrong.

    Parsed once per state of content/onboarding/: a file that changes is read again."""
    key = (str(onboarding_dir(settings)), name)
    signature = _signature(onboarding_dir(settings))
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1]
    sequence = _load_sequence(settings, name)
    _CACHE[key] = (signature, sequence)
    return sequence


def _load_sequence(settings: Settings, name: str) -> Sequence:
    folder = onboarding_dir(settings)
    path = folder / f"{name}.yaml"
    shown = settings.shown(path)
    if not path.is_file():
        names = ", ".join(sequence_names(settings)) or "none yet"
        raise SequenceError(
            f"{shown}: no such sequence; write it (see content/onboarding/README.md); "
            f"known: {names}"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SequenceError(f"{shown}: not valid YAML ({first}); fix the file") from None
    if not isinstance(data, dict):
        raise SequenceError(f"{shown}: must be a table with title, roles and steps")

    def fail_at(where: str) -> Any:
        return lambda what: SequenceError(f"{shown}: {where}: {what}")

    _unknown_keys(data, SEQUENCE_KEYS, fail_at("top level"))
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise SequenceError(f"{shown}: 'steps' is missing; list the steps, one '- id: ...' each")
    ids: list[str] = []
    for number, raw in enumerate(raw_steps, 1):
        step_id = raw.get("id") if isinstance(raw, dict) else None
        if not isinstance(step_id, str) or not STEP_ID.match(step_id):
            raise SequenceError(
                f"{shown}: step {number}: 'id' is missing or not lowercase letters, digits "
                "and dashes; write e.g. id: welkom"
            )
        if step_id in ids:
            raise SequenceError(f"{shown}: step {number}: the id '{step_id}' is used twice")
        ids.append(step_id)
    known = set(ids)
    steps = tuple(
        _step(settings, folder, raw, number, known, fail_at(f"step {number} ({raw['id']})"))
        for number, raw in enumerate(raw_steps, 1)
    )
    roles = data.get("roles", ["av_lid", "plv_av_lid"])
    if isinstance(roles, str):
        roles = [roles]
    if not isinstance(roles, list) or not all(isinstance(r, str) and r in ROLES for r in roles):
        raise SequenceError(f"{shown}: roles: use roles from {', '.join(ROLES)}")
    stale = data.get("stale_after", "14 days")
    match = re.fullmatch(r"(\d+)\s*days?", str(stale).strip())
    if not match:
        raise SequenceError(f"{shown}: stale_after: '{stale}' is no number of days; write 14 days")
    sequence = Sequence(
        name=name,
        path=path,
        title=_text(data, "title", fail_at("title"), default=name),
        roles=tuple(roles),
        stale_after_days=int(match[1]),
        steps=steps,
        catch_up=tuple(
            _catch_up(raw, known, fail_at(f"catch_up {n}"))
            for n, raw in enumerate(_catch_up_list(data.get("catch_up"), fail_at("catch_up")), 1)
        ),
    )
    _check_references(sequence, shown)
    return sequence


def _catch_up_list(value: object, fail: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail("must be a list of rules, each '- when: ...' with reason and steps")
    return value


def _unknown_keys(data: dict[str, Any], allowed: set[str], fail: Any) -> None:
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise fail(f"unknown key '{unknown[0]}'; use {', '.join(sorted(allowed))}")


def _text(data: dict[str, Any], key: str, fail: Any, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise fail(f"'{key}' is missing or empty")
    return value.strip()


def _step(
    settings: Settings, folder: Path, raw: dict[str, Any], number: int, ids: set[str], fail: Any
) -> Step:
    _unknown_keys(raw, STEP_KEYS, fail)
    step_id = str(raw["id"])
    every = raw.get("every", "")
    if every not in ("", "av_meeting"):
        raise fail(f"every: '{every}' is not known; a step can recur at every av_meeting")
    after = raw.get("after", "")
    if not isinstance(after, str) or (after and after not in ids):
        raise fail(f"after: '{after}' is not the id of a step")
    if after and not every:
        raise fail("after: only a recurring step (every: av_meeting) waits for another step")
    title = raw.get("title", "")
    if not isinstance(title, str):
        raise fail("title: must be text")
    if "at" not in raw:
        raise fail("'at' is missing; write when it goes, e.g. at: start + 3 working days")
    at = parse_expression(raw["at"], ids, lambda what: fail(f"at: {what}"))
    expires = (
        parse_expression(raw["expires"], ids, lambda what: fail(f"expires: {what}"))
        if raw.get("expires") is not None
        else None
    )
    file = raw.get("file") or f"{step_id}.md"
    if not isinstance(file, str):
        raise fail("file: must be a path inside content/onboarding/, e.g. av-lid/01-welkom.md")
    path = (folder / file).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise fail(f"file: '{file}' is outside content/onboarding/; keep step files in there")
    text = load_step_text(path, settings.shown(folder / file), fail)
    return Step(
        id=step_id,
        number=number,
        title=title.strip() or text.subject,
        text=text,
        at=at,
        expires=expires,
        every=str(every),
        after=str(after),
    )


def load_step_text(path: Path, shown: str, fail: Any) -> StepText:
    if not path.is_file():
        raise fail(f"file: {shown} does not exist; write it or correct 'file'")
    try:
        post = frontmatter.loads(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as exc:
        raise fail(f"{shown}: the front matter is not valid ({exc})") from None
    subject = post.metadata.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        raise fail(f"{shown}: 'subject' is missing; add subject: ... to the front matter")
    try:
        check_header_value(subject.strip(), "subject")
    except NewsletterError as exc:
        raise fail(f"{shown}: subject cannot be used in a mail header: {exc}") from None
    preheader = post.metadata.get("preheader", "")
    if not isinstance(preheader, str):
        raise fail(f"{shown}: 'preheader' must be text")
    environment = SandboxedEnvironment()
    for label, source in (("subject", subject), ("text", post.content)):
        try:
            used = meta.find_undeclared_variables(environment.parse(source))
        except TemplateSyntaxError as exc:
            raise fail(f"{shown}: {label}, line {exc.lineno}: {exc.message}") from None
        unknown = sorted(used - PLACEHOLDERS)
        if unknown:
            raise fail(
                f"{shown}: unknown placeholder '{{{{ {unknown[0]} }}}}' in the {label}; "
                f"use {', '.join(sorted(PLACEHOLDERS))}"
            )
    for label, source in (("subject", subject), ("preheader", preheader), ("text", post.content)):
        for sample in SAMPLES:
            try:
                _STRICT.from_string(source).render(sample)
            except Exception as exc:  # e.g. {{ av.datumm }}: what a member would get
                raise fail(
                    f"{shown}: the {label} cannot be filled in ({exc}); "
                    "see content/onboarding/README.md for the placeholders"
                ) from None
    return StepText(path, subject.strip(), preheader.strip(), post.content)


_STRICT = SandboxedEnvironment(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_SAMPLE_AV = {
    "datum": "dinsdag 10 februari 2027",
    "tijd": "14.00–16.30 uur",
    "plaats": "Provinciehuis",
    "titel": "Algemene Vergadering",
    "samenvatting": "De formele AV.",
    "voorbij": False,
}
_SAMPLE = {
    "voornaam": "Voornaam",
    "naam": "Voornaam Achternaam",
    "provincie": "Utrecht",
    "rol": "AV-lid",
    "av": _SAMPLE_AV,
    "vragen_deadline": "dinsdag 2 februari 2027, 12.00 uur",
    "briefings": ["dinsdag 19 januari 2027, 17.00–19.00 uur: Technische briefing"],
    "gcp": {"naam": "Griffie Contact", "email": "griffie@ut.example"},
    "buddy": {"naam": "Buddy Lid", "provincie": "Zeeland", "email": "buddy@zld.example"},
    "contactadres": "statenleden@ipo.example",
    "secretaris": "De Secretaris",
    "samengevoegd": False,
}
# Every step is tried with what a member may have: all facts known, and none of the optional ones.
SAMPLES = (
    _SAMPLE,
    _SAMPLE
    | {
        "av": _SAMPLE_AV | {"voorbij": True},
        "vragen_deadline": "",
        "briefings": [],
        "gcp": None,
        "buddy": None,
        "samengevoegd": True,
    },
)


def _catch_up(raw: object, ids: set[str], fail: Any) -> CatchUp:
    if not isinstance(raw, dict):
        raise fail("must be a table with when, reason and steps")
    _unknown_keys(raw, {"when", "reason", "steps"}, fail)
    when = parse_condition(raw.get("when"), ids, lambda what: fail(f"when: {what}"))
    steps = raw.get("steps")
    if not isinstance(steps, dict) or not steps:
        raise fail("steps: name the steps this rule changes, e.g. voorbereiding: {merge_into: ...}")
    overrides = {}
    for step_id, change in steps.items():
        if step_id not in ids:
            raise fail(f"steps: unknown step '{step_id}'")
        if not isinstance(change, dict) or not change:
            raise fail(f"steps: {step_id}: write at:, merge_into: or skip: true")
        _unknown_keys(change, OVERRIDE_KEYS, lambda what, s=step_id: fail(f"steps: {s}: {what}"))
        merge = change.get("merge_into") or ""
        if not isinstance(merge, str) or (merge and (merge not in ids or merge == step_id)):
            raise fail(f"steps: {step_id}: merge_into: '{merge}' is not another step")
        skip = change.get("skip", False)
        if not isinstance(skip, bool):
            raise fail(f"steps: {step_id}: skip: write true or false")
        overrides[str(step_id)] = Override(
            at=parse_expression(change["at"], ids, lambda what, s=step_id: fail(f"{s}: at: {what}"))
            if "at" in change
            else None,
            merge_into=merge,
            skip=skip,
        )
    for step_id, override in overrides.items():
        target = overrides.get(override.merge_into)
        if target is not None and target.merge_into:
            raise fail(
                f"steps: {step_id}: merge_into: '{override.merge_into}' is itself merged into "
                f"'{target.merge_into}'; merge into that step directly"
            )
    return CatchUp(when, _text(raw, "reason", fail), overrides)


def _check_references(sequence: Sequence, shown: str) -> None:
    """No step may wait for itself, through any chain of step anchors (with catch-up moments)."""
    graph: dict[str, set[str]] = {}
    for step in sequence.steps:
        refs = {a[5:] for a in step.at.anchors() if a.startswith("step:")}
        if step.expires is not None:
            refs |= {a[5:] for a in step.expires.anchors() if a.startswith("step:")}
        if step.after:
            refs.add(step.after)
        graph[step.id] = refs
    recurring = {s.id for s in sequence.steps if s.every}
    for step in sequence.steps:
        used = graph[step.id] & recurring
        if used:
            raise SequenceError(
                f"{shown}: step {step.number} ({step.id}): '{sorted(used)[0]}' recurs, so it "
                "has no one moment to count from; anchor on start, av or a step that goes once"
            )
    for rule in sequence.catch_up:
        for step_id, override in rule.steps.items():
            if override.at is not None:
                graph[step_id] |= {a[5:] for a in override.at.anchors() if a.startswith("step:")}
            if override.merge_into:
                target = sequence.step(override.merge_into)
                if target.every:
                    raise SequenceError(
                        f"{shown}: catch_up: {step_id}: cannot merge into the recurring step "
                        f"'{target.id}'"
                    )
        for anchor in rule.when.anchors():
            if anchor.startswith("step:"):
                raise SequenceError(
                    f"{shown}: catch_up: when: '{rule.when}': compare start, av, term_end or "
                    "events, not steps"
                )
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = " -> ".join([*path[path.index(node) :], node])
            number = sequence.step(node).number
            raise SequenceError(
                f"{shown}: step {number} ({node}): its moment depends on itself ({cycle}); "
                "anchor one of them on start or av"
            )
        state[node] = 1
        for nxt in sorted(graph[node]):
            visit(nxt, [*path, node])
        state[node] = 2

    for step in sequence.steps:
        visit(step.id, [])
