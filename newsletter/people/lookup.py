"""Finding people: search by name, address, province, role and status a page at a time, and
one person named by address, id or name (several matches are a refusal that lists them)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlite_utils import Database

from newsletter import clock
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.people.privacy import STATUSES
from newsletter.people.roles import ROLES
from newsletter.store import subscribers as rows
from newsletter.store.subscribers import Listed

PER_PAGE = 50
SHOWN_MATCHES = 20  # a name that matches more people lists this many


@dataclass(frozen=True)
class PeoplePage:
    people: list[Listed]
    total: int  # on all pages
    page: int
    pages: int


class AmbiguousPerson(NewsletterError):
    """A name that matches more than one person: the message lists them, `matches` has them."""

    def __init__(self, text: str, matches: list[Listed], total: int) -> None:
        lines = [f"{m.email}  {m.name} ({m.province or '-'}, {m.status})" for m in matches]
        more = f"\n  ... and {total - len(matches)} more" if total > len(matches) else ""
        super().__init__(
            f"'{text}' matches {total} people; name one by e-mail or id:\n  "
            + "\n  ".join(lines)
            + more
        )
        self.matches = matches
        self.total = total


def check_filters(
    settings: Settings, status: str | None, province: str | None, role: str | None
) -> None:
    """NewsletterError for a status, province or role that does not exist."""
    if status and status not in STATUSES:
        raise NewsletterError(f"status '{status}': use one of {', '.join(STATUSES)}")
    if province and province not in settings.provinces:
        raise NewsletterError(f"province '{province}': use one of {', '.join(settings.provinces)}")
    if role and role not in ROLES:
        raise NewsletterError(f"role '{role}': use one of {', '.join(ROLES)}")


def search(
    db: Database,
    settings: Settings,
    text: str = "",
    *,
    status: str | None = None,
    province: str | None = None,
    role: str | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> PeoplePage:
    """One page of the people whose name or address contains `text`, filtered, by name."""
    check_filters(settings, status, province, role)
    page = max(1, page)
    found, total = rows.search(
        db,
        clock.today().isoformat(),
        _fold(text),
        status=status,
        province=province,
        role=role,
        limit=per_page,
        offset=(page - 1) * per_page,
    )
    return PeoplePage(found, total, page, max(1, -(-total // per_page)))


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def resolve(db: Database, settings: Settings, text: str) -> str:
    """The address of the one person `text` names: an e-mail address (returned as it is), a
    subscriber id, or (part of) a name. Several matches: AmbiguousPerson; none: NewsletterError.
    """
    text = _fold(text)
    if "@" in text:
        return text
    if text.isdigit():
        found = rows.get(db, int(text))
        if found is None:
            raise NewsletterError(f"no subscriber with id {text}")
        return found.email
    if not text:
        raise NewsletterError("name a person by e-mail, id or name")
    matches, total = rows.search(db, clock.today().isoformat(), text, limit=SHOWN_MATCHES)
    exact = [m for m in matches if m.name.casefold() == text.casefold()]
    if len(exact) == 1 and total <= SHOWN_MATCHES:
        return exact[0].email
    if total == 1:
        return matches[0].email
    if total == 0:
        raise NewsletterError(
            f"no subscriber whose name or address contains '{text}'; "
            "'newsletter subscribers list' shows them"
        )
    raise AmbiguousPerson(text, matches, total)
