"""The moment expressions of a sequence (`start + 3 working days`, `max(A, B)`), parsed.

Parsed once when a sequence loads (sequences.py); evaluated per member by plan.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from newsletter.content.items import EVENT_TYPES

UNITS = {
    "day": "days",
    "days": "days",
    "working day": "working days",
    "working days": "working days",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
}
FIXED_ANCHORS = ("start", "av", "term_end")
MAX_OFFSET = {"days": 1500, "working days": 1000, "weeks": 220, "months": 50}  # about a term
_TOKEN = re.compile(
    r"\s*(?:(?P<number>\d+)|(?P<word>[A-Za-z_][A-Za-z0-9_-]*)|(?P<op><=|>=|[-+(),<>]))"
)


@dataclass(frozen=True)
class Offset:
    sign: int  # +1 after, -1 before
    count: int
    unit: str  # days, working days, weeks, months

    def __str__(self) -> str:
        unit = self.unit if self.count != 1 else self.unit.removesuffix("s")
        return f"{'+' if self.sign > 0 else '-'} {self.count} {unit}"


@dataclass(frozen=True)
class Term:
    """An anchor with offsets: `av - 21 days`."""

    anchor: str  # start, av, term_end, next:<event type>, step:<id>
    offsets: tuple[Offset, ...] = ()

    def __str__(self) -> str:
        name = self.anchor.replace("next:", "next ").removeprefix("step:")
        return " ".join([name, *map(str, self.offsets)])

    def anchors(self) -> Iterator[str]:
        yield self.anchor


@dataclass(frozen=True)
class Extreme:
    """max(A, B, ...) or min(A, B, ...)."""

    function: str  # max or min
    args: tuple[Expression, ...]

    def __str__(self) -> str:
        return f"{self.function}({', '.join(map(str, self.args))})"

    def anchors(self) -> Iterator[str]:
        for arg in self.args:
            yield from arg.anchors()


Expression = Term | Extreme


@dataclass(frozen=True)
class Condition:
    """`start > av - 21 days`: when a catch-up rule applies."""

    left: Expression
    operator: str  # <, >, <=, >=
    right: Expression

    def __str__(self) -> str:
        return f"{self.left} {self.operator} {self.right}"

    def anchors(self) -> Iterator[str]:
        yield from self.left.anchors()
        yield from self.right.anchors()


class _Parser:
    def __init__(self, text: str, steps: set[str], fail: Any) -> None:
        self.text, self.steps, self.fail = text, steps, fail
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise fail(f"'{text}': cannot read '{text[pos:].strip()}'")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match[kind]))
            pos = match.end()
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        _kind, got = self.take()
        if got != value:
            raise self.fail(f"'{self.text}': expected '{value}' where it says '{got or 'the end'}'")

    def done(self) -> None:
        if self.peek()[0] != "end":
            raise self.fail(f"'{self.text}': unexpected '{self.peek()[1]}'")

    def expression(self) -> Expression:
        kind, word = self.peek()
        if kind == "word" and word in {"max", "min"}:
            self.take()
            self.expect("(")
            args = [self.expression()]
            while self.peek()[1] == ",":
                self.take()
                args.append(self.expression())
            self.expect(")")
            if len(args) < 2:
                raise self.fail(f"'{self.text}': {word}() needs two or more moments")
            return Extreme(word, tuple(args))
        return self.term()

    def term(self) -> Term:
        kind, word = self.take()
        if kind != "word":
            raise self.fail(
                f"'{self.text}': a moment starts with an anchor (start, av, term_end, "
                f"next EVENT-TYPE or a step id), not '{word or 'nothing'}'"
            )
        anchor = self.anchor(word)
        offsets = []
        while self.peek()[1] in {"+", "-"}:
            sign = 1 if self.take()[1] == "+" else -1
            kind, number = self.take()
            if kind != "number":
                raise self.fail(f"'{self.text}': '{number}' is not a number of days")
            unit = self.unit()
            if int(number) > MAX_OFFSET[unit]:
                raise self.fail(
                    f"'{self.text}': {number} {unit} is more than a term; "
                    f"use at most {MAX_OFFSET[unit]} {unit}"
                )
            offsets.append(Offset(sign, int(number), unit))
        return Term(anchor, tuple(offsets))

    def anchor(self, word: str) -> str:
        if word == "next":
            _kind, what = self.take()
            if what == "av_meeting":
                return "av"
            if what not in EVENT_TYPES:
                raise self.fail(
                    f"'{self.text}': unknown anchor 'next {what}'; use next av_meeting or "
                    f"next one of {', '.join(EVENT_TYPES)}"
                )
            return f"next:{what}"
        if word in FIXED_ANCHORS:
            return word
        if word in self.steps:
            return f"step:{word}"
        raise self.fail(
            f"'{self.text}': unknown anchor '{word}'; use start, av, term_end, "
            "next EVENT-TYPE or the id of another step"
        )

    def unit(self) -> str:
        kind, word = self.take()
        if kind != "word":
            raise self.fail(
                f"'{self.text}': an offset needs a unit: days, working days, weeks or months"
            )
        if word == "working":
            kind, second = self.take()
            word = f"working {second}"
        if word not in UNITS:
            raise self.fail(
                f"'{self.text}': '{word}' is no unit; use days, working days, weeks or months"
            )
        return UNITS[word]


def parse_expression(text: object, steps: set[str], fail: Any) -> Expression:
    if not isinstance(text, str | int) or not str(text).strip():
        raise fail("must be a moment, e.g. 'start + 3 working days' or 'av - 21 days'")
    parser = _Parser(str(text), steps, fail)
    expression = parser.expression()
    parser.done()
    return expression


def parse_condition(text: object, steps: set[str], fail: Any) -> Condition:
    if not isinstance(text, str) or not text.strip():
        raise fail("must be a comparison, e.g. 'start > av - 21 days'")
    parser = _Parser(text, steps, fail)
    left = parser.expression()
    _kind, operator = parser.take()
    if operator not in {"<", ">", "<=", ">="}:
        raise fail(f"'{text}': compare two moments with <, >, <= or >=")
    right = parser.expression()
    parser.done()
    return Condition(left, operator, right)
