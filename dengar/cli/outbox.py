"""``dengar outbox``: inspect and replay deliveries."""

from __future__ import annotations

import asyncio
import json

import click
from rich.table import Table

# the database when a command runs: `dengar outbox --help` opens nothing


@click.group()
def outbox() -> None:
    """Deliveries to agencies and replies to citizens."""


@outbox.command("list")
@click.option(
    "--status",
    type=click.Choice(["pending", "in_flight", "delivered", "dead", "skipped", "all"]),
    default="all",
    show_default=True,
)
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_(ctx: click.Context, status: str, limit: int, as_json: bool) -> None:
    """The newest outbox rows, with their last error."""
    from sqlmodel import col, select

    from dengar.cli.common import console, open_app
    from storage.tables import ComplaintRow, OutboxRow

    app = open_app(ctx)
    with app.sessions() as session:
        statement = select(OutboxRow, ComplaintRow.tracking_no).join(
            ComplaintRow, col(ComplaintRow.id) == col(OutboxRow.complaint_id)
        )
        if status != "all":
            statement = statement.where(OutboxRow.status == status)
        rows = session.exec(
            statement.order_by(col(OutboxRow.id).desc()).limit(limit)
        ).all()
    asyncio.run(app.close())
    items = [
        {
            "id": row.id,
            "kind": row.kind,
            "target": row.target,
            "tracking_no": tracking_no,
            "status": row.status,
            "attempts": row.attempts,
            "next_attempt_at": row.next_attempt_at.isoformat(),
            "last_error": row.last_error,
        }
        for row, tracking_no in rows
    ]
    if as_json:
        click.echo(json.dumps(items, indent=2, ensure_ascii=False))
        return
    table = Table(title="Outbox")
    for column in ("id", "kind", "target", "case", "status", "tries", "last error"):
        table.add_column(column, overflow="fold")
    keys = ("id", "kind", "target", "tracking_no", "status", "attempts", "last_error")
    for item in items:
        table.add_row(*(str(item[k]) if item[k] is not None else "" for k in keys))
    console.print(table)


@outbox.command()
@click.argument("ids", nargs=-1, type=int)
@click.option("--dead", is_flag=True, help="Retry every dead delivery.")
@click.pass_context
def retry(ctx: click.Context, ids: tuple[int, ...], dead: bool) -> None:
    """Put deliveries back in the queue: the given IDS, or all --dead ones."""
    from dengar import audit
    from dengar.cli.common import console, open_app
    from dispatcher.outbox import queue as box

    if not ids and not dead:
        raise click.UsageError("give outbox row IDS or --dead")
    app = open_app(ctx)
    with app.sessions() as session:
        # staged first: retry() commits it with the rows it puts back
        audit.record(
            session, audit.cli_actor(), "outbox_retry", audit.retried_rows(ids)
        )
        count = box.retry(session, list(ids) if ids else None, dead=dead)
    asyncio.run(app.close())
    console.print(f"{count} delivery(ies) queued again")
