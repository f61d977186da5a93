"""``dengar import``: back-fill from .eml files, mbox archives and post URLs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

# the application when the command runs: `dengar import --help` starts fast
if TYPE_CHECKING:
    from contracts.records import InboundMessage, RejectedItem
    from dengar.app import App
    from dengar.pipeline import BatchSummary

_POST_URL = re.compile(r"^https?://(www\.|mobile\.)?(x|twitter)\.com/", re.IGNORECASE)
BATCH = 200


@click.command("import")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--channel",
    "channel_name",
    default=None,
    help="Channel name to record mail under (default: the first imap/maildir "
    "channel, else 'import'); posts use the configured x channel.",
)
@click.pass_context
def import_(
    ctx: click.Context, sources: tuple[str, ...], channel_name: str | None
) -> None:
    """Import SOURCES: .eml files, mbox archives, folders of them, or X post URLs.

    Importing the same thing twice creates nothing new.
    """
    from dengar.cli.common import console, open_app
    from dengar.pipeline import BatchSummary

    app = open_app(ctx)
    app.enable_dedupe()
    urls = [s for s in sources if _POST_URL.match(s)]
    files = [s for s in sources if not _POST_URL.match(s)]
    total = BatchSummary()
    try:
        if files:
            name = channel_name or _mail_channel(app)
            total.add(_import_files(app, files, name))
        if urls:
            total.add(asyncio.run(_import_posts(app, urls)))
    finally:
        asyncio.run(app.close())
    console.print(summary_line(total))
    waiting = sum(total.queued.values()) + total.replies
    if waiting:
        console.print(
            f"{waiting} deliveries wait in the outbox: run `dengar run --once` "
            "(or keep `dengar run` going) to send them."
        )
    else:
        console.print("Nothing waits to be delivered.")


def summary_line(total: BatchSummary) -> str:
    """What an import did, every outcome counted."""
    return (
        f"new cases {total.new_cases} (of which duplicates {total.linked}), "
        f"follow-ups {total.follow_ups}, ignored {total.ignored}, "
        f"already stored {total.already_stored}, quarantined {total.quarantined}"
    )


def _mail_channel(app: App) -> str:
    for channel in app.settings.channels:
        if channel.type in ("imap", "maildir"):
            return channel.name
    return "import"


def _import_files(app: App, files: list[str], channel: str) -> BatchSummary:
    from channels.mailfiles import read_mail_files
    from contracts.channel import FetchResult
    from contracts.records import InboundMessage, RejectedItem
    from dengar.pipeline import BatchSummary

    total = BatchSummary()
    columns = (
        TextColumn("importing"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[messages]} message(s) read"),
    )
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("importing", total=None, messages=0)
        read = 0

        def advance(done: int, count: int) -> None:
            progress.update(task, completed=done, total=count)

        def counted(
            items: Iterable[InboundMessage | RejectedItem],
        ) -> Iterator[InboundMessage | RejectedItem]:
            nonlocal read
            for item in items:
                read += 1
                progress.update(task, messages=read)
                yield item

        items = read_mail_files([Path(f) for f in files], channel, progress=advance)
        for batch in _batches(counted(items), BATCH):
            result = FetchResult(
                items=[i for i in batch if isinstance(i, InboundMessage)],
                cursor=None,
                rejected=[i for i in batch if isinstance(i, RejectedItem)],
            )
            total.add(app.store(channel, result, advance_cursor=False))
    return total


async def _import_posts(app: App, urls: list[str]) -> BatchSummary:
    from channels.x import XChannel
    from contracts.channel import FetchResult

    channel = next(
        (c for c in app.settings.channels if c.type == "x"),
        None,
    )
    if channel is None:
        raise click.UsageError("importing a post needs an x channel in the config")
    x = app.channels.get(channel.name)
    client = x if isinstance(x, XChannel) else XChannel(channel)
    items = [await client.fetch_post_by_url(url) for url in urls]

    try:
        return await asyncio.to_thread(
            app.store,
            channel.name,
            FetchResult(items=items, cursor=None),
            advance_cursor=False,
        )
    finally:
        if client is not x:
            await client.close()


def _batches(
    items: Iterable[InboundMessage | RejectedItem], size: int
) -> Iterator[list[InboundMessage | RejectedItem]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
