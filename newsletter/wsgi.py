"""Serving a WSGI app under the path of its base URL, for `newsletter serve` and `console`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def url_path(base_url: str) -> str:
    """The path a base URL names ("" for the root), e.g. /nieuwsbrief."""
    return urlsplit(base_url).path.rstrip("/")


def mounted(app: Any, path: str, name: str) -> Any:
    """The app under path only (SCRIPT_NAME=path, so every link carries it); / redirects
    there and any other path is not found: the app has one address. `name` says in Dutch
    what is served there (e.g. "de console"), for that not-found page."""
    if not path:
        return app

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        info = environ.get("PATH_INFO", "")
        if info == path or info.startswith(path + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + path
            environ["PATH_INFO"] = info[len(path) :]
            return app(environ, start_response)
        if info in ("", "/"):
            start_response("302 Found", [("Location", path + "/"), ("Content-Length", "0")])
            return [b""]
        body = f"Niet gevonden: {name} staat op {path}/".encode()
        headers = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ]
        start_response("404 Not Found", headers)
        return [body]

    return wsgi
