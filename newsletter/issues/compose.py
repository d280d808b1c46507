"""Composing an issue file from the console: its fields as written, and atomic saves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import frontmatter
import yaml

from newsletter.config import Settings
from newsletter.content.items import SECTIONS
from newsletter.errors import ContentError, HeaderError
from newsletter.headers import check_header_value
from newsletter.issues.files import INTRO_PLACEHOLDER, issue_path
from newsletter.sources.files import load_front_matter

LABELS = {"subject": "onderwerp", "preheader": "preheader"}


@dataclass(frozen=True)
class Draft:
    """An issue file as written, even when it does not validate yet (an empty intro)."""

    month: str
    subject: str
    preheader: str
    intro: str  # Markdown, without the placeholder
    sections: dict[str, list[str]]  # every section, in order; ids as written


def _post(settings: Settings, month: str) -> frontmatter.Post:
    path = issue_path(settings, month)
    if not path.is_file():
        raise ContentError(f"{settings.shown(path)}: no such issue")
    return load_front_matter(settings.shown(path), path.read_text(encoding="utf-8-sig"))


def read_draft(settings: Settings, month: str) -> Draft:
    """The file's subject, preheader, intro and sections as written (ContentError: no file or
    no valid YAML)."""
    post = _post(settings, month)
    meta: dict[str, Any] = post.metadata
    found = meta.get("sections")
    raw: dict[str, Any] = found if isinstance(found, dict) else {}
    sections = {
        key: [i for i in (raw.get(key) or []) if isinstance(i, str)]
        if isinstance(raw.get(key), list)
        else []
        for key in SECTIONS
    }
    return Draft(
        month,
        str(meta.get("subject") or ""),
        str(meta.get("preheader") or ""),
        post.content.replace(INTRO_PLACEHOLDER, "").strip(),
        sections,
    )


class FieldError(ContentError):
    """A value staff typed that the issue file cannot hold; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def save_text(settings: Settings, month: str, subject: str, preheader: str, intro: str) -> None:
    """Write subject, preheader and intro into the issue file (atomically: a reader sees the
    old file or the new one); FieldError names the field that cannot be saved."""
    values = {"subject": subject.strip(), "preheader": preheader.strip()}
    for key, value in values.items():
        if not value:
            raise FieldError(key, f"field '{key}' is empty")
        try:
            check_header_value(value, key)
        except HeaderError as exc:
            raise FieldError(key, str(exc)) from None
    if not intro.strip():
        raise FieldError("intro", "the intro is empty")
    post = _post(settings, month)
    post.metadata.update(values)
    _write(settings, month, post.metadata, intro.strip())


def _write(settings: Settings, month: str, meta: dict[str, Any], body: str) -> None:
    path = issue_path(settings, month)
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"---\n{head}---\n{body}\n", encoding="utf-8")
    tmp.replace(path)
