"""The items in the store: sync from the sources, list, and look up by id."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.content.items import Item
from newsletter.sources.feeds import read_feed
from newsletter.sources.files import read_content_files
from newsletter.store import dumps, loads
from newsletter.store import items as stored
from newsletter.store.busy import Batches


@dataclass
class SyncReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    feeds: dict[str, str] = field(default_factory=dict)  # name -> ok / not-modified / error

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def summary(self) -> str:
        parts = [f"{self.added} added", f"{self.updated} updated", f"{self.unchanged} unchanged"]
        if self.removed:
            parts.append(f"{self.removed} removed")
        feeds = ", ".join(f"{name} {status}" for name, status in self.feeds.items())
        line = "Content: " + ", ".join(parts)
        if feeds:
            line += f"; feeds: {feeds}"
        if self.errors:
            line += f"; {len(self.errors)} failed"
        return line


def stored_row(item: Item, synced_at: str | None = None) -> stored.ItemRow:
    """An Item as the store keeps it."""
    return stored.ItemRow(
        id=item.id,
        kind=item.kind,
        source=item.source,
        path=item.path,
        title=item.title,
        theme=item.theme,
        section=item.section,
        published=item.published.isoformat(),
        starts_at=item.starts_at.isoformat() if item.starts_at else None,
        link=item.link,
        data=dumps(
            {
                "summary": item.summary,
                "ends_at": item.ends_at.isoformat() if item.ends_at else None,
                "place": item.place,
                "featured": item.featured,
                "fields": dict(item.fields),
            }
        ),
        body_html=item.body_html,
        body_text=item.body_text,
        content_hash=item.content_hash(),
        synced_at=synced_at,
    )


def item_to_row(item: Item) -> dict[str, object]:
    """An Item as a plain dict of its stored columns (JSON output, approval snapshots)."""
    row = stored_row(item).as_dict()
    del row["synced_at"], row["removed_at"]
    return row


def row_to_item(row: stored.ItemRow | Mapping[str, object]) -> Item:
    """A stored row (or its dict, as in an approval snapshot) as an Item."""
    if isinstance(row, stored.ItemRow):
        row = row.as_dict()
    data = loads(str(row["data"]), {})
    ends = data.get("ends_at")
    starts = row.get("starts_at")
    return Item(
        id=str(row["id"]),
        kind=str(row["kind"]),
        title=str(row["title"]),
        theme=str(row["theme"]),
        section=str(row["section"]),
        published=date.fromisoformat(str(row["published"])),
        summary=data.get("summary", ""),
        link=str(row["link"] or ""),
        starts_at=datetime.fromisoformat(str(starts)) if starts else None,
        ends_at=datetime.fromisoformat(ends) if ends else None,
        place=data.get("place", ""),
        fields=data.get("fields", {}),
        body_html=str(row["body_html"] or ""),
        body_text=str(row["body_text"] or ""),
        source=str(row["source"]),
        path=str(row["path"]),
        featured=bool(data.get("featured", False)),
    )


def _save(db: Database, items: Iterable[Item], report: SyncReport, batch: Batches) -> None:
    """Store new and changed items, committed in short batches (store/busy.py, issue #13).

    A sync stopped halfway keeps the items it saved; the next one finds them unchanged.
    """
    now = clock.utc_iso()
    for item in items:
        row = stored_row(item, now)
        existing = stored.get_item(db, item.id)
        if existing is None:
            report.added += 1
        elif existing.content_hash == row.content_hash and not existing.removed_at:
            report.unchanged += 1
            continue
        else:
            report.updated += 1
        stored.save_item(db, row)
        batch.checkpoint()


def sync_files(db: Database, settings: Settings, report: SyncReport) -> None:
    """Content files into the store; a bad file is reported and its stored version left alone."""
    good: list[Item] = []
    seen_paths: set[str] = set()
    owner: dict[str, str] = {}
    for result in read_content_files(settings):
        seen_paths.add(result.path)
        report.warnings.extend(result.warnings)
        if result.item is None:
            report.errors.append(result.error)
            continue
        if result.item.id in owner:
            report.errors.append(
                f"{result.path}: id '{result.item.id}' is also used by {owner[result.item.id]}; "
                "give one of them another id"
            )
            continue
        owner[result.item.id] = result.path
        good.append(result.item)
    with Batches(db) as batch:
        _save(db, good, report, batch)
        gone = [row.id for row in stored.file_items(db) if row.path not in seen_paths]
        stored.mark_removed(db, gone, clock.utc_iso())
        report.removed += len(gone)


def sync_feeds(
    db: Database,
    settings: Settings,
    report: SyncReport,
    names: Sequence[str] | None = None,
    now: datetime | None = None,
) -> None:
    """Each configured feed on its own: one that fails is named and the others go on.

    `now` is tick's moment: fetched_at records it (not the end of a slow fetch), so the feed
    is due again exactly an interval later."""
    for feed in settings.feeds:
        if names and feed.name not in names:
            continue
        previous = stored.feed_state(db, feed.name, feed.url)
        result = read_feed(
            feed,
            settings,
            clock.today(),
            (previous and previous.etag) or "",
            (previous and previous.last_modified) or "",
        )
        report.feeds[feed.name] = result.status
        if result.warning:
            report.warnings.append(result.warning)
        if result.error:
            report.errors.append(result.error)
        # The feed's state is saved last: a sync stopped halfway fetches the feed again.
        with Batches(db) as batch:
            _save(db, [item for item in result.items if not _republished(db, item)], report, batch)
            stored.save_feed_state(
                db,
                stored.FeedState(
                    name=feed.name,
                    url=feed.url,
                    etag=result.etag,
                    last_modified=result.last_modified,
                    fetched_at=clock.utc_iso(now),
                    status=result.status,
                    error=result.error,
                    items_seen=len(result.items),
                ),
            )


def due_feeds(db: Database, settings: Settings, now: datetime) -> list[str]:
    """The feeds whose [[feeds]] interval has passed since they were last fetched (for tick)."""
    due = []
    for feed in settings.feeds:
        state = stored.feed_state(db, feed.name, feed.url)
        last = state.fetched_at if state else None
        if not last or now - clock.parse_instant(last) >= timedelta(minutes=feed.interval_minutes):
            due.append(feed.name)
    return due


def _republished(db: Database, item: Item) -> bool:
    """The same story (same link) already stored from this feed under another guid."""
    if not item.link:
        return False
    return stored.link_stored_under_other_id(db, item.source, item.link, item.id)


def sync_content(db: Database, settings: Settings) -> SyncReport:
    """Files and feeds into the store."""
    report = SyncReport()
    sync_files(db, settings, report)
    sync_feeds(db, settings, report)
    return report


def list_items(
    db: Database,
    *,
    kind: str | None = None,
    theme: str | None = None,
    since: date | None = None,
    include_removed: bool = False,
) -> list[Item]:
    """Items in the store, newest first, filtered."""
    rows = stored.find_items(
        db, kind=kind, theme=theme, since=since, include_removed=include_removed
    )
    return [row_to_item(row) for row in rows]


def get_items(db: Database, ids: Iterable[str]) -> dict[str, Item]:
    """The stored, not removed, items with these ids."""
    return {item_id: row_to_item(row) for item_id, row in stored.items_by_id(db, ids).items()}
