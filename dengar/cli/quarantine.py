"""``dengar quarantine``: see every item that could not become a record, and
replay it through the pipeline once the cause is fixed (a parser bug, a limit
raised).

A replay asks the item's channel class to rebuild it from the stored bytes
the way the channel hands it over (``replay`` on every channel class: a mail
from its RFC 822 bytes, a Telegram update or an X post from its JSON) and
ingests it without touching the channel's cursor. The quarantine row is
removed in the same transaction; if the item fails again it is quarantined
again, with the new reason.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import click
from rich.table import Table

from channels.registry import channel_class
from config.localtime import CLI_FORMAT, local_time
from contracts.channel import FetchResult, ReplaysRaw
from contracts.errors import NotReplayable
from contracts.registry import UnknownType

# the application and the database when a command runs: `dengar quarantine
# --help` opens neither
if TYPE_CHECKING:
    from sqlmodel import Session

    from dengar.app import App
    from storage.tables import QuarantineRow

__all__ = ["NotReplayable", "Replayed", "quarantine", "rebuild", "replay"]


@dataclass(frozen=True, slots=True)
class Replayed:
    """The outcome of one replay, in words for the operator."""

    quarantine_id: int
    outcome: str  # "case", "follow-up", "ignored", "already stored", ...
    detail: str = ""


def rebuild(app: App, row: QuarantineRow) -> FetchResult:
    """The stored bytes as the channel would have handed them to the runner;
    the channel's class rebuilds them (``contracts.channel.ReplaysRaw``).
    ``NotReplayable`` when the channel or the bytes do not allow it."""
    try:
        settings = app.settings.channel(row.channel)
    except KeyError:
        raise NotReplayable(f"channel {row.channel!r} is not configured") from None
    try:
        channel = cast(ReplaysRaw, channel_class(settings.type))
    except UnknownType:
        raise NotReplayable(f"no replay for channel type {settings.type!r}") from None
    return channel.replay(settings, row.data, row.external_id, row.created_at)


def replay(
    app: App, session: Session, row: QuarantineRow, actor: str | None = None
) -> Replayed:
    """Rebuild ``row``'s item and ingest it in ``session`` (committed, with
    an audit log entry of ``actor`` when given)."""
    from sqlmodel import select

    from dengar import audit
    from dengar.transaction import store_batch
    from storage.tables import QuarantineRow

    assert row.id is not None
    try:
        result = rebuild(app, row)
    except NotReplayable as exc:
        return Replayed(row.id, "kept", str(exc))
    if actor is not None:
        audit.record(session, actor, "quarantine_retry", f"#{row.id}", row.channel)
    session.delete(row)
    session.flush()
    summary = store_batch(
        session, app.pipeline, row.channel, result, advance_cursor=False
    )
    outcomes = {
        "case": summary.new_cases,
        "follow-up": summary.follow_ups,
        "ignored": summary.ignored,
        "already stored": summary.already_stored,
        "quarantined again": summary.quarantined,
    }
    outcome = next((name for name, n in outcomes.items() if n), "nothing")
    detail = f"{result.skipped} file(s) not re-downloaded" if result.skipped else ""
    if summary.quarantined:
        again = session.exec(
            select(QuarantineRow).where(
                QuarantineRow.channel == row.channel,
                QuarantineRow.external_id == row.external_id,
            )
        ).first()
        detail = again.reason if again is not None else detail
    return Replayed(row.id, outcome, detail)


@click.group()
def quarantine() -> None:
    """Items that could not become records: list, show, replay."""


@quarantine.command("list")
@click.option("--channel", default=None, help="Only this channel.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_(ctx: click.Context, channel: str | None, limit: int, as_json: bool) -> None:
    """The held items, newest first, with the reason each was held."""
    from sqlmodel import col, select

    from dengar.cli.common import console, open_app
    from storage.tables import QuarantineRow

    app = open_app(ctx)
    with app.sessions() as session:
        statement = select(QuarantineRow).order_by(col(QuarantineRow.id).desc())
        if channel:
            statement = statement.where(QuarantineRow.channel == channel)
        rows = [_summary(r) for r in session.exec(statement.limit(limit)).all()]
    asyncio.run(app.close())
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"Quarantine ({len(rows)})")
    for column in ("id", "channel", "source id", "held since", "bytes", "reason"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["channel"],
            r["external_id"],
            local_time(r["created_at"], app.settings.timezone, CLI_FORMAT),
            str(r["bytes"]),
            r["reason"],
        )
    console.print(table)


@quarantine.command("show")
@click.argument("item_id", type=int)
@click.option("--raw", is_flag=True, help="Write the stored bytes to stdout.")
@click.pass_context
def show(ctx: click.Context, item_id: int, raw: bool) -> None:
    """One held item: its reason and the start of its bytes."""
    from dengar.cli.common import err, open_app
    from storage.tables import QuarantineRow

    app = open_app(ctx)
    with app.sessions() as session:
        row = session.get(QuarantineRow, item_id)
    asyncio.run(app.close())
    if row is None:
        err.print(f"no quarantined item {item_id}")
        sys.exit(1)
    if raw:
        sys.stdout.buffer.write(row.data)
        return
    for key, value in _summary(row).items():
        click.echo(f"{key}: {value}")
    preview = row.data[:2000].decode("utf-8", errors="replace")
    click.echo("---")
    click.echo(preview + ("\n… (truncated)" if len(row.data) > 2000 else ""))


@quarantine.command("retry")
@click.argument("item_ids", type=int, nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every held item.")
@click.pass_context
def retry(ctx: click.Context, item_ids: tuple[int, ...], everything: bool) -> None:
    """Replay held items through the pipeline (IDs, or --all)."""
    from sqlmodel import col, select

    from dengar import audit
    from dengar.cli.common import console, err, open_app
    from storage.tables import QuarantineRow

    if not item_ids and not everything:
        err.print("give item ids or --all")
        sys.exit(2)
    app = open_app(ctx)
    results: list[Replayed] = []
    with app.sessions() as session:
        statement = select(QuarantineRow.id).order_by(col(QuarantineRow.id))
        if item_ids:
            statement = statement.where(col(QuarantineRow.id).in_(item_ids))
        ids = [i for i in session.exec(statement).all() if i is not None]
    missing = sorted(set(item_ids) - set(ids))
    enable_dedupe = getattr(app, "enable_dedupe", None)
    if ids and callable(enable_dedupe):
        enable_dedupe()  # a replayed case is linked like a polled one
    for item_id in ids:
        with app.sessions() as session:
            row = session.get(QuarantineRow, item_id)
            if row is not None:
                results.append(replay(app, session, row, audit.cli_actor()))
    asyncio.run(app.close())
    table = Table(title="Replayed")
    for column in ("id", "outcome", "detail"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(str(r.quarantine_id), r.outcome, r.detail)
    for item_id in missing:
        table.add_row(str(item_id), "not found", "")
    console.print(table)
    if missing or any(r.outcome in ("kept", "quarantined again") for r in results):
        sys.exit(1)


def _summary(row: QuarantineRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "channel": row.channel,
        "external_id": row.external_id,
        "created_at": row.created_at.isoformat(),
        "bytes": len(row.data),
        "reason": row.reason,
    }
