"""How the December demo issue reads on a phone (issue #16): heights, what is on the first
screens, contrast in dark mode; and the screenshots in docs/.

`python -m tests.reader_layout` prints the measurements at 375 and 650 px;
`python -m tests.reader_layout --screenshots docs` also writes the GLD screenshots (light and
dark) that the README shows. tests/test_reader.py asserts the same measurements.

Chromium (Debian's) through Playwright; the page is offline and the markers are filled for a
sample reader, as a delivered message would be.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsletter.preflight.tools import CHROMIUM_ARGS, chromium_path
from newsletter.render.issue import MARKER, RenderedIssue

PHONE = (375, 667)  # an iPhone SE-sized screen: width and one screen's height
WIDE = 650
# The GLD variant's document height before this layout (main at 54d9e6f: the same content,
# the #16 Dutch included; measured the same way: this helper, Debian's Chromium, Liberation Sans
# for Arial). The issue quotes 7,230 px at 375 px; that does not reproduce here (main at
# 35aefa5 measured 10,870; the nearest to 7,230 is the web version at 650 px, 7,287).
BEFORE = {375: 10_897, 650: 7_636}
# A sample reader of the GLD variant (a Statenlid, not an AV member: those get GLD+av), as
# IssueMessages would fill the markers.
SAMPLE = {
    "aanhef": "Geachte heer Van den Broek",
    "naam": "Henk van den Broek",
    "email": "henk.vandenbroek@gld.example",
    "afmelden_url": "https://www.ipo.example/nieuwsbrief/afmelden/voorbeeld",
    "voorkeuren_url": "https://www.ipo.example/nieuwsbrief/voorkeuren/voorbeeld",
}
# Forced dark as Chromium's auto dark mode does it (the Gmail app and Outlook invert likewise).
FORCE_DARK_ARGS = ["--enable-features=WebContentsForceDark", "--force-dark-mode"]


def filled(html: str) -> str:
    return MARKER.sub(lambda m: SAMPLE[m.group(1)], html)


@dataclass(frozen=True)
class Layout:
    width: int
    height: int  # the document's height in CSS px
    tops: dict[str, float]  # element id -> its top in CSS px (absent: not in the document)


# Top of each element by id, and the document's height.
_MEASURE = """ids => ({
  height: document.documentElement.scrollHeight,
  tops: Object.fromEntries(ids.filter(id => document.getElementById(id)).map(
    id => [id, document.getElementById(id).getBoundingClientRect().top + window.scrollY]))
})"""

# Every text element's colour against the background it is painted on (the nearest ancestor
# with a non-transparent background), as WCAG contrast ratios; the lowest per kind of text.
_CONTRAST = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = c => {
    const f = v => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
  };
  const bg = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0)) return c;
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const el of document.body.querySelectorAll('p, li, h1, h2, h3, a, span, strong, td')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || box.width === 0 || box.height === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.opacity === '0') continue;
    const fg = lum(rgb(style.color)), back = lum(bg(el));
    const ratio = (Math.max(fg, back) + 0.05) / (Math.min(fg, back) + 0.05);
    out.push({tag: el.tagName.toLowerCase(), text: el.textContent.trim().slice(0, 40),
              ratio: Math.round(ratio * 100) / 100, color: style.color});
  }
  return out;
}"""

# A screenshot's pixels, read back through a canvas (no image library needed): its most
# frequent colours, with their share of the pixels and their relative luminance.
_PIXELS = """async (dataUrl) => {
  const img = new Image();
  img.src = dataUrl;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.width; canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, img.width, img.height).data;
  const f = v => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  const counts = new Map();
  for (let i = 0; i < data.length; i += 4) {
    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  const colours = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  const L = k => 0.2126 * f(k >> 16) + 0.7152 * f((k >> 8) & 255) + 0.0722 * f(k & 255);
  const total = data.length / 4;
  return {colours: colours.slice(0, 40).map(([k, n]) => ({rgb: [k >> 16, (k >> 8) & 255, k & 255],
          share: n / total, luminance: L(k)}))};
}"""


def launch(playwright: Any, extra_args: tuple[str, ...] = ()) -> Any:
    """Debian's Chromium (never a downloaded one); close it when done."""
    return playwright.chromium.launch(
        executable_path=str(chromium_path()), args=[*CHROMIUM_ARGS, *extra_args]
    )


@contextmanager
def browser(extra_args: tuple[str, ...] = ()) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = launch(p, extra_args)
        try:
            yield instance
        finally:
            instance.close()


@contextmanager
def page(instance: Any, html: str, width: int, dark: bool = False) -> Iterator[Any]:
    context = instance.new_context(
        offline=True,
        viewport={"width": width, "height": PHONE[1]},
        color_scheme="dark" if dark else "light",
    )
    try:
        tab = context.new_page()
        tab.set_content(html, wait_until="load")
        yield tab
    finally:
        context.close()


def measure(tab: Any, width: int, ids: tuple[str, ...] = ()) -> Layout:
    found = tab.evaluate(_MEASURE, list(ids))
    return Layout(width, int(found["height"]), dict(found["tops"]))


def province_end(tab: Any) -> float:
    """Where the "Uw provincie" block ends (its last line's bottom) in CSS px from the top."""
    return float(
        tab.locator("#uw-provincie").evaluate(
            "h => { const rows = h.closest('tr').nextElementSibling.querySelectorAll('p');"
            " return rows[rows.length - 1].getBoundingClientRect().bottom + window.scrollY; }"
        )
    )


def contrasts(tab: Any) -> list[dict[str, Any]]:
    return list(tab.evaluate(_CONTRAST))


def pixel_colours(tab: Any, png: bytes) -> list[dict[str, Any]]:
    import base64

    url = "data:image/png;base64," + base64.b64encode(png).decode()
    return list(tab.evaluate(_PIXELS, url)["colours"])


def ratio(a: float, b: float) -> float:
    """WCAG contrast of two relative luminances."""
    return (max(a, b) + 0.05) / (min(a, b) + 0.05)


def pixel_contrast(tab: Any, selector: str, index: int = 0) -> float:
    """The contrast of the text in the first element matching selector as painted (forced
    dark included): its most frequent colour is the background, the text is the colour, among
    those covering at least 0.2 % of the box, that differs most from it."""
    box = tab.locator(selector).nth(index).bounding_box()
    top = box["y"] + tab.evaluate("window.scrollY")
    clip = {"x": box["x"], "y": top, "width": box["width"], "height": box["height"]}
    png = tab.screenshot(full_page=True, clip=clip)  # an element shot can catch unpainted tiles
    colours = pixel_colours(tab, png)
    back = colours[0]["luminance"]
    return max(ratio(back, c["luminance"]) for c in colours[1:] if c["share"] >= 0.002)


def render_demo_issue(folder: Path) -> RenderedIssue:
    from tests.golden import render_demo

    return render_demo(folder)


IDS = ("in-dit-nummer", "voor-u", "uw-provincie")
# Body text whose painted contrast is measured: the intro, an item's summary, the province.
BODY_TEXT = (".intro p", "h3 + .meta + p", ".pad p")
MODES = ("light", "dark", "forced-dark")  # forced: Chromium's own inversion of the light page


def report(rendered: RenderedIssue, screenshots: Path | None) -> dict[str, Any]:
    """Height, where the overview and the province start and where the province ends, the
    lowest text contrast (computed styles; for forced dark, the painted pixels of the intro)
    per width and mode; the AV members' variant (GLD+av, a longer "Voor u") in light; with
    screenshots, the first two phone screens' height of each GLD one as GLD-<width>-<mode>.png."""
    out: dict[str, Any] = {}
    for mode in MODES:
        args = tuple(FORCE_DARK_ARGS) if mode == "forced-dark" else ()
        with browser(args) as instance:
            for key in ("GLD", "GLD+av") if mode == "light" else ("GLD",):
                html = filled(rendered.variant(key).html)
                for width in (PHONE[0], WIDE):
                    with page(instance, html, width, dark=mode == "dark") as tab:
                        layout = measure(tab, width, IDS)
                        name = f"{key}-{width}-{mode}"
                        low = (
                            min(pixel_contrast(tab, s, 1) for s in BODY_TEXT)
                            if mode == "forced-dark"
                            else min(c["ratio"] for c in contrasts(tab))
                        )
                        out[name] = {
                            "height": layout.height,
                            "of_before": round(layout.height / BEFORE[width], 3),
                            "tops": {k: round(v) for k, v in layout.tops.items()},
                            "province_end": round(province_end(tab)),
                            "min_contrast": round(low, 2),
                        }
                        if screenshots and key == "GLD":
                            screenshots.mkdir(parents=True, exist_ok=True)
                            # Two screens: beyond the viewport, so from the full page.
                            clip = {"x": 0, "y": 0, "width": width, "height": 2 * PHONE[1]}
                            shot = screenshots / f"{name}.png"
                            tab.screenshot(path=str(shot), clip=clip, full_page=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--screenshots", type=Path, help="write GLD-<width>-<mode>.png here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rendered = render_demo_issue(Path(tmp) / "instance")
        print(json.dumps(report(rendered, args.screenshots), indent=2))


if __name__ == "__main__":
    main()
