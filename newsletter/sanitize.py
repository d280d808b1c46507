"""HTML from outside made safe for mail, and HTML turned into the plain-text part."""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt

# No images at all: feed images are the usual carrier of tracking pixels, and mail readers
# often block them anyway. No script, style, forms, iframes or event handlers survive either.
ALLOWED_TAGS = {
    "p",
    "br",
    "a",
    "em",
    "strong",
    "b",
    "i",
    "ul",
    "ol",
    "li",
    "blockquote",
    "h3",
    "h4",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https"}

_markdown = MarkdownIt("commonmark", {"html": False, "typographer": False})


def is_web_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host."""
    parts = urlsplit(url.strip())
    return parts.scheme in URL_SCHEMES and bool(parts.netloc)


def clean_html(html: str) -> str:
    """Only harmless markup and http(s) links remain; everything else is dropped."""
    # nh3 keeps <a> whose relative href it cannot judge; a mail has no base, so drop those hrefs
    # (wherever href stands among the attributes).
    cleaned: str = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
        clean_content_tags={"script", "style", "form", "iframe", "object", "embed", "noscript"},
        attribute_filter=lambda _tag, name, value: (
            value if name != "href" or is_web_url(value) else None
        ),
    )
    # A link whose href was dropped (javascript:, relative) is its text alone: an <a> with rel
    # and no href is not valid HTML, and it would look like a link that goes nowhere.
    return _HREFLESS.sub(r"\1", cleaned)


_HREFLESS = re.compile(r"<a(?![^>]*\bhref=)[^>]*>(.*?)</a>", re.S)


@lru_cache(maxsize=256)  # pure: the console's issue page renders the same intro on every view
def markdown_to_html(text: str) -> str:
    """Staff Markdown (raw HTML disabled) to sanitised HTML."""
    return clean_html(_markdown.render(text)) if text.strip() else ""


class _TextWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []
        self.current: list[str] = []
        self.href: str | None = None
        self.link_text: list[str] = []
        self.prefix = ""
        self.counter: list[int | None] = []  # one per open list: the last number, None for <ul>

    def flush(self) -> None:
        text = re.sub(r"[ \t]+", " ", "".join(self.current)).strip()
        if text:
            self.blocks.append(self.prefix + text)
        self.current, self.prefix = [], ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"p", "h3", "h4", "blockquote", "ul", "ol"}:
            self.flush()
            if tag in {"ol", "ul"}:
                self.counter.append(0 if tag == "ol" else None)
        elif tag == "li":
            self.flush()
            number = self.counter[-1] if self.counter else None
            if number is None:
                self.prefix = "- "
            else:
                self.counter[-1] = number + 1
                self.prefix = f"{number + 1}. "
        elif tag == "br":
            self.current.append("\n")
        elif tag == "a":
            self.href = dict(attrs).get("href")
            self.link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            text = "".join(self.link_text).strip()
            if self.href and self.href != text:
                self.current.append(f" ({self.href})")
            self.href = None
        elif tag in {"p", "h3", "h4", "blockquote", "li"}:
            self.flush()
        elif tag in {"ol", "ul"} and self.counter:
            self.flush()
            self.counter.pop()

    def handle_data(self, data: str) -> None:
        data = re.sub(r"[\r\n]", " ", data)  # a newline in the source is a space; only <br> breaks
        self.current.append(data)
        if self.href is not None:
            self.link_text.append(data)


def html_to_text(html: str, width: int = 72) -> str:
    """The plain-text rendering of (sanitised) HTML: paragraphs, lists, links as "text (url)"."""
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    writer.flush()
    out = []
    for block in writer.blocks:
        bullet = re.match(r"(- |\d+\. )", block)
        indent = " " * len(bullet.group(1)) if bullet else ""
        lines = [line.strip() for line in block.split("\n")]  # a <br> starts a new line
        out.append(
            "\n".join(
                textwrap.fill(
                    line,
                    width=width,
                    initial_indent=indent if number else "",
                    subsequent_indent=indent,
                    break_long_words=False,
                    break_on_hyphens=False,
                )
                for number, line in enumerate(lines)
                if line
            )
        )
    return "\n\n".join(out)
