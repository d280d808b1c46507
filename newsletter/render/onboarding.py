"""Rendering an onboarding step message: step text (Jinja) -> MJML -> HTML, and the text part.

Pure: the caller passes the reader, the meetings each part is about and the moment `now`;
nothing here reads the store. Per-recipient fields stay markers, like an issue's (issue.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import mjml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from newsletter import clock
from newsletter.config import Settings
from newsletter.content.items import Item
from newsletter.dates import nl_date, nl_time, nl_when
from newsletter.errors import ContentError
from newsletter.headers import check_header_value
from newsletter.render.issue import environment, inline_css, marker
from newsletter.sanitize import html_to_text, markdown_to_html

ROLE_TITLES = {"av_lid": "AV-lid", "plv_av_lid": "plaatsvervangend AV-lid"}


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    province: str | None = None  # a province code


@dataclass(frozen=True)
class StepReader:
    """The member a step message is for, as its placeholders name them."""

    name: str
    first_name: str | None
    province: str | None  # a province code
    role: str | None  # av_lid or plv_av_lid (their latest AV mandate)
    griffiecontactpersoon: Person | None
    buddy: Person | None


@dataclass(frozen=True)
class StepPart:
    """One step inside a message (the first is the host; merged steps follow it)."""

    title: str
    subject: str  # Jinja source, from the step file
    preheader: str
    body: str  # Markdown with Jinja placeholders
    source: str  # the step file's name, for error messages
    about: Item | None  # the AV meeting its text is about
    briefings: tuple[Item, ...] = ()  # the technische briefings before that meeting


@dataclass(frozen=True)
class RenderedStep:
    subject: str
    preheader: str
    html: str
    text: str


def _deadline_moment(raw: str) -> datetime:
    moment = datetime.fromisoformat(raw)
    if "T" not in raw:  # a date alone: the end of that day
        moment = datetime.combine(moment.date(), time(23, 59), tzinfo=clock.AMSTERDAM)
    return moment


def step_context(
    settings: Settings,
    reader: StepReader,
    about: Item | None,
    briefings: tuple[Item, ...],
    now: datetime,
) -> dict[str, Any]:
    """What a step file's placeholders are filled with (sequences.PLACEHOLDERS)."""
    meeting: dict[str, Any] = {
        "datum": "de eerstvolgende Algemene Vergadering (de datum volgt)",
        "tijd": "",
        "plaats": "",
        "titel": "Algemene Vergadering",
        "samenvatting": "",
        "voorbij": False,
    }
    deadline, shown_briefings = "", []
    if about is not None:
        assert about.starts_at is not None
        meeting = {
            "datum": nl_date(about.starts_at, weekday=True),
            "tijd": nl_when(about.starts_at, about.ends_at).split(", ", 1)[1],
            "plaats": about.place,
            "titel": about.title,
            "samenvatting": about.summary,
            "voorbij": about.starts_at <= now,
        }
        raw = about.fields.get("question_deadline")
        if raw and _deadline_moment(str(raw)) > now:  # a passed deadline is not offered
            moment = datetime.fromisoformat(str(raw))
            deadline = (
                f"{nl_date(moment, weekday=True)}, {nl_time(moment)}"
                if "T" in str(raw)
                else nl_date(moment, weekday=True)
            )
        shown_briefings = [
            f"{nl_when(item.starts_at, item.ends_at)}: {item.title}"
            for item in briefings
            if item.starts_at
        ]
    gcp, buddy = reader.griffiecontactpersoon, reader.buddy
    return {
        "voornaam": reader.first_name or reader.name.split()[0],
        "naam": reader.name,
        "provincie": settings.provinces.get(reader.province or "", reader.province or ""),
        "rol": ROLE_TITLES.get(reader.role or "av_lid", "AV-lid"),
        "av": meeting,
        "vragen_deadline": deadline,
        "briefings": shown_briefings,
        "gcp": {"naam": gcp.name, "email": gcp.email} if gcp else None,
        "buddy": {
            "naam": buddy.name,
            "provincie": settings.provinces.get(buddy.province or "", ""),
            "email": buddy.email,
        }
        if buddy
        else None,
        "contactadres": settings.sender_address,
        "secretaris": settings.onboarding.secretary or "de secretaris van de AV",
        "samengevoegd": False,
    }


_TEXT_ENV = SandboxedEnvironment(undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _fill(source: str, context: dict[str, Any], where: str) -> str:
    try:
        return _TEXT_ENV.from_string(source).render(context)
    except Exception as exc:  # a placeholder used the wrong way (e.g. av.unknown)
        raise ContentError(f"{where}: {exc}; check the placeholders") from None


def _demote(markdown: str) -> str:
    """The step's ## headings become h3 (h1 is the subject, h2 a merged step's title)."""
    return re.sub(r"^(#{2,3}) ", lambda m: "#" + m[1] + " ", markdown, flags=re.MULTILINE)


def render_step(
    settings: Settings,
    reader: StepReader,
    parts: list[StepPart],
    next_av: Item | None,
    first_av: bool,
    now: datetime,
) -> RenderedStep:
    """One message: the first part's step, with any merged steps after it.

    `next_av` is the member's next meeting (the card shows it, never one that has been);
    `first_av` says it is their first.
    """
    host = parts[0]
    sections, contexts = [], []
    for part in parts:
        context = step_context(settings, reader, part.about, part.briefings, now)
        context["samengevoegd"] = len(parts) > 1
        contexts.append(context)
        body = _fill(part.body, context, part.source)
        html = markdown_to_html(_demote(body))
        if len(parts) == 1:  # no h2 per step: the step's own headings are the h2's
            html = re.sub(r"<(/?)h([34])\b", lambda m: f"<{m[1]}h{int(m[2]) - 1}", html)
        sections.append({"title": part.title, "html": html})
    context = contexts[0]
    subject = _fill(host.subject, context, host.source).strip()
    check_header_value(subject, f"{host.source}: subject")
    preheader = _fill(host.preheader, context, host.source).strip()
    env = environment(settings)
    page = {
        "subject": subject,
        "preheader": preheader,
        "sections": sections,
        "merged": len(parts) > 1,
        "person": context,
        "av": next_av,
        "av_when": nl_when(next_av.starts_at, next_av.ends_at)
        if next_av and next_av.starts_at
        else "",
        "ics_url": f"{settings.base_url}/agenda/{next_av.id}.ics" if next_av else "",
        "av_label": "Uw eerste AV" if next_av is not None and first_av else "De volgende AV",
        "contact": settings.sender_address,
        "privacy_url": settings.privacy_url,
        "salutation": marker("aanhef"),
        "unsubscribe_url": marker("afmelden_url"),
        "preferences_url": marker("voorkeuren_url"),
        "programme_url": marker("stoppen_url"),  # the programme only: the newsletter stays
    }
    source = env.get_template("email/onboarding.mjml.j2").render(page)
    try:
        html = inline_css(mjml.mjml2html(source, fonts={}))
    except Exception as exc:
        raise ContentError(f"templates/email/onboarding.mjml.j2: MJML error: {exc}") from None
    page["sections_text"] = [
        {"title": s["title"], "text": html_to_text(s["html"])} for s in sections
    ]
    text = env.get_template("email/onboarding.txt.j2").render(page)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return RenderedStep(subject, preheader, html, text)
