"""Bar charts as server-rendered SVG geometry (no JavaScript): the template draws what this
computes. Each row is a label with bars side by side; the numbers stay in the table beside it,
which is the chart's text alternative.
"""

from __future__ import annotations

from dataclasses import dataclass

LABEL_WIDTH = 150  # room for the row's label, left of the bars
BAR_AREA = 420
BAR_HEIGHT = 12
ROW_GAP = 14
TOP = 34  # room for the legend


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    value: int
    colour: str
    name: str


@dataclass(frozen=True)
class Row:
    label: str
    y: int  # the baseline of the label
    bars: list[Bar]


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    rows: list[Row]
    legend: list[tuple[str, str, int]]  # (name, colour, x)
    maximum: int
    label_width: int = LABEL_WIDTH


def bar_chart(
    rows: list[tuple[str, tuple[int, ...]]], series: list[tuple[str, str]], gutter: int = 40
) -> Chart:
    """rows: (label, one value per series); series: (name, colour). Bars scale to the
    largest value; a value above zero is at least one pixel wide, so it is never hidden."""
    maximum = max((v for _, values in rows for v in values), default=0) or 1
    per_row = len(series) * BAR_HEIGHT + ROW_GAP
    out = []
    for index, (label, values) in enumerate(rows):
        top = TOP + index * per_row
        bars = [
            Bar(
                LABEL_WIDTH,
                top + n * BAR_HEIGHT,
                max(round(value / maximum * BAR_AREA), 1 if value else 0),
                BAR_HEIGHT - 2,
                value,
                colour,
                name,
            )
            for n, (value, (name, colour)) in enumerate(zip(values, series, strict=True))
        ]
        out.append(Row(label, top + (len(series) * BAR_HEIGHT) // 2 + 4, bars))
    legend = [(name, colour, 10 + n * 120) for n, (name, colour) in enumerate(series)]
    width = max(LABEL_WIDTH + BAR_AREA + gutter, 10 + len(series) * 120)
    return Chart(width, TOP + len(rows) * per_row + 4, out, legend, maximum)
