"""Rapporten: per mailing, sent / delivered / bounced / complaints / unsubscribes per province
and per day since the send: a table, a chart without JavaScript (inline SVG) and CSV.

Every number comes from outbound.statistics.mailing_statistics, the one function that also
makes the CSV (here and in `issue report --csv`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, make_response, render_template

from newsletter.console import context
from newsletter.console.auth import requires
from newsletter.console.charts import bar_chart
from newsletter.dates import nl_date
from newsletter.errors import NewsletterError
from newsletter.outbound.statistics import (
    MEASURES,
    mailing_statistics,
    started_local,
    statistics_csv,
)
from newsletter.store.mailing_stats import report_mailings

bp = Blueprint("reports", __name__, url_prefix="/rapporten")
VIEW = ("redacteur", "eindredacteur")  # who may read the reports (the one place)
NAMES = {
    "sent": "Verstuurd",
    "delivered": "Afgeleverd",
    "bounced": "Gebounced",
    "complaints": "Klachten",
    "unsubscribes": "Afmeldingen",
}
# Colours with at least 3:1 contrast against white (WCAG 1.4.11), told apart by the legend
# and the table too, never by colour alone.
COLOURS = {
    "sent": "#0b4f8a",
    "delivered": "#2e7d32",
    "bounced": "#b00020",
    "complaints": "#8a5a00",
    "unsubscribes": "#6a1b9a",
}
KINDS = {"issue": "nieuwsbrief", "onboarding": "inwerkprogramma", "test": "testversie"}


@bp.get("")
@requires(*VIEW)
def index() -> str:
    return render_template(
        "rapporten/list.html.j2", mailings=report_mailings(context.db()), kinds=KINDS
    )


def _stats(mailing_id: str) -> Any:
    try:
        return mailing_statistics(context.db(), mailing_id)
    except NewsletterError:
        abort(404)


@bp.get("/<mailing_id>")
@requires(*VIEW)
def mailing(mailing_id: str) -> str:
    stats = _stats(mailing_id)
    provinces = context.settings().provinces
    series = [(NAMES[m], COLOURS[m]) for m in MEASURES]
    province_rows = [(provinces.get(code, code), numbers) for code, numbers in stats.provinces]
    day_rows = [(f"dag {d.number} ({nl_date(d.day)})", d.numbers) for d in stats.days]
    by_province = bar_chart([(label, n.values()) for label, n in province_rows], series)
    by_day = bar_chart([(f"dag {d.number}", d.numbers.values()) for d in stats.days], series)
    return render_template(
        "rapporten/mailing.html.j2",
        stats=stats,
        started=started_local(stats),
        measures=MEASURES,
        names=NAMES,
        provinces=provinces,
        province_rows=province_rows,
        day_rows=day_rows,
        by_province=by_province,
        by_day=by_day,
        kinds=KINDS,
    )


@bp.get("/<mailing_id>/csv")
@requires(*VIEW)
def mailing_csv(mailing_id: str) -> Any:
    stats = _stats(mailing_id)
    response = make_response(statistics_csv(stats))
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="rapport-{stats.mailing.id}.csv"'
    )
    return response
