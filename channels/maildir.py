"""A standard Maildir (``new/``, ``cur/``, ``tmp/``), as written by Postfix,
Dovecot or fetchmail. Messages are handed over as raw RFC 822 bytes.

``after_import: move`` (default) treats ``new/`` as the queue: every file
there is fetched, and once stored it is moved to ``cur/`` with the ``S``
flag. ``keep`` never touches the files: it fetches from ``new/`` and ``cur/``
in (mtime, name) order after the stored cursor, so a message written later
with an older mtime (``cp -p`` into the folder) is not seen; use ``move`` when
other programs deliver into the folder.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from channels.mail_replay import replay_mail
from config.channel_settings import MaildirChannelSettings
from contracts.channel import FetchResult
from contracts.errors import FatalChannelError
from contracts.records import InboundMessage, RejectedItem


@dataclass(frozen=True, slots=True, order=True)
class _Entry:
    mtime_ns: int
    name: str
    path: Path


class MaildirChannel:
    """Reads complaints from a Maildir on local disk."""

    def __init__(self, settings: MaildirChannelSettings) -> None:
        self.name = settings.name
        self.settings = settings
        self.root = settings.path

    def __repr__(self) -> str:
        return f"MaildirChannel(name={self.name!r}, path={str(self.root)!r})"

    @staticmethod
    def replay(
        settings: MaildirChannelSettings,
        raw: bytes,
        external_id: str,
        received_at: datetime,
    ) -> FetchResult:
        """The mail rebuilt from its stored bytes (``contracts.channel.ReplaysRaw``)."""
        return replay_mail(settings.name, raw, external_id, received_at)

    async def check(self) -> None:
        """The folder must exist with ``new/`` and ``cur/``."""
        await asyncio.to_thread(self._check)

    def _check(self) -> None:
        for sub in ("new", "cur"):
            folder = self.root / sub
            if not folder.is_dir():
                raise FatalChannelError(f"{folder} is not a directory (not a Maildir?)")
            if not os.access(folder, os.R_OK | os.X_OK):
                raise FatalChannelError(f"{folder} is not readable")

    async def fetch(self, cursor: str | None, limit: int) -> FetchResult:
        """Up to ``limit`` messages; see the module docstring for the order."""
        return await asyncio.to_thread(self._fetch, cursor, limit)

    def _fetch(self, cursor: str | None, limit: int) -> FetchResult:
        self._check()
        entries = self._pending(cursor)
        batch, more = entries[:limit], len(entries) > limit
        items: list[InboundMessage] = []
        rejected: list[RejectedItem] = []
        for entry in batch:
            try:
                data = entry.path.read_bytes()
            except FileNotFoundError:
                continue  # another reader moved it: it is theirs now
            external_id = _unique_name(entry.name)
            if len(data) > self.settings.max_message_bytes:
                rejected.append(
                    RejectedItem(
                        channel=self.name,
                        external_id=external_id,
                        raw=data,
                        reason=(
                            f"message is {len(data)} bytes, over max_message_bytes "
                            f"({self.settings.max_message_bytes})"
                        ),
                    )
                )
                continue
            items.append(
                InboundMessage(
                    channel=self.name,
                    external_id=external_id,
                    received_at=datetime.fromtimestamp(entry.mtime_ns / 1e9, UTC),
                    raw=data,
                    raw_format="rfc822",
                    metadata={"maildir_file": entry.name},
                )
            )
        new_cursor = cursor
        if batch:
            new_cursor = json.dumps(
                {"mtime_ns": batch[-1].mtime_ns, "name": batch[-1].name}
            )
        return FetchResult(
            items=items,
            cursor=new_cursor,
            rejected=rejected,
            more=more,
            receipts=[e.path for e in batch],
        )

    def _pending(self, cursor: str | None) -> list[_Entry]:
        if self.settings.after_import == "move":
            return sorted(self._scan("new"))
        entries = sorted([*self._scan("new"), *self._scan("cur")])
        if cursor:
            mark = json.loads(cursor)
            after = (int(mark["mtime_ns"]), str(mark["name"]))
            entries = [e for e in entries if (e.mtime_ns, e.name) > after]
        return entries

    def _scan(self, sub: str) -> list[_Entry]:
        out = []
        with os.scandir(self.root / sub) as it:
            for item in it:
                if item.name.startswith(".") or not item.is_file():
                    continue
                out.append(_Entry(item.stat().st_mtime_ns, item.name, Path(item.path)))
        return out

    async def after_commit(self, result: FetchResult) -> None:
        """With ``move``: file every stored message under ``cur/`` as seen."""
        if self.settings.after_import != "move":
            return
        await asyncio.to_thread(self._move, result)

    def _move(self, result: FetchResult) -> None:
        for receipt in result.receipts:
            path = Path(str(receipt))
            target = self.root / "cur" / f"{_unique_name(path.name)}:2,S"
            try:
                os.replace(path, target)
            except FileNotFoundError:
                continue  # already moved (a rerun after a crash)

    async def close(self) -> None:
        """Nothing to release."""


def _unique_name(filename: str) -> str:
    """The Maildir unique name: the file name without its ``:2,<flags>``."""
    return filename.split(":", 1)[0]
