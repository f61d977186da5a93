"""``dengar triage``: list what awaits Diskominfo's decision (social posts,
unrouted cases with the routing model's suggestions, cases an agency
returned), accept or dismiss.

``dengar.cli.main`` adds the ``triage`` group. The group opens the installation
from the configuration; tests (or another shell) can hand it a ready
``TriageBackend`` as ``ctx.obj["triage_backend"]`` instead.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn

import click
from rich.console import Console
from rich.table import Table

from config.localtime import local_time

# the database and the routing model when a command runs: `dengar triage
# --help` loads neither
if TYPE_CHECKING:
    from sqlmodel import Session

    from dengar.triage import RouteAndEnqueue
    from storage.tables import ComplaintRow


@dataclass
class TriageBackend:
    """What the triage commands need: sessions, the pipeline's
    ``enqueue_for_agency`` and the known agency codes."""

    sessions: Callable[[], Session]
    route_and_enqueue: RouteAndEnqueue
    agencies: Collection[str] | None = None
    close: Callable[[], None] = lambda: None
    timezone: str = "UTC"
    # a channel's overrides of the citizen messages, and the public web
    # address (for the tracking link of a private comment reply)
    messages: Callable[[str], Mapping[str, str]] = lambda _channel: {}
    public_url: str | None = None


@contextmanager
def _backend(ctx: click.Context) -> Iterator[TriageBackend]:
    obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    given = obj.get("triage_backend")
    if isinstance(given, TriageBackend):
        yield given
        return
    from dengar.cli.common import open_app

    app = open_app(ctx)
    backend = TriageBackend(
        sessions=app.sessions,
        route_and_enqueue=app.pipeline.enqueue_for_agency,
        agencies={a.code for a in app.settings.agencies},
        close=lambda: asyncio.run(app.close()),
        timezone=app.settings.timezone,
        messages=app.pipeline.replies.messages,
        public_url=app.settings.web.public_url,
    )
    try:
        yield backend
    finally:
        backend.close()


def _fail(message: str) -> NoReturn:
    Console(stderr=True).print(f"[red]{message}[/red]", highlight=False)
    sys.exit(1)


def _decide(
    ctx: click.Context,
    decide: Callable[[Session, TriageBackend], ComplaintRow],
    done: Callable[[ComplaintRow], str],
    audited: tuple[str, str, Callable[[ComplaintRow], str | None]],
) -> None:
    """Run one triage decision in its own transaction, entered in the audit
    log as ``audited`` (actor, action, detail of the row) like the
    dashboard's, and print ``done`` of the row, or the refusal (exit 1)."""
    from dengar import audit
    from dengar.triage import TriageError

    actor, action, detail = audited
    with _backend(ctx) as backend, backend.sessions() as session:
        try:
            row = decide(session, backend)
        except TriageError as exc:
            session.rollback()
            _fail(str(exc))
        target = row.tracking_no or str(row.id)
        audit.record(session, actor, action, target, detail(row))
        session.commit()
        # inside the session: the committed row reloads its attributes
        click.echo(done(row))


def _summary(row: ComplaintRow) -> dict[str, object]:
    from dengar.comment_replies import reply_modes
    from dengar.triage import model_suggestions, why_waiting

    return {
        "id": row.id,
        "tracking_no": row.tracking_no,
        "channel": row.channel,
        "received_at": row.received_at.isoformat(),
        "reporter": row.reporter_handle or row.reporter_name,
        "text": row.clean_text or row.original_text,
        "agency_code": row.agency_code,
        "routing_reason": row.routing_reason,
        "status": row.status,
        "why": why_waiting(row),
        "duplicate_of_id": row.duplicate_of_id,
        "duplicate_score": row.duplicate_score,
        "suggestions": model_suggestions(row),
        "reply_modes": list(reply_modes(row)),
    }


def _suggestion_cell(row: ComplaintRow) -> str:
    from dengar.triage import model_suggestions

    return "\n".join(
        f"{s.get('agency')} {float(s.get('confidence') or 0):.2f}: "
        + ", ".join(s.get("words") or [])
        for s in model_suggestions(row)
    )


_actor_option = click.option(
    "--actor", default=None, help="Who decides (default cli:<user>)."
)


@click.group("triage", invoke_without_command=True)
@click.option("--channel", default=None, help="Only items of this channel.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.pass_context
def triage(ctx: click.Context, channel: str | None, as_json: bool) -> None:
    """What awaits a decision: social posts and unrouted cases (accept or
    dismiss them) and cases an agency returned (accept --agency); the same
    list as the dashboard's /triase."""
    from dengar.triage import triage_queue, why_waiting

    if ctx.invoked_subcommand is not None:
        return
    with _backend(ctx) as backend, backend.sessions() as session:
        rows = triage_queue(session, channel)
        zone_name = backend.timezone
    console = Console(width=None if sys.stdout.isatty() else 160)
    if as_json:
        for row in rows:
            click.echo(json.dumps(_summary(row), ensure_ascii=False))
        return
    if not rows:
        console.print("Nothing awaits triage.")
        return
    table = Table(
        "id",
        "tracking",
        "channel",
        "received",
        "from",
        "text",
        "agency",
        "why",
        "model",
    )
    for row in rows:
        text = " ".join((row.clean_text or row.original_text).split())
        if len(text) > 80:
            text = text[:79] + "…"
        if row.duplicate_of_id is not None:
            text = f"[dup of #{row.duplicate_of_id}] {text}"
        table.add_row(
            str(row.id),
            row.tracking_no or "",
            row.channel,
            local_time(row.received_at, zone_name, "%Y-%m-%d %H:%M"),
            row.reporter_handle or row.reporter_name or "",
            text,
            row.agency_code or "",
            why_waiting(row)
            + (f": {row.routing_reason}" if row.status == "rerouted" else ""),
            _suggestion_cell(row),
        )
    console.print(table)
    console.print(f"{len(rows)} awaiting triage")


@triage.command("accept")
@click.argument("ref")
@click.option("--agency", default=None, help="Agency code (overrides the routing).")
@click.option(
    "--reply",
    "reply_mode",
    # dengar.comment_replies.MODES, written out: --help loads no database
    type=click.Choice(["private", "public"]),
    default=None,
    help="Answer a Facebook/Instagram comment: private (the one private message, "
    "within 7 days) or public (the tracking number only).",
)
@_actor_option
@click.pass_context
def accept_command(
    ctx: click.Context,
    ref: str,
    agency: str | None,
    reply_mode: str | None,
    actor: str | None,
) -> None:
    """Make post REF (id or tracking number) a case and queue it for its
    agency; a returned case goes to the agency given with --agency."""
    from dengar import audit
    from dengar.comment_replies import queue_comment_reply
    from dengar.triage import accept

    who = actor or audit.cli_actor()

    def decide(session: Session, backend: TriageBackend) -> ComplaintRow:
        row = accept(
            session,
            ref,
            agency,
            who,
            backend.route_and_enqueue,
            agencies=backend.agencies,
        )
        if reply_mode:
            queue_comment_reply(
                session,
                row,
                reply_mode,
                backend.messages(row.channel),
                backend.public_url,
            )
        return row

    replied = f", {reply_mode} reply queued" if reply_mode else ""
    _decide(
        ctx,
        decide,
        lambda row: (
            f"accepted {row.tracking_no or row.id} for {row.agency_code}" + replied
        ),
        (who, "triage_accept", lambda row: row.agency_code),
    )


@triage.command("dismiss")
@click.argument("ref")
@click.option("--reason", required=True, help="Why this is not a case.")
@_actor_option
@click.pass_context
def dismiss_command(
    ctx: click.Context, ref: str, reason: str, actor: str | None
) -> None:
    """Decide post REF (id or tracking number) is not a case."""
    from dengar import audit
    from dengar.triage import dismiss

    who = actor or audit.cli_actor()
    _decide(
        ctx,
        lambda session, _: dismiss(session, ref, reason, who),
        lambda row: f"dismissed {row.tracking_no or row.id}: {reason.strip()}",
        (who, "triage_dismiss", lambda _: reason.strip() or None),
    )
