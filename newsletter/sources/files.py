"""Content files: content/<folder>/*.md, YAML front matter with a `kind`, Markdown body."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from frontmatter.default_handlers import YAMLHandler

from newsletter.config import Settings
from newsletter.content.items import Item, item_from_front_matter, unknown_fields
from newsletter.errors import ContentError

# Folders under content/ that hold something other than items.
NOT_ITEMS = {"issues", "onboarding", "feeds"}
# What PyYAML reads as a date when unquoted (and fails on when the date does not exist).
_YAML_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})\b")


@dataclass(frozen=True)
class FileResult:
    path: str
    item: Item | None = None
    error: str = ""
    warnings: tuple[str, ...] = ()


def content_files(settings: Settings) -> Iterator[Path]:
    """Every item file under content/, in a stable order."""
    root = settings.content_dir
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.md")):
        relative = path.relative_to(root)
        if relative.parts[0] in NOT_ITEMS or any(p.startswith(".") for p in relative.parts):
            continue
        yield path


def read_item_file(path: Path, settings: Settings) -> tuple[Item, list[str]]:
    """One content file as an Item, with a warning per field it does not know (a typo, usually).

    ContentError names the file, the field and the fix.
    """
    where = (
        str(path.relative_to(settings.project))
        if path.is_relative_to(settings.project)
        else str(path)
    )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ContentError(f"{where}: not UTF-8 text; save the file as UTF-8") from None
    if not text.lstrip().startswith("---"):
        raise ContentError(
            f"{where}: no front matter; start the file with a '---' block with kind: ..."
        )
    post = load_front_matter(where, text)
    if not isinstance(post.metadata, dict) or not post.metadata:
        raise ContentError(
            f"{where}: front matter holds no fields; write 'key: value' lines "
            "between two '---' lines, at least kind: ..."
        )
    item = item_from_front_matter(where, path.stem.lower(), post.metadata, post.content, settings)
    return item, unknown_fields(where, post.metadata)


def load_front_matter(where: str, text: str) -> frontmatter.Post:
    """Front matter and body of a file's text; ContentError names the line or the field."""
    try:
        return frontmatter.loads(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # YAML's line 0 is the end of the opening '---' line (leading blank lines are stripped).
        first = text[: len(text) - len(text.lstrip())].count("\n") + 1
        line = f" near line {mark.line + first}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ContentError(
            f"{where}: front matter is not valid YAML{line} ({problem}); fix it"
        ) from None
    except ValueError as exc:  # PyYAML builds an unquoted 2026-11-31 as a date and fails
        key, value = _impossible_date(text)
        if key:
            raise ContentError(
                f"{where}: field '{key}' '{value}' is not a date ({exc}); write it as 2026-11-03"
            ) from None
        raise ContentError(
            f"{where}: front matter holds an impossible date or time ({exc}); "
            "write dates as 2026-11-03"
        ) from None


def _impossible_date(text: str) -> tuple[str, str]:
    """The first field whose unquoted value looks like a date that does not exist."""
    try:
        fm, _ = YAMLHandler().split(text.strip())
        meta: Any = yaml.load(fm, Loader=yaml.BaseLoader)  # every value as text
    except (ValueError, yaml.YAMLError):
        return "", ""
    pending: list[tuple[str, Any]] = [("", meta)]
    while pending:
        key, value = pending.pop(0)
        if isinstance(value, dict):
            pending += [(f"{key}.{k}" if key else str(k), v) for k, v in value.items()]
        elif isinstance(value, list):
            pending += [(key, v) for v in value]
        elif isinstance(value, str) and (match := _YAML_DATE.match(value)):
            try:
                date(int(match[1]), int(match[2]), int(match[3]))
            except ValueError:
                return key, value
    return "", ""


def read_content_files(settings: Settings) -> Iterator[FileResult]:
    """Every content file, each either an Item or the one-line reason it is not."""
    for path in content_files(settings):
        where = str(path.relative_to(settings.project))
        try:
            item, warnings = read_item_file(path, settings)
            yield FileResult(where, item=item, warnings=tuple(warnings))
        except ContentError as exc:
            yield FileResult(where, error=str(exc))
