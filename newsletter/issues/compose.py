"""Composing an issue file: its fields as written, and the one use case that changes it.

`compose` adds, removes and moves items and sets subject, preheader and intro, for the console
and `newsletter issue compose` alike. It rewrites the file atomically (a reader sees the old file
or the new one) as valid YAML, quoted where needed, and refuses to touch a version that is frozen:
approved (and not revoked) or sent. The file stays the source of truth: nothing is cached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import frontmatter
import yaml
from sqlite_utils import Database

from newsletter.config import Settings
from newsletter.content.items import SECTIONS, Item
from newsletter.errors import ContentError, HeaderError
from newsletter.headers import check_header_value
from newsletter.issues.files import INTRO_PLACEHOLDER, issue_path
from newsletter.sources.catalog import get_items, row_to_item
from newsletter.sources.files import load_front_matter
from newsletter.store import audit, mailings, transaction
from newsletter.store import items as stored
from newsletter.store import workflow as rows

MOVES = ("add", "remove", "up", "down")


@dataclass(frozen=True)
class Draft:
    """An issue file as written, even when it does not validate yet (an empty intro)."""

    month: str
    subject: str
    preheader: str
    intro: str  # Markdown, without the placeholder
    sections: dict[str, list[str]]  # every section, in order; ids as written

    @property
    def item_ids(self) -> list[str]:
        return [i for ids in self.sections.values() for i in ids]


@dataclass(frozen=True)
class Move:
    """Add ITEM (to `section`, default the item's own), remove it, or move it up or down
    within its section."""

    action: str  # one of MOVES
    item_id: str
    section: str = ""


@dataclass(frozen=True)
class Text:
    """Subject, preheader and intro (Markdown) as staff typed them."""

    subject: str
    preheader: str
    intro: str


class FieldError(ContentError):
    """A value staff typed that the issue file cannot hold; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class Frozen(ContentError):
    """The issue's version is approved or sent: its file is not changed."""


def _post(settings: Settings, month: str) -> frontmatter.Post:
    path = issue_path(settings, month)
    if not path.is_file():
        raise ContentError(f"{settings.shown(path)}: no such issue")
    return load_front_matter(settings.shown(path), path.read_text(encoding="utf-8-sig"))


def _sections(meta: dict[str, Any]) -> dict[str, list[str]]:
    found = meta.get("sections")
    raw: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        key: [i for i in value if isinstance(i, str)] if isinstance(value, list) else []
        for key in SECTIONS
        for value in [raw.get(key)]
    }


def read_draft(settings: Settings, month: str) -> Draft:
    """The file's subject, preheader, intro and sections as written (ContentError: no file or
    no valid YAML)."""
    post = _post(settings, month)
    meta: dict[str, Any] = post.metadata
    return Draft(
        month,
        str(meta.get("subject") or ""),
        str(meta.get("preheader") or ""),
        post.content.replace(INTRO_PLACEHOLDER, "").strip(),
        _sections(meta),
    )


def refuse_if_frozen(db: Database, month: str) -> None:
    """Frozen when a mailing of the issue exists (sending, sent, cancelled) or its approval
    stands (approved, scheduled): what was approved is exactly what is sent."""
    mailing = mailings.get_mailing(db, mailings.issue_mailing_id(month))
    if mailing is not None:
        raise Frozen(
            f"issue {month} is {mailing.status} (mailing {mailing.id}); its version is final "
            "and the issue file is not changed"
        )
    row = rows.issue_row(db, month)
    if row.approved_hash:
        raise Frozen(
            f"issue {month} is {row.state}: its approved version is frozen and is what is "
            "sent; the issue file is not changed (an edit on disk revokes the approval)"
        )


def compose(db: Database, settings: Settings, month: str, change: Move | Text, by: str) -> Draft:
    """Apply one change to the issue file of `month` as `by` (staff:<email>), write it and
    log it; returns the file as now written. ContentError (FieldError, Frozen) changes nothing."""
    refuse_if_frozen(db, month)
    post = _post(settings, month)
    meta: dict[str, Any] = post.metadata
    body = post.content.replace(INTRO_PLACEHOLDER, "").strip()
    if isinstance(change, Text):
        meta.update(_text(change))
        body = change.intro.strip()
        detail: dict[str, str] = {"change": "text"}
    else:
        sections = _sections(meta)
        _move(db, sections, change)
        found = meta.get("sections")
        meta["sections"] = {**(found if isinstance(found, dict) else {}), **sections}
        detail = {"change": change.action, "item": change.item_id}
    _write(settings, month, meta, body or INTRO_PLACEHOLDER)
    with transaction(db):
        audit.record(db, by, "compose", mailings.issue_mailing_id(month), **detail)
    return read_draft(settings, month)


def _text(text: Text) -> dict[str, str]:
    values = {"subject": text.subject.strip(), "preheader": text.preheader.strip()}
    for key, value in values.items():
        if not value:
            raise FieldError(key, f"field '{key}' is empty")
        try:
            check_header_value(value, key)
        except HeaderError as exc:
            raise FieldError(key, str(exc)) from None
    if not text.intro.strip():
        raise FieldError("intro", "the intro is empty")
    return values


def _where(sections: dict[str, list[str]], item_id: str) -> str:
    return next((key for key, ids in sections.items() if item_id in ids), "")


def _move(db: Database, sections: dict[str, list[str]], move: Move) -> None:
    """Change `sections` in place as `move` says, or raise a ContentError."""
    if move.action not in MOVES:
        raise ContentError(f"{move.action!r} is no change; use {', '.join(MOVES)}")
    placed = _where(sections, move.item_id)
    if move.action == "add":
        if placed:
            raise FieldError("item", f"item '{move.item_id}' is already in sections.{placed}")
        item = get_items(db, [move.item_id]).get(move.item_id)
        if item is None:
            raise FieldError(
                "item",
                f"unknown item '{move.item_id}'; run 'newsletter content sync' or check "
                "'newsletter content list'",
            )
        section = move.section or ("uitgelicht" if item.featured else item.section)
        if section not in SECTIONS:
            raise FieldError("section", f"{section!r} is not a section; use {', '.join(SECTIONS)}")
        sections[section].append(move.item_id)
        return
    if not placed:
        raise FieldError("item", f"item '{move.item_id}' is not in this issue")
    ids = sections[placed]
    if move.action == "remove":
        ids.remove(move.item_id)
        return
    at = ids.index(move.item_id)
    to = at - 1 if move.action == "up" else at + 1
    if not 0 <= to < len(ids):
        edge = "first" if move.action == "up" else "last"
        raise FieldError("item", f"item '{move.item_id}' is already the {edge} of {placed}")
    ids[at], ids[to] = ids[to], ids[at]


def candidates(
    db: Database,
    settings: Settings,
    month: str,
    kind: str | None = None,
    theme: str | None = None,
    limit: int = 100,
    draft: Draft | None = None,
) -> list[Item]:
    """Items that could be added: not in the issue yet, newest first, filtered (draft: the
    issue file as the caller read it just now)."""
    placed = (draft or read_draft(settings, month)).item_ids
    found, _ = stored.items_page(
        db, kind=kind, theme=theme, not_ids=placed, limit=limit, count=False
    )
    return [row_to_item(row) for row in found]


def _write(settings: Settings, month: str, meta: dict[str, Any], body: str) -> None:
    path = issue_path(settings, month)
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=1000)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"---\n{head}---\n{body}\n", encoding="utf-8")
    tmp.replace(path)
