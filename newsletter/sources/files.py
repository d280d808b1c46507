"""Content files: content/<folder>/*.md, YAML front matter with a `kind`, Markdown body."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import frontmatter
import yaml

from ..config import Settings
from ..content import Item, item_from_front_matter
from ..errors import ContentError

# Folders under content/ that hold something other than items.
NOT_ITEMS = {"issues", "onboarding", "feeds"}


@dataclass(frozen=True)
class FileResult:
    path: str
    item: Item | None = None
    error: str = ""


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


def read_item_file(path: Path, settings: Settings) -> Item:
    """One content file as an Item; ContentError names the file, the field and the fix."""
    where = str(path.relative_to(settings.project)) if path.is_relative_to(settings.project) else str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ContentError(f"{where}: not UTF-8 text; save the file as UTF-8") from None
    if not text.lstrip().startswith("---"):
        raise ContentError(f"{where}: no front matter; start the file with a '---' block with kind: ...")
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" near line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ContentError(f"{where}: front matter is not valid YAML{line} ({problem}); fix it") from None
    if not isinstance(post.metadata, dict) or not post.metadata:
        raise ContentError(f"{where}: front matter is empty; add at least kind: ...")
    return item_from_front_matter(where, path.stem.lower(), post.metadata, post.content, settings)


def read_content_files(settings: Settings) -> Iterator[FileResult]:
    """Every content file, each either an Item or the one-line reason it is not."""
    for path in content_files(settings):
        where = str(path.relative_to(settings.project))
        try:
            yield FileResult(where, item=read_item_file(path, settings))
        except ContentError as exc:
            yield FileResult(where, error=str(exc))
