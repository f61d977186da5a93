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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from channels.base import FetchResult
from channels.errors import FatalChannelError, RetriableChannelError
from channels.oauth2_tokens import RefreshTokenSource
from channels.smtp_reply import SmtpReplier
from config.channel_settings import ImapChannelSettings
from normalizer.mime import mail_external_id
from normalizer.records import InboundMessage, OutgoingReply, RejectedItem

log = logging.getLogger(__name__)

SEEN = b"\\Seen"
# bodies are fetched in groups of about this many bytes, to bound memory
_FETCH_CHUNK_BYTES = 20_000_000
_CONNECT_TIMEOUT = 30.0
_TEMPORARY_AUTH_FAILURE = "[UNAVAILABLE]"


@dataclass(frozen=True, slots=True)
class ImapReceipt:
    """Where a fetched message lives, for ``after_import``."""

    folder: str
    uidvalidity: int
    uid: int


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
        self._client: IMAPClient | None = None
        self._replier: SmtpReplier | None = None
        self._tokens = (
            RefreshTokenSource(settings.oauth2, settings.username)
            if settings.oauth2 is not None
            else None
        )
        # one IMAP connection: a check() or close() waits for a fetch in IDLE
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"ImapChannel(name={self.name!r}, host={s.host!r}, "
            f"user={s.username!r}, folders={s.folders!r})"
        )

    # -- the Channel protocol -------------------------------------------------

    async def check(self) -> None:
        """Log in and make sure every configured folder exists."""
        await asyncio.to_thread(self._guard, self._check)

    async def fetch(self, cursor: str | None, limit: int) -> FetchResult:
        """Up to ``limit`` new messages over all folders, oldest UID first."""
        return await asyncio.to_thread(self._guard, self._fetch, cursor, limit)

    async def after_commit(self, result: FetchResult) -> None:
        """Apply ``after_import`` (keep | flag_seen | move:<folder>)."""
        if self.settings.after_import == "keep" or not result.receipts:
            return
        await asyncio.to_thread(self._guard, self._after_import, result.receipts)

    async def close(self) -> None:
        """Log out (best effort) and close the SMTP side if it was used."""
        await asyncio.to_thread(self._locked_drop)
        if self._replier is not None:
            await self._replier.close()

    async def send_reply(self, reply: OutgoingReply) -> str:
        """Send ``reply`` over the channel's ``smtp:`` block; returns the
        Message-ID we generated (store it: replies to it are follow-ups)."""
        if self._replier is None:
            self._replier = SmtpReplier.from_imap_settings(self.settings)
        return await self._replier.send_reply(reply)

    # -- connection -------------------------------------------------------------

    def _guard(self, func: Any, *args: Any) -> Any:
        """Run ``func`` and turn library errors into channel errors."""
        with self._lock:
            return self._translate(func, *args)

    def _locked_drop(self) -> None:
        with self._lock:
            self._drop()

    def _translate(self, func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except (FatalChannelError, RetriableChannelError):
            raise
        except LoginError as exc:
            self._drop()
            if _TEMPORARY_AUTH_FAILURE in str(exc):
                # RFC 5530: the server could not check the credentials (for
                # XOAUTH2: its token endpoint is down); they may well be fine
                raise RetriableChannelError(
                    f"IMAP server {self.settings.host} cannot check logins "
                    f"right now: {_short(exc)}"
                ) from None
            hint = ""
            if self._tokens is not None:
                hint = (
                    " (a new access token was refused: is the refresh token "
                    "for this mailbox, with the IMAP scope?)"
                )
            raise FatalChannelError(
                f"IMAP login failed for {self.settings.username!r} at "
                f"{self.settings.host}: {_short(exc)}{hint}"
            ) from None
        except ssl.SSLCertVerificationError as exc:
            self._drop()
            raise FatalChannelError(
                f"TLS certificate of {self.settings.host} not trusted: "
                f"{exc.verify_message}"
            ) from None
        except (OSError, IMAPClientAbortError, EOFError) as exc:
            # refused, reset, timeout, TLS failure, server said BYE
            self._drop()
            raise RetriableChannelError(
                f"IMAP connection to {self.settings.host}:"
                f"{self.settings.effective_port} failed: {_short(exc)}"
            ) from None
        except IMAPClientError as exc:
            # a NO/BAD we did not expect: the session state is unknown
            self._drop()
            raise RetriableChannelError(f"IMAP error: {_short(exc)}") from None

    def _connect(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        s = self.settings
        # before connecting: no IMAP session idles while the provider answers
        access_token = self._tokens.access_token() if self._tokens else None
        context = ssl.create_default_context()
        client = IMAPClient(
            s.host,
            port=s.effective_port,
            ssl=s.security == "tls",
            ssl_context=context if s.security == "tls" else None,
            timeout=_CONNECT_TIMEOUT,
        )
        try:
            if s.security == "starttls":
                client.starttls(context)
            if access_token is not None:
                self._xoauth2_login(client, access_token)
            elif s.oauth2_token is not None:
                client.oauth2_login(s.username, s.oauth2_token.get_secret_value())
            else:
                assert s.password is not None  # settings require exactly one kind
                client.login(s.username, s.password.get_secret_value())
        except BaseException:
            _quietly_close(client)
            raise
        self._client = client
        return client

    def _xoauth2_login(self, client: IMAPClient, access_token: str) -> None:
        assert self._tokens is not None
        try:
            client.oauth2_login(self.settings.username, access_token)
        except LoginError as exc:
            # a cached token may have been revoked or expired early: one new
            # token, one more try; an unavailable server is not the token
            renewed = None
            if _TEMPORARY_AUTH_FAILURE not in str(exc):
                renewed = self._tokens.replace_refused()
            if renewed is None:
                raise
            client.oauth2_login(self.settings.username, renewed)

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            _quietly_close(client)

    def _select(self, client: IMAPClient, folder: str) -> dict[bytes, Any]:
        try:
            info: dict[bytes, Any] = client.select_folder(folder)
        except IMAPClientAbortError:
            raise
        except IMAPClientError as exc:
            raise FatalChannelError(
                f"cannot open IMAP folder {folder!r}: {_short(exc)}"
            ) from None
        return info

    def _check(self) -> None:
        client = self._connect()
        for folder in self.settings.folders:
            self._select(client, folder)

    # -- fetch ------------------------------------------------------------------

    def _fetch(self, cursor: str | None, limit: int) -> FetchResult:
        client = self._connect()
        marks = _parse_cursor(cursor)
        result = self._scan(client, marks, limit)
        if result.items or result.rejected or self.wait_seconds <= 0:
            return result
        can_idle = self.settings.idle and b"IDLE" in client.capabilities()
        if can_idle and self._idle(client, self.settings.folders[0]):
            return self._scan(client, marks, limit)
        return result

    def _scan(
        self, client: IMAPClient, marks: dict[str, tuple[int, int]], limit: int
    ) -> FetchResult:
        items: list[InboundMessage] = []
        rejected: list[RejectedItem] = []
        receipts: list[ImapReceipt] = []
        new_marks = dict(marks)
        more = False
        for folder in self.settings.folders:
            info = self._select(client, folder)
            validity = int(info[b"UIDVALIDITY"])
            old_validity, last_uid = marks.get(folder, (validity, 0))
            if old_validity != validity:
                log.warning(
                    "IMAP folder %r UIDVALIDITY changed (%s -> %s): re-scanning",
                    folder,
                    old_validity,
                    validity,
                )
                last_uid = 0
            new_marks[folder] = (validity, last_uid)
            room = limit - len(items) - len(rejected)
            if room <= 0:
                more = True
                break
            # "N:*" always matches the newest message, even below N: filter
            uids = sorted(
                u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid
            )
            if len(uids) > room:
                uids, more = uids[:room], True
            if not uids:
                continue
            self._fetch_folder(
                client, folder, validity, uids, items, rejected, receipts
            )
            new_marks[folder] = (validity, uids[-1])
        return FetchResult(
            items=items,
            cursor=json.dumps({f: f"{v}:{u}" for f, (v, u) in new_marks.items()}),
            rejected=rejected,
            more=more,
            receipts=receipts,
        )

    def _fetch_folder(
        self,
        client: IMAPClient,
        folder: str,
        validity: int,
        uids: list[int],
        items: list[InboundMessage],
        rejected: list[RejectedItem],
        receipts: list[ImapReceipt],
    ) -> None:
        limit = self.settings.max_message_bytes
        meta = client.fetch(uids, ["RFC822.SIZE", "INTERNALDATE"])
        wanted: list[int] = []
        for uid in uids:
            if uid not in meta:
                continue  # expunged meanwhile
            size = int(meta[uid].get(b"RFC822.SIZE", 0))
            if size > limit:
                # left untouched (unseen, in place) where the reason says it is
                rejected.append(self._oversize(client, folder, validity, uid, size))
            else:
                receipts.append(ImapReceipt(folder, validity, uid))
                wanted.append(uid)
        for chunk in _chunks(wanted, meta):
            bodies = client.fetch(chunk, ["BODY.PEEK[]"])
            for uid in chunk:
                raw = bodies.get(uid, {}).get(b"BODY[]")
                if raw is None:
                    continue  # expunged between the two fetches
                items.append(
                    InboundMessage(
                        channel=self.name,
                        external_id=mail_external_id(bytes(raw)),
                        received_at=_aware(meta[uid].get(b"INTERNALDATE")),
                        raw=bytes(raw),
                        raw_format="rfc822",
                        metadata={
                            "imap_folder": folder,
                            "imap_uid": uid,
                            "imap_uidvalidity": validity,
                        },
                    )
                )

    def _oversize(
        self, client: IMAPClient, folder: str, validity: int, uid: int, size: int
    ) -> RejectedItem:
        # the header block only: enough to see who wrote, without pulling
        # a huge message into memory and the quarantine table
        header = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {})
        raw = bytes(header.get(b"BODY[HEADER]", b""))
        where = f"IMAP folder {folder!r} UIDVALIDITY {validity} UID {uid}"
        return RejectedItem(
            channel=self.name,
            external_id=mail_external_id(raw),
            raw=raw,
            reason=(
                f"message is {size} bytes, over max_message_bytes "
                f"({self.settings.max_message_bytes}); only its header is kept "
                f"here, the whole message is in {where}"
            ),
        )

    def _idle(self, client: IMAPClient, folder: str) -> bool:
        """Wait in IDLE up to ``wait_seconds``; True when new mail arrived."""
        self._select(client, folder)
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
        client = self._connect()
        action = self.settings.after_import
        by_folder: dict[tuple[str, int], list[int]] = {}
        for receipt in receipts:
            if isinstance(receipt, ImapReceipt):
                by_folder.setdefault((receipt.folder, receipt.uidvalidity), []).append(
                    receipt.uid
                )
        for (folder, validity), uids in by_folder.items():
            info = self._select(client, folder)
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


def _parse_cursor(cursor: str | None) -> dict[str, tuple[int, int]]:
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
        marks = {}
        for folder, mark in data.items():
            validity, uid = str(mark).split(":", 1)
            marks[str(folder)] = (int(validity), int(uid))
        return marks
    except (ValueError, AttributeError, TypeError):
        # an unreadable cursor re-scans: dedupe makes that safe, skipping is not
        log.warning("unreadable IMAP cursor %r: re-scanning every folder", cursor[:200])
        return {}


def _chunks(uids: list[int], meta: dict[int, Any]) -> Iterable[list[int]]:
    chunk: list[int] = []
    size = 0
    for uid in uids:
        uid_size = int(meta[uid].get(b"RFC822.SIZE", 0))
        if chunk and size + uid_size > _FETCH_CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(uid)
        size += uid_size
    if chunk:
        yield chunk


def _aware(value: object) -> datetime:
    if isinstance(value, datetime):
        # imapclient gives naive local time by default; astimezone reads it so
        return value.astimezone(UTC)
    return datetime.now(UTC)


def _short(exc: BaseException) -> str:
    text = str(exc)
    return (text or type(exc).__name__)[:300]


def _quietly_close(client: IMAPClient) -> None:
    try:
        client.logout()
    except (OSError, IMAPClientError, EOFError):
        with contextlib.suppress(OSError, IMAPClientError, EOFError):
            client.shutdown()
