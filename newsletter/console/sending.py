"""Nu versturen: the send runs in a worker thread of the console process, and a progress page
shows what the ledger says (refreshing itself) and, after the send, the report per province.

The worker calls send_issue, the use case of `issue send` and tick, with the signed-in account
as the actor. One worker per month in this process; a send by another process (the CLI, tick)
is kept off by the engine's lock on the mailing, and the worker then reports it as busy.
Pause, resume and cancel act through the ledger, as from the CLI: the engine reads them while
it sends.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, make_response, render_template
from sqlite_utils import Database

from newsletter import store
from newsletter.config import Settings
from newsletter.console import context
from newsletter.console.auth import current, signed_in
from newsletter.console.issue_words import ACTIONS, STATES, dutch
from newsletter.editorial.approval import state_of
from newsletter.errors import ContentError, NewsletterError
from newsletter.issues.files import check_month
from newsletter.outbound.ledger import OPEN, counts, mailing_report
from newsletter.outbound.send import mailing_id_for, send_issue

bp = Blueprint("sending", __name__, url_prefix="/nummers")
log = logging.getLogger(__name__)
REFRESH = 3  # seconds between two looks at the ledger while a send runs
CSP = (  # the console's own, and the page's script may fetch the page again
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SHOWN = ("queued", "sending", "sent", "deferred", "failed", "in-doubt", "skipped", "cancelled")


@dataclass
class Worker:
    """One send of one month in this process: running, or how it ended."""

    month: str
    by: str
    thread: threading.Thread | None = None
    problem: str = ""  # why it stopped without sending everything, in Dutch
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def running(self) -> bool:
        return not self.done.is_set()


_workers: dict[str, Worker] = {}
_guard = threading.Lock()


def start(settings: Settings, month: str, by: str, wait: float = 0.0) -> str:
    """Start sending `month` as `by` in the background; "" or why not, in Dutch. With `wait`,
    a worker of this month that is stopping (after a pause) gets that many seconds to end."""
    worker = _workers.get(month)
    if wait and worker is not None:
        worker.done.wait(wait)
    with _guard:
        worker = _workers.get(month)
        if worker is not None and worker.running:
            return "Dit nummer wordt al verstuurd; hieronder staat de voortgang."
        worker = Worker(month, by)
        worker.thread = threading.Thread(
            target=_send, args=(settings, worker), name=f"send-{month}", daemon=True
        )
        _workers[month] = worker
        worker.thread.start()
    return ""


def _send(settings: Settings, worker: Worker) -> None:
    db = store.open_store(settings)  # a connection of its own: SQLite's belong to one thread
    try:
        result = send_issue(db, settings, worker.month, by=worker.by)
        if result.delivery.relay_down:
            worker.problem = (
                f"De mailserver bleef weg ({result.delivery.relay_down}); wat niet weg is, "
                "blijft staan en gaat met de volgende tick of Hervatten verder."
            )
    except NewsletterError as exc:
        worker.problem = dutch(exc)
    except OSError as exc:  # a relay that does not answer: nothing lost, the ledger says what
        worker.problem = f"De mailserver antwoordde niet: {exc}. Wat niet weg is, blijft staan."
    except Exception:  # the console goes on; the log has the traceback
        log.exception("sending %s", worker.month)
        worker.problem = "Er ging iets onverwachts mis; het logbestand van de console zegt wat."
    finally:
        db.conn.close()
        worker.done.set()


def running(month: str) -> bool:
    """A worker of this process is sending `month` now."""
    worker = _workers.get(month)
    return worker is not None and worker.running


def progress(db: Database, month: str) -> dict[str, Any]:
    """What the progress page shows: the counts from the ledger, the state, the report."""
    worker = _workers.get(month)
    try:
        report: dict[str, Any] | None = dict(mailing_report(db, mailing_id_for(month)))
    except NewsletterError:
        report = None
    tally = counts(db, mailing_id_for(month)) if report else {}
    busy = worker is not None and worker.running
    live = busy or (
        report is not None
        and report["status"] == "sending"
        and any(tally.get(s) for s in OPEN if s != "deferred")
    )
    return {
        "worker": worker,
        "busy": busy,
        "live": live,
        "report": report,
        "tally": tally,
        "total": sum(tally.values()),
        "shown": SHOWN,
    }


@bp.get("/<month>/verzending")
@signed_in
def page(month: str) -> Any:
    """The send of `month`: counts while it runs (the page refreshes itself), then the report."""
    try:
        month = check_month(month, context.settings())
    except ContentError:
        abort(404)
    db = context.db()
    account = current()
    state = state_of(db, month)
    page = render_template(
        "sending.html.j2",
        month=month,
        state=state,
        state_name=STATES.get(state, state),
        actions=ACTIONS,
        roles=set(account.roles) if account else set(),
        refresh=REFRESH,
        provinces=context.settings().provinces,
        **progress(db, month),
    )
    response = make_response(page)
    response.headers["Content-Security-Policy"] = CSP
    return response
