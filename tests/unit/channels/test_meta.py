"""The Page and Instagram channel on the Graph API emulator: the webhook
receiver (shared with WhatsApp), what each event becomes, the catch-up,
and replies to comments and direct messages."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from channels.meta.channel import MetaChannel
from channels.meta.webhook import MetaWebhook, spool_of
from channels.meta_signature import sign
from config.channel_settings import MetaChannelSettings
from contracts.errors import (
    FatalChannelError,
    NotReplayable,
    RecipientUnreachable,
    ReplyRetriable,
)
from contracts.records import OutgoingReply
from tests.fakes.meta_api import (
    APP_SECRET,
    DAY,
    IG_ID,
    PAGE_ID,
    TOKEN,
    VERIFY_TOKEN,
    FakeMetaApi,
    channel_settings,
    ig_comment_webhook,
    ig_mention_webhook,
    messaging_webhook,
    page_feed_webhook,
    signed,
)


@pytest.fixture
async def meta_api() -> AsyncIterator[FakeMetaApi]:
    async with FakeMetaApi().running() as api:
        yield api


def settings(api: FakeMetaApi | None, spool: Path, **extra: Any) -> MetaChannelSettings:
    base = api.base_url if api is not None else "http://127.0.0.1:9"
    return MetaChannelSettings.model_validate(
        channel_settings(base, str(spool), **extra)
    )


def deliver(ms: MetaChannelSettings, payload: dict[str, Any]) -> tuple[int, str]:
    body, signature = signed(payload)
    answer = MetaWebhook(ms, [ms]).receive(body, {"x-hub-signature-256": signature})
    return answer.status, answer.text


async def fetch_all(ms: MetaChannelSettings) -> Any:
    channel = MetaChannel(ms)
    try:
        result = await channel.fetch(None, 100)
        await channel.after_commit(result)
        return result
    finally:
        await channel.close()


# ---------------------------------------------------------------- receiver


def test_handshake_and_signature_are_the_shared_meta_ones(tmp_path: Path) -> None:
    ms = settings(None, tmp_path)
    hook = MetaWebhook(ms, [ms])
    ok = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN}
    assert hook.handshake({**ok, "hub.challenge": "77"}).text == "77"
    assert (
        hook.handshake({**ok, "hub.verify_token": "x", "hub.challenge": "1"}).status
        == 403
    )
    body, signature = signed(page_feed_webhook("5001_1", "Jalan rusak"))
    assert hook.receive(body, {}).status == 401
    forged = signed(page_feed_webhook("5001_1", "Jalan rusak"), secret="other")[1]
    assert hook.receive(body, {"x-hub-signature-256": forged}).status == 401
    assert spool_of(ms).count() == 0
    assert hook.receive(body, {"x-hub-signature-256": signature}).text == "received"
    assert hook.receive(body, {"x-hub-signature-256": signature}).text == (
        "already received"
    )
    assert spool_of(ms).count() == 1
    assert hook.max_body_bytes == ms.max_webhook_bytes


@pytest.mark.parametrize(
    "body",
    [
        b'{"object": "user", "entry": []}',
        b"not json at all",
        b"[" * 200_000,  # deeper than the JSON parser goes
    ],
)
def test_signed_unreadable_body_is_kept_and_answered_200(
    tmp_path: Path, body: bytes
) -> None:
    ms = settings(None, tmp_path)
    answer = MetaWebhook(ms, [ms]).receive(
        body, {"X-Hub-Signature-256": sign(body, APP_SECRET)}
    )
    assert answer.status == 200
    assert "kept for review" in answer.text
    kept = list((spool_of(ms).directory / "rejected").iterdir())
    assert [p.read_bytes() for p in kept] == [body]


async def test_body_of_an_unknown_account_is_quarantined_not_lost(
    tmp_path: Path,
) -> None:
    ms = settings(None, tmp_path)
    assert deliver(ms, page_feed_webhook("1_2", "halo", page_id="999"))[0] == 200
    result = await fetch_all(ms)
    assert result.items == []
    assert "999" in result.rejected[0].reason
    assert b"halo" in result.rejected[0].raw


# ---------------------------------------------------------------- events


async def test_page_comment_becomes_a_post_and_our_own_is_skipped(
    tmp_path: Path,
) -> None:
    ms = settings(None, tmp_path)
    deliver(ms, page_feed_webhook("5001_11", "Lampu jalan mati di Jl. Pangeran"))
    deliver(ms, page_feed_webhook("5001_12", "Terima kasih", author_id=PAGE_ID))
    like = page_feed_webhook("5001_13", None)
    like["entry"][0]["changes"][0]["value"]["item"] = "reaction"
    deliver(ms, like)
    result = await fetch_all(ms)
    (item,) = result.items
    assert item.external_id == "fb:comment:5001_11"
    assert item.text == "Lampu jalan mati di Jl. Pangeran"
    assert item.reporter.name == "Budi Santoso"
    assert item.reporter.chat_id is None  # a post, not a chat
    assert item.metadata["comment_ref"] == "fb:5001_11"
    assert result.skipped == 2
    assert spool_of(ms).count() == 0


async def test_a_reply_threads_only_to_the_same_author_or_to_us(
    tmp_path: Path,
) -> None:
    ms = settings(None, tmp_path)
    deliver(ms, page_feed_webhook("5001_21", "tambahan", parent_id="5001_20"))
    (item,) = (await fetch_all(ms)).items
    # the parent counts only if it is this author's or the Page's own comment
    assert item.in_reply_to == ("meta:6001:5001_20", f"meta:{PAGE_ID}:5001_20")
    assert item.message_id == "meta:6001:5001_21"


async def test_edits_and_removals_are_kept_pointing_at_the_comment(
    tmp_path: Path,
) -> None:
    ms = settings(None, tmp_path)
    deliver(ms, page_feed_webhook("5001_31", "Jalan rusak parah", verb="edited"))
    deliver(ms, page_feed_webhook("5001_31", None, verb="remove"))
    deliver(ms, page_feed_webhook("5001_31", None, verb="hide"))
    items = (await fetch_all(ms)).items
    assert {i.edit_of for i in items} == {"fb:comment:5001_31"}
    assert [i.text for i in items] == ["Jalan rusak parah", None, None]
    assert [i.removed_at_source for i in items] == [
        None,
        "deleted",
        "hide",
    ]
    assert len({i.external_id for i in items}) == 3


async def test_direct_message_is_a_chat_with_its_photo(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    ms = settings(meta_api, tmp_path)
    url = meta_api.add_file(b"\xff\xd8jpeg")
    deliver(
        ms,
        messaging_webhook(
            "fb",
            "24001",
            {
                "message": {
                    "mid": "m_abc",
                    "text": "Sampah menumpuk",
                    "attachments": [{"type": "image", "payload": {"url": url}}],
                }
            },
        ),
    )
    deliver(
        ms,
        messaging_webhook(
            "fb", "24001", {"message": {"mid": "m_e", "text": "x", "is_echo": True}}
        ),
    )
    deliver(
        ms,
        messaging_webhook(
            "ig", "17001", {"message": {"mid": "m_ig", "text": "/status KTB-1"}}
        ),
    )
    result = await fetch_all(ms)
    dm, ig = result.items
    assert dm.reporter.chat_id == "fb:24001"
    assert dm.external_id == "dm:m_abc"
    assert dm.attachments[0].data == b"\xff\xd8jpeg"
    assert ig.reporter.chat_id == "ig:17001"
    assert ig.command == "status"
    assert result.skipped == 1


async def test_instagram_comment_and_mention(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    ms = settings(meta_api, tmp_path)
    media = meta_api.add_post("ig")
    mentioned = meta_api.add_comment(
        media, "@pemkab drainase tersumbat", platform="ig", author="sari"
    )
    deliver(ms, ig_comment_webhook("17900001", "Air PDAM mati"))
    deliver(ms, ig_mention_webhook(media, mentioned))
    deliver(ms, ig_mention_webhook(media, "404404"))  # deleted meanwhile
    result = await fetch_all(ms)
    comment, mention = result.items
    assert comment.external_id == "ig:comment:17900001"
    assert comment.reporter.handle == "warga_kotabaru"
    assert mention.external_id == f"ig:mention:{mentioned}"
    assert mention.text == "@pemkab drainase tersumbat"
    assert mention.metadata["comment_ref"] == f"ig-mention:{media}/{mentioned}"
    assert "gone" in result.rejected[0].reason


async def test_a_broken_event_is_quarantined_and_the_rest_goes_on(
    tmp_path: Path,
) -> None:
    ms = settings(None, tmp_path)
    body = page_feed_webhook("5001_41", "Jembatan retak")
    body["entry"][0]["changes"].append(
        {"field": "feed", "value": {"item": "comment", "verb": "add"}}
    )
    body["entry"][0]["changes"].append({"field": "ratings", "value": {}})
    deliver(ms, body)
    result = await fetch_all(ms)
    assert [i.text for i in result.items] == ["Jembatan retak"]
    reasons = sorted(r.reason for r in result.rejected)
    assert any("without comment_id" in r for r in reasons)
    assert any("'ratings' is not read" in r for r in reasons)


# ---------------------------------------------------------------- catch-up


async def test_catch_up_finds_what_the_webhooks_missed_with_the_same_ids(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    ms = settings(meta_api, tmp_path, catch_up_interval=60)
    post = meta_api.add_post("fb")
    missed = meta_api.add_comment(post, "Pohon tumbang")
    meta_api.add_comment(post, "balasan admin", author_id=PAGE_ID)
    media = meta_api.add_post("ig")
    ig_missed = meta_api.add_comment(
        media, "Jalan licin", platform="ig", author_id="7002"
    )
    meta_api.person_wrote("24009", "Halo, air mati", mid="m_missed")
    deliver(ms, page_feed_webhook(missed, "Pohon tumbang", post_id=post))
    channel = MetaChannel(ms)
    try:
        first = await channel.fetch(None, 100)
        assert sorted(i.external_id for i in first.items) == sorted(
            [f"fb:comment:{missed}", "dm:m_missed", f"ig:comment:{ig_missed}"]
        )
        await channel.after_commit(first)
        # not due again before the interval
        assert (await channel.fetch(first.cursor, 100)).items == []
    finally:
        await channel.close()


async def test_catch_up_finds_missed_instagram_replies_and_mentions_once(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    ms = settings(meta_api, tmp_path, catch_up_interval=0.001)
    media = meta_api.add_post("ig")
    top = meta_api.add_comment(
        media, "Lampu jalan mati", platform="ig", author_id="7002", author="sari"
    )
    # the same citizen adds to her comment; another citizen answers it
    own_reply = meta_api.add_comment(
        media, "Sudah 3 malam", platform="ig", author_id="7002", parent_id=top
    )
    # more replies than come inline: the rest through GET /<comment>/replies
    others = [
        meta_api.add_comment(
            media, f"sama di RT {n}", platform="ig", author_id="7003", parent_id=top
        )
        for n in range(52)
    ]
    tag_time = time.time() - 3600
    tagged = meta_api.tag_account(
        "@pemkabkotabaru got mampet di Jl. Pangeran", created=tag_time
    )
    channel = MetaChannel(ms)
    try:
        first = await channel.fetch(None, 500)
        await channel.after_commit(first)
        by_id = {i.external_id: i for i in first.items}
        assert set(by_id) == {
            f"ig:comment:{top}",
            f"ig:comment:{own_reply}",
            *(f"ig:comment:{o}" for o in others),
            f"ig:mention:{tagged}",
        }
        assert ("GET", f"/v23.0/{top}/replies") in meta_api.calls
        # X rules: her own addition threads into her case, a stranger's not
        assert by_id[f"ig:comment:{own_reply}"].in_reply_to[0] == f"meta:7002:{top}"
        assert by_id[f"ig:comment:{others[0]}"].in_reply_to[0] == f"meta:7003:{top}"
        mention = by_id[f"ig:mention:{tagged}"]
        assert mention.text == "@pemkabkotabaru got mampet di Jl. Pangeran"
        assert mention.metadata["comment_ref"] == f"ig-mention:{tagged}/"
        assert mention.received_at.timestamp() == int(tag_time)
        # the next poll hands over none of them again
        time.sleep(0.01)
        again = await channel.fetch(first.cursor, 500)
        assert again.items == []
        # webhooks that come late name the same items (the pipeline keeps
        # one record of each: tests/integration/test_meta_pipeline.py)
        deliver(ms, ig_comment_webhook(own_reply, "Sudah 3 malam", parent_id=top))
        deliver(ms, ig_mention_webhook(tagged))
        time.sleep(0.01)
        late = await channel.fetch(again.cursor, 500)
        assert sorted(i.external_id for i in late.items) == sorted(
            [f"ig:comment:{own_reply}", f"ig:mention:{tagged}"]
        )
    finally:
        await channel.close()
    for item in first.items:
        [rebuilt] = MetaChannel.replay(
            ms, item.raw, item.external_id, item.received_at
        ).items
        assert (rebuilt.external_id, rebuilt.received_at) == (
            item.external_id,
            item.received_at,
        )


async def test_instagram_comment_time_is_the_best_there_is(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    ms = settings(meta_api, tmp_path)
    sent = int(time.time()) - 2 * 3600  # Meta retried a delivery for 2 hours
    body = ig_comment_webhook("17900071", "Sampah menumpuk")
    body["entry"][0]["time"] = sent
    deliver(ms, body)
    undated = ig_comment_webhook("17900072", "Banjir")
    del undated["entry"][0]["time"]
    deliver(ms, undated)
    before = datetime.now(UTC)
    by_id = {i.external_id: i for i in (await fetch_all(ms)).items}
    # the webhook's comment has no time: when Meta sent it, not the receipt
    assert by_id["ig:comment:17900071"].received_at.timestamp() == sent
    # no entry time either: the receipt time
    assert by_id["ig:comment:17900072"].received_at >= before.replace(microsecond=0)

    # with the catch-up in the same batch, the Graph API's own timestamp
    ms = settings(meta_api, tmp_path / "with-catch-up", catch_up_interval=60)
    media = meta_api.add_post("ig")
    written = time.time() - 5 * 3600
    comment = meta_api.add_comment(
        media, "Jembatan goyang", platform="ig", author_id="7004", created=written
    )
    deliver(ms, ig_comment_webhook(comment, "Jembatan goyang", author_id="7004"))
    [item] = (await fetch_all(ms)).items
    assert item.received_at.timestamp() == int(written)
    assert "time_of" not in item.metadata


async def test_catch_up_refused_permission_is_fatal_without_the_token(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    ms = settings(meta_api, tmp_path, catch_up_interval=60)
    meta_api.add_post("fb")
    meta_api.fail("read", 200, "Requires pages_read_engagement permission", times=5)
    channel = MetaChannel(ms)
    try:
        with pytest.raises(FatalChannelError) as caught:
            await channel.fetch(None, 10)
        assert "docs/meta.md" in str(caught.value)
        assert TOKEN not in str(caught.value)
    finally:
        await channel.close()


# ---------------------------------------------------------------- replies


def reply(
    recipient: str, text: str = "Laporan Anda KTB-7K3M kami terima."
) -> OutgoingReply:
    return OutgoingReply(
        channel="meta",
        recipient=recipient,
        text=text,
        tracking_no="KTB-7K3M",
        idempotency_key="meta:test",
    )


async def test_private_reply_goes_once_and_only_within_seven_days(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    post = meta_api.add_post("fb")
    fresh = meta_api.add_comment(post, "Jalan rusak")
    old = meta_api.add_comment(post, "Jalan rusak", created=time.time() - 8 * DAY)
    channel = MetaChannel(settings(meta_api, tmp_path))
    try:
        remote = await channel.send_reply(reply(f"private:fb:{fresh}"))
        assert remote.startswith("meta:dm:m_")
        assert meta_api.sent[-1]["recipient"] == {"comment_id": fresh}
        assert "KTB-7K3M" in meta_api.sent[-1]["message"]["text"]
        with pytest.raises(RecipientUnreachable):
            await channel.send_reply(reply(f"private:fb:{fresh}"))
        with pytest.raises(RecipientUnreachable):
            await channel.send_reply(reply(f"private:fb:{old}"))
    finally:
        await channel.close()


async def test_public_reply_carries_the_tracking_number_only(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    post = meta_api.add_post("fb")
    comment = meta_api.add_comment(post, "Rumah saya di Jl. Melati 3 banjir")
    media = meta_api.add_post("ig")
    ig_comment = meta_api.add_comment(media, "banjir", platform="ig")
    channel = MetaChannel(settings(meta_api, tmp_path))
    try:
        private_text = "Bapak Budi di Jl. Melati 3, laporan KTB-7K3M diterima"
        remote = await channel.send_reply(reply(f"public:fb:{comment}", private_text))
        assert remote.startswith(f"meta:{PAGE_ID}:")
        sent = meta_api.sent[-1]
        assert sent["reply_to"] == comment
        assert "KTB-7K3M" in sent["message"]
        assert "Melati" not in sent["message"]
        assert "Budi" not in sent["message"]
        assert (await channel.send_reply(reply(f"public:ig:{ig_comment}"))).startswith(
            f"meta:{IG_ID}:"
        )
        assert ("POST", f"/v23.0/{ig_comment}/replies") in meta_api.calls
        await channel.send_reply(reply(f"public:ig-mention:{media}/{ig_comment}"))
        assert meta_api.sent[-1]["mention"]
        assert meta_api.sent[-1]["media_id"] == media
        with pytest.raises(RecipientUnreachable):
            await channel.send_reply(reply("warga_kotabaru"))
    finally:
        await channel.close()


async def test_direct_message_respects_the_window_and_the_human_agent_tag(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    meta_api.person_wrote("24001")
    meta_api.person_wrote("24002", at=time.time() - 3 * DAY)
    channel = MetaChannel(settings(meta_api, tmp_path))
    try:
        assert (await channel.send_reply(reply("fb:24001"))).startswith("meta:dm:")
        assert meta_api.sent[-1]["messaging_type"] == "RESPONSE"
        with pytest.raises(RecipientUnreachable, match="human_agent_tag"):
            await channel.send_reply(reply("fb:24002"))
    finally:
        await channel.close()
    tagged = MetaChannel(settings(meta_api, tmp_path, human_agent_tag=True))
    try:
        await tagged.send_reply(reply("fb:24002"))
        assert meta_api.sent[-1]["tag"] == "HUMAN_AGENT"
    finally:
        await tagged.close()


async def test_after_a_restart_the_window_comes_with_the_reply(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    meta_api.person_wrote("24002", at=time.time() - 3 * DAY)
    # a fresh process has read nothing from this person: the time of their
    # message, stored with the reply, says the 24 hours are over
    tagged = MetaChannel(settings(meta_api, tmp_path, human_agent_tag=True))
    late = replace(
        reply("fb:24002"),
        citizen_wrote_at=datetime.fromtimestamp(time.time() - 3 * DAY, UTC),
    )
    try:
        await tagged.send_reply(late)
        assert meta_api.sent[-1]["tag"] == "HUMAN_AGENT"
        # no plain answer was tried first (Meta would refuse it)
        assert [c for c in meta_api.calls if c[1].endswith("/messages")] == [
            c for c in meta_api.calls[-1:]
        ]
    finally:
        await tagged.close()


@pytest.mark.parametrize(
    ("code", "subcode", "raised"),
    [
        (613, None, ReplyRetriable),
        (32, None, ReplyRetriable),
        (4, None, ReplyRetriable),
        (551, None, RecipientUnreachable),
        (100, 33, RecipientUnreachable),
        (200, None, ReplyRetriable),
    ],
)
async def test_send_errors_are_classified(
    meta_api: FakeMetaApi,
    tmp_path: Path,
    code: int,
    subcode: int | None,
    raised: type[Exception],
) -> None:
    meta_api.person_wrote("24001")
    meta_api.fail("messages", code, "refused", subcode=subcode)
    channel = MetaChannel(settings(meta_api, tmp_path))
    try:
        with pytest.raises(raised) as caught:
            await channel.send_reply(reply("fb:24001"))
        assert TOKEN not in str(caught.value)
        if raised is ReplyRetriable:
            assert caught.value.retry_after  # type: ignore[attr-defined]
    finally:
        await channel.close()


async def test_check_reports_a_rejected_token_as_fatal(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    meta_api.token = "revoked"
    channel = MetaChannel(settings(meta_api, tmp_path))
    try:
        with pytest.raises(FatalChannelError) as caught:
            await channel.check()
        assert TOKEN not in str(caught.value)
    finally:
        await channel.close()


def test_settings_need_an_account_and_hide_secrets(tmp_path: Path) -> None:
    ms = settings(None, tmp_path)
    shown = repr(ms) + repr(MetaChannel(ms))
    for secret in (TOKEN, APP_SECRET, VERIFY_TOKEN):
        assert secret not in shown
    with pytest.raises(ValueError, match="page_id or instagram_account_id"):
        settings(None, tmp_path, page_id=None, instagram_account_id=None)
    with pytest.raises(ValueError, match="page_access_token is empty"):
        settings(None, tmp_path, page_access_token=" ")


async def test_a_long_answer_goes_in_parts_with_the_choices_under_the_last(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    meta_api.person_wrote("24001")
    channel = MetaChannel(settings(meta_api, tmp_path))
    long = OutgoingReply(
        channel="meta",
        recipient="fb:24001",
        text="Baris keterangan.\n" * 150,
        tracking_no="KTB-7K3M",
        idempotency_key="meta:long",
        choices=(
            ("Biasa", "biasa KTB-7K3M"),
            ("Anonim sekali panjang judulnya", "anonim KTB-7K3M"),
        ),
    )
    try:
        first = await channel.send_reply(long)
    finally:
        await channel.close()
    first_part, last_part = meta_api.sent
    assert "quick_replies" not in first_part["message"]
    assert all(len(s["message"]["text"]) <= 2000 for s in meta_api.sent)
    titles = [q["title"] for q in last_part["message"]["quick_replies"]]
    assert titles == ["Biasa", "Anonim sekali panjan"]
    assert first.startswith("meta:dm:m_")


async def test_a_visitors_post_on_the_page_is_answered_through_its_post_id(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    ms = settings(meta_api, tmp_path)
    post_id = meta_api.add_post("fb")
    visitor = page_feed_webhook("unused", "Mohon perbaikan jembatan", post_id=post_id)
    value = visitor["entry"][0]["changes"][0]["value"]
    value["item"] = "status"
    del value["comment_id"]
    deliver(ms, visitor)
    (item,) = (await fetch_all(ms)).items
    assert item.metadata["comment_ref"] == f"fb-post:{post_id}"
    channel = MetaChannel(ms)
    try:
        await channel.send_reply(reply(f"private:{item.metadata['comment_ref']}"))
    finally:
        await channel.close()
    assert meta_api.sent[-1]["recipient"] == {"post_id": post_id}


async def test_every_kind_of_item_is_rebuilt_from_its_raw_bytes(
    meta_api: FakeMetaApi, tmp_path: Path
) -> None:
    ms = settings(meta_api, tmp_path)
    media = meta_api.add_post("ig")
    mentioned = meta_api.add_comment(media, "@pemkab got rusak", platform="ig")
    deliver(ms, page_feed_webhook("5001_51", "Jalan rusak", verb="edited"))
    deliver(ms, ig_comment_webhook("17900051", "Air mati"))
    deliver(ms, ig_mention_webhook(media, mentioned))
    dm = {"message": {"mid": "m_51", "text": "Sampah"}}
    deliver(ms, messaging_webhook("ig", "17001", dm))
    items = (await fetch_all(ms)).items
    assert len(items) == 4
    for item in items:
        [again] = MetaChannel.replay(
            ms, item.raw, item.external_id, item.received_at
        ).items
        assert (again.external_id, again.text, again.raw) == (
            item.external_id,
            item.text,
            item.raw,
        )
        assert again.reporter == item.reporter
    whole, _sig = signed(page_feed_webhook("5001_52", "Lampu mati"))
    [from_body] = MetaChannel.replay(ms, whole, "webhook:x", items[0].received_at).items
    assert from_body.external_id == "fb:comment:5001_52"

    with pytest.raises(NotReplayable):
        MetaChannel.replay(ms, b"[1, 2", "dm:m_1", items[0].received_at)
