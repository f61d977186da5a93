"""The Meta catch-up on the Graph API emulator: Instagram comments deleted
or hidden at their source (no webhook comes for them), tagged media read
page after page, and photos the account is only tagged in, which cannot be
answered there."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from channels.meta import catch_up, removals
from channels.meta.channel import MetaChannel
from channels.meta.graph import MetaGraph
from config.channel_settings import MetaChannelSettings
from contracts.errors import RecipientUnreachable, ReplyRetriable
from contracts.records import OutgoingReply
from dispatcher.wording import in_indonesian
from tests.fakes.meta_api import DAY, IG_ID, TOKEN, FakeMetaApi, channel_settings


@pytest.fixture
async def meta_api() -> AsyncIterator[FakeMetaApi]:
    async with FakeMetaApi().running() as api:
        yield api


def settings(api: FakeMetaApi, spool: Path, **extra: Any) -> MetaChannelSettings:
    return MetaChannelSettings.model_validate(
        channel_settings(api.base_url, str(spool), catch_up_interval=0.001, **extra)
    )


async def poll(channel: MetaChannel, cursor: str | None) -> tuple[list[Any], str]:
    time.sleep(0.002)  # past catch_up_interval
    result = await channel.fetch(cursor, 500)
    await channel.after_commit(result)
    assert result.cursor is not None
    return list(result.items), result.cursor


def changes(items: list[Any]) -> dict[str, tuple[str | None, str | None]]:
    return {i.external_id: (i.edit_of, i.removed_at_source) for i in items}


# ------------------------------------------------------- deleted and hidden


async def test_hidden_and_deleted_instagram_comments_are_marked_once(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    media = meta_api.add_post("ig")
    stays, hidden, deleted = (
        meta_api.add_comment(media, text, platform="ig", author_id=author)
        for text, author in (
            ("Lampu mati", "7001"),
            ("Sampah menumpuk", "7002"),
            ("Got mampet", "7003"),
        )
    )
    reply = meta_api.add_comment(
        media, "Sama di RT 3", platform="ig", author_id="7004", parent_id=stays
    )
    channel = MetaChannel(settings(meta_api, tmp_path))
    try:
        first, cursor = await poll(channel, None)
        assert len(first) == 4
        meta_api.hide_comment(hidden)
        meta_api.delete_comment(deleted)
        meta_api.delete_comment(reply)
        before = cursor
        second, cursor = await poll(channel, cursor)
        assert changes(second) == {
            f"hide:ig:comment:{hidden}:1": (f"ig:comment:{hidden}", "hide"),
            f"remove:ig:comment:{deleted}": (f"ig:comment:{deleted}", "deleted"),
            f"remove:ig:comment:{reply}": (f"ig:comment:{reply}", "deleted"),
        }
        # a batch lost before its commit comes again with the same ids
        again, _ = await poll(channel, before)
        assert changes(again) == changes(second)
        # marked once: the next polls find nothing new
        assert (await poll(channel, cursor))[0] == []
        meta_api.hide_comment(hidden, hidden=False)
        shown, cursor = await poll(channel, cursor)
        assert changes(shown) == {
            f"unhide:ig:comment:{hidden}:2": (f"ig:comment:{hidden}", "unhide")
        }
        assert (await poll(channel, cursor))[0] == []
    finally:
        await channel.close()
    for item in [*second, *shown]:
        [rebuilt] = MetaChannel.replay(
            channel.settings, item.raw, item.external_id, item.received_at
        ).items
        assert (rebuilt.external_id, rebuilt.edit_of, rebuilt.removed_at_source) == (
            item.external_id,
            item.edit_of,
            item.removed_at_source,
        )


async def test_a_comment_hidden_before_the_first_read_is_marked_with_it(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    media = meta_api.add_post("ig")
    comment = meta_api.add_comment(media, "Kata kasar", platform="ig")
    meta_api.hide_comment(comment)
    channel = MetaChannel(settings(meta_api, tmp_path))
    try:
        items, cursor = await poll(channel, None)
        assert changes(items) == {
            f"ig:comment:{comment}": (None, None),
            f"hide:ig:comment:{comment}:1": (f"ig:comment:{comment}", "hide"),
        }
        assert (await poll(channel, cursor))[0] == []
    finally:
        await channel.close()


async def test_many_pages_of_comments_are_not_taken_for_deletions(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    media = meta_api.add_post("ig")
    top = [
        meta_api.add_comment(media, f"komentar {n}", platform="ig", author_id="7001")
        for n in range(230)  # three pages of 100
    ]
    for n in range(60):  # more replies than come inline with their comment
        meta_api.add_comment(
            media, f"balasan {n}", platform="ig", author_id="7002", parent_id=top[0]
        )
    channel = MetaChannel(settings(meta_api, tmp_path))
    try:
        first, cursor = await poll(channel, None)
        assert len(first) == 290
        assert (await poll(channel, cursor))[0] == []
    finally:
        await channel.close()

    # a read cut short by the paging bound concludes nothing about the rest
    graph = MetaGraph(meta_api.base_url, "v23.0", TOKEN, max_pages=2)
    accounts = catch_up.Accounts("meta", None, IG_ID, posts=10)
    try:
        state = catch_up.CatchUpState.load(cursor)
        meta_api.delete_comment(top[-1])  # on the third page, never read now
        items, state, _more = await catch_up.read(graph, accounts, state, 500)
        assert items == []
        assert top[-1] in state.watch[media]  # still watched, not concluded
    finally:
        await graph.close()


def test_a_comment_out_of_the_window_is_not_taken_for_a_deletion() -> None:
    now = time.time()
    old = int(now - removals.WATCH_SECONDS - 60)
    young = int(now - 3600)
    watch = {"m1": {"c-old": [old, 0, 0], "c-young": [young, 0, 0]}}
    read = removals.MediaRead("m1", seen={}, complete=True)
    found = removals.changes("meta", IG_ID, watch, [read], now)
    assert [c.item.external_id for c in found] == ["remove:ig:comment:c-young"]
    assert removals.kept(watch, [read], now) == {"m1": {"c-young": [young, 0, 0]}}
    # a media no longer among those read is forgotten, not concluded gone
    assert removals.changes("meta", IG_ID, watch, [], now) == []


def test_the_watch_keeps_the_newest_comments_within_its_bound() -> None:
    watch = {
        "m1": {f"c{n}": [n, 0, 0] for n in range(removals.MAX_WATCHED)},
        "m2": {"newest": [10**9, 0, 0]},
    }
    trimmed = removals.bounded(watch)
    assert sum(len(c) for c in trimmed.values()) == removals.MAX_WATCHED
    assert "newest" in trimmed["m2"]
    assert "c0" not in trimmed["m1"]


# ------------------------------------------------------------ tagged media


async def test_tagged_media_are_read_page_after_page_to_the_last_read(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    start = time.time() - 3600
    tagged = [
        meta_api.tag_account(f"@pemkabkotabaru laporan {n}", created=start + n)
        for n in range(120)
    ]
    channel = MetaChannel(settings(meta_api, tmp_path))
    tags = ("GET", f"/v23.0/{IG_ID}/tags")
    try:
        first, cursor = await poll(channel, None)
        assert {i.external_id for i in first} == {f"ig:mention:{t}" for t in tagged}
        assert meta_api.calls.count(tags) == 3  # 50 + 50 + 20
        newer = [
            meta_api.tag_account(f"@pemkabkotabaru baru {n}", created=time.time() - n)
            for n in range(3)
        ]
        second, _ = await poll(channel, cursor)
        assert {i.external_id for i in second} == {f"ig:mention:{t}" for t in newer}
        assert meta_api.calls.count(tags) == 4  # the first page reached the last read
    finally:
        await channel.close()


async def test_the_tagged_media_bound_is_logged_when_hit(
    meta_api: FakeMetaApi, caplog: pytest.LogCaptureFixture
) -> None:
    for n in range(130):
        meta_api.tag_account(f"laporan {n}", created=time.time() - n)
    graph = MetaGraph(meta_api.base_url, "v23.0", TOKEN)
    try:
        with caplog.at_level(logging.WARNING):
            found = await graph.tagged_media(IG_ID, time.time() - DAY, 50, 2)
    finally:
        await graph.close()
    assert len(found) == 100
    assert "stopped reading tagged media after 2 pages" in caplog.text


# ---------------------------------------------- photos we are only tagged in


async def test_a_photo_we_are_only_tagged_in_cannot_be_answered_there(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    only_tagged = meta_api.tag_account("Jembatan Desa Sigam retak, tolong dicek")
    mentioned = meta_api.tag_account("@PemkabKotabaru jembatan retak")
    ms = settings(meta_api, tmp_path)
    channel = MetaChannel(ms)
    try:
        items, _ = await poll(channel, None)
        refs = {i.external_id: i.metadata["comment_ref"] for i in items}
        assert refs == {
            f"ig:mention:{only_tagged}": f"ig-tagged:{only_tagged}",
            f"ig:mention:{mentioned}": f"ig-mention:{mentioned}/",
        }
        for item in items:  # a replay keeps what the caption said
            [rebuilt] = MetaChannel.replay(
                ms, item.raw, item.external_id, item.received_at
            ).items
            assert rebuilt.metadata["comment_ref"] == item.metadata["comment_ref"]

        # never sent to Meta, never retried
        for recipient in (
            f"public:ig-tagged:{only_tagged}",
            f"private:ig-tagged:{only_tagged}",
        ):
            with pytest.raises(RecipientUnreachable) as refused:
                await channel.send_reply(reply(recipient))
            assert "hubungi pelapor" in in_indonesian(str(refused.value))
        assert meta_api.sent == []
        # an older record of such a photo: Meta's refusal is final too
        with pytest.raises(RecipientUnreachable) as refused:
            await channel.send_reply(reply(f"public:ig-mention:{only_tagged}/"))
        said = in_indonesian(str(refused.value))
        assert said.startswith("Meta menolak balasan publik pada unggahan Instagram")
        assert f"{only_tagged} (kode 10)" in said
        assert meta_api.sent == []
        await channel.send_reply(reply(f"public:ig-mention:{mentioned}/"))
        assert [s["media_id"] for s in meta_api.sent] == [mentioned]
    finally:
        await channel.close()


@pytest.mark.parametrize(
    ("code", "subcode", "unreachable"),
    [
        (10, None, True),  # permission denied for this action
        (200, None, True),  # permissions error
        (100, 33, True),  # does not support this operation
        (4, None, False),  # a rate limit: wait and retry
        (2, None, False),  # Meta's service hiccup: retry
    ],
)
async def test_a_refused_comment_on_a_mentioning_media_is_final(
    meta_api: FakeMetaApi,
    tmp_path: Path,
    code: int,
    subcode: int | None,
    unreachable: bool,
) -> None:
    media = meta_api.tag_account("@pemkabkotabaru jalan rusak")
    meta_api.fail("comments", code, "refused", subcode=subcode)
    channel = MetaChannel(settings(meta_api, tmp_path))
    try:
        expected = RecipientUnreachable if unreachable else ReplyRetriable
        with pytest.raises(expected):
            await channel.send_reply(reply(f"public:ig-mention:{media}/"))
    finally:
        await channel.close()


def reply(recipient: str) -> OutgoingReply:
    return OutgoingReply(
        channel="meta",
        recipient=recipient,
        text="Laporan diterima",
        tracking_no="KTB-7K3M-9Q2D",
        idempotency_key=f"k-{recipient}",
    )
