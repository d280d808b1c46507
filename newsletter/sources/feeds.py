"""RSS and Atom feeds via feedparser: conditional GET, a deadline, a size cap, sanitised items."""

from __future__ import annotations

import hashlib
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser

from newsletter import __version__
from newsletter.clock import AMSTERDAM
from newsletter.config import Feed, Settings
from newsletter.content.items import Item
from newsletter.errors import FeedError
from newsletter.sanitize import clean_html, html_to_text, is_web_url
from newsletter.sources.http import Budget, RedirectRefused, open_url

USER_AGENT = f"ipo-newsletter/{__version__} (+https://www.ipo.example/nieuwsbrief)"
_SPACE = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Fetched:
    """The raw answer of one fetch: bytes and the validators for the next conditional GET."""

    status: str  # "ok" or "not-modified"
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class FeedResult:
    name: str
    status: str  # ok, not-modified, error
    items: tuple[Item, ...] = ()
    error: str = ""
    warning: str = ""
    etag: str = ""
    last_modified: str = ""


def fetch_feed(feed: Feed, settings: Settings, etag: str = "", last_modified: str = "") -> Fetched:
    """GET the feed with If-None-Match/If-Modified-Since, within its timeout and size cap."""
    if feed.url.startswith("file:"):
        path = Path(feed.url[5:].removeprefix("//"))
        path = path if path.is_absolute() else settings.project / path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise FeedError(f"feed '{feed.name}': cannot read {path}: {exc.strerror}") from None
        if len(data) > feed.max_bytes:
            raise _too_large(feed)
        return Fetched("ok", data, {"content-type": "application/xml"})
    request = urllib.request.Request(
        feed.url,
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9, "
            "text/xml;q=0.8",
        },
    )
    if etag:
        request.add_header("If-None-Match", etag)
    if last_modified:
        request.add_header("If-Modified-Since", last_modified)
    budget = Budget(feed.timeout)
    try:
        with open_url(request, budget, allowed_redirect_hosts(feed)) as response:
            chunks, size = [], 0
            while chunk := response.read1(65536):  # read1: what has arrived, so the deadline holds
                size += len(chunk)
                if size > feed.max_bytes:
                    raise _too_large(feed)
                chunks.append(chunk)
            headers = {k.lower(): v for k, v in response.headers.items()}
    except urllib.error.HTTPError as exc:
        if exc.code == 304:
            return Fetched("not-modified", etag=etag, last_modified=last_modified)
        raise FeedError(
            f"feed '{feed.name}': the server answered HTTP {exc.code} for {feed.url}; "
            "it will be tried again on the next sync"
        ) from None
    except RedirectRefused as exc:
        raise FeedError(
            f"feed '{feed.name}': {feed.url} redirects to {exc.target}, which is not followed "
            f"({exc.why}); if that address is right, put it in the feed's url or add its host "
            "to allow_redirects_to in its [[feeds]] entry"
        ) from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, RedirectRefused):
            raise FeedError(
                f"feed '{feed.name}': {feed.url} redirects to {reason.target}, which is not "
                f"followed ({reason.why}); if that address is right, put it in the feed's url "
                "or add its host to allow_redirects_to in its [[feeds]] entry"
            ) from None
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            if budget.received:  # it started answering, then took too long
                raise FeedError(
                    f"feed '{feed.name}': took longer than {feed.timeout:g} s; "
                    "it will be tried again on the next sync"
                ) from None
            reason = f"no answer within {feed.timeout:g} s"
        raise FeedError(
            f"feed '{feed.name}': cannot fetch {feed.url} ({reason}); "
            "it will be tried again on the next sync"
        ) from None
    return Fetched(
        "ok", b"".join(chunks), headers, headers.get("etag", ""), headers.get("last-modified", "")
    )


def allowed_redirect_hosts(feed: Feed) -> frozenset[str]:
    """The hosts a redirect of this feed may lead to: its own and its allow_redirects_to."""
    own = (urlsplit(feed.url).hostname or "").lower()
    return frozenset({own, *(h.lower() for h in feed.allow_redirects_to)} - {""})


def _too_large(feed: Feed) -> FeedError:
    return FeedError(
        f"feed '{feed.name}': larger than {feed.max_bytes:,} bytes; raise max_bytes "
        "for it in newsletter.toml if that is expected"
    )


def parse_feed(feed: Feed, fetched: Fetched, today: date) -> tuple[list[Item], str]:
    """feedparser output turned into our own Items at the edge; returns (items, warning)."""
    parsed = feedparser.parse(
        fetched.body,
        response_headers=dict(fetched.headers),
        sanitize_html=True,
        resolve_relative_uris=False,
    )
    warning = ""
    if parsed.get("bozo"):
        problem = str(parsed.get("bozo_exception", "malformed")).splitlines()[0]
        if not parsed.entries:
            kind = fetched.headers.get("content-type", "")
            if "html" in kind or fetched.body.lstrip()[:15].lower().startswith(
                (b"<!doctype html", b"<html")
            ):
                raise FeedError(
                    f"feed '{feed.name}': {feed.url} is an HTML page, not an RSS or "
                    "Atom feed; check the feed address"
                )
            raise FeedError(f"feed '{feed.name}': not a readable RSS or Atom feed ({problem})")
        warning = f"feed '{feed.name}': read with problems ({problem})"
    if not parsed.get("version") and not parsed.entries:
        raise FeedError(f"feed '{feed.name}': {feed.url} is not an RSS or Atom feed")
    items: list[Item] = []
    seen: set[str] = set()
    for entry in parsed.entries:
        item = _entry_to_item(feed, entry, today)
        if item is None:
            continue
        keys = {item.id, item.link} - {""}
        if keys & seen:
            continue  # the same story twice in one feed
        seen |= keys
        items.append(item)
    return items, warning


def _one_line(text: str) -> str:
    return _SPACE.sub(" ", _CONTROL.sub("", text)).strip()


def _entry_to_item(feed: Feed, entry: Any, today: date) -> Item | None:
    link = str(entry.get("link", "")).strip()
    link = link if is_web_url(link) else ""
    guid = str(entry.get("id") or link).strip()
    title = _one_line(html_to_text(clean_html(str(entry.get("title", "")))))
    if not guid or not title:
        return None
    raw = ""
    if entry.get("content"):
        raw = str(entry.content[0].get("value", ""))
    raw = raw or str(entry.get("summary", ""))
    body_html = clean_html(raw)
    text = html_to_text(body_html)
    summary = _one_line(text)
    if len(summary) > 400:
        summary = summary[:400].rsplit(" ", 1)[0] + " …"
    stamp = entry.get("published_parsed") or entry.get("updated_parsed")
    # feedparser gives UTC; the day a Dutch reader sees is the one in Europe/Amsterdam.
    published = (
        datetime(stamp[0], stamp[1], stamp[2], stamp[3], stamp[4], stamp[5], tzinfo=UTC)
        .astimezone(AMSTERDAM)
        .date()
        if stamp
        else today
    )
    digest = hashlib.sha256(guid.encode()).hexdigest()[:10]
    return Item(
        id=f"feed-{feed.name}-{digest}",
        kind="news",
        title=title[:300],
        theme=feed.theme,
        section="kennis",
        published=published,
        summary=summary,
        link=link,
        body_html=body_html,
        body_text=text,
        source=f"feed:{feed.name}",
        path=link or guid,
        fields={"feed": feed.name, "guid": guid, "host": urlsplit(link).netloc},
    )


def read_feed(
    feed: Feed, settings: Settings, today: date, etag: str = "", last_modified: str = ""
) -> FeedResult:
    """Fetch and parse one feed; any failure is this feed's result, never an exception."""
    try:
        fetched = fetch_feed(feed, settings, etag, last_modified)
        if fetched.status == "not-modified":
            return FeedResult(feed.name, "not-modified", etag=etag, last_modified=last_modified)
        items, warning = parse_feed(feed, fetched, today)
    except FeedError as exc:
        return FeedResult(
            feed.name, "error", error=str(exc), etag=etag, last_modified=last_modified
        )
    return FeedResult(
        feed.name,
        "ok",
        tuple(items),
        warning=warning,
        etag=fetched.etag,
        last_modified=fetched.last_modified,
    )
