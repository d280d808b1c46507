"""Lists a page at a time: the page asked for (?pagina=N) and how many there are.

The store gives one page (LIMIT/OFFSET) and the count; templates show the navigation with
_paginas.html.j2 ("Vorige", "Pagina 2 van 40", "Volgende").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from flask import request

PER_PAGE = 50


@dataclass(frozen=True)
class Paging:
    """Page `number` (from 1) of `per_page` rows."""

    number: int
    per_page: int = PER_PAGE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.per_page

    def pages(self, total: int) -> int:
        """How many pages `total` rows fill (at least one, so an empty list has page 1)."""
        return max(1, math.ceil(total / self.per_page))


def requested(per_page: int = PER_PAGE) -> Paging:
    """The page ?pagina= asks for; 1 for anything that is not a whole number from 1."""
    try:
        number = int(request.args.get("pagina", "1"))
    except ValueError:
        number = 1
    return Paging(max(1, min(number, 10**9)), per_page)
