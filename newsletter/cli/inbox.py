"""inbox: the contact mailbox (fetch, classify) and the conversations staff answer."""

from __future__ import annotations

import json
from pathlib import Path

import click

from newsletter import clock, store
from newsletter.cli.common import (
    CONTEXT,
    F,
    Failed,
    actor_option,
    echo_data,
    echo_problems,
    json_option,
    pass_settings,
)
from newsletter.cli.present import (
    format_conversation,
    format_conversation_line,
    format_inbox_report,
    format_verdict,
)
from newsletter.config import Settings
from newsletter.errors import NewsletterError
from newsletter.inbound import classify, conversations, postvak, processing
from newsletter.inbound.replies import draft_reply, send_reply


@click.group(context_settings=CONTEXT)
def inbox() -> None:
    """The contact mailbox: bounces, complaints, auto-replies, unsubscribes and questions."""


@inbox.command("classify")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@json_option
def inbox_classify(files: tuple[Path, ...], as_json: bool) -> None:
    """Say what message files are (bounce, complaint, auto-reply, ...) and why; stores nothing.

    \b
        newsletter inbox classify mailbox/new/1733040000.M1P2.eml --json
    """
    results = []
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise NewsletterError(f"cannot read {path}: {exc.strerror or exc}") from exc
        results.append((str(path), classify.classify(raw)))
    if as_json:
        click.echo(json.dumps([{"file": n, **v.as_dict()} for n, v in results], indent=2))
    for name, verdict in [] if as_json else results:
        click.echo("\n".join(format_verdict(name, verdict)))


@inbox.command("fetch")
@pass_settings
def inbox_fetch(settings: Settings) -> None:
    """Read new mail from every [inbox] source into the store, each message exactly once.

    Stored mail is moved to the folder Verwerkt (.Verwerkt in a Maildir). A message that
    cannot be parsed or is too large is stored as quarantined with the reason. A source that
    fails is named and the others are still read (exit 1; exit 2 when its set-up is wrong: a
    refused sign-in, a missing password, an OAuth2 token that cannot be had).

    Then every new message is processed once: bounces tied to our deliveries (hard ones, and
    soft ones in [inbox] soft_bounce_mailings mailings in a row, mark the address bounced),
    complaints and "afmelden" mails from a subscriber's own address unsubscribe (the latter
    with a confirmation), auto-replies are recorded and never answered, the rest is for staff.

    \b
        newsletter inbox fetch
    """
    report, processed = processing.fetch_and_process(
        store.open_store(settings), settings, clock.now()
    )
    echo_problems([s.error for s in report.failed])
    click.echo(report.summary())
    echo_problems(processed.problems)
    click.echo(processed.summary())
    if any(source.config_error for source in report.failed):
        raise click.exceptions.Exit(2)
    if report.failed or processed.problems:
        raise Failed


# -- inbox: conversations ----------------------------------------------------------------------


def conversation_argument(func: F) -> F:
    """N, the number of a conversation."""
    return click.argument("number", type=click.IntRange(min=1), metavar="N")(func)


@inbox.command("list")
@click.option("--status", type=click.Choice(conversations.STATUSES), help="Only this status.")
@click.option("--theme", metavar="THEME", help="Only this theme, e.g. landelijk-gebied.")
@json_option
@pass_settings
def inbox_list(settings: Settings, status: str | None, theme: str | None, as_json: bool) -> None:
    """The conversations: number, status, theme, age, correspondent, subject.

    \b
        newsletter inbox list --status new
        newsletter inbox list --theme landelijk-gebied --json
    """
    rows = conversations.list_conversations(store.open_store(settings), status, theme)
    if as_json:
        click.echo(json.dumps([conversations.as_json_row(r) for r in rows], indent=2))
    else:
        for row in rows:
            click.echo(format_conversation_line(row))
    click.echo(f"{len(rows)} conversations", err=True)


@inbox.command("show")
@conversation_argument
@pass_settings
def inbox_show(settings: Settings, number: int) -> None:
    """One conversation with all its messages, oldest first; unknown N: exit 2.

    \b
        newsletter inbox show 3
    """
    db = store.open_store(settings)
    conversation = conversations.get(db, number)
    click.echo(format_conversation(conversation, conversations.thread(db, number)))


@inbox.command("assign")
@conversation_argument
@click.option("--to", "name", required=True, metavar="NAME", help="Who handles it.")
@actor_option("assigned it", "inbox-assign")
@pass_settings
def inbox_assign(settings: Settings, number: int, name: str, by: str) -> None:
    """Give a conversation to a colleague (a new one becomes open).

    \b
        newsletter inbox assign 3 --to "Sanne de Vries"
    """
    row = postvak.assign(store.open_store(settings), number, name, by)
    click.echo(f"Conversation {number}: assigned to {row.assignee}; status {row.status}")


@inbox.command("theme")
@conversation_argument
@click.argument("theme")
@pass_settings
def inbox_theme(settings: Settings, number: int, theme: str) -> None:
    """Set the theme (a key of [themes]) instead of the guessed one.

    \b
        newsletter inbox theme 3 landelijk-gebied
    """
    conversations.set_theme(store.open_store(settings), settings, number, theme)
    click.echo(f"Conversation {number}: theme {theme}")


@inbox.command("reply")
@conversation_argument
@click.option(
    "--file",
    "answer",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The answer, in Markdown.",
)
@click.option("--yes", is_flag=True, help="Send it; without --yes only the preview is shown.")
@actor_option("wrote the answer", "inbox-reply")
@pass_settings
def inbox_reply(settings: Settings, number: int, answer: Path, yes: bool, by: str) -> None:
    """Answer from the contact mailbox: shows exactly what will be sent (your signature on
    separate lines, the last message quoted); --yes sends it through the delivery ledger (a
    relay outage: tick retries it) and the status becomes waiting. Logged as your account.

    \b
        newsletter inbox reply 3 --file antwoord.md
        newsletter inbox reply 3 --file antwoord.md --yes --by "Sanne de Vries"
    """
    try:
        markdown = answer.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NewsletterError(f"cannot read {answer} as UTF-8 text: {exc}") from None
    db = store.open_store(settings)
    draft = draft_reply(db, settings, number, markdown, by)
    if not yes:
        to = f"{draft.to_name} <{draft.to}>" if draft.to_name else draft.to
        click.echo(f"To: {to}\nSubject: {draft.subject}\nIn-Reply-To: {draft.in_reply_to}\n")
        click.echo(draft.text)
        click.echo("Not sent: add --yes to send this answer.", err=True)
        return
    sent = send_reply(db, settings, draft)
    queued = (
        "" if sent.delivery == "sent" else f" (not delivered yet: {sent.delivery}; tick retries it)"
    )
    click.echo(
        f"Conversation {number}: replied to {sent.to} ({sent.subject}){queued}; status waiting"
    )


@inbox.command("close")
@conversation_argument
@actor_option("closed it", "inbox-close")
@pass_settings
def inbox_close(settings: Settings, number: int, by: str) -> None:
    """Close a conversation (a new message from the correspondent reopens it); logged.

    \b
        newsletter inbox close 3 --by "Sanne de Vries"
    """
    _, changed = postvak.close(store.open_store(settings), number, by)
    click.echo(f"Conversation {number}: {'closed' if changed else 'was already closed'}")


@inbox.command("reopen")
@conversation_argument
@actor_option("reopened it", "inbox-reopen")
@pass_settings
def inbox_reopen(settings: Settings, number: int, by: str) -> None:
    """Open a waiting or closed conversation again; logged.

    \b
        newsletter inbox reopen 3
    """
    _, changed = postvak.reopen(store.open_store(settings), number, by)
    click.echo(f"Conversation {number}: {'open' if changed else 'was already open'}")


@inbox.command("report")
@json_option
@pass_settings
def inbox_report(settings: Settings, as_json: bool) -> None:
    """Open questions (new and open) by age (0-2 days, 3-7, older) and theme.

    \b
        newsletter inbox report --json
    """
    data = conversations.report(store.open_store(settings), settings)
    echo_data(data, as_json, format_inbox_report, ascii_only=True)
