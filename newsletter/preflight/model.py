"""The HTML model the preflight checks read: elements with their lines, styles and colours;
Finding, and the Context that collects the findings of one message or page."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser

from newsletter.config import Settings

MIN_CONTRAST, MIN_CONTRAST_LARGE = 4.5, 3.0
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
NAMED_COLORS = {
    "white": "#ffffff",
    "black": "#000000",
    "red": "#ff0000",
    "green": "#008000",
    "blue": "#0000ff",
    "gray": "#808080",
    "grey": "#808080",
    "silver": "#c0c0c0",
    "yellow": "#ffff00",
    "navy": "#000080",
    "maroon": "#800000",
    "purple": "#800080",
    "teal": "#008080",
    "olive": "#808000",
    "lime": "#00ff00",
    "aqua": "#00ffff",
    "fuchsia": "#ff00ff",
    "orange": "#ffa500",
    "lightgray": "#d3d3d3",
    "lightgrey": "#d3d3d3",
    "darkgray": "#a9a9a9",
    "darkgrey": "#a9a9a9",
}


@dataclass(frozen=True)
class Finding:
    """One thing to fix (error: blocks sending) or to look at (warning), and where it is."""

    severity: str  # "error" | "warning"
    check: str  # a stable id, e.g. "img-alt", "contrast", "header-missing"
    name: str  # the variant or message checked, e.g. "GLD", "web:archief"
    message: str
    fix: str
    part: str = "html"  # html | text | headers | message | tool
    line: int | None = None
    section: str = ""
    item: str = ""
    source: str = ""  # the content file of the item, when known

    @property
    def where(self) -> str:
        parts = []
        if self.part != "html" or self.line is None:
            parts.append({"text": "text part", "headers": "headers"}.get(self.part, self.part))
        if self.line is not None:
            parts.append(f"line {self.line}")
        place = " › ".join(p for p in (self.section, self.item) if p)
        if place:
            parts.append(f"in {place}" + (f" ({self.source})" if self.source else ""))
        return ", ".join(parts)


# -- the HTML model ---------------------------------------------------------------------------


@dataclass(eq=False)
class Node:
    tag: str
    attrs: dict[str, str]
    line: int
    parent: Node | None
    section: Node | None = None  # the h2 this element follows
    item: Node | None = None  # the h3 this element follows
    children: list[Node | str] = field(default_factory=list)
    _style: dict[str, str] | None = None

    @property
    def style(self) -> dict[str, str]:
        if self._style is None:
            self._style = parse_style(self.attrs.get("style", ""))
        return self._style

    def ancestors(self) -> Iterator[Node]:
        node: Node | None = self
        while node is not None:
            yield node
            node = node.parent

    def walk(self) -> Iterator[Node]:
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()

    def text(self) -> str:
        return " ".join(
            " ".join(c.split()) if isinstance(c, str) else c.text() for c in self.children
        ).strip()

    def label(self) -> str:
        """What a screen reader says for a link: its text, or the alt of its images."""
        words = [self.text()] + [n.attrs.get("alt", "") for n in self.walk() if n.tag == "img"]
        return " ".join(w for w in words if w).strip()

    @property
    def hidden(self) -> bool:
        for node in self.ancestors():
            s = node.style
            if (
                s.get("display") == "none"
                or s.get("visibility") == "hidden"
                or s.get("opacity") in ("0", "0.0")
                or node.tag in ("head", "style", "script", "title", "template")
                or "hidden" in node.attrs
            ):
                return True
        return False


def parse_style(style: str) -> dict[str, str]:
    out = {}
    for declaration in style.split(";"):
        name, _, value = declaration.partition(":")
        if value:
            out[name.strip().lower()] = value.replace("!important", "").strip().lower()
    return out


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, 1, None)
        self.stack = [self.root]
        self.section: Node | None = None
        self.item: Node | None = None
        self.texts: list[tuple[str, Node, int]] = []

    def _node(self, tag: str, attrs: list[tuple[str, str | None]]) -> Node:
        node = Node(
            tag,
            {k.lower(): v or "" for k, v in attrs},
            self.getpos()[0],
            self.stack[-1],
            self.section,
            self.item,
        )
        self.stack[-1].children.append(node)
        if tag == "h2":
            self.section, self.item = node, None
        elif tag in ("h1",):
            self.section = self.item = None
        elif tag == "h3":
            self.item = node
        node.section, node.item = self.section, self.item
        return node

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = self._node(tag, attrs)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._node(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if any(n.tag == tag for n in self.stack[1:]):
            while self.stack[-1].tag != tag:
                self.stack.pop()
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)
        if data.strip():
            self.texts.append((data, self.stack[-1], self.getpos()[0]))


def parse_html(html: str) -> TreeBuilder:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder


# -- colours ----------------------------------------------------------------------------------

_HEX = re.compile(r"#([0-9a-f]{3}|[0-9a-f]{6})\b")
_RGB = re.compile(r"rgba?\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)(?:[\s,/]+([\d.]+%?))?\s*\)")


def parse_color(value: str) -> tuple[float, float, float] | None:
    """#rgb, #rrggbb, rgb()/rgba() and the basic names; None for what we cannot tell."""
    value = value.strip().lower()
    value = NAMED_COLORS.get(value, value)
    match = _HEX.search(value)
    if match:
        digits = match[1]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return tuple(int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]
    match = _RGB.search(value)
    if match:
        alpha = match[4]
        if alpha is not None and (alpha in ("0", "0%") or float(alpha.rstrip("%")) == 0):
            return None
        return tuple(min(255, int(match[i])) / 255 for i in (1, 2, 3))  # type: ignore[return-value]
    for word in value.split():
        if word in NAMED_COLORS:
            return parse_color(NAMED_COLORS[word])
    return None


def luminance(rgb: tuple[float, float, float]) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    """The WCAG 2.1 contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def hex_color(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb)


def foreground(node: Node) -> tuple[float, float, float]:
    for n in node.ancestors():
        value = n.style.get("color") or (n.attrs.get("color") if n.tag == "font" else None)
        if value and (color := parse_color(value)):
            return color
    return (0.0, 0.0, 0.0)


def background(node: Node) -> tuple[float, float, float]:
    for n in node.ancestors():
        for value in (
            n.style.get("background-color"),
            n.style.get("background"),
            n.attrs.get("bgcolor"),
        ):
            if value and (color := parse_color(value)):
                return color
    return (1.0, 1.0, 1.0)


def is_large(node: Node) -> bool:
    """WCAG large text: 24px, or 18.66px bold (headings are bold by default)."""
    size = None
    bold = False
    for n in node.ancestors():
        s = n.style
        if size is None and (m := re.match(r"([\d.]+)(px|pt)", s.get("font-size", ""))):
            size = float(m[1]) * (4 / 3 if m[2] == "pt" else 1)
        weight = s.get("font-weight", "")
        if n.tag in ("b", "strong", "h1", "h2", "h3", "th") or weight in ("bold", "bolder"):
            bold = True
        if weight.isdigit() and int(weight) >= 700:
            bold = True
    if size is None:
        return node.tag in ("h1", "h2")
    return size >= 24 or (bold and size >= 18.66)


# -- the checks -------------------------------------------------------------------------------


@dataclass
class Context:
    name: str
    settings: Settings
    allowed: tuple[str, ...]
    sources: Mapping[str, str]
    findings: list[Finding] = field(default_factory=list)

    def add(
        self,
        severity: str,
        check: str,
        message: str,
        fix: str,
        node: Node | None = None,
        part: str = "html",
        line: int | None = None,
    ) -> None:
        section = node.section.text() if node is not None and node.section else ""
        item = node.item.text() if node is not None and node.item else ""
        source = next((p for t, p in self.sources.items() if item and item.startswith(t)), "")
        self.findings.append(
            Finding(
                severity,
                check,
                self.name,
                message,
                fix,
                part,
                line if line is not None else (node.line if node is not None else None),
                section,
                item,
                source,
            )
        )
