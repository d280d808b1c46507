"""The items repository: content items (files and feeds) and the fetch state of each feed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

from sqlite_utils import Database


@dataclass(frozen=True)
class ItemRow:
    """One row of `items`, as stored: dates as ISO text, `data` as JSON text."""

    id: str
    kind: str
    source: str  # "file" or "feed:<name>"
    path: str
    title: str
    theme: str
    section: str
    published: str  # ISO date
    starts_at: str | None  # ISO date-time for meetings and events
    link: str | None
    data: str  # JSON: every validated field of the kind
    body_html: str | None
    body_text: str | None
    content_hash: str
    synced_at: str | None = None
    removed_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The fields by name (every one is text or None: no deep copy needed, as asdict makes,
        which took most of the issue page's time over its candidate items)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class FeedState:
    """One row of `feeds`: what the last fetch of a feed found (for conditional requests)."""

    name: str
    url: str
    etag: str | None
    last_modified: str | None
    fetched_at: str | None
    status: str | None  # ok, not-modified, error
    error: str | None
    items_seen: int | None


_ITEM_COLUMNS = tuple(f.name for f in fields(ItemRow))
_FEED_COLUMNS = tuple(f.name for f in fields(FeedState))


def _item(row: dict[str, Any]) -> ItemRow:
    values: dict[str, Any] = {name: row.get(name) for name in _ITEM_COLUMNS}
    return ItemRow(**values)


def get_item(db: Database, item_id: str) -> ItemRow | None:
    """The stored row with this id, removed or not."""
    row = next(iter(db.table("items").rows_where("id = ?", [item_id])), None)
    return _item(row) if row is not None else None


def save_item(db: Database, row: ItemRow) -> None:
    """Insert or replace an item by id."""
    db.table("items").upsert(row.as_dict(), pk="id")


def save_items(db: Database, rows: Iterable[ItemRow]) -> None:
    """Insert or replace many items by id at once, in batches (bulk loads, benchmarks)."""
    db.table("items").insert_all(
        (r.as_dict() for r in rows), pk="id", replace=True, batch_size=1000
    )


def file_items(db: Database) -> list[ItemRow]:
    """The items that came from content files and are not removed."""
    rows = db.table("items").rows_where("source = 'file' and removed_at is null")
    return [_item(row) for row in rows]


def mark_removed(db: Database, item_ids: Iterable[str], at: str) -> None:
    """Mark items removed (their file is gone); the rows stay so sent issues stay explainable."""
    for item_id in item_ids:
        db.table("items").update(item_id, {"removed_at": at})


def link_stored_under_other_id(db: Database, source: str, link: str, item_id: str) -> bool:
    """True when this source already stored this link under another id (a republished story)."""
    row = db.execute(
        "select 1 from items where source = ? and link = ? and id != ?", [source, link, item_id]
    ).fetchone()
    return row is not None


def find_items(
    db: Database,
    *,
    kind: str | None = None,
    theme: str | None = None,
    since: date | None = None,
    include_removed: bool = False,
) -> list[ItemRow]:
    """Items newest first, filtered by kind, theme and publication date."""
    where, args = [], []
    if not include_removed:
        where.append("removed_at is null")
    if kind:
        where.append("kind = ?")
        args.append(kind)
    if theme:
        where.append("theme = ?")
        args.append(theme)
    if since:
        where.append("published >= ?")
        args.append(since.isoformat())
    rows = db.table("items").rows_where(
        " and ".join(where) or None, args, order_by="published desc, id"
    )
    return [_item(row) for row in rows]


def items_page(
    db: Database,
    *,
    kind: str | None = None,
    theme: str | None = None,
    since: date | None = None,
    until: date | None = None,
    ids: Iterable[str] | None = None,
    not_ids: Iterable[str] = (),
    title: str | None = None,
    limit: int = 50,
    offset: int = 0,
    after: tuple[str, str] | None = None,
    before: tuple[str, str] | None = None,
    count: bool = True,
) -> tuple[list[ItemRow], int]:
    """One page of the items that are not removed, newest first, filtered by kind, theme,
    publication date (both ends included), a set of ids (or all but a set) and words in the
    title; with the number of items on all pages.

    after / before: the (published, id) of the last row of the page before, or of the first
    row of the page after: the page read from there in the index (keyset), not counted off
    from the start (offset is then not used). count=False: not counted (the number is -1)."""
    clauses, args = ["removed_at is null"], []
    for column, value in (("kind", kind), ("theme", theme)):
        if value:
            clauses.append(f"{column} = ?")
            args.append(value)
    if since:
        clauses.append("published >= ?")
        args.append(since.isoformat())
    if until:
        clauses.append("published <= ?")
        args.append(until.isoformat())
    if ids is not None:
        wanted = list(dict.fromkeys(ids))
        clauses.append(f"id in ({','.join('?' * len(wanted))})" if wanted else "0")
        args.extend(wanted)
    unwanted = list(dict.fromkeys(not_ids))
    if unwanted:
        clauses.append(f"id not in ({','.join('?' * len(unwanted))})")
        args.extend(unwanted)
    if title:
        clauses.append("title like ? escape '\\'")
        escaped = title.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args.append(f"%{escaped}%")
    where = " and ".join(clauses)
    total = -1
    if count:
        total = int(db.execute(f"select count(*) from items where {where}", args).fetchone()[0])
    order, page = "published desc, id", [limit, offset]
    if after or before:  # published <= ? first: a range of the index, then the ties by id
        published, item_id = after or before  # type: ignore[misc]
        where += (
            " and published <= ? and (published < ? or id > ?)"
            if after
            else " and published >= ? and (published > ? or id < ?)"
        )
        args += [published, published, item_id]
        order, page = ("published desc, id" if after else "published, id desc"), [limit, 0]
    rows = [
        _item(row)
        for row in db.query(
            f"select * from items where {where} order by {order} limit ? offset ?", [*args, *page]
        )
    ]
    return (rows[::-1] if before and not after else rows), total


def items_by_id(db: Database, ids: Iterable[str]) -> dict[str, ItemRow]:
    """The stored, not removed, items with these ids."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = db.table("items").rows_where(f"id in ({marks}) and removed_at is null", wanted)
    return {row["id"]: _item(row) for row in rows}


def calendar_items(db: Database) -> list[ItemRow]:
    """Every AV meeting and event with a start, earliest first (the onboarding calendar)."""
    rows = db.query(
        "select * from items where kind in ('av_meeting', 'event') and starts_at is not null "
        "order by starts_at"
    )
    return [_item(row) for row in rows]


def announced_calendar_item(db: Database, item_id: str, on: date) -> ItemRow | None:
    """An AV meeting or event with a start, published on or before `on` (public information)."""
    row = next(
        db.query(
            "select * from items where id = ? and kind in ('av_meeting', 'event') "
            "and starts_at is not null and published <= ?",
            [item_id, on.isoformat()],
        ),
        None,
    )
    return _item(row) if row is not None else None


def feed_state(db: Database, name: str, url: str) -> FeedState | None:
    """What the last fetch of this feed (by name and url) found; None if never fetched."""
    row = next(iter(db.table("feeds").rows_where("name = ? and url = ?", [name, url])), None)
    if row is None:
        return None
    values: dict[str, Any] = {name: row.get(name) for name in _FEED_COLUMNS}
    return FeedState(**values)


def save_feed_state(db: Database, state: FeedState) -> None:
    """Record a fetch of a feed (one row per feed name)."""
    db.table("feeds").upsert(asdict(state), pk="name")
