"""The Python checks of preflight (issue #8): one message's headers, HTML and text part.

Plain Python, no tools, always run: accessibility (lang, alt, headings, layout tables, link
text, contrast from the inlined styles, images alone), deliverability (size, text part,
preheader, subject, links and hosts, required headers, tracking pixels). html.parser gives the
line of each element; the h2 and h3 an element follows name its section and item.
"""

from __future__ import annotations

import colorsys
import email
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from urllib.parse import urlsplit

from newsletter.config import Settings
from newsletter.errors import ConfigError

GMAIL_CLIP = 102 * 1024  # Gmail hides everything after this many bytes of HTML
SIZE_ERROR = 96 * 1024  # the clip with a margin (headers and Gmail's own counting vary)
SIZE_WARNING = 85 * 1024
SUBJECT_WARNING = 70
MIN_CONTRAST, MIN_CONTRAST_LARGE = 4.5, 3.0
REQUIRED_HEADERS = (
    "From",
    "Reply-To",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)
AT_MOST_ONCE = ("Sender", "Cc", "Bcc", "In-Reply-To", "References", "Content-Type")
VAGUE_LINKS = {
    "klik hier",
    "klik",
    "hier",
    "lees meer",
    "meer",
    "lees verder",
    "verder",
    "meer informatie",
    "meer info",
    "link",
    "deze link",
    "bekijk",
    "click here",
    "here",
    "read more",
    "more",
}
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


class _TreeBuilder(HTMLParser):
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


def parse_html(html: str) -> _TreeBuilder:
    builder = _TreeBuilder()
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


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgb)


def _foreground(node: Node) -> tuple[float, float, float]:
    for n in node.ancestors():
        value = n.style.get("color") or (n.attrs.get("color") if n.tag == "font" else None)
        if value and (color := parse_color(value)):
            return color
    return (0.0, 0.0, 0.0)


def _background(node: Node) -> tuple[float, float, float]:
    for n in node.ancestors():
        for value in (
            n.style.get("background-color"),
            n.style.get("background"),
            n.attrs.get("bgcolor"),
        ):
            if value and (color := parse_color(value)):
                return color
    return (1.0, 1.0, 1.0)


def _is_large(node: Node) -> bool:
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
class _Context:
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


def allowed_hosts(settings: Settings) -> tuple[str, ...]:
    """The hosts links may point to: ours (base_url, privacy_url, the sender's domain, the
    feeds') and [preflight] allowed_hosts (default: config.DEFAULT_ALLOWED_HOSTS).

    A bad [preflight] setting is a ConfigError here, before anything is built."""
    if settings.preflight.problem:
        raise ConfigError(settings.preflight.problem)
    extra = settings.preflight.allowed_hosts
    ours = [
        urlsplit(settings.base_url).hostname or "",
        urlsplit(settings.privacy_url).hostname or "",
        settings.sender_domain,
        *(urlsplit(f.url).hostname or "" for f in settings.feeds if f.url.startswith("https:")),
    ]
    return tuple(dict.fromkeys(h.lower().strip().lstrip(".") for h in [*ours, *extra] if h))


def _host_allowed(host: str, allowed: Iterable[str]) -> bool:
    return any(host == a or host.endswith("." + a) for a in allowed)


def check_headers(ctx: _Context, message: EmailMessage, extra_required: Sequence[str]) -> None:
    fix_ours = "headers come from messages.make_skeleton: build the message with it"
    for name in (*REQUIRED_HEADERS, *extra_required):
        count = len(message.get_all(name) or [])
        if count == 0:
            ctx.add("error", "header-missing", f"no {name} header", fix_ours, part="headers")
        elif count > 1:
            ctx.add(
                "error",
                "header-duplicate",
                f"{name} appears {count} times; it must appear exactly once",
                "remove the extra header (a second one is often added by extra_headers)",
                part="headers",
            )
    for name in AT_MOST_ONCE:
        if len(message.get_all(name) or []) > 1:
            ctx.add(
                "error",
                "header-duplicate",
                f"{name} appears more than once",
                "keep one",
                part="headers",
            )
    unsubscribe = str(message.get("List-Unsubscribe", ""))
    if unsubscribe:
        targets = re.findall(r"<([^>]+)>", unsubscribe)
        if not any(t.startswith("https://") for t in targets) or not any(
            t.startswith("mailto:") for t in targets
        ):
            ctx.add(
                "error",
                "list-unsubscribe",
                f"List-Unsubscribe '{unsubscribe[:80]}' needs an <https://…> and a <mailto:…> URL",
                "write List-Unsubscribe: <https://…/afmelden/TOKEN>, <mailto:…?subject=afmelden>",
                part="headers",
            )
    post = message.get("List-Unsubscribe-Post")
    if post is not None and str(post).strip() != "List-Unsubscribe=One-Click":
        ctx.add(
            "error",
            "list-unsubscribe-post",
            f"List-Unsubscribe-Post is '{post}'",
            "write List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058)",
            part="headers",
        )
    if message.get_content_type() != "multipart/alternative":
        ctx.add(
            "error",
            "multipart",
            f"the message is {message.get_content_type()}, not multipart/alternative",
            "send a text part and an HTML part as multipart/alternative",
            part="message",
        )
    subject = " ".join(str(message.get("Subject", "")).split())
    if len(subject) > SUBJECT_WARNING:
        ctx.add(
            "warning",
            "subject-length",
            f"the subject is {len(subject)} characters; phones show about {SUBJECT_WARNING}",
            "shorten subject: in the issue file",
            part="headers",
        )
    letters = [c for c in subject if c.isalpha()]
    if len(letters) >= 4 and all(c.isupper() for c in letters):
        ctx.add(
            "error",
            "subject-caps",
            f"the subject '{subject}' is in capitals",
            "write the subject in normal sentence case (capitals read as shouting and as spam)",
            part="headers",
        )


@dataclass
class _Document:
    tree: _TreeBuilder
    mail: bool
    nodes: list[Node] = field(default_factory=list)
    visible: list[Node] = field(default_factory=list)
    html_el: Node | None = None
    body: Node | None = None


def check_html(ctx: _Context, html: str, text: str | None, mail: bool = True) -> None:
    """The HTML checks; a web page (mail=False) may use relative links and needs no wrapper."""
    tree = parse_html(html)
    nodes = list(tree.root.walk())
    doc = _Document(
        tree,
        mail,
        nodes,
        [n for n in nodes if not n.hidden],
        next((n for n in nodes if n.tag == "html"), None),
        next((n for n in nodes if n.tag == "body"), None),
    )
    _check_lang(ctx, doc)
    _check_headings(ctx, doc)
    _check_tables(ctx, doc)
    _check_images(ctx, doc)
    _check_links(ctx, doc)
    _check_images_alone(ctx, doc, _check_contrast(ctx, doc))
    if mail:
        _check_preheader(ctx, doc)
        if text is not None:
            _compare_text(ctx, doc.visible, nodes, text)


def _check_lang(ctx: _Context, doc: _Document) -> None:
    """lang="nl" on <html> and on a wrapper inside <body> (webmail drops <html>)."""
    if doc.html_el is None or not doc.html_el.attrs.get("lang", "").lower().startswith("nl"):
        ctx.add(
            "error",
            "lang",
            'the <html> element has no lang="nl"',
            'write <mjml lang="nl"> in the template',
            doc.html_el,
        )
    if doc.mail and (
        doc.body is None
        or not any(n.attrs.get("lang", "").lower().startswith("nl") for n in doc.body.walk())
    ):
        ctx.add(
            "error",
            "lang-wrapper",
            'no element inside <body> has lang="nl" (webmail removes <html>)',
            'write <mjml lang="nl"> (MJML puts it on the wrapper) or wrap the body in '
            '<div lang="nl">',
            doc.body,
        )


def _check_headings(ctx: _Context, doc: _Document) -> None:
    """One <h1>, and no heading level skipped."""
    headings = [n for n in doc.visible if re.fullmatch(r"h[1-6]", n.tag)]
    h1s = [n for n in headings if n.tag == "h1"]
    if len(h1s) != 1:
        ctx.add(
            "error",
            "headings",
            f"{len(h1s)} <h1> headings; a message has exactly one",
            "keep one <h1> (the issue title) and use <h2>/<h3> below it",
            h1s[1] if len(h1s) > 1 else None,
        )
    level = 0
    for heading in headings:
        new = int(heading.tag[1])
        if new > level + 1:
            ctx.add(
                "error",
                "heading-order",
                f"<{heading.tag}> '{heading.text()[:60]}' follows "
                f"{'<h' + str(level) + '>' if level else 'no heading'}",
                f"use <h{level + 1}> here, or add the missing level above it",
                heading,
            )
        level = new


def _check_tables(ctx: _Context, doc: _Document) -> None:
    """Layout tables are role="presentation"; a data table has headers."""
    for table in (n for n in doc.nodes if n.tag == "table"):
        if table.attrs.get("role") in ("presentation", "none"):
            continue
        if any(n.tag in ("th", "caption") for n in table.walk()):
            continue  # a data table, with headers
        ctx.add(
            "error",
            "layout-table",
            '<table> without role="presentation"',
            'add role="presentation" to layout tables (MJML does this for its own tables); a data '
            "table needs <th> headers",
            table,
        )


def _check_images(ctx: _Context, doc: _Document) -> None:
    """Alt text, tracking pixels, remote images over https only."""
    images = [n for n in doc.nodes if n.tag == "img"]
    for img in images:
        src = img.attrs.get("src", "")
        decorative = (
            img.attrs.get("role") in ("presentation", "none")
            or img.attrs.get("aria-hidden") == "true"
        )
        if "alt" not in img.attrs:
            ctx.add(
                "error",
                "img-alt",
                f"<img src='{src[:70]}'> has no alt text",
                'add alt="what the image shows or says"; alt="" with role="presentation" only '
                "for decoration",
                img,
            )
        elif not img.attrs["alt"].strip() and not decorative:
            ctx.add(
                "warning",
                "img-alt-empty",
                f"<img src='{src[:70]}'> has an empty alt but is not marked decorative",
                'describe the image in alt, or add role="presentation" when it is decoration',
                img,
            )
        if _tiny(img):
            ctx.add(
                "error",
                "tracking-pixel",
                f"a 1x1 or hidden image '{src[:70]}' (an open-tracking pixel)",
                "remove it: tracking pixels are personal data and not used here (AVG)",
                img,
            )
        elif src.startswith(("http://", "https://")) and urlsplit(src).query:
            ctx.add(
                "warning",
                "image-query",
                f"remote image with a query string '{src[:70]}' can track who opens the mail",
                "link the image without ?… parameters",
                img,
            )
        _check_url(ctx, src, img, "image", doc.mail)


def _check_links(ctx: _Context, doc: _Document) -> None:
    """Where links go, and what their text says."""
    for link in (n for n in doc.nodes if n.tag == "a" and "href" in n.attrs):
        href = link.attrs["href"].strip()
        _check_url(ctx, href, link, "link", doc.mail)
        if link.hidden:
            continue
        label = link.label()
        plain = re.sub(r"[^\w\s]", "", label.lower()).strip()
        if not label:
            ctx.add(
                "error",
                "link-text",
                f"a link to {href[:70]} has no text",
                "give the link text that says where it goes",
                link,
            )
        elif plain in VAGUE_LINKS:
            ctx.add(
                "error",
                "link-text",
                f"link text '{label}' does not say where it goes ({href[:70]})",
                "write what the reader finds there, e.g. 'Lees het besluit over …'",
                link,
            )
        elif re.fullmatch(r"(https?://|www\.)\S+", label.strip()):
            ctx.add(
                "error",
                "link-text-url",
                f"link text is a bare URL '{label[:70]}'",
                "write what the reader finds there instead of the address",
                link,
            )


def _check_contrast(ctx: _Context, doc: _Document) -> int:
    """The contrast of every visible text; returns the number of words shown."""
    reported: set[tuple[str, str, str]] = set()
    words = 0
    for data, parent, line in doc.tree.texts:
        if parent.hidden:
            continue
        words += len(data.split())
        fg, bg = _foreground(parent), _background(parent)
        ratio = contrast(fg, bg)
        needed = MIN_CONTRAST_LARGE if _is_large(parent) else MIN_CONTRAST
        if ratio < needed:
            key = (_hex(fg), _hex(bg), parent.section.text() if parent.section else "")
            if key in reported:
                continue
            reported.add(key)
            ctx.add(
                "error",
                "contrast",
                f"text '{data.strip()[:50]}' is {_hex(fg)} on {_hex(bg)}: contrast "
                f"{ratio:.2f}:1, needs {needed:g}:1",
                f"darken the text or lighten the background (e.g. {_suggest(fg, bg, needed)} "
                f"on {_hex(bg)})",
                parent,
                line=line,
            )
    return words


def _check_images_alone(ctx: _Context, doc: _Document, words: int) -> None:
    """Nothing said in images alone."""
    images = [n for n in doc.nodes if n.tag == "img"]
    shown = [i for i in images if not _tiny(i) and not i.hidden]
    if shown and words < 20:
        ctx.add(
            "error",
            "image-only",
            f"{len(shown)} images and only {words} words of text: readers without images "
            "(and SpamAssassin) see nothing",
            "write the message as text; use images only to illustrate it",
        )
    elif shown and words < 60 * len(shown):
        ctx.add(
            "warning",
            "little-text",
            f"{words} words for {len(shown)} images",
            "make sure nothing is said only in an image",
        )


def _check_preheader(ctx: _Context, doc: _Document) -> None:
    """The hidden first text that inbox lists show after the subject."""
    body = doc.body
    first = next(
        (
            parent
            for _, parent, _ in doc.tree.texts
            if body is not None and any(a is body for a in parent.ancestors())
        ),
        None,
    )
    if first is None or not first.hidden:
        ctx.add(
            "warning",
            "preheader",
            "no preheader (hidden preview text at the top of the body)",
            "set preheader: in the issue file (the hidden first <div> of the template)",
            first,
        )


def _tiny(img: Node) -> bool:
    """1x1, 0 wide, or hidden by CSS (display, visibility, opacity, max-height: 0): an image no
    reader sees, which only a tracking pixel has a reason to be."""
    if img.hidden:
        return True
    for key in ("width", "height", "max-width", "max-height"):
        for value in (img.attrs.get(key, ""), img.style.get(key, "")):
            value = value.replace("!important", "")
            match = re.match(r"\s*(\d+(?:\.\d+)?)\s*(px|%)?\s*$", value)
            if match and float(match[1]) <= 1:
                return True
    opacity = img.style.get("opacity", "").replace("!important", "").strip()
    try:
        return bool(opacity) and float(opacity) <= 0.01
    except ValueError:
        return False


def _suggest(fg: tuple[float, float, float], bg: tuple[float, float, float], needed: float) -> str:
    """A darker or lighter shade of the text colour that passes."""
    hue, lightness, sat = colorsys.rgb_to_hls(*fg)
    dark = luminance(bg) > 0.18
    for step in range(1, 21):
        light = max(0.0, lightness - step * 0.05) if dark else min(1.0, lightness + step * 0.05)
        candidate = colorsys.hls_to_rgb(hue, light, sat)
        if contrast(candidate, bg) >= needed:
            return _hex(candidate)
    return "#000000" if dark else "#ffffff"


def _check_url(ctx: _Context, url: str, node: Node, what: str, mail: bool = True) -> None:
    if not mail and not urlsplit(url).scheme:
        return  # a relative link on a web page
    if not url or url.startswith("#"):
        if mail and what == "link" and url.startswith("#") and len(url) > 1:
            ctx.add(
                "warning",
                "link-anchor",
                f"link to '{url}' inside the message; many mail apps ignore it",
                "link to the web version instead",
                node,
            )
        return
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if what == "link" and scheme in ("mailto", "tel"):
        return
    host = (parts.hostname or "").lower()
    if scheme == "http":
        problem, fix = f"{what} uses http: {url[:80]}", "use the https:// address"
    elif scheme != "https" or not host:
        problem = f"{what} is not an absolute https:// URL: {url[:80]}"
        fix = "write the full https:// address (mail has no base address)"
    elif host == "localhost" or host.endswith(".localhost") or re.fullmatch(r"[\d.:\[\]]+", host):
        problem = f"{what} points to a local or numeric host: {url[:80]}"
        fix = "use the public https address; check base_url in newsletter.toml"
    elif not _host_allowed(host, ctx.allowed):
        problem = f"{what} points to {host}, which is not an allowed host ({url[:80]})"
        fix = (
            f"check the address; if {host} is right, add it to [preflight] allowed_hosts in "
            "newsletter.toml"
        )
    else:
        return
    ctx.add("error", "link-host" if scheme == "https" else "link-https", problem, fix, node)


def _normal(text: str) -> str:
    return " ".join(text.replace("\u00ad", "").split()).casefold()


def _compare_text(ctx: _Context, visible: list[Node], nodes: list[Node], text: str) -> None:
    """The text part says the same: every heading (item titles) and every link is in it."""
    flat = _normal(text)
    for heading in (n for n in visible if n.tag in ("h1", "h2", "h3")):
        title = _normal(heading.text())
        if title and title not in flat:
            ctx.add(
                "error",
                "text-part-item",
                f"'{heading.text()[:70]}' is in the HTML but not in the text part",
                "render the same items in templates/email/*.txt.j2 as in the HTML",
                heading,
            )
    seen = set()
    for link in (n for n in nodes if n.tag == "a" and "href" in n.attrs):
        href = link.attrs["href"].strip()
        target = href.removeprefix("mailto:").split("?")[0] if href.startswith("mailto:") else href
        if not target or target.startswith(("#", "tel:")) or target in seen:
            continue  # a phone link's number is written its own way in the text
        seen.add(target)
        # The whole address, not the start of a longer one (…/archief/2026-12/ is the start
        # of every .ics link of the issue: it must be in the text on its own too).
        if not re.search(re.escape(_normal(target)) + r"(?![\w/%?=&#~+.-]*[\w/%=&#~+-])", flat):
            ctx.add(
                "error",
                "text-part-link",
                f"the link {target[:80]} is in the HTML but not in the text part",
                "add the link to the text template, written out in full",
                link,
            )


def message_parts(message: EmailMessage) -> tuple[str | None, str | None]:
    html = text = None
    for part in message.walk():
        if part.is_multipart() or part.get_content_disposition() == "attachment":
            continue
        kind = part.get_content_type()
        try:
            content = part.get_content()
        except (LookupError, ValueError):
            content = part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
        if kind == "text/html" and html is None:
            html = str(content)
        elif kind == "text/plain" and text is None:
            text = str(content)
    return html, text


def python_checks(
    name: str,
    raw: bytes,
    *,
    settings: Settings,
    sources: Mapping[str, str] | None = None,
    extra_required: Sequence[str] = (),
    allowed: tuple[str, ...] | None = None,
) -> tuple[list[Finding], str | None]:
    """The fast checks of one message; also returns its HTML part (for the tools)."""
    ctx = _Context(name, settings, allowed or allowed_hosts(settings), sources or {})
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    check_headers(ctx, message, extra_required)
    html, text = message_parts(message)
    if text is None or not text.strip():
        ctx.add(
            "error",
            "text-part-missing",
            "the message has no text/plain part",
            "send a text part with the same content (multipart/alternative)",
            part="message",
        )
    if html is None:
        ctx.add(
            "error", "html-part-missing", "the message has no text/html part", "", part="message"
        )
        return ctx.findings, None
    # Gmail counts what arrives: the HTML part as encoded on the wire (quoted-printable adds
    # some 7 %), so that is measured, and the error comes with a margin below the 102 KB.
    wire = max(
        (
            len(str(part.get_payload()).encode("utf-8"))
            for part in message.walk()
            if part.get_content_type() == "text/html" and not part.is_multipart()
        ),
        default=0,
    )
    size = max(len(html.encode("utf-8")), wire)
    if size > SIZE_ERROR:
        ctx.add(
            "error",
            "html-size",
            f"the HTML is {size / 1024:.0f} KB as sent; Gmail clips messages above 102 KB",
            "shorten the issue (fewer or shorter items) or move items to the web version",
        )
    elif size > SIZE_WARNING:
        ctx.add(
            "warning",
            "html-size",
            f"the HTML is {size / 1024:.0f} KB, close to Gmail's 102 KB clipping",
            "shorten the issue a little",
        )
    check_html(ctx, html, text)
    return ctx.findings, html


def check_page(
    name: str,
    html: str,
    *,
    settings: Settings,
    sources: Mapping[str, str] | None = None,
    allowed: tuple[str, ...] | None = None,
) -> list[Finding]:
    """The HTML checks of a web page (no headers, no text part)."""
    ctx = _Context(name, settings, allowed or allowed_hosts(settings), sources or {})
    check_html(ctx, html, None, mail=False)
    return ctx.findings
