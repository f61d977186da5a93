"""An IMAP mailbox (imapclient, run in ``asyncio.to_thread``).

Cursor: JSON ``{"<folder>": "<UIDVALIDITY>:<last UID>", ...}``. A folder whose
UIDVALIDITY changed is re-scanned from the start; the stable ``external_id``
keeps that from creating duplicates.

``external_id``: ``normalizer.mime.mail_external_id(raw)``, i.e. the
Message-ID plus a short digest of From/Date/Subject, or ``sha256:<hex>`` of the
raw bytes when there is no Message-ID. Not ``folder:UIDVALIDITY:UID``: that
changes on a UIDVALIDITY reset and on ``move:``, and the same message
delivered to two of our addresses must stay one case. The Message-ID alone is
not enough: a broken or hostile sender reusing someone else's Message-ID would
make a new complaint look like a re-fetch and vanish; the header digest
separates those while staying stable when a server re-encodes the bytes.

Mail is read with ``BODY.PEEK[]`` (it stays unseen); ``after_import`` runs in
``after_commit``. A message over ``max_message_bytes`` is not downloaded: its
header block goes to ``rejected`` (quarantine) with its size and where the
whole message still is.

The connection (login, error translation) is in ``channels.imap.connection``
and the folder scan in ``channels.imap.scan``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from imapclient import IMAPClient

from channels.imap.connection import ImapConnection, select_folder
from channels.imap.scan import ImapReceipt, parse_cursor, scan
from channels.imap.smtp import SmtpReplier
from channels.mail_replay import replay_mail
from config.channel_settings import ImapChannelSettings
from contracts.channel import FetchResult
from contracts.records import OutgoingReply

__all__ = ["SEEN", "ImapChannel", "ImapReceipt"]

SEEN = b"\\Seen"


class ImapChannel:
    """Complaints from one IMAP account, over one or more folders.

    ``wait_seconds`` bounds how long ``fetch`` may wait in IDLE when nothing is
    pending (0 disables waiting), so the runner stays responsive.
    """

    def __init__(
        self, settings: ImapChannelSettings, wait_seconds: float = 25.0
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.wait_seconds = wait_seconds
        self._connection = ImapConnection(settings)
        self._replier: SmtpReplier | None = None

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"ImapChannel(name={self.name!r}, host={s.host!r}, "
            f"user={s.username!r}, folders={s.folders!r})"
        )

    @staticmethod
    def replay(
        settings: ImapChannelSettings,
        raw: bytes,
        external_id: str,
        received_at: datetime,
    ) -> FetchResult:
        """The mail rebuilt from its stored bytes (``contracts.channel.ReplaysRaw``)."""
        return replay_mail(settings.name, raw, external_id, received_at)

    # -- the Channel protocol -------------------------------------------------

    async def check(self) -> None:
        """Log in and make sure every configured folder exists."""
        await asyncio.to_thread(self._connection.guard, self._check)

    async def fetch(self, cursor: str | None, limit: int) -> FetchResult:
        """Up to ``limit`` new messages over all folders, oldest UID first."""
        result: FetchResult = await asyncio.to_thread(
            self._connection.guard, self._fetch, cursor, limit
        )
        return result

    async def after_commit(self, result: FetchResult) -> None:
        """Apply ``after_import`` (keep | flag_seen | move:<folder>)."""
        if self.settings.after_import == "keep" or not result.receipts:
            return
        await asyncio.to_thread(
            self._connection.guard, self._after_import, result.receipts
        )

    async def close(self) -> None:
        """Log out (best effort) and close the SMTP side if it was used."""
        await asyncio.to_thread(self._connection.close)
        if self._replier is not None:
            await self._replier.close()

    async def send_reply(self, reply: OutgoingReply) -> str:
        """Send ``reply`` over the channel's ``smtp:`` block; returns the
        Message-ID we generated (store it: replies to it are follow-ups)."""
        if self._replier is None:
            self._replier = SmtpReplier.from_imap_settings(self.settings)
        return await self._replier.send_reply(reply)

    # -- in the connection's thread ---------------------------------------------

    def _check(self) -> None:
        client = self._connection.connect()
        for folder in self.settings.folders:
            select_folder(client, folder)

    def _fetch(self, cursor: str | None, limit: int) -> FetchResult:
        client = self._connection.connect()
        marks = parse_cursor(cursor)
        result = scan(client, self.settings, marks, limit)
        if result.items or result.rejected or self.wait_seconds <= 0:
            return result
        can_idle = self.settings.idle and b"IDLE" in client.capabilities()
        if can_idle and self._idle(client, self.settings.folders[0]):
            return scan(client, self.settings, marks, limit)
        return result

    def _idle(self, client: IMAPClient, folder: str) -> bool:
        """Wait in IDLE up to ``wait_seconds``; True when new mail arrived."""
        select_folder(client, folder)
        client.idle()
        try:
            # RFC 2177: re-issue IDLE well within 29 minutes
            wait = min(self.wait_seconds, self.settings.idle_timeout)
            responses = client.idle_check(timeout=wait)
        finally:
            client.idle_done()
        return any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)

    # -- after_import -----------------------------------------------------------

    def _after_import(self, receipts: Sequence[object]) -> None:
        client = self._connection.connect()
        action = self.settings.after_import
        by_folder: dict[tuple[str, int], list[int]] = {}
        for receipt in receipts:
            if isinstance(receipt, ImapReceipt):
                by_folder.setdefault((receipt.folder, receipt.uidvalidity), []).append(
                    receipt.uid
                )
        for (folder, validity), uids in by_folder.items():
            info = select_folder(client, folder)
            if int(info[b"UIDVALIDITY"]) != validity:
                continue  # the UIDs mean other messages now: touch nothing
            if action == "flag_seen":
                client.add_flags(uids, [SEEN])
            elif action.startswith("move:"):
                self._move(client, uids, action.removeprefix("move:"))

    def _move(self, client: IMAPClient, uids: list[int], target: str) -> None:
        if not client.folder_exists(target):
            client.create_folder(target)
        if b"MOVE" in client.capabilities():
            client.move(uids, target)
            return
        client.copy(uids, target)
        client.add_flags(uids, [b"\\Deleted"])
        if b"UIDPLUS" in client.capabilities():
            client.uid_expunge(uids)
        else:
            client.expunge()
