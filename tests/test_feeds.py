"""Feeds fetched from a real HTTP server on 127.0.0.1: good feeds, conditional GET, every kind of
broken feed, isolation between feeds, de-duplication and sanitised item HTML."""

from __future__ import annotations

import contextlib
import dataclasses
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlite_utils import Database

from newsletter.config import Feed, Settings
from newsletter.sources.catalog import SyncReport, sync_content, sync_feeds
from newsletter.sources.feeds import FeedResult, read_feed

FEEDS = Path(__file__).parent / "fixtures" / "feeds"
RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"


def fixture(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = RSS
    etag: str = ""  # sent, and a matching If-None-Match is answered with 304
    last_modified: str = ""  # sent, and a matching If-Modified-Since is answered with 304
    delay: float = 0.0  # seconds before the answer starts
    pieces: int = 1  # the body sent in this many pieces ...
    pause: float = 0.0  # ... with this many seconds between them
    location: str = ""  # answer with a 302 redirect to this address
    header_pause: float = 0.0  # send the status line and headers a byte at a time, this far apart


@dataclass
class FeedServer:
    """A ThreadingHTTPServer on 127.0.0.1 serving Routes and recording every request's headers."""

    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def serve(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.base + path

    def received(self, path: str) -> list[dict[str, str]]:
        """The headers of every request for this path, lower-cased names, oldest first."""
        return [headers for got, headers in self.requests if got == path]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        state = self.server.state
        headers = {name.lower(): value for name, value in self.headers.items()}
        state.requests.append((self.path, headers))
        route = state.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        if route.delay and state.stop.wait(route.delay):
            return  # the test is over
        # The client may have given up, as it should for a slow server.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._answer(route, headers)

    def _answer(self, route: Route, headers: dict[str, str]) -> None:
        state = self.server.state
        if route.location:
            self.send_response(302)
            self.send_header("Location", route.location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if route.header_pause:  # a slowloris: the head of the answer never quite ends
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {route.content_type}\r\nX-Pad: "
            for byte in head.encode() + b"x" * 10_000:
                if state.stop.wait(route.header_pause):
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            return
        if (route.etag and headers.get("if-none-match") == route.etag) or (
            route.last_modified and headers.get("if-modified-since") == route.last_modified
        ):
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(route.status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(route.body)))
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)
        self.end_headers()
        size = -(-len(route.body) // route.pieces)
        for start in range(0, len(route.body), size):
            if start and state.stop.wait(route.pause):
                return
            self.wfile.write(route.body[start : start + size])
            self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


class _Server(ThreadingHTTPServer):
    state: FeedServer


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.state = FeedServer(base=f"http://127.0.0.1:{httpd.server_address[1]}")
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield httpd.state
    finally:
        httpd.state.stop.set()  # releases handlers that are still sleeping or trickling
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


TODAY = date(2026, 12, 1)


def feed(name: str, url: str, timeout: float = 10.0, max_bytes: int = 5_000_000) -> Feed:
    return Feed(name, url, "digitalisering", timeout, max_bytes)


def read(settings: Settings, one: Feed) -> FeedResult:
    return read_feed(one, settings, TODAY)


def stored(db: Database, name: str) -> list[dict]:
    return list(db.table("items").rows_where("source = ?", [f"feed:{name}"], order_by="id"))


def sync(db: Database, settings: Settings, *feeds: Feed) -> SyncReport:
    report = SyncReport()
    sync_feeds(db, dataclasses.replace(settings, feeds=feeds), report)
    return report


# Good feeds ---------------------------------------------------------------------------------


def test_a_good_rss_feed_becomes_news_items_with_theme_link_and_publication_date(
    feed_server, settings
):
    url = feed_server.serve("/rss.xml", Route(fixture("rss-goed.xml")))
    result = read(settings, feed("provincie", url))

    assert result.status == "ok"
    assert result.error == "" and result.warning == ""
    by_title = {item.title: item for item in result.items}
    assert set(by_title) == {
        "Provinciale Staten stemmen in met mobiliteitsplan",
        "Nieuwe subsidieregeling voor dorpshuizen",
        "Gedeputeerde opent windpark vlak na middernacht",
    }
    plan = by_title["Provinciale Staten stemmen in met mobiliteitsplan"]
    assert plan.kind == "news"
    assert plan.theme == "digitalisering"
    assert plan.source == "feed:provincie"
    assert plan.link == "https://www.provincie-voorbeeld.example/nieuws/mobiliteitsplan"
    assert plan.published == date(2026, 11, 24)
    assert plan.summary.startswith("Provinciale Staten hebben het mobiliteitsplan 2027–2035")
    assert "<strong>mobiliteitsplan 2027–2035</strong>" in plan.body_html
    subsidy = by_title["Nieuwe subsidieregeling voor dorpshuizen"]
    assert subsidy.published == date(2026, 11, 27)
    text = " ".join(subsidy.body_text.split())  # the plain text is wrapped at 72 columns
    assert "voorwaarden (https://www.provincie-voorbeeld.example/subsidies)" in text


def test_a_good_atom_feed_becomes_news_items_with_theme_link_and_publication_date(
    feed_server, settings
):
    url = feed_server.serve("/atom.xml", Route(fixture("atom-goed.xml"), content_type=ATOM))
    result = read(settings, feed("kennis", url))

    assert result.status == "ok"
    assert result.error == "" and result.warning == ""
    by_link = {item.link: item for item in result.items}
    assert set(by_link) == {
        "https://kennis.regio.example/publicaties/datagedreven-beleid",
        "https://kennis.regio.example/publicaties/regisseur-energietransitie",
    }
    handbook = by_link["https://kennis.regio.example/publicaties/datagedreven-beleid"]
    assert handbook.kind == "news"
    assert handbook.theme == "digitalisering"
    assert handbook.title == "Handreiking datagedreven beleid voor provincies"
    assert handbook.published == date(2026, 11, 18)  # <published>, not the later <updated>
    assert "<em>Statenleden</em>" in handbook.body_html
    scenarios = by_link["https://kennis.regio.example/publicaties/regisseur-energietransitie"]
    assert scenarios.published == date(2026, 11, 29)  # only <updated>: that date is used
    assert (
        scenarios.summary == "Welke rol kan de provincie spelen? Een verkenning in vier scenario's."
    )


def test_the_publication_date_is_the_day_in_the_netherlands_not_in_utc(feed_server, settings):
    # "Tue, 01 Dec 2026 00:30:00 +0100" is still 30 November in UTC.
    url = feed_server.serve("/rss.xml", Route(fixture("rss-goed.xml")))
    result = read(settings, feed("provincie", url))

    windpark = next(item for item in result.items if "windpark" in item.link)
    assert windpark.published == date(2026, 12, 1)


def test_a_good_feed_is_stored_by_sync(feed_server, settings, db):
    url = feed_server.serve("/rss.xml", Route(fixture("rss-goed.xml")))
    report = sync(db, settings, feed("provincie", url))

    assert not report.failed
    assert report.feeds == {"provincie": "ok"}
    assert report.added == 3
    rows = stored(db, "provincie")
    assert {row["link"] for row in rows} == {
        "https://www.provincie-voorbeeld.example/nieuws/mobiliteitsplan",
        "https://www.provincie-voorbeeld.example/nieuws/dorpshuizen",
        "https://www.provincie-voorbeeld.example/nieuws/windpark",
    }
    assert {row["kind"] for row in rows} == {"news"}
    assert {row["theme"] for row in rows} == {"digitalisering"}


# Conditional GET ----------------------------------------------------------------------------

ETAG = '"pv-nieuws-v1"'
LAST_MODIFIED = "Mon, 30 Nov 2026 09:00:00 GMT"


def test_the_second_sync_asks_only_for_changes_and_a_304_keeps_the_stored_items(
    feed_server, settings, db
):
    route = Route(fixture("rss-goed.xml"), etag=ETAG, last_modified=LAST_MODIFIED)
    one = feed("provincie", feed_server.serve("/rss.xml", route))

    first = sync(db, settings, one)
    assert first.feeds == {"provincie": "ok"}
    before = stored(db, "provincie")
    assert len(before) == 3

    second = sync(db, settings, one)

    first_request, second_request = feed_server.received("/rss.xml")
    assert "if-none-match" not in first_request
    assert "if-modified-since" not in first_request
    assert second_request["if-none-match"] == ETAG
    assert second_request["if-modified-since"] == LAST_MODIFIED
    assert second.feeds == {"provincie": "not-modified"}
    assert not second.failed
    assert second.added == second.updated == second.removed == 0
    after = stored(db, "provincie")
    assert [row["id"] for row in after] == [row["id"] for row in before]
    assert all(row["removed_at"] is None for row in after)


def test_after_a_304_the_next_sync_still_sends_the_validators(feed_server, settings, db):
    route = Route(fixture("rss-goed.xml"), etag=ETAG, last_modified=LAST_MODIFIED)
    one = feed("provincie", feed_server.serve("/rss.xml", route))

    for _ in range(3):
        sync(db, settings, one)

    third = feed_server.received("/rss.xml")[2]
    assert third["if-none-match"] == ETAG
    assert third["if-modified-since"] == LAST_MODIFIED


def test_a_changed_feed_address_is_fetched_in_full(feed_server, settings, db):
    route = Route(fixture("rss-goed.xml"), etag=ETAG, last_modified=LAST_MODIFIED)
    sync(db, settings, feed("provincie", feed_server.serve("/oud.xml", route)))

    report = sync(db, settings, feed("provincie", feed_server.serve("/nieuw.xml", route)))

    (request,) = feed_server.received("/nieuw.xml")
    assert "if-none-match" not in request and "if-modified-since" not in request
    assert report.feeds == {"provincie": "ok"}


# Broken feeds -------------------------------------------------------------------------------


def assert_failed(result: FeedResult, name: str, *words: str) -> None:
    assert result.status == "error"
    assert result.items == ()
    assert f"feed '{name}'" in result.error
    for word in words:
        assert word in result.error


def test_a_server_error_is_an_error_naming_the_feed_and_the_status(feed_server, settings):
    url = feed_server.serve("/rss.xml", Route(b"<h1>Interne serverfout</h1>", status=500))
    result = read(settings, feed("provincie", url))

    assert_failed(result, "provincie", "HTTP 500", url)


def test_a_server_slower_than_the_timeout_is_an_error_naming_the_feed(feed_server, settings):
    url = feed_server.serve("/traag.xml", Route(fixture("rss-goed.xml"), delay=2.0))
    result = read(settings, feed("traag", url, timeout=0.5))

    assert_failed(result, "traag", "no answer within 0.5 s")


def test_a_server_that_trickles_the_body_past_the_timeout_is_an_error(feed_server, settings):
    body = fixture("rss-goed.xml")
    route = Route(body, pieces=len(body) // 40, pause=0.1)  # about 4.5 s in all
    url = feed_server.serve("/druppel.xml", route)
    result = read(settings, feed("druppel", url, timeout=0.5))

    assert_failed(result, "druppel", "longer than 0.5 s")


def test_a_server_that_is_down_is_an_error_naming_the_feed(settings):
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/rss.xml"
    result = read(settings, feed("weg", url, timeout=2))

    assert_failed(result, "weg", url)


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/xml"])
def test_an_html_page_instead_of_a_feed_is_an_error_naming_the_feed(
    feed_server, settings, content_type
):
    page = (
        b"<!DOCTYPE html><html lang='nl'><head><title>Nieuws</title></head>"
        b"<body><h1>Nieuws</h1><p>Welkom op onze nieuwspagina.</p></body></html>"
    )
    url = feed_server.serve("/nieuws", Route(page, content_type=content_type))
    result = read(settings, feed("pagina", url))

    assert_failed(result, "pagina", "not an RSS or Atom feed")


def test_an_html_page_served_as_html_is_named_as_such(feed_server, settings):
    page = b"<!DOCTYPE html><html><body><p>Welkom</p></body></html>"
    url = feed_server.serve("/nieuws", Route(page, content_type="text/html"))
    result = read(settings, feed("pagina", url))

    assert_failed(result, "pagina", "is an HTML page", "check the feed address")


def test_malformed_xml_is_an_error_naming_the_feed(feed_server, settings):
    url = feed_server.serve("/kapot.xml", Route(fixture("kapot.xml")))
    result = read(settings, feed("kapot", url))

    assert_failed(result, "kapot", "not a readable RSS or Atom feed")


def test_a_feed_cut_off_halfway_keeps_its_complete_items_with_a_warning(feed_server, settings):
    url = feed_server.serve("/afgebroken.xml", Route(fixture("afgebroken.xml")))
    result = read(settings, feed("afgebroken", url))

    assert result.status == "ok"
    assert [item.title for item in result.items] == ["Statenleden bezoeken waterschap"]
    assert "feed 'afgebroken': read with problems" in result.warning


def test_a_body_larger_than_max_bytes_is_an_error_naming_the_feed(feed_server, settings):
    body = fixture("rss-goed.xml")
    assert len(body) > 512
    url = feed_server.serve("/groot.xml", Route(body))
    result = read(settings, feed("groot", url, max_bytes=512))

    assert_failed(result, "groot", "larger than 512 bytes", "max_bytes")


def test_a_wrongly_declared_encoding_is_read_correctly_with_a_warning(feed_server, settings):
    # Declared UTF-8, sent as Windows-1252: feedparser recovers, so the reader gets the story
    # with its Dutch characters intact, and the editor a warning naming the feed.
    body = fixture("verkeerde-codering.xml")
    url = feed_server.serve("/codering.xml", Route(body, content_type="application/rss+xml"))
    result = read(settings, feed("codering", url))

    assert result.status == "ok"
    (item,) = result.items
    assert item.title == "Coöperatie uit België opent “één” loket voor € 2 miljoen"
    assert "feed 'codering': read with problems" in result.warning
    assert "Windows-1252" in result.warning


# One feed never stops the others ------------------------------------------------------------


def test_a_broken_feed_does_not_stop_the_others_and_is_named_in_the_report(
    feed_server, settings, db
):
    broken = feed("kapot", feed_server.serve("/kapot.xml", Route(b"fout", status=500)))
    html = feed(
        "pagina",
        feed_server.serve(
            "/pagina", Route(b"<html><body>Hallo</body></html>", content_type="text/html")
        ),
    )
    good = feed("provincie", feed_server.serve("/rss.xml", Route(fixture("rss-goed.xml"))))

    report = sync_content(db, dataclasses.replace(settings, feeds=(broken, html, good)))

    assert report.failed
    assert report.feeds == {"kapot": "error", "pagina": "error", "provincie": "ok"}
    assert len(report.errors) == 2
    assert "feed 'kapot'" in report.errors[0] and "HTTP 500" in report.errors[0]
    assert "feed 'pagina'" in report.errors[1]
    assert "kapot error" in report.summary() and "2 failed" in report.summary()
    assert len(stored(db, "provincie")) == 3
    state = db.table("feeds").get("kapot")
    assert state["status"] == "error" and "HTTP 500" in state["error"]


def test_a_feed_failing_later_keeps_its_stored_items_and_validators(feed_server, settings, db):
    route = Route(fixture("rss-goed.xml"), etag=ETAG, last_modified=LAST_MODIFIED)
    one = feed("provincie", feed_server.serve("/rss.xml", route))
    sync(db, settings, one)

    feed_server.routes["/rss.xml"] = Route(b"onderhoud", status=503)
    failed = sync(db, settings, one)
    feed_server.routes["/rss.xml"] = route
    back = sync(db, settings, one)

    assert failed.feeds == {"provincie": "error"}
    assert len(stored(db, "provincie")) == 3
    assert feed_server.received("/rss.xml")[2]["if-none-match"] == ETAG
    assert back.feeds == {"provincie": "not-modified"}


# De-duplication -----------------------------------------------------------------------------


def test_a_story_listed_twice_in_one_feed_becomes_one_item(feed_server, settings):
    url = feed_server.serve("/dubbel.xml", Route(fixture("rss-dubbel.xml")))
    result = read(settings, feed("bestuur", url))

    assert result.status == "ok"
    # Same guid twice, and a new guid with a link already seen: the first of each is kept.
    assert [(item.title, item.link) for item in result.items] == [
        (
            "Algemene Vergadering kiest nieuwe voorzitter",
            "https://bestuur.regio.example/av-voorzitter",
        ),
        ("Jaarverslag 2025 gepubliceerd", "https://bestuur.regio.example/jaarverslag-2025"),
    ]
    assert len({item.id for item in result.items}) == 2


def test_syncing_the_same_feed_twice_adds_no_duplicate_rows(feed_server, settings, db):
    one = feed("bestuur", feed_server.serve("/dubbel.xml", Route(fixture("rss-dubbel.xml"))))

    first = sync(db, settings, one)
    second = sync(db, settings, one)

    assert first.added == 2
    assert second.added == 0 and second.updated == 0 and second.unchanged == 2
    rows = stored(db, "bestuur")
    assert len(rows) == 2
    assert len({row["link"] for row in rows}) == 2


def test_a_story_edited_between_syncs_is_updated_in_place(feed_server, settings, db):
    body = fixture("rss-goed.xml")
    one = feed("provincie", feed_server.serve("/rss.xml", Route(body)))
    sync(db, settings, one)

    edited = body.replace(b"met mobiliteitsplan</title>", b"met gewijzigd mobiliteitsplan</title>")
    assert edited != body
    feed_server.routes["/rss.xml"] = Route(edited)
    report = sync(db, settings, one)

    assert report.added == 0 and report.updated == 1 and report.unchanged == 2
    rows = stored(db, "provincie")
    assert len(rows) == 3
    titles = {row["title"] for row in rows}
    assert "Provinciale Staten stemmen in met gewijzigd mobiliteitsplan" in titles
    assert "Provinciale Staten stemmen in met mobiliteitsplan" not in titles


# Sanitised item HTML ------------------------------------------------------------------------


@pytest.fixture
def dirty(feed_server, settings):
    url = feed_server.serve("/vuil.xml", Route(fixture("rss-vuil.xml")))
    result = read(settings, feed("vuil", url))
    assert result.status == "ok"
    (item,) = result.items
    return item


def test_feed_html_loses_scripts_iframes_and_event_handlers(dirty):
    html = dirty.body_html.lower()
    for bad in (
        "<script",
        "document.cookie",
        "kwaad.example",
        "<iframe",
        "onclick",
        "onmouseover",
        "style=",
    ):
        assert bad not in html
    assert "de <strong>woondeal</strong> is getekend." in html
    assert "document.cookie" not in dirty.body_text and "steel()" not in dirty.body_text


def test_feed_html_loses_images_so_tracking_pixels_never_load(dirty):
    assert "<img" not in dirty.body_html
    assert "tracker.example" not in dirty.body_html + dirty.body_text


def test_feed_html_keeps_only_absolute_http_and_https_links(dirty):
    html = dirty.body_html
    for bad in ("javascript:", "data:", "mailto:", "bijlage.pdf", "kaart.html"):
        assert bad not in html
    assert 'href="https://nieuws.regio.example/woondeal/besluit"' in html
    assert 'href="http://archief.regio.example/woondeal"' in html
    assert html.count("href=") == 2
    # The words of a dropped link stay readable.
    for words in ("afspraken", "overzicht", "bijlage", "kaart", "mail"):
        assert words in html
    text = " ".join(dirty.body_text.split())
    assert "besluit (https://nieuws.regio.example/woondeal/besluit)" in text
    assert "archief (http://archief.regio.example/woondeal)" in text


def test_feed_items_without_a_date_get_today(feed_server, settings):
    body = fixture("rss-goed.xml").replace(b"<pubDate>", b"<!--").replace(b"</pubDate>", b"-->")
    url = feed_server.serve("/zonder-datum.xml", Route(body))
    result = read_feed(feed("provincie", url), settings, date(2026, 12, 3))

    assert result.status == "ok"
    assert len(result.items) == 3
    assert {item.published for item in result.items} == {date(2026, 12, 3)}


def test_a_story_republished_under_a_new_guid_is_not_stored_twice(feed_server, settings, db):
    body = fixture("rss-goed.xml")
    one = feed("provincie", feed_server.serve("/rss.xml", Route(body)))
    sync(db, settings, one)
    guids = re.findall(rb"<guid[^>]*>([^<]+)</guid>", body)
    assert guids, "the fixture has guids"
    feed_server.routes["/rss.xml"] = Route(body.replace(guids[0], b"nieuwe-guid-" + guids[0]))

    report = sync(db, settings, one)

    assert report.added == 0
    assert len(stored(db, "provincie")) == 3


# Deadlines and redirects (issue #13) ----------------------------------------------------------


def read_within(settings: Settings, one: Feed, limit: float = 60.0) -> FeedResult:
    """read() in a thread; a fetch that is still running after `limit` seconds has hung."""
    results: list[FeedResult] = []
    worker = threading.Thread(target=lambda: results.append(read(settings, one)), daemon=True)
    worker.start()
    worker.join(limit)
    assert results, f"feed '{one.name}' still fetching after {limit:g} s: the deadline failed"
    return results[0]


def test_a_server_that_trickles_its_headers_is_cut_off_by_the_deadline(feed_server, settings):
    url = feed_server.serve("/slowloris.xml", Route(header_pause=0.05))
    result = read_within(settings, feed("slowloris", url, timeout=1))

    assert_failed(result, "slowloris", "longer than 1 s")


def test_a_redirect_to_the_same_host_is_followed(feed_server, settings):
    feed_server.serve("/nieuw.xml", Route(fixture("rss-goed.xml")))
    url = feed_server.serve("/oud.xml", Route(location=feed_server.base + "/nieuw.xml"))
    result = read(settings, feed("verhuisd", url))

    assert result.status == "ok"
    assert result.items


def test_a_redirect_to_another_host_is_not_followed(feed_server, settings):
    other = feed_server.base.replace("127.0.0.1", "localhost") + "/elders.xml"
    feed_server.serve("/elders.xml", Route(fixture("rss-goed.xml")))
    url = feed_server.serve("/oud.xml", Route(location=other))
    result = read(settings, feed("verhuisd", url))

    assert_failed(result, "verhuisd", other, "host localhost is not allowed", "allow_redirects_to")
    assert feed_server.received("/elders.xml") == []  # never asked


def test_a_redirect_to_a_host_in_allow_redirects_to_is_followed(feed_server, settings):
    other = feed_server.base.replace("127.0.0.1", "localhost") + "/elders.xml"
    feed_server.serve("/elders.xml", Route(fixture("rss-goed.xml")))
    url = feed_server.serve("/oud.xml", Route(location=other))
    one = dataclasses.replace(feed("verhuisd", url), allow_redirects_to=("localhost",))
    result = read(settings, one)

    assert result.status == "ok"
    assert len(feed_server.received("/elders.xml")) == 1


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/feed.xml", "file:///etc/passwd"])
def test_a_redirect_to_another_scheme_is_not_followed(feed_server, settings, target):
    url = feed_server.serve("/oud.xml", Route(location=target))
    result = read(settings, feed("verhuisd", url))

    assert_failed(result, "verhuisd", target, "only http and https are followed")
