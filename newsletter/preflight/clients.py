"""Which HTML and CSS features of a message the main mail clients do not support (issue #16).

The data is caniemail.com's, as the `caniemail` npm package ships it (MIT; `make tools` puts
it in tools/node_modules/caniemail/, nothing is fetched while checking). The features a
message uses are found with html.parser and a few regular expressions over its style
attributes and <style> blocks; each is looked up for Outlook on Windows, Outlook.com, Gmail,
Apple Mail and Samsung Email (the newest test of each). What a client does not support is a
warning, never an error: the templates carry fallbacks (VML buttons, inlined styles).
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from newsletter.preflight.model import Finding
from newsletter.preflight.tools import TOOLS

DATA = Path("node_modules/caniemail/dist/data/caniemail.json")
# The clients a Statenlid reads on (name shown -> caniemail family and platform).
CLIENTS = {
    "Outlook (Windows)": ("outlook", "windows"),
    "Outlook.com": ("outlook", "outlook-com"),
    "Gmail": ("gmail", "desktop-webmail"),
    "Apple Mail": ("apple-mail", "macos"),
    "Samsung Email": ("samsung-email", "android"),
}
_DECLARATION = re.compile(r"(?<![\w-])([a-z-]+)\s*:\s*([^;{}]+)", re.I)
_AT_RULE = re.compile(r"@([a-z-]+)", re.I)
_PSEUDO = re.compile(r":{1,2}([a-z-]+)(?=[\s,{:.)\[]|$)", re.I)
_VALUE_FEATURES = {
    "rgba(": "css-rgba",
    "rgb(": "css-rgb",
    "linear-gradient(": "css-linear-gradient",
    "radial-gradient(": "css-radial-gradient",
    "calc(": "css-unit-calc",
    "var(": "css-variables",
    "!important": "css-important",
    "light-dark(": "css-function-light-dark",
}
_ATTRIBUTES = {
    "lang": "html-lang",
    "dir": "html-dir",
    "role": "html-role",
    "align": "html-align",
    "valign": "html-valign",
    "width": "html-width",
    "height": "html-height",
    "cellpadding": "html-cellpadding",
    "cellspacing": "html-cellspacing",
    "background": "html-background",
    "srcset": "html-srcset",
    "target": "html-target",
    "loading": "html-loading-attribute",
    "hidden": "html-hidden",
}


@dataclass(frozen=True)
class Feature:
    slug: str
    title: str
    support: dict[str, str]  # client name -> "y", "n", "a" (partly) or "u" (unknown)


def data_file() -> Path | None:
    path = Path(os.environ.get("NEWSLETTER_CANIEMAIL") or TOOLS / DATA)
    return path if path.is_file() else None


@functools.cache
def load_features(path: Path) -> dict[str, Feature]:
    """caniemail's features by slug, each with the newest test result of our clients."""
    data = json.loads(path.read_text(encoding="utf-8"))
    features = {}
    for entry in data["data"]:
        support = {}
        for client, (family, platform) in CLIENTS.items():
            tests = entry.get("stats", {}).get(family, {}).get(platform, {})
            if tests:
                support[client] = str(list(tests.values())[-1]).split()[0][:1]
        features[entry["slug"]] = Feature(entry["slug"], entry["title"], support)
    return features


class _Scan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.slugs: set[str] = set()
        self.css: list[str] = []
        self._in_style = False

    def handle_decl(self, decl: str) -> None:
        if decl.lower().startswith("doctype"):
            self.slugs.add("html-doctype")

    def handle_comment(self, data: str) -> None:
        if not data.startswith("[if") and not data.startswith("<![endif"):
            self.slugs.add("html-comments")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        self.slugs.add(f"html-{tag}")
        if re.fullmatch(r"h[1-6]", tag):
            self.slugs.add("html-h1-h6")
        if tag in ("ul", "ol"):
            self.slugs.add("html-lists")
        if tag in ("section", "article", "header", "footer", "nav", "main", "aside"):
            self.slugs.add("html-semantics")
        values = {name.lower(): value or "" for name, value in attrs}
        for name, value in values.items():
            if name in _ATTRIBUTES:
                self.slugs.add(_ATTRIBUTES[name])
            if name.startswith("aria-"):
                self.slugs.add(f"html-{name}")
            if name == "style":
                self.css.append(value)
        if tag == "meta" and values.get("name", "").lower() == "color-scheme":
            self.slugs.add("html-meta-color-scheme")
        href = values.get("href", "")
        if tag == "a" and href.startswith("mailto:"):
            self.slugs.add("html-mailto-links")
        if tag == "a" and href.startswith("#"):
            self.slugs.add("html-anchor-links")
        if tag == "img":
            src = values.get("src", "").lower()
            if src.startswith("data:"):
                self.slugs.add("image-base64")
            ext = re.search(r"\.([a-z0-9]+)(?:$|\?)", src)
            if ext:
                self.slugs.add(f"image-{'jpg' if ext[1] == 'jpeg' else ext[1]}")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.css.append(data)


def _selectors(css: str) -> list[str]:
    """The text before each "{" back to the previous brace (a selector or an at-rule's head).

    What re.findall(r"([^{}]+)\\{", css) finds, in linear time: that pattern backtracks over
    every brace-free run that no "{" follows, and an issue's inline styles, joined, are one
    such run of tens of kilobytes (minutes per variant: the preflight's slowest step).
    """
    pieces = css.split("{")[:-1]  # each piece but the last is followed by a "{"
    return [part for piece in pieces if (part := piece.rpartition("}")[2])]


def _css_slugs(css: str, known: Mapping[str, Feature]) -> set[str]:
    slugs = set()
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    for rule in _AT_RULE.findall(css):
        slugs.add(f"css-at-{rule.lower()}")
    if re.search(r"prefers-color-scheme", css, re.I):
        slugs.add("css-at-media-prefers-color-scheme")
    for selector_part in _selectors(css):
        if not selector_part.strip().startswith("@"):
            for pseudo in _PSEUDO.findall(selector_part):
                kind = "element" if f"::{pseudo}" in selector_part else "class"
                slugs.add(f"css-pseudo-{kind}-{pseudo.lower()}")
    for prop, value in _DECLARATION.findall(css):
        prop = prop.lower()
        if prop.startswith(("-", "mso-")):
            continue  # vendor properties are fallbacks for one client by design
        name = prop
        while name and f"css-{name}" not in known:
            name = name.rpartition("-")[0]  # padding-top -> padding, border-bottom -> border
        if name:
            slugs.add(f"css-{name}")
        value = value.strip().lower()
        if prop == "display" and value.split()[0] in ("flex", "grid", "none"):
            slugs.add(f"css-display-{value.split()[0]}")
        for marker, slug in _VALUE_FEATURES.items():
            if marker in value:
                slugs.add(slug)
    return slugs


def features_used(html: str, known: Mapping[str, Feature]) -> set[str]:
    """The caniemail features (slugs) this HTML uses."""
    scan = _Scan()
    scan.feed(html)
    scan.close()
    slugs = scan.slugs | _css_slugs("\n".join(scan.css), known)
    return {s for s in slugs if s in known}


def unsupported(html: str, known: Mapping[str, Feature]) -> dict[str, list[Feature]]:
    """Per client, the features this HTML uses that the client does not support."""
    used = sorted(features_used(html, known))
    return {
        client: [known[s] for s in used if known[s].support.get(client) == "n"]
        for client in CLIENTS
    }


def client_findings(htmls: Mapping[str, str], path: Path | None = None) -> list[Finding]:
    """One warning per client and distinct set of unsupported features over these messages
    (the variants of an issue share their template: reported once, for the first)."""
    path = path or data_file()
    if path is None:
        return [
            Finding(
                "warning",
                "tool-missing",
                next(iter(htmls), "all"),
                "caniemail data not found: client support not checked",
                "install it: make tools (the caniemail npm package, into tools/)",
                part="tool",
            )
        ]
    known = load_features(path)
    seen: dict[tuple[str, tuple[str, ...]], str] = {}
    findings = []
    for name, html in htmls.items():
        for client, features in unsupported(html, known).items():
            key = (client, tuple(f.slug for f in features))
            if not features or key in seen:
                continue
            seen[key] = name
            titles = ", ".join(f.title for f in features)
            findings.append(
                Finding(
                    "warning",
                    "client-support",
                    name,
                    f"{client} does not support: {titles}",
                    f"check the fallback for {client} (caniemail.com), or do without",
                    part="caniemail",
                )
            )
    return findings
