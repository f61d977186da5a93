"""The emulator against real recorded X API responses (tweepy's cassettes,
in tests/fixtures/x): same shapes, and real posts flow through XChannel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from channels.x import XChannel
from config.channel_settings import XChannelSettings
from tests.fakes.x_api import x_api_fixture  # noqa: F401

CASSETTES = Path(__file__).resolve().parents[1] / "fixtures" / "x" / "tweepy-cassettes"


def recorded(name: str) -> Any:
    path = CASSETTES / f"{name}.json"
    return json.loads(path.read_text())[0]["body"]


def load_mentions(x_api) -> list[dict[str, Any]]:
    body = recorded("test_client_get_users_mentions")
    x_api.add_user("Twitter", "Twitter", id="783214")
    author = x_api.add_user("someone", id="42")
    for tweet in body["data"]:
        x_api.post(author, tweet["text"], tweet_id=tweet["id"])
    posts: list[dict[str, Any]] = body["data"]
    return posts


def test_emulator_pages_have_the_recorded_shape(x_api):
    real = recorded("test_client_get_users_mentions")
    x_api.page_cap = 4
    load_mentions(x_api)
    headers = {"Authorization": f"Bearer {x_api.bearer_token}"}

    page = requests.get(
        f"{x_api.url}/2/users/783214/mentions", headers=headers, timeout=10
    ).json()

    assert set(page) == set(real)
    assert set(page["meta"]) == set(real["meta"])
    assert set(page["data"][0]) == set(real["data"][0])
    last = requests.get(
        f"{x_api.url}/2/users/783214/mentions",
        params={"since_id": real["meta"]["newest_id"]},
        headers=headers,
        timeout=10,
    ).json()
    assert last == {"meta": {"result_count": 0}}  # an empty page has no data


async def test_real_recorded_mentions_flow_through_the_channel(x_api):
    posts = load_mentions(x_api)
    channel = XChannel(
        XChannelSettings(
            type="x",
            name="x",
            bearer_token=x_api.bearer_token,
            mentions_of=["Twitter"],
            api_base_url=x_api.url,
        )
    )

    result = await channel.fetch(None, 100)

    assert [(i.external_id, i.text) for i in result.items] == [
        (p["id"], p["text"]) for p in posts
    ]
    newest = max(posts, key=lambda p: int(p["id"]))["id"]
    assert json.loads(result.cursor or "{}") == {"mentions:783214": newest}
