"""Dutch words for the onboarding plan on the Inwerkprogramma pages: the plan gives the reason
for each date, why a step is left out and why an enrolment stopped in English (the CLI's
`onboarding plan` shows them so); this module words them for staff, phrase by phrase, since
the plan composes them ("start 26 november 2026 + 3 working days; welkom goes on ...").

What staff wrote themselves (a catch-up rule's reason in the sequence file, the reason given
when stopping) stays as they wrote it.
"""

from __future__ import annotations

import re
from datetime import date

from newsletter.dates import nl_date

_DATE = r"(\d{1,2} \w+ \d{4})"
_ENDS = {"mandate": "de functie eindigt", "term": "de Statenperiode eindigt"}
_UNITS = {
    "working day": "werkdag",
    "working days": "werkdagen",
    "day": "dag",
    "days": "dagen",
    "week": "week",
    "weeks": "weken",
    "month": "maand",
    "months": "maanden",
}
# (pattern, replacement) in order; each is applied everywhere in the text.
PHRASES: list[tuple[str, str]] = [
    (
        rf"stale: planned for (.+?), its moment passed on {_DATE}",
        r"verouderd: gepland voor \1, het moment was voorbij op \2",
    ),
    (
        r"stale, like (\S+) it would have gone with",
        r"verouderd, net als \1 waarmee deze stap meeging",
    ),
    (
        rf"its day would be after {_DATE}, when it is out of date",
        r"de dag zou na \1 vallen, als de stap verouderd is",
    ),
    (
        rf"; (\S+) goes on {_DATE}, so the next free working day",
        r"; op \2 gaat al \1, dus de eerstvolgende vrije werkdag",
    ),
    (rf"; {_DATE} is ([^;,]+), so ", r"; \1 is \2, dus "),
    (r"sent together with (\S+)", r"meegestuurd met \1"),
    (r"^sent with (\S+)$", r"meegestuurd met \1"),
    (
        r"fell due with (\S+) \(planned (.+?)\): one message",
        r"viel samen met \1 (gepland \2): één bericht",
    ),
    (r"waits for an AV meeting in the calendar", "wacht op een AV-vergadering in de agenda"),
    (r"waits for a (\S+) in the calendar", r"wacht op een \1 in de agenda"),
    (r"\bthe later of \(", "de laatste van ("),
    (r"\bthe earlier of \(", "de eerste van ("),
    (r"\bend of term\b", "einde Statenperiode"),
    (r"\bnext (\S+)", r"volgende \1"),
    (r"^stopped by staff: ", "gestopt door een medewerker: "),
    (r"^stopped by the reader: ", "gestopt door de persoon zelf: "),
    (r"^address bounced$", "adres onbestelbaar"),
    (r"^unsubscribed$", "afgemeld"),
    (r"^forgotten$", "vergeten (AVG)"),
]


def _offset(found: re.Match[str]) -> str:
    return f"{found[1]} {found[2]} {_UNITS[found[3]]}"


def _ended(found: re.Match[str]) -> str:
    what = "functie" if found[1] == "mandate" else "Statenperiode"
    return f"{what} geëindigd op {nl_date(date.fromisoformat(found[2]))}"


def plan_text(text: str | None) -> str:
    """A reason of the plan, a skip or a stop, in Dutch ('' for none)."""
    if not text:
        return ""
    text = re.sub(
        rf"(before|after) {_DATE}, when the (mandate|term) ends",
        lambda m: f"{'vóór' if m[1] == 'before' else 'na'} {m[2]}, als {_ENDS[m[3]]}",
        text,
    )
    text = re.sub(r"^(mandate|term) ended on (\d{4}-\d{2}-\d{2})", _ended, text)
    text = re.sub(r"([+-]) (\d+) (working days?|days?|weeks?|months?)\b", _offset, text)
    for pattern, dutch in PHRASES:
        text = re.sub(pattern, dutch, text)
    return text
