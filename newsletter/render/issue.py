"""Rendering: Jinja2 -> MJML -> mjml-python -> premailer, once per issue variant; Jinja2 -> text.

Per-recipient fields are left in as markers (@@aanhef@@ ...) that survive premailer, and are
substituted by messages.py; nothing here knows about a single recipient. Pure: the people a
province's readers can turn to (HOLDER_ROLES on the issue's date) are passed in by the caller.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mjml
import premailer
from icalendar import Calendar, Event
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from newsletter import clock
from newsletter.config import Settings
from newsletter.content.issue import Issue
from newsletter.content.items import EVENT_TYPES, SECTIONS, Item
from newsletter.dates import nl_date, nl_time, nl_when
from newsletter.errors import ConfigError, ContentError
from newsletter.render.reader import (
    AV_FACET,
    AV_ROLES,
    anchor,
    first_sentence,
    for_you,
    short_title,
    when_and_where,
    wrap_text,
)
from newsletter.tokens import PREFERENCES, UNSUBSCRIBE, make_token

# The per-recipient markers; messages.py substitutes them. Letters and underscores only,
# so premailer and quoted-printable leave them intact.
# stoppen_url is in onboarding steps only: it stops the programme and keeps the newsletter.
MARKERS = ("aanhef", "naam", "email", "afmelden_url", "voorkeuren_url", "stoppen_url")
MARKER = re.compile(r"@@([a-z_]+)@@")
PROVINCE_ROLES = (
    ("av_lid", "Uw AV-leden"),
    ("plv_av_lid", "Plaatsvervangend AV-lid"),
    ("griffiecontactpersoon", "Uw griffiecontactpersoon"),
)
# The roles of the "Uw provincie" block: callers fetch their holders on the issue's date.
HOLDER_ROLES = tuple(role for role, _ in PROVINCE_ROLES)
SELF_ROLES = AV_ROLES  # a reader who holds one is not listed to themselves
GENERAL = "ALG"  # the variant for readers without a province (IPO staff)
WEB = "WEB"  # the public web version: no personal data, no "Uw provincie"

# A role holder as the store gives it: name, email, role, province.
Holder = Mapping[str, str]

logging.getLogger("CSSUTILS").setLevel(logging.CRITICAL)
logging.getLogger("cssutils").setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Variant:
    key: str  # province code, ALG or WEB; "GLD:a,b" leaves out the BAC blocks a and b
    html: str
    text: str


@dataclass(frozen=True)
class RenderedIssue:
    issue: Issue
    variants: dict[str, Variant]  # the 14 of every issue, then those readers' choices need
    web_url: str
    calendar: dict[str, bytes]  # item id -> .ics
    render: Callable[[str], Variant] | None = None  # for a variant not made yet
    bac: frozenset[str] = frozenset()  # the themes that are BAC blocks
    holders: tuple[Holder, ...] = ()  # the "Uw provincie" people on the issue's date

    def variant_key(
        self,
        province: str | None,
        themes: Iterable[str] = (),
        email: str = "",
        roles: Iterable[str] = (),
    ) -> str:
        """The variant a reader gets: their province ("+av" for its AV members, whose "Voor u"
        differs), less the BAC blocks they opted out of ("GLD+av:a,b").

        `themes` are the reader's chosen themes; none chosen (or none that is a BAC) is all.
        A reader who is one of their province's AV members gets ";<email>": their "Uw
        provincie" block does not list them to themselves (issue #16).
        """
        home = province if province in self.variants else GENERAL
        base = home
        if home not in (GENERAL, WEB) and set(roles) & set(AV_ROLES):
            base = f"{home}+{AV_FACET}"
        in_issue = {item.theme for item in self.issue.sections.get("bac", [])}
        chosen = set(themes) & self.bac
        left_out = sorted(in_issue - chosen) if chosen else []
        key = f"{base}:{','.join(left_out)}" if left_out else base
        me = email.strip().lower()
        if me and any(
            h["province"] == home and h["email"].lower() == me and h["role"] in SELF_ROLES
            for h in self.holders
        ):
            key += f";{me}"
        return key

    def variant(self, key: str) -> Variant:
        """A variant by key, rendered now (once) if no reader needed it before."""
        if key not in self.variants:
            if self.render is None:
                raise KeyError(key)
            self.variants[key] = self.render(key)
        return self.variants[key]


class Marker(Markup):
    """A per-recipient field: the only text in a rendered issue allowed to hold "@@"."""


def marker(name: str) -> Marker:
    if name not in MARKERS:
        raise ContentError(f"templates: unknown field marker '{name}'; use {', '.join(MARKERS)}")
    return Marker(f"@@{name}@@")


# A zero-width non-joiner between the two @: looks the same, is never a marker.
_DEFUSED = "@\u200c@"


def defuse_markers(value: Any) -> Any:
    """Jinja's finalize: "@@" in content, feeds or names can never become someone's field."""
    if isinstance(value, Marker) or not isinstance(value, str) or "@@" not in value:
        return value
    defused = value.replace("@@", _DEFUSED)
    return Markup(defused) if isinstance(value, Markup) else defused


def environment(settings: Settings) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(settings.templates_dir)),
        autoescape=select_autoescape(["html", "mjml", "mjml.j2", "html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=defuse_markers,
    )
    env.filters.update(nl_date=nl_date, nl_time=nl_time, nl_when=nl_when)
    env.globals.update(
        marker=marker,
        SECTIONS=SECTIONS,
        EVENT_TYPES=EVENT_TYPES,
        PROVINCE_ROLES=PROVINCE_ROLES,
    )
    return env


def issue_web_url(settings: Settings, month: str) -> str:
    return f"{settings.base_url}/archief/{month}/"


def ics_url(settings: Settings, month: str, item: Item) -> str:
    return f"{issue_web_url(settings, month)}agenda/{item.id}.ics"


def decision_body(settings: Settings, item: Item) -> str:
    """ "De BAC", "Het BOD": the body above a decision's numbered list, from its theme."""
    theme = settings.themes.get(item.theme or "")
    body = theme.body if theme else "de BAC"
    return body[:1].upper() + body[1:]


def _bac_blocks(settings: Settings, items: list[Item]) -> list[tuple[str, list[Item]]]:
    """The BAC section grouped per BAC (Werkgeverszaken and Digitalisering too), in config order."""
    blocks = []
    for key, theme in settings.themes.items():
        group = [i for i in items if i.theme == key]
        if group:
            blocks.append((theme.title, group))
    return blocks


def province_block(holders: Sequence[Holder], province: str) -> dict[str, list[Holder]]:
    """Who a reader in this province can turn to: AV members, substitutes, griffiecontactpersoon."""
    people = [p for p in holders if p["province"] == province]
    return {role: [p for p in people if p["role"] == role] for role in HOLDER_ROLES}


def inline_css(html: str) -> str:
    """premailer, once per variant: CSS rules into style attributes, media queries kept.

    premailer drops MJML's <!doctype html>; without it browsers and mail apps render in quirks
    mode (the Nu HTML checker of `issue check` reports it), so it is put back.
    """
    inlined = str(
        premailer.transform(
            html,
            keep_style_tags=True,
            remove_classes=False,
            strip_important=False,
            disable_validation=True,
            allow_network=False,
            cssutils_logging_level=logging.CRITICAL,
            # MJML's img { height: auto; width: 100% } would become height="auto" and
            # width="100%" on every image, which is invalid HTML (and overwrote the real
            # sizes): sizes from CSS stay in the style attribute only.
            disable_basic_attributes=["height", "width"],
        )
    )
    if not inlined.lstrip()[:9].lower().startswith("<!doctype"):
        inlined = "<!doctype html>\n" + inlined
    return inlined


# After the preheader: invisible joiners and spaces, so the inbox preview stops at the
# preheader instead of running on into the first lines of the body.
PREHEADER_PADDING = Markup("&#847;&zwnj;&nbsp;" * 60)
COLOR_SCHEME = (
    '<meta name="color-scheme" content="light dark">\n'
    '<meta name="supported-color-schemes" content="light dark">\n'
)


def with_color_scheme(html: str) -> str:
    """The color-scheme metas (Apple Mail, Outlook.com read them) at the top of <head>."""
    return html.replace("<head>", "<head>\n" + COLOR_SCHEME, 1)


def _context(
    settings: Settings, issue: Issue, key: str, holders: Sequence[Holder]
) -> dict[str, object]:
    key, _, me = key.partition(";")
    base, _, left_out = key.partition(":")
    base, _, facet = base.partition("+")
    personal = base != WEB
    province = base if base not in (GENERAL, WEB) else None
    people = province_block(holders, province) if province else {}
    roles: tuple[tuple[str, str], ...] = PROVINCE_ROLES
    if me and people:
        is_member = any(p["email"].lower() == me for p in people["av_lid"])
        people = {r: [p for p in ps if p["email"].lower() != me] for r, ps in people.items()}
        if is_member:  # "U vertegenwoordigt Gelderland in de AV samen met: Petra Claessens"
            name = settings.provinces.get(province or "", "")
            together = f"U vertegenwoordigt {name} in de AV samen met"
            roles = tuple((r, together if r == "av_lid" else t) for r, t in PROVINCE_ROLES)
    sections = dict(issue.sections)
    if left_out:
        kept = [i for i in sections.get("bac", []) if i.theme not in left_out.split(",")]
        sections = {k: v for k, v in sections.items() if k != "bac"} | (
            {"bac": kept} if kept else {}
        )
    province_name = settings.provinces.get(province or "", "")
    actions = for_you(
        sections, issue.date, province, province_name, facet == AV_FACET, settings.sender_address
    )
    blocks = _bac_blocks(settings, sections.get("bac", []))
    if blocks:  # in the order the body shows them: per BAC, in config order
        sections["bac"] = [item for _, group in blocks for item in group]
    return {
        "settings": settings,
        "issue": issue,
        "sections": sections,
        "actions": actions if personal else [],
        "full": base == WEB,  # the web version has room: every item whole
        "anchor": anchor,
        "first_sentence": first_sentence,
        "short_title": short_title,
        "when_and_where": lambda item: when_and_where(item, base == WEB),
        "preheader_padding": PREHEADER_PADDING,
        "bac_blocks": blocks,
        "personal": personal,
        "province": province,
        "province_name": province_name,
        "province_people": people,
        "PROVINCE_ROLES": roles,
        "web_url": issue_web_url(settings, issue.month),
        "ics_url": lambda item: ics_url(settings, issue.month, item),
        "decision_body": lambda item: decision_body(settings, item),
        "contact": settings.sender_address,
        "salutation": marker("aanhef") if personal else "Beste lezer",
        "unsubscribe_url": marker("afmelden_url"),
        "preferences_url": marker("voorkeuren_url"),
    }


def render_variant(
    env: Environment, settings: Settings, issue: Issue, key: str, holders: Sequence[Holder]
) -> Variant:
    """One variant's HTML and text; the expensive steps run here and nowhere per recipient.

    holders: the people with a HOLDER_ROLES role on the issue's date (all provinces)."""
    context = _context(settings, issue, key, holders)
    source = env.get_template("email/issue.mjml.j2").render(context)
    try:
        html = mjml.mjml2html(source, fonts={})
    except Exception as exc:  # MRML reports template mistakes as plain exceptions
        raise ContentError(f"templates/email/issue.mjml.j2: MJML error: {exc}") from None
    html = with_color_scheme(inline_css(html))
    text = env.get_template("email/issue.txt.j2").render(context)
    text = wrap_text(re.sub(r"\n{3,}", "\n\n", text).strip()) + "\n"
    return Variant(key, html, text)


def calendar_start(item: Item) -> datetime:
    """When a reader's day starts: an AV's inhoudelijk programma (12.30, lunch) comes before
    its formal meeting (14.00), and the .ics must not send them at 14.00 (issue #16)."""
    assert item.starts_at is not None
    times = [row.get("time", "") for row in item.fields.get("programme") or []]
    times = [value for value in times if re.fullmatch(r"\d{2}\.\d{2}", value)]
    if item.kind != "av_meeting" or not times:
        return item.starts_at
    hour, minute = min(times).split(".")
    local = item.starts_at.astimezone(clock.AMSTERDAM)
    return min(item.starts_at, local.replace(hour=int(hour), minute=int(minute)))


def item_ics(settings: Settings, item: Item) -> bytes:
    """An .ics file for one meeting or event (Europe/Amsterdam times, stable UID)."""
    assert item.starts_at is not None
    calendar = Calendar()
    calendar.add("prodid", "-//IPO//Nieuwsbrief Statenleden//NL")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"{item.id}@{settings.sender_domain}")
    event.add("summary", item.title)
    event.add("dtstart", calendar_start(item).astimezone(clock.AMSTERDAM))
    if item.ends_at:
        event.add("dtend", item.ends_at.astimezone(clock.AMSTERDAM))
    event.add(
        "dtstamp", item.starts_at.astimezone(UTC)
    )  # stable: the file only changes with the item
    if item.place:
        event.add("location", item.place)
    if item.summary:
        event.add("description", item.summary + (f"\n\n{item.link}" if item.link else ""))
    if item.link:
        event.add("url", item.link)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())


def variant_keys(settings: Settings) -> list[str]:
    return [*settings.provinces, GENERAL, WEB]


def render_issue(settings: Settings, issue: Issue, holders: Sequence[Holder]) -> RenderedIssue:
    """Every variant of an issue (12 provinces, general, web) and its calendar files.

    holders: the people with a HOLDER_ROLES role on the issue's date (all provinces)."""
    env = environment(settings)
    variants = {
        key: render_variant(env, settings, issue, key, holders) for key in variant_keys(settings)
    }
    calendar = {
        item.id: item_ics(settings, item) for item in issue.items if item.has_calendar_entry
    }
    return RenderedIssue(
        issue,
        variants,
        issue_web_url(settings, issue.month),
        calendar,
        render=lambda key: render_variant(env, settings, issue, key, holders),
        bac=frozenset(k for k, t in settings.themes.items() if t.bac),
        holders=tuple(holders),
    )


def write_build(settings: Settings, rendered: RenderedIssue) -> Path:
    """build/issues/MONTH/<variant>.{html,txt} for preview, build/archief/MONTH/ for the web."""
    month = rendered.issue.month
    mail_dir = settings.build_dir / "issues" / month
    web_dir = settings.build_dir / "archief" / month
    for folder in (mail_dir, web_dir / "agenda"):
        folder.mkdir(parents=True, exist_ok=True)
    sample = sample_reader(settings)
    for key, variant in rendered.variants.items():
        if key == WEB:
            continue
        # A preview is what a sample reader of this variant gets, never @@markers@@ (#16).
        _write(mail_dir / f"{key}.html", fill_markers(variant.html, sample, True).encode())
        _write(mail_dir / f"{key}.txt", fill_markers(variant.text, sample, False).encode())
    web = rendered.variants[WEB]
    _write(web_dir / "index.html", web.html.encode())
    _write(web_dir / "index.txt", web.text.encode())
    for item_id, data in rendered.calendar.items():
        _write(web_dir / "agenda" / f"{item_id}.ics", data)
    return web_dir


def sample_reader(settings: Settings) -> dict[str, str]:
    """The fictional reader of previews and preflight, with personal links of the real shape
    (signed when a key is set)."""

    def token(purpose: str) -> str:
        try:
            return make_token(settings, purpose, 0)
        except ConfigError:  # no NEWSLETTER_SECRET_KEY: a token of the same shape
            return "MA.voorbeeld-token-zonder-sleutel0"

    base = settings.base_url
    return {
        "aanhef": "Geachte lezer",
        "naam": "Voorbeeld Lezer",
        "email": "lezer@voorbeeld.example",
        "afmelden_url": f"{base}/afmelden/{token(UNSUBSCRIBE)}",
        "voorkeuren_url": f"{base}/voorkeuren/{token(PREFERENCES)}",
    }


def fill_markers(text: str, values: Mapping[str, str], escape: bool) -> str:
    """The markers replaced by one reader's values (HTML-escaped in HTML)."""
    return MARKER.sub(lambda m: html.escape(values[m[1]]) if escape else values[m[1]], text)


def _write(path: Path, data: bytes) -> None:
    """Atomic: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
