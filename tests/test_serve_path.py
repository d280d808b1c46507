"""`newsletter serve` at the path of base_url (issue #14): a real process under waitress on
127.0.0.1 serves base_url https://www.ipo.example/nieuwsbrief at http://127.0.0.1:PORT/nieuwsbrief
(as the proxy forwards it, path unchanged), and every link a public page emits (relative,
absolute, redirects, the feed) carries the path and works there."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from newsletter.config import load_settings
from newsletter.issues.build import build_issue
from newsletter.outbound.issue_mail import deliver_issue
from newsletter.outbound.transports import MemoryTransport
from tests.test_console import free_port, start, stop, wait_for

pytestmark = pytest.mark.slow
PATH = "/nieuwsbrief"


def links(page: str, url: str) -> set[str]:
    """Every href of a page to another page, as absolute URLs."""
    return {urljoin(url, h) for h in re.findall(r'href="([^"#]+)"', page)}


def test_every_public_page_and_link_works_under_the_base_urls_path(
    instance, loaded, december
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}{PATH}"
    settings = load_settings(instance)
    public = settings.base_url  # https://www.ipo.example/nieuwsbrief: the proxy's address
    assert settings.path == PATH and settings.local_url(port=port) == base + "/"
    deliver_issue(
        loaded, settings, build_issue(loaded, settings, "2026-12").rendered, MemoryTransport
    )
    process, log = start(instance, "serve", "--port", str(port))
    try:
        wait_for(f"{base}/archief/", process)
        root = requests.get(f"http://127.0.0.1:{port}/", allow_redirects=False, timeout=10)
        assert root.status_code == 302 and root.headers["Location"] == f"{PATH}/"
        outside = requests.get(f"http://127.0.0.1:{port}/archief/", timeout=10)
        assert outside.status_code == 404 and f"{PATH}/" in outside.text
        slash = requests.get(f"{base}/archief", allow_redirects=False, timeout=10)
        assert slash.status_code == 308 and slash.headers["Location"] == f"{public}/archief/"

        archive = requests.get(f"{base}/archief/", timeout=10)
        assert archive.status_code == 200
        found = links(archive.text, archive.url)
        assert f"{base}/archief/2026-12/" in found and f"{base}/archief/feed.atom" in found
        feed = requests.get(f"{base}/archief/feed.atom", timeout=10)
        found |= {u for u in re.findall(r'href="([^"]+)"', feed.text)}
        missing = requests.get(f"{base}/bestaat-niet", timeout=10)
        assert missing.status_code == 404
        found |= links(missing.text, missing.url)
        # What the proxy would forward: base_url's links arrive here with the path unchanged.
        ours = sorted(u.replace(public, base, 1) for u in found if u.startswith((public, base)))
        assert len(ours) >= 4, ours
        for url in ours:
            assert urlsplit(url).path.startswith(f"{PATH}/"), url
            assert requests.get(url, timeout=10).status_code == 200, url

        signup = requests.get(f"{base}/aanmelden", timeout=10)
        assert signup.status_code == 200 and '<form method="post"' in signup.text
    finally:
        stop(process)
    stderr = log.read_text(encoding="utf-8")
    assert f"on {base}/" in stderr and "development server" not in stderr.lower()
