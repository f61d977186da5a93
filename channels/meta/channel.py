"""The regency's Facebook Page and Instagram account as a complaint channel.

Meta pushes; the web app's receiver (``channels.meta.webhook``) stores each
signed body in this channel's spool before answering. ``fetch`` reads the
spool (looking up the text of @mentions and downloading the files of
direct messages at once), then, every ``catch_up_interval``, reads the
Graph API for what the webhooks missed (``channels.meta.catch_up``). The
runner stores the items, then ``after_commit`` removes the bodies; a crash
in between reads them again, recognised by their external ids.

Comments and mentions wait in triage (``auto_dispatch``); direct messages
are chats (their reporter has a ``chat_id``). Replies: see ``send_reply``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from channels.meta import catch_up
from channels.meta.errors import (
    comment_refused,
    fetch_error,
    reply_error,
    tagged_refusal,
)
from channels.meta.graph import (
    OUTSIDE_WINDOW,
    GraphError,
    MetaGraph,
)
from channels.meta.payload import (
    WEBHOOK_SENT,
    Converted,
    MentionRef,
    account_ids,
    load,
    mention_item,
    parse,
)
from channels.meta.replay import replay
from channels.meta.webhook import own_accounts, spool_of
from channels.meta_json import SHAPE_ERRORS, MalformedPayload
from channels.meta_webhook import SpoolReader
from channels.meta_window import ReplyWindow
from channels.push_spool import SpooledBody
from channels.whatsapp.replies import split
from channels.x_posts import public_reply_text
from config.channel_settings import MetaChannelSettings
from contracts.channel import FetchResult
from contracts.errors import RecipientUnreachable
from contracts.records import (
    InboundAttachment,
    InboundMessage,
    MissingFile,
    OutgoingReply,
    RejectedItem,
)

log = logging.getLogger(__name__)
# Messenger and Instagram attachments are at most 25 MB
MAX_FILE_BYTES = 25 * 1024 * 1024
# the HUMAN_AGENT tag allows answers up to 7 days after the person's message
HUMAN_AGENT_SECONDS = 7 * 24 * 3600
# Send API limits: text up to 2,000 characters, up to 13 quick replies with
# titles up to 20 characters
MAX_TEXT = 2000
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20


class MetaChannel(SpoolReader):
    """Comments, mentions and direct messages of a Page and its Instagram
    account; also replies."""

    def __init__(
        self, settings: MetaChannelSettings, base_dir: Path | None = None
    ) -> None:
        self.name = settings.name
        self.settings = settings
        self.spool = spool_of(settings, base_dir or Path.cwd())
        self.own = own_accounts(settings)
        self._graph = MetaGraph(
            settings.api_base_url,
            settings.api_version,
            settings.page_access_token.get_secret_value(),
        )
        # when each citizen last wrote as this process saw it; a reply also
        # brings the time of the message it answers (citizen_wrote_at)
        self._window = ReplyWindow()
        self._tagged = ReplyWindow(HUMAN_AGENT_SECONDS)

    def __repr__(self) -> str:
        return (
            f"MetaChannel(name={self.name!r}, page_id={self.settings.page_id!r}, "
            f"instagram_account_id={self.settings.instagram_account_id!r})"
        )

    @staticmethod
    def replay(
        settings: MetaChannelSettings,
        raw: bytes,
        external_id: str,
        received_at: datetime,
    ) -> FetchResult:
        """The item(s) of stored bytes, for ``dengar quarantine retry``
        (``contracts.channel.ReplaysRaw``; ``channels.meta.replay``)."""
        return replay(settings, raw, external_id)

    @property
    def _sender(self) -> str:
        # Messenger and Instagram messages of a Page-linked account both go
        # out through the Page
        return self.settings.page_id or "me"

    async def check(self) -> None:
        """The Page token must be accepted for the Page (or the account)."""
        try:
            for account in sorted(self.own):
                await self._graph.node(account, "id")
        except GraphError as exc:
            raise fetch_error(exc) from None

    async def fetch(self, cursor: str | None, limit: int) -> FetchResult:
        """Items of the stored bodies (oldest first), then of the catch-up."""
        bodies = await asyncio.to_thread(self.spool.pending, limit)
        items: list[InboundMessage] = []
        rejected: list[RejectedItem] = []
        skipped = 0
        try:
            for body in bodies:
                got, bad, passed = await self._convert(body)
                items.extend(got)
                rejected.extend(bad)
                skipped += passed
            state = catch_up.CatchUpState.load(cursor)
            more = len(bodies) >= limit
            room = limit - len(items)
            if self._catch_up_due(state) and room > 0 and not more:
                polled, state, more = await catch_up.read(
                    self._graph, self._accounts(), state, room
                )
                items.extend(polled)
        except GraphError as exc:
            # leave the bodies in the spool: the whole batch comes again
            raise fetch_error(exc) from None
        unique: dict[str, InboundMessage] = {}
        for item in items:
            first = unique.get(item.external_id)
            unique[item.external_id] = item if first is None else _merged(first, item)
        for item in unique.values():
            if item.reporter.chat_id:
                self._window.saw(item.reporter.chat_id, item.received_at.timestamp())
                self._tagged.saw(item.reporter.chat_id, item.received_at.timestamp())
        return FetchResult(
            items=list(unique.values()),
            # no cursor until the catch-up has read once
            cursor=state.dump() if state.since is not None else cursor,
            rejected=list({r.external_id: r for r in rejected}.values()),
            more=more,
            skipped=skipped,
            receipts=tuple(bodies),
        )

    def _catch_up_due(self, state: catch_up.CatchUpState) -> bool:
        interval = self.settings.catch_up_interval
        return interval > 0 and time.time() - state.polled_at >= interval

    def _accounts(self) -> catch_up.Accounts:
        return catch_up.Accounts(
            channel=self.name,
            page_id=self.settings.page_id,
            instagram_account_id=self.settings.instagram_account_id,
            posts=self.settings.catch_up_posts,
        )

    async def _convert(
        self, body: SpooledBody
    ) -> tuple[list[InboundMessage], list[RejectedItem], int]:
        try:
            data = load(body.data)
        except MalformedPayload as exc:
            return [], [self._rejected(body.data, f"unreadable webhook: {exc}")], 0
        try:
            named = account_ids(data)
            parsed = parse(data, self.name, self.own)
        except SHAPE_ERRORS as exc:
            # a shape no event guard foresaw: this body waits in the
            # quarantine, the others go on
            why = f"unreadable webhook: {type(exc).__name__}: {exc}"
            return [], [self._rejected(body.data, why)], 0
        if not named & self.own:
            # the receiver's fallback for a body of no configured account
            why = f"webhook for account {', '.join(sorted(named)) or '?'}"
            return [], [self._rejected(body.data, why + ", which no channel has")], 0
        rejected = [
            self._rejected(body.data, f"event {ref}: {why}")
            for ref, why in parsed.problems
        ]
        items = [await self._with_media(c) for c in parsed.items]
        for mention in parsed.mentions:
            found = await self._mention(mention)
            if isinstance(found, str):
                rejected.append(self._rejected(mention.raw, found))
            else:
                items.append(found)
        return items, rejected, parsed.skipped

    async def _mention(self, ref: MentionRef) -> InboundMessage | str:
        """The @mention's comment or caption, or why it cannot be had."""
        try:
            found = await self._graph.mentioned(
                ref.account_id, ref.media_id, ref.comment_id
            )
        except GraphError as exc:
            if exc.code == 100 or exc.http_status == 404:
                return f"mention {ref.comment_id or ref.media_id} is gone: {exc}"
            raise
        return mention_item(self.name, ref, found)

    async def _with_media(self, converted: Converted) -> InboundMessage:
        item = converted.item
        if not converted.media:
            return item
        attachments: list[InboundAttachment] = []
        missing: list[MissingFile] = []
        for ref in converted.media:
            got = await self._graph.download(ref.url, MAX_FILE_BYTES)
            if got.data is None:
                missing.append(
                    MissingFile(
                        kind={"image": "photo"}.get(ref.kind, ref.kind),
                        filename=ref.filename,
                        size=got.size,
                        reason=got.reason,
                        file_id=ref.filename,
                        service="Meta",
                        limit=MAX_FILE_BYTES,
                    )
                )
                continue
            attachments.append(
                InboundAttachment(
                    filename=ref.filename,
                    content_type=_content_type(ref.kind),
                    data=got.data,
                )
            )
        return replace(
            item,
            attachments=tuple(attachments),
            missing_files=tuple(missing),
            max_file_bytes=MAX_FILE_BYTES if missing else item.max_file_bytes,
        )

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._graph.close()

    # -- replies ---------------------------------------------------------------

    async def send_reply(self, reply: OutgoingReply) -> str:
        """Send ``reply`` to the address the case gave it:

        - ``fb:<PSID>`` / ``ig:<IGSID>``: a direct message, within 24 hours
          of the citizen's last one, else (``human_agent_tag``) with the
          HUMAN_AGENT tag within 7 days;
        - ``private:<fb|ig>:<comment id>``: the one private reply to a
          comment, with the reply's text;
        - ``private:fb-post:<post id>``: the same for a visitor's post;
        - ``public:<fb|fb-post|ig>:<id>`` or ``public:ig-mention:<media>/<c>``:
          a public reply carrying the tracking number only; never to
          ``ig-tagged:<media>`` (the account is only tagged in the photo:
          Meta allows no comment there, see ``tagged_refusal``).

        Anything else (a comment author's name) cannot be answered: status
        updates are never posted under a public comment."""
        mode, _, target = reply.recipient.partition(":")
        try:
            if mode in ("fb", "ig") and target:
                return await self._direct(reply.recipient, target, reply)
            if mode == "private":
                platform, _, object_id = target.partition(":")
                if platform in ("ig-mention", "ig-tagged"):
                    # private replies are for comments on our own media only
                    raise RecipientUnreachable(
                        f"Meta allows no private reply to Instagram {object_id}: "
                        "it is a mention or a tag, not a comment on our media"
                    )
                mid = await self._graph.private_reply(
                    self._sender, object_id, reply.text, post=platform == "fb-post"
                )
                return f"meta:dm:{mid}"
            if mode == "public":
                return await self._public(target, reply.tracking_no)
        except GraphError as exc:
            raise reply_error(exc) from None
        raise RecipientUnreachable(
            "a comment's author is answered once, in triage; later updates are "
            "not posted under a public comment"
        )

    async def _direct(self, chat: str, recipient: str, reply: OutgoingReply) -> str:
        if reply.citizen_wrote_at is not None:
            # stored with the reply: the window survives a restart
            wrote = reply.citizen_wrote_at.timestamp()
            self._window.saw(chat, wrote)
            self._tagged.saw(chat, wrote)
        if self._window.is_open(chat) or not self._window.knows(chat):
            try:
                return await self._send_parts(recipient, reply, human_agent=False)
            except GraphError as exc:
                if exc.code != OUTSIDE_WINDOW:
                    raise
                self._window.close(chat)
        if not self.settings.human_agent_tag:
            raise RecipientUnreachable(
                "the citizen's last message is over 24 hours old and "
                "human_agent_tag is off"
            )
        if self._tagged.knows(chat) and not self._tagged.is_open(chat):
            raise RecipientUnreachable("the citizen's last message is over 7 days old")
        return await self._send_parts(recipient, reply, human_agent=True)

    async def _send_parts(
        self, recipient: str, reply: OutgoingReply, *, human_agent: bool
    ) -> str:
        """The text in parts Messenger and Instagram take (2,000 characters),
        the choices as quick replies under the last part; returns the first
        part's id, the one a citizen's answer quotes."""
        parts = split(reply.text, MAX_TEXT)
        choices = [
            (label[:MAX_QUICK_REPLY_TITLE], command)
            for label, command in reply.choices[:MAX_QUICK_REPLIES]
        ]
        first = ""
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            mid = await self._graph.send_message(
                self._sender,
                recipient,
                part,
                human_agent=human_agent,
                quick_replies=choices if last else (),
            )
            first = first or mid
        return f"meta:dm:{first}"

    async def _public(self, target: str, tracking_no: str | None) -> str:
        text = public_reply_text(tracking_no, None)
        platform, _, ref = target.partition(":")
        if platform == "ig-tagged":
            raise RecipientUnreachable(tagged_refusal(ref, None))
        if platform == "ig-mention":
            media_id, _, comment_id = ref.partition("/")
            account = self.settings.instagram_account_id or ""
            try:
                new_id = await self._graph.mention_reply(
                    account, media_id, comment_id or None, text
                )
            except GraphError as exc:
                if not comment_refused(exc):
                    raise
                # an older record of a photo the account is only tagged in,
                # or comments turned off there: retrying changes nothing
                raise RecipientUnreachable(tagged_refusal(media_id, exc)) from None
        else:
            account = (
                self.settings.instagram_account_id
                if platform == "ig"
                else self.settings.page_id
            ) or ""
            new_id = await self._graph.public_reply(platform, ref, text)
        # a citizen's answer to our reply threads into the case
        return f"meta:{account}:{new_id}"


def _merged(first: InboundMessage, again: InboundMessage) -> InboundMessage:
    """One item of the same event found twice in a batch (a webhook and the
    catch-up): the first, the webhook's, which has the event's files; with
    the catch-up's time when the webhook had none of its own (an Instagram
    comment: only when Meta sent it)."""
    if first.metadata.get("time_of") != WEBHOOK_SENT or (
        again.metadata.get("time_of") == WEBHOOK_SENT
    ):
        return first
    metadata = {k: v for k, v in first.metadata.items() if k != "time_of"}
    return replace(first, received_at=again.received_at, metadata=metadata)


def _content_type(kind: str) -> str:
    return {
        "image": "image/jpeg",
        "video": "video/mp4",
        "audio": "audio/mpeg",
    }.get(kind, "application/octet-stream")
