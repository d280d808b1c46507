"""Writing a content file: validated as every file is, written atomically, synced, logged."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from sqlite_utils import Database

from newsletter import clock, store
from newsletter.config import Settings
from newsletter.content.items import ITEM_ID, KINDS, FieldError, Item, item_from_front_matter
from newsletter.errors import ContentError
from newsletter.sources.catalog import stored_row
from newsletter.sources.files import content_files, load_front_matter, read_item_file
from newsletter.store import audit
from newsletter.store import items as stored

# Where a new item of each kind is written, under content/.
FOLDERS = {
    "bac_decision": "bac",
    "av_meeting": "av",
    "position_paper": "papers",
    "event": "events",
    "news": "news",
}


@dataclass(frozen=True)
class FormField:
    """One front-matter field as a form asks for it.

    shape: text, long (a paragraph), date, time, moment (a date with an optional time),
    url, list (one text per line), programme (a list of {time, title}), choice, bool.
    choices: for a choice, where its options come from: themes, event_types or sections.
    required: the kind refuses the item without it (tests/test_console_content.py holds this
    to content/items.py).
    """

    key: str
    shape: str
    required: bool
    choices: str = ""


def _f(key: str, shape: str, required: bool = True, choices: str = "") -> FormField:
    return FormField(key, shape, required, choices)


COMMON = (
    _f("published", "date", False),
    _f("section", "choice", False, "sections"),
    _f("featured", "bool", False),
)
# The fields of each kind (content/items.py: KIND_FIELDS) in the order a form shows them.
FORMS: dict[str, tuple[FormField, ...]] = {
    "bac_decision": (
        _f("bac", "choice", choices="themes"),
        _f("meeting_date", "date"),
        _f("number", "text"),
        _f("subject", "text"),
        _f("summary", "long"),
        _f("decisions", "list"),
        _f("link", "url"),
        *COMMON,
    ),
    "av_meeting": (
        _f("title", "text", False),
        _f("date", "date"),
        _f("start_time", "time"),
        _f("end_time", "time", False),
        _f("place", "text"),
        _f("theme", "choice", False, "themes"),
        _f("summary", "long", False),
        _f("agenda", "list"),
        _f("programme", "programme", False),
        _f("registration", "url"),
        _f("question_deadline", "moment", False),
        *COMMON,
    ),
    "position_paper": (
        _f("title", "text"),
        _f("date", "date"),
        _f("theme", "choice", choices="themes"),
        _f("summary", "long"),
        _f("link", "url"),
        _f("audience", "text", False),
        *COMMON,
    ),
    "event": (
        _f("event_type", "choice", choices="event_types"),
        _f("title", "text"),
        _f("date", "date"),
        _f("start_time", "time"),
        _f("end_time", "time", False),
        _f("place", "text"),
        _f("theme", "choice", False, "themes"),
        _f("summary", "long"),
        _f("registration", "url", False),
        *COMMON,
    ),
    "news": (
        _f("title", "text"),
        _f("date", "date"),
        _f("theme", "choice", False, "themes"),
        _f("summary", "long"),
        _f("link", "url", False),
        *COMMON,
    ),
}
# The field a new file's name is made of (with the kind's date field).
TITLE_FIELD = {kind: "subject" if kind == "bac_decision" else "title" for kind in KINDS}
DATE_FIELD = {kind: "meeting_date" if kind == "bac_decision" else "date" for kind in KINDS}
# A value that passes its field, put in place of a wrong one to find the next wrong field.
_PASSING: dict[str, Any] = {
    "text": "x",
    "long": "x",
    "date": date(2000, 1, 1),
    "time": "12.00",
    "moment": "2000-01-01",
    "url": "https://example.org/",
    "list": ["x"],
    "programme": [],
    "bool": False,
}


class ItemRefused(ContentError):
    """Nothing was written: every wrong field, each a FieldError (field, problem, message)."""

    def __init__(self, problems: list[FieldError]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class ChangedMeanwhile(ContentError):
    """The file changed on disk after the form was opened; nothing was written."""


@dataclass(frozen=True)
class Draft:
    """An item's file as a form starts from it: its front matter (without kind) and body."""

    item_id: str
    kind: str
    path: Path
    values: dict[str, Any]
    body: str
    version: str  # changes whenever the file does; save_item refuses an outdated one


@dataclass(frozen=True)
class Written:
    item: Item
    path: Path
    created: bool
    changed: bool  # False: the file already said exactly this, nothing was written


def version_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _empty(value: Any) -> bool:
    return value is None or value == [] or (isinstance(value, str) and not value.strip())


def _front_matter(kind: str, values: Mapping[str, Any], keep: Mapping[str, Any]) -> dict[str, Any]:
    """kind first, the form's fields in its order, then what the file had that the form lacks."""
    shapes = {f.key: f.shape for f in FORMS[kind]}
    meta: dict[str, Any] = {"kind": kind}
    for key in shapes:
        value = values.get(key, keep.get(key))
        if _empty(value) or (shapes[key] == "bool" and value is False):
            continue
        if shapes[key] == "date" and isinstance(value, str):
            with contextlib.suppress(ValueError):  # a wrong date stays text: validation names it
                value = date.fromisoformat(value.strip())
        meta[key] = value.strip() if isinstance(value, str) else value
    for key, value in keep.items():
        if key not in meta and key not in shapes and key != "kind":
            meta[key] = value
    return meta


def check_values(
    settings: Settings, where: str, item_id: str, meta: Mapping[str, Any], body: str
) -> Item:
    """The item these front-matter values make (content/items.py decides), or ItemRefused
    naming every wrong field, not just the first."""
    trial = dict(meta)
    kind = trial.get("kind")
    shapes = {f.key: f.shape for f in FORMS.get(kind, ())} if isinstance(kind, str) else {}
    problems: dict[str, FieldError] = {}
    while True:
        try:
            item = item_from_front_matter(where, item_id, trial, body, settings)
        except FieldError as problem:
            if problem.field in problems:  # no passing value got past it
                break
            problems[problem.field] = problem
            shape = shapes.get(problem.field, "")
            if shape == "choice" and problem.options:
                trial[problem.field] = problem.options[0]
            elif shape in _PASSING:
                trial[problem.field] = _PASSING[shape]
            else:
                trial.pop(problem.field, None)
            continue
        if not problems:
            return item
        break
    raise ItemRefused(list(problems.values()))


def _dump(meta: Mapping[str, Any], body: str) -> str:
    """The file's text: YAML front matter (quoted where YAML needs it) and the Markdown body."""
    front = yaml.safe_dump(
        dict(meta), allow_unicode=True, sort_keys=False, default_flow_style=False, width=88
    )
    return f"---\n{front}---\n{body}\n" if body else f"---\n{front}---\n"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _free_id(db: Database, settings: Settings, item: Item, meta: Mapping[str, Any]) -> str:
    """A new file's id (its name): the date and the title, made unique."""
    day = meta.get(DATE_FIELD[item.kind])
    prefix = day.isoformat() if isinstance(day, date) else item.published.isoformat()
    base = f"{prefix}-{_slug(item.title)[:50].strip('-')}".strip("-")
    taken = {path.stem.lower() for path in content_files(settings)}
    candidate, n = base, 1
    while candidate in taken or stored.get_item(db, candidate) is not None:
        n += 1
        candidate = f"{base}-{n}"
    assert ITEM_ID.match(candidate), candidate
    return candidate


def _replace(path: Path, text: str, *, exclusive: bool) -> None:
    """Write text to a temporary file beside path, then move it into place in one step (a
    reader sees the old file or the new one, never half); exclusive: never over a file."""
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    try:
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ContentError(f"{path}: cannot write ({exc.strerror}); nothing was written") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        if exclusive:
            os.link(temporary, path)  # FileExistsError when someone took the name meanwhile
        else:
            os.replace(temporary, path)
    except FileExistsError:
        raise
    except OSError as exc:
        raise ContentError(f"{path}: cannot write ({exc.strerror}); nothing was written") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _stored_file(db: Database, settings: Settings, item_id: str) -> tuple[stored.ItemRow, Path]:
    row = stored.get_item(db, item_id)
    if row is None or row.removed_at or row.source != "file":
        raise ContentError(f"no content file has the item '{item_id}'; see 'newsletter content'")
    path = (settings.project / row.path).resolve()
    if not path.is_relative_to(settings.content_dir.resolve()) or not path.is_file():
        raise ContentError(f"{row.path}: the file of item '{item_id}' is not there any more")
    return row, path


def draft(db: Database, settings: Settings, item_id: str) -> Draft:
    """The file of a stored item, as an edit form starts from it."""
    row, path = _stored_file(db, settings, item_id)
    text = path.read_text(encoding="utf-8-sig")
    post = load_front_matter(row.path, text)
    values = {k: v for k, v in post.metadata.items() if k != "kind"}
    return Draft(item_id, row.kind, path, values, post.content, version_of(text))


def save_item(
    db: Database,
    settings: Settings,
    kind: str,
    values: Mapping[str, Any],
    body: str,
    actor: str,
    *,
    item_id: str | None = None,
    version: str | None = None,
) -> Written:
    """A new item of this kind (item_id None) or a stored file item changed: the values are
    front-matter fields as a file holds them (an empty one is left out). Validated exactly as
    the file will be read, written atomically, stored at once and logged as actor's.

    ItemRefused names every wrong field; ChangedMeanwhile when the file is no longer the one
    `version` was taken from. Either way nothing is written."""
    if kind not in FORMS:
        raise ContentError(f"'{kind}' is not a kind of item; use one of: {', '.join(KINDS)}")
    keep: dict[str, Any] = {}
    old_text = None
    if item_id is None:
        path = settings.content_dir / FOLDERS[kind] / "nieuw.md"
    else:
        row, path = _stored_file(db, settings, item_id)
        if row.kind != kind:
            raise ContentError(f"{row.path}: item '{item_id}' is a {row.kind}, not a {kind}")
        old_text = path.read_text(encoding="utf-8-sig")
        if version is not None and version_of(old_text) != version:
            raise ChangedMeanwhile(
                f"{row.path}: the file changed after the form was opened; open it again"
            )
        keep = dict(load_front_matter(row.path, old_text).metadata)
    meta = _front_matter(kind, values, keep)
    where = settings.shown(path)
    body = body.replace("\r\n", "\n").strip()
    item = check_values(settings, where, item_id or "nieuw-item", meta, body)
    created = item_id is None
    text = _dump(meta, body)
    post = load_front_matter(where, text)  # the text reads back as the item it was made from
    again = item_from_front_matter(
        where, item_id or "nieuw-item", post.metadata, post.content, settings
    )
    if again.content_hash() != item.content_hash():
        raise ContentError(f"{where}: the file would not read back as written; nothing was written")
    if created:
        folder = settings.content_dir / FOLDERS[kind]
        folder.mkdir(parents=True, exist_ok=True)
        while True:
            path = folder / f"{_free_id(db, settings, item, meta)}.md"
            try:
                _replace(path, text, exclusive=True)
                break
            except FileExistsError:
                continue
    elif text != old_text:
        _replace(path, text, exclusive=False)
    else:
        return Written(item, path, created=False, changed=False)
    return Written(_sync_file(db, settings, path, actor, created), path, created, changed=True)


def _sync_file(db: Database, settings: Settings, path: Path, actor: str, created: bool) -> Item:
    """The file just written into the store, and the log entry, together."""
    item, _ = read_item_file(path, settings)
    row = stored_row(item, clock.utc_iso())
    with store.transaction(db):
        stored.save_item(db, row)
        audit.record(
            db,
            actor,
            "content-add" if created else "content-edit",
            f"item:{item.id}",
            kind=item.kind,
            path=item.path,
        )
    return item
