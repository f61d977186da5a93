"""X API v2 response bodies to InboundMessage, on the official example
responses in tests/fixtures/x (copied unchanged, with their licences)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from channels.x_posts import (
    Includes,
    InvalidPost,
    post_to_message,
    reject,
    skip_reason,
)

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "x"
EXAMPLES = DATA / "twitterdev-examples"


def example(name: str) -> Any:
    return json.loads((EXAMPLES / f"{name}.json").read_text())["body"]


def test_place_expansion_gives_label_and_centre_of_its_box():
    body = example("Tweet_Lookup_Single_Tweet_200_Success_Request_Place_Fields")
    item = post_to_message("x", body["data"], Includes.of(body), source="import")
    assert item.location is not None
    assert item.location.label == "Manhattan, NY"
    assert item.location.latitude == pytest.approx((40.683935 + 40.877483) / 2)
    assert item.location.longitude == pytest.approx((-74.026675 - 73.910408) / 2)
    assert item.metadata["place"]["full_name"] == "Manhattan, NY"


def test_media_expansion_gives_media_and_urls():
    body = example(
        "Search_Tweets_Recent_search_200_Success_Request_Expanded_Media_Fields"
    )
    includes = Includes.of(body)
    items = [post_to_message("x", t, includes, source="search") for t in body["data"]]
    with_two = next(i for i in items if len(i.metadata["media"]) == 2)
    assert [m["media_key"] for m in with_two.metadata["media"]] == [
        "3_1278014675309998082",
        "3_1278014683598008321",
    ]
    assert all(m["type"] == "photo" for m in with_two.metadata["media"])
    assert with_two.attachments == ()  # media are links, not downloaded
    assert with_two.received_at.isoformat().startswith("2020-06-30T17:38:24")


def test_author_expansion_joined_on_author_id():
    body = example(
        "Search_Tweets_Recent_search_200_Success_Request_Tweet_Fields_with_Expanded_User_Fields"
    )
    includes = Includes.of(body)
    for tweet in body["data"]:
        item = post_to_message("x", tweet, includes, source="search")
        user = includes.users[tweet["author_id"]]
        assert item.reporter.handle == user["username"]
        assert item.reporter.name == user["name"]
        assert item.metadata["url"].endswith(
            f"/{user['username']}/status/{tweet['id']}"
        )


def test_default_payload_without_fields_still_converts():
    body = example(
        "Search_Tweets_Recent_search_200_Success_Recent_Search_Default_Payload"
    )
    includes = Includes.of(body)
    items = [post_to_message("x", t, includes, source="search") for t in body["data"]]
    assert [i.external_id for i in items] == [t["id"] for t in body["data"]]
    # no created_at asked for: the time comes from the id (a snowflake)
    assert all(i.received_at.year >= 2020 for i in items)
    assert all(i.reporter.is_empty() for i in items)


def test_retweets_of_real_search_are_skipped_unless_asked():
    body = example("Search_Tweets_Recent_search_200_Success_Request_Tweet_Fields")
    retweets = [t for t in body["data"] if t["text"].startswith("RT @")]
    assert retweets, "the example holds retweets"
    for tweet in retweets:
        assert skip_reason(tweet, include_retweets=False) == "retweet"
        assert skip_reason(tweet, include_retweets=True) is None


def test_withheld_is_skipped():
    tweet = {"id": "1", "text": "x", "withheld": {"country_codes": ["ID"]}}
    assert skip_reason(tweet, include_retweets=True) == "withheld"


def test_edited_post_points_at_the_version_it_replaces():
    tweet = {
        "id": "300",
        "text": "jalan berlubang (diedit)",
        "edit_history_tweet_ids": ["100", "300"],
    }
    item = post_to_message("x", tweet, Includes(), source="mention")
    assert item.edit_of == "100"
    original = post_to_message("x", {**tweet, "id": "100"}, Includes(), source="x")
    assert original.edit_of is None


@pytest.mark.parametrize(
    ("tweet", "reason"),
    [
        ({"text": "tanpa id"}, "no numeric id"),
        ({"id": "12", "text": None}, "post 12 has no text"),
        ({"id": "12", "text": "a", "created_at": "besok"}, "unreadable created_at"),
        ("bukan objek", "not a JSON object"),
    ],
)
def test_malformed_posts_say_what_is_wrong(tweet, reason):
    with pytest.raises(InvalidPost, match=reason):
        post_to_message("x", tweet, Includes(), source="search")


def test_rejected_post_without_id_gets_a_stable_name():
    first = reject("x", {"text": "tanpa id"}, "no id")
    again = reject("x", {"text": "tanpa id"}, "no id")
    assert first.external_id == again.external_id
    assert first.external_id.startswith("invalid:")
    assert json.loads(first.raw) == {"text": "tanpa id"}


def test_coordinates_out_of_range_are_dropped_not_fatal():
    tweet = {
        "id": "5",
        "text": "a",
        "geo": {"coordinates": {"type": "Point", "coordinates": [500, 100]}},
    }
    item = post_to_message("x", tweet, Includes(), source="search")
    assert item.location is None


def test_an_author_field_of_the_wrong_type_is_dropped_not_the_post():
    # found by the long fuzz run: a list as the name reached the database
    tweet = {
        "id": "7",
        "text": "jalan rusak",
        "author_id": "1",
        "geo": {"place_id": "p"},
    }
    body = {
        "data": [tweet],
        "includes": {
            "users": [{"id": "1", "username": 42, "name": []}],
            "places": [
                {
                    "id": "p",
                    "full_name": ["Kotabaru"],
                    "geo": {"bbox": [116.1, -3.3, 116.3, -3.2]},
                }
            ],
        },
    }
    item = post_to_message("x", tweet, Includes.of(body), source="mentions")
    assert item.text == "jalan rusak"
    assert item.reporter.name is None
    assert item.reporter.handle is None
    assert item.metadata["url"] == "https://x.com/i/web/status/7"
    assert item.location is not None
    assert item.location.label is None
