"""XChannel with the real tweepy client against the local X API v2 emulator."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from channels.x import XChannel, XPostUnavailable
from config.channel_settings import XChannelSettings
from contracts.channel import Replier
from contracts.errors import (
    FatalChannelError,
    RecipientUnreachable,
    ReplyRetriable,
    RetriableChannelError,
)
from contracts.records import InboundMessage, OutgoingReply
from tests.fakes.x_api import not_found, running_x_api, x_api_fixture  # noqa: F401

TOKEN = "test-bearer-token"
GOV = "PemkabKotabaru"


def make(x_api, **overrides) -> XChannel:
    values = {
        "type": "x",
        "name": "x",
        "bearer_token": TOKEN,
        "mentions_of": [GOV],
        "api_base_url": x_api.url,
    }
    values.update(overrides)
    return XChannel(XChannelSettings.model_validate(values))


async def drain(channel: XChannel, cursor=None, limit=100):
    """Fetch until the channel says there is no more; all items and the cursor."""
    items: list[InboundMessage] = []
    while True:
        result = await channel.fetch(cursor, limit)
        items.extend(result.items)
        cursor = result.cursor
        if not result.more:
            return items, cursor


@pytest.fixture
def citizen(x_api):
    return x_api.add_user("warga_kotabaru", "Siti Warga", id="900001")


async def test_mention_with_place_media_and_author_joined(x_api, citizen):
    x_api.add_place(
        "5bd3a8f9c3b2a1d0", "Kotabaru, Kalimantan Selatan", [116.1, -3.4, 116.3, -3.2]
    )
    x_api.add_media("3_111", "photo")
    x_api.add_media("7_222", "video")
    post_id = x_api.post(
        citizen,
        f"@{GOV} jalan rusak parah di Jl. Veteran #KotabaruMendengar",
        place_id="5bd3a8f9c3b2a1d0",
        media_keys=("3_111", "7_222"),
    )
    channel = make(x_api)

    result = await channel.fetch(None, 100)

    [item] = result.items
    assert item.external_id == post_id
    assert item.text.startswith(f"@{GOV} jalan rusak")
    assert item.reporter.handle == "warga_kotabaru"
    assert item.reporter.name == "Siti Warga"
    assert item.location is not None
    assert item.location.label == "Kotabaru, Kalimantan Selatan"
    assert item.location.latitude == pytest.approx(-3.3)
    assert item.location.longitude == pytest.approx(116.2)
    assert item.metadata["media_urls"] == [
        "https://pbs.twimg.com/media/3_111.jpg",
        "https://pbs.twimg.com/ext/7_222.jpg",
    ]
    assert item.metadata["source"] == "mention"
    assert item.metadata["author_id"] == citizen
    assert item.metadata["conversation_id"] == post_id
    assert item.metadata["lang"] == "in"
    assert item.metadata["hashtags"] == ["KotabaruMendengar"]
    assert item.message_id == f"x:{post_id}"
    assert item.attachments == ()
    assert item.received_at.tzinfo is not None
    raw = json.loads(item.raw)
    assert raw["data"]["id"] == post_id
    assert raw["includes"]["users"][0]["username"] == "warga_kotabaru"
    assert json.loads(result.cursor) == {"mentions:1500000001": post_id}


async def test_exact_coordinates_win_over_place_box(x_api, citizen):
    x_api.post(citizen, f"@{GOV} banjir", coordinates=(116.25, -3.31))
    [item] = (await make(x_api).fetch(None, 100)).items
    assert (item.location.latitude, item.location.longitude) == (-3.31, 116.25)


async def test_all_pages_read_before_since_id_moves(x_api, citizen):
    x_api.page_cap = 7
    ids = [x_api.post(citizen, f"@{GOV} keluhan {n}") for n in range(25)]
    channel = make(x_api)

    items, cursor = await drain(channel)

    assert sorted(i.external_id for i in items) == sorted(ids)
    calls = x_api.calls("/mentions")
    assert len(calls) == 4
    assert "pagination_token" not in calls[0]
    assert all("pagination_token" in c for c in calls[1:])
    assert json.loads(cursor) == {"mentions:1500000001": ids[-1]}

    again = await channel.fetch(cursor, 100)
    assert again.items == []
    assert again.cursor == cursor
    assert x_api.calls("/mentions")[-1]["since_id"] == ids[-1]

    newer = x_api.post(citizen, f"@{GOV} keluhan baru")
    fresh = await channel.fetch(cursor, 100)
    assert [i.external_id for i in fresh.items] == [newer]


async def test_failure_mid_pagination_rereads_and_skips_nothing(x_api, citizen):
    x_api.page_cap = 7
    ids = [x_api.post(citizen, f"@{GOV} keluhan {n}") for n in range(25)]
    channel = make(x_api)
    x_api.fail("/mentions", 503, skip=2)  # the third page fails
    with pytest.raises(RetriableChannelError, match="503"):
        await channel.fetch(None, 100)

    late = x_api.post(citizen, f"@{GOV} datang saat gangguan")
    items, cursor = await drain(channel, None)
    assert sorted(i.external_id for i in items) == sorted([*ids, late])
    assert json.loads(cursor) == {"mentions:1500000001": late}


async def test_max_posts_per_poll_cuts_without_skipping(x_api, citizen):
    ids = [x_api.post(citizen, f"@{GOV} keluhan {n}") for n in range(25)]
    channel = make(x_api, max_posts_per_poll=10)

    first = await channel.fetch(None, 100)
    assert len(first.items) == 10
    assert first.more
    items, cursor = await drain(channel, first.cursor)

    got = [i.external_id for i in [*first.items, *items]]
    assert sorted(got) == sorted(ids)
    assert len(set(got)) == 25
    assert json.loads(cursor) == {"mentions:1500000001": ids[-1]}


async def test_search_appends_no_retweets_and_mentions_skip_retweets(x_api, citizen):
    other = x_api.add_user("tetangga", id="900002")
    original = x_api.post(citizen, f"@{GOV} lampu jalan mati #KotabaruMendengar")
    x_api.post(
        other, f"RT @warga_kotabaru: @{GOV} lampu jalan mati", retweet_of=original
    )
    channel = make(x_api, search=["#KotabaruMendengar"])

    result = await channel.fetch(None, 100)

    assert [i.external_id for i in result.items] == [original]
    assert result.skipped == 1  # the retweet, seen in the mentions timeline
    [search] = x_api.calls("/search/recent")
    assert search["query"] == "#KotabaruMendengar -is:retweet"
    assert set(json.loads(result.cursor)) == {
        "mentions:1500000001",
        "search:#KotabaruMendengar",
    }


async def test_include_retweets_keeps_them(x_api, citizen):
    original = x_api.post(citizen, "trotoar rusak #KotabaruMendengar")
    rt = x_api.post(citizen, "RT trotoar rusak #KotabaruMendengar", retweet_of=original)
    channel = make(
        x_api, mentions_of=[], search=["#KotabaruMendengar"], include_retweets=True
    )

    result = await channel.fetch(None, 100)

    assert sorted(i.external_id for i in result.items) == sorted([original, rt])
    assert x_api.calls("/search/recent")[0]["query"] == "#KotabaruMendengar"


async def test_rate_limit_is_reported_not_slept_while_another_channel_works(
    x_api, citizen
):
    x_api.post(citizen, f"@{GOV} sampah menumpuk #KotabaruMendengar")
    x_api.fail("/mentions", 429, reset_in=600)
    limited = make(x_api, name="x-mentions")
    other = make(x_api, name="x-search", mentions_of=[], search=["#KotabaruMendengar"])

    outcome, result = await asyncio.gather(
        limited.fetch(None, 100), other.fetch(None, 100), return_exceptions=True
    )

    assert isinstance(outcome, RetriableChannelError)
    assert outcome.retry_after is not None
    assert 590 <= outcome.retry_after <= 600
    assert "rate limit" in str(outcome)
    assert len(result.items) == 1
    # the reset passed: the limited channel works on its next poll
    assert len((await limited.fetch(None, 100)).items) == 1


async def test_wrong_token_is_fatal_and_not_revealed(x_api, caplog):
    caplog.set_level(logging.DEBUG)
    channel = make(x_api, bearer_token="wrong-secret-token")
    with pytest.raises(FatalChannelError, match="401") as info:
        await channel.fetch(None, 100)
    assert "wrong-secret-token" not in str(info.value)
    assert "wrong-secret-token" not in repr(channel)
    assert "wrong-secret-token" not in caplog.text


async def test_revoked_access_midway_is_fatal(x_api):
    x_api.fail("/mentions", 403)
    with pytest.raises(FatalChannelError, match="403 Forbidden"):
        await make(x_api).fetch(None, 100)


async def test_server_error_and_network_error_are_retriable(x_api):
    x_api.fail("/users/by/username", 500)
    with pytest.raises(RetriableChannelError, match="500"):
        await make(x_api).fetch(None, 100)
    with running_x_api() as gone:
        url = gone.url
    channel = make(x_api, api_base_url=url)
    with pytest.raises(RetriableChannelError, match="unreachable"):
        await channel.fetch(None, 100)


async def test_unknown_account_is_fatal_with_its_name(x_api):
    with pytest.raises(FatalChannelError, match="@nobody_here"):
        await make(x_api, mentions_of=["nobody_here"]).check()


async def test_account_resolved_once(x_api, citizen):
    channel = make(x_api)
    await channel.check()
    await channel.fetch(None, 100)
    await channel.fetch(None, 100)
    assert len(x_api.calls("/users/by/username")) == 1


async def test_partial_errors_are_logged_and_the_rest_kept(x_api, citizen, caplog):
    gone = x_api.post(citizen, "postingan lama")
    quote = x_api.post(citizen, f"@{GOV} masih belum diperbaiki", quote_of=gone)
    x_api.delete(gone)
    x_api.extra_errors.append(not_found("user", "ids", "123"))

    result = await make(x_api).fetch(None, 100)

    [item] = result.items
    assert item.external_id == quote
    assert item.metadata["referenced_tweets"] == [
        {"type": "quoted", "id": gone, "available": False}
    ]
    assert f"Could not find tweet with referenced_tweets.id: [{gone}]" in caplog.text
    assert "Could not find user" in caplog.text


async def test_deleted_and_withheld_posts_are_not_handed_over(x_api, citizen):
    kept = x_api.post(citizen, f"@{GOV} got kept")
    deleted = x_api.post(citizen, f"@{GOV} deleted")
    x_api.post(citizen, f"@{GOV} withheld", withheld={"country_codes": ["ID"]})
    x_api.delete(deleted)

    result = await make(x_api).fetch(None, 100)

    assert [i.external_id for i in result.items] == [kept]
    assert result.skipped == 1


async def test_same_author_thread_and_quotes_keep_references(x_api, citizen):
    other = x_api.add_user("tetangga", id="900002")
    first = x_api.post(citizen, f"@{GOV} pipa PDAM bocor")
    own_reply = x_api.post(citizen, f"@{GOV} sudah 3 hari", reply_to=first)
    stranger = x_api.post(other, f"@{GOV} @warga_kotabaru sama", reply_to=first)
    quote = x_api.post(other, f"@{GOV} ini juga", quote_of=first)

    items = {i.external_id: i for i in (await make(x_api).fetch(None, 100)).items}

    assert items[own_reply].in_reply_to == (f"x:{first}",)
    assert items[own_reply].metadata["conversation_id"] == first
    assert items[stranger].in_reply_to == ()
    assert items[stranger].metadata["referenced_tweets"][0]["type"] == "replied_to"
    assert items[quote].metadata["referenced_tweets"] == [
        {
            "type": "quoted",
            "id": first,
            "text": f"@{GOV} pipa PDAM bocor",
            "author_id": citizen,
        }
    ]
    assert items[first].in_reply_to == ()


async def test_reply_to_our_account_threads(x_api, citizen):
    ours = x_api.post("1500000001", "Terima kasih, laporan ADU-7K3M-9QXT")
    reply = x_api.post(citizen, f"@{GOV} kapan diperbaiki?", reply_to=ours)
    items = {i.external_id: i for i in (await make(x_api).fetch(None, 100)).items}
    assert items[reply].in_reply_to == (f"x:{ours}",)


async def test_malformed_post_is_rejected_and_the_rest_kept(x_api, citizen):
    good = x_api.post(citizen, f"@{GOV} normal")
    bad = x_api.post(citizen, f"@{GOV} rusak", created_at="kemarin sore")

    result = await make(x_api).fetch(None, 100)

    assert [i.external_id for i in result.items] == [good]
    [rejected] = result.rejected
    assert rejected.external_id == bad
    assert "unreadable created_at 'kemarin sore'" in rejected.reason
    assert json.loads(rejected.raw)["id"] == bad


async def test_same_post_from_mention_and_search_once(x_api, citizen):
    x_api.post(citizen, f"@{GOV} got #KotabaruMendengar")
    result = await make(x_api, search=["#KotabaruMendengar"]).fetch(None, 100)
    assert len(result.items) == 1


async def test_unreadable_cursor_is_a_clear_error(x_api):
    with pytest.raises(FatalChannelError, match="cursor"):
        await make(x_api).fetch("not json", 100)


@pytest.mark.parametrize(
    "template",
    [
        "https://x.com/warga_kotabaru/status/{id}",
        "https://twitter.com/warga_kotabaru/status/{id}?s=20",
        "https://mobile.twitter.com/warga_kotabaru/status/{id}/",
    ],
)
async def test_import_by_url(x_api, citizen, template):
    post_id = x_api.post(citizen, "tidak mention, ditemukan staf")
    item = await make(x_api).fetch_post_by_url(template.format(id=post_id))
    assert item.external_id == post_id
    assert item.reporter.handle == "warga_kotabaru"
    assert item.metadata["source"] == "import"


async def test_import_of_deleted_post_says_so(x_api, citizen):
    post_id = x_api.post(citizen, "dihapus")
    x_api.delete(post_id)
    with pytest.raises(
        XPostUnavailable, match=f"Could not find tweet with id: \\[{post_id}\\]"
    ):
        await make(x_api).fetch_post_by_url(f"https://x.com/a/status/{post_id}")


@pytest.mark.parametrize(
    "url", ["https://x.com/warga", "https://example.com/a/status/1", "x.com/a/status/b"]
)
async def test_import_rejects_urls_that_are_not_posts(x_api, url):
    with pytest.raises(ValueError, match="not an X post URL"):
        await make(x_api).fetch_post_by_url(url)


# -- optional public reply ------------------------------------------------------


def replying(x_api, **overrides):
    return make(
        x_api,
        reply=True,
        consumer_key="ck",
        consumer_secret="cs",
        access_token="at",
        access_token_secret="ats",
        reply_contact="t.me/PengaduanKotabaruBot",
        **overrides,
    )


def reply_to(post_id, text="Halo Siti Warga, laporan Anda ADU-7K3M-9QXT"):
    return OutgoingReply(
        channel="x",
        recipient="warga_kotabaru",
        text=text,
        in_reply_to=f"x:{post_id}",
        tracking_no="ADU-7K3M-9QXT",
        idempotency_key="x:ack:ADU-7K3M-9QXT",
    )


async def test_replies_are_off_by_default(x_api):
    assert not isinstance(make(x_api), Replier)
    assert isinstance(replying(x_api), Replier)


async def test_public_reply_has_number_and_contact_but_no_personal_data(x_api, citizen):
    post_id = x_api.post(citizen, f"@{GOV} jalan rusak, HP saya 0812345678")
    channel = replying(x_api)

    remote_id = await channel.send_reply(reply_to(post_id))

    [sent] = x_api.posted
    assert sent["reply"]["in_reply_to_tweet_id"] == post_id
    assert "ADU-7K3M-9QXT" in sent["text"]
    assert "t.me/PengaduanKotabaruBot" in sent["text"]
    assert "Siti" not in sent["text"]
    assert len(sent["text"]) <= 280
    # the citizen's answer to our reply threads into the case
    ours = remote_id.removeprefix("x:")
    answer = x_api.post(citizen, f"@{GOV} terima kasih", reply_to=ours)
    items = {i.external_id: i for i in (await channel.fetch(None, 100)).items}
    assert items[answer].in_reply_to == (remote_id,)


async def test_reply_to_deleted_post_means_unreachable(x_api, citizen):
    post_id = x_api.post(citizen, f"@{GOV} sudah saya hapus")
    x_api.delete(post_id)
    with pytest.raises(RecipientUnreachable, match="deleted or not visible"):
        await replying(x_api).send_reply(reply_to(post_id))


async def test_reply_rate_limited_is_retried_later(x_api, citizen):
    post_id = x_api.post(citizen, f"@{GOV} halo")
    x_api.fail("/2/tweets", 429, reset_in=300)
    with pytest.raises(ReplyRetriable) as info:
        await replying(x_api).send_reply(reply_to(post_id))
    assert info.value.retry_after is not None
    assert 290 <= info.value.retry_after <= 300


async def test_check_of_a_search_only_channel_proves_the_token(x_api):
    channel = make(x_api, mentions_of=[], search=["#KotabaruMendengar"])
    await channel.check()
    x_api.bearer_token = "rotated"
    with pytest.raises(FatalChannelError, match="401"):
        await channel.check()


async def test_reply_without_write_permission_is_not_blamed_on_the_citizen(
    x_api, citizen
):
    post_id = x_api.post(citizen, f"@{GOV} halo")
    detail = (
        "Your client app is not configured with the appropriate oauth1 app "
        "permissions for this endpoint."
    )
    x_api.fail("/2/tweets", 403, body={"title": "Forbidden", "detail": detail})
    with pytest.raises(ReplyRetriable, match="oauth1 app permissions"):
        await replying(x_api).send_reply(reply_to(post_id))
