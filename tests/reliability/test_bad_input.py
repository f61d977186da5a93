"""Bad input never escapes: the Telegram update normaliser, the X response
normaliser and the mail parser are fed generated garbage (hypothesis; a long
session is ``bench/fuzz.py``), and whatever comes out goes through the
pipeline, where every item becomes exactly one record or one quarantined item
and nothing raises — on SQLite and on PostgreSQL, which refuses more (NUL in
text, for one)."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from channels.telegram.updates import (
    Converted,
    MalformedUpdate,
    Skipped,
    convert_update,
)
from channels.x_posts import Includes, PostBatch
from config.loader import parse_settings
from contracts.channel import FetchResult
from contracts.records import InboundMessage, RejectedItem
from dengar.pipeline import Pipeline
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.services import need_postgres

EXAMPLES = int(os.environ.get("DENGAR_FUZZ_EXAMPLES", "120"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
pytestmark = pytest.mark.postgres  # the postgres half of `engine`

CONFIG = """
database_url: sqlite://
channels:
  - {name: surat, type: maildir, path: /nonexistent}
  - {name: tg, type: telegram, token: "1:x", session_minutes: 0}
  - {name: x, type: x, bearer_token: t, mentions_of: [Pemkab], auto_dispatch: true}
agencies: [{code: DISKOMINFO, name: Diskominfo}]
routing: {default_agency: DISKOMINFO}
"""
_SETTINGS = parse_settings(CONFIG)
_PIPELINE = Pipeline(
    settings=_SETTINGS,
    policies=_SETTINGS.channel_policies(),
    repliers=frozenset({"tg", "x"}),
)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """One migrated database per store for the module's examples."""
    if request.param == "sqlite":
        directory = tempfile.mkdtemp(prefix="dengar-fuzz-")
        url = f"sqlite:///{directory}/fuzz.db"
        created = None
    else:
        admin_url = need_postgres()
        name = f"dengar_fuzz_{uuid.uuid4().hex[:12]}"
        created = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with created.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    store = make_engine(url)
    upgrade(store)
    try:
        yield store
    finally:
        store.dispose()
        if created is not None:
            with created.connect() as connection:
                connection.execute(
                    text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                )
            created.dispose()


def _through_pipeline(
    engine: Engine, channel: str, items: list[InboundMessage], rejected
) -> None:
    """Ingest and check the accounting; rolled back so examples stay apart."""
    with Session(engine) as session:
        summary = _PIPELINE.ingest(
            session,
            channel,
            FetchResult(items=items, cursor=None, rejected=rejected),
            advance_cursor=False,
        )
        accounted = (
            summary.new_cases
            + summary.follow_ups
            + summary.ignored
            + summary.quarantined
            + summary.already_stored
        )
        assert accounted == len(items) + len(rejected)
        session.rollback()


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
MESSAGE_KEYS = ["message_id", "date", "chat", "from", "text", "caption", "photo",
                "document", "location", "contact", "entities", "reply_to_message",
                "media_group_id", "edit_date", "sticker", "voice"]  # fmt: skip
messages = st.fixed_dictionaries(
    {
        "message_id": st.integers(1, 10**6) | json_values,
        "date": st.integers(0, 2**32) | json_values,
        "chat": st.fixed_dictionaries(
            {
                "id": st.integers(-(10**12), 10**12),
                "type": st.sampled_from(["private", "group", "supergroup", "channel"]),
            }
        )
        | json_values,
    },
    optional={k: json_values for k in MESSAGE_KEYS[3:]}
    | {"text": st.text(max_size=200)},
)
updates = st.fixed_dictionaries(
    {"update_id": st.integers(0, 2**31) | json_values},
    optional={
        "message": messages | json_values,
        "edited_message": messages,
        "channel_post": json_values,
        "callback_query": json_values,
    },
)


@FUZZ
@given(update=updates | json_values)
def test_any_telegram_update_is_an_item_a_skip_or_a_clear_rejection(
    engine: Engine, update: Any
):
    try:
        converted = convert_update(update, channel="tg")
    except MalformedUpdate as exc:
        reason = str(exc)  # a specific message for the quarantine's reason
        raw = json.dumps(update, ensure_ascii=False).encode()
        rejected = [RejectedItem("tg", "update:bad", raw, reason)]
        _through_pipeline(engine, "tg", [], rejected)
        return
    assert isinstance(converted, Converted | Skipped)
    if isinstance(converted, Converted):
        _through_pipeline(engine, "tg", [converted.item], [])


posts = st.fixed_dictionaries(
    {},
    optional={
        "id": st.integers(0, 10**19).map(str) | json_values,
        "text": st.text(max_size=300) | json_values,
        "author_id": st.sampled_from(["1", "2", "3"]) | json_values,
        "created_at": st.sampled_from(["2026-11-27T10:00:00.000Z", "kemarin"])
        | json_values,
        "geo": json_values,
        "attachments": st.fixed_dictionaries({"media_keys": json_values}),
        "referenced_tweets": json_values,
        "edit_history_tweet_ids": st.lists(st.integers(0, 10**19).map(str))
        | json_values,
        "entities": json_values,
        "in_reply_to_user_id": json_values,
    },
)
bodies = st.fixed_dictionaries(
    {"data": st.lists(posts | json_values, max_size=6)},
    optional={
        "includes": st.dictionaries(
            st.sampled_from(["users", "places", "media", "tweets"]),
            st.lists(
                json_values
                | st.fixed_dictionaries(
                    {
                        "id": st.sampled_from(["1", "2"]),
                        "username": json_values,
                        "name": json_values,
                    }
                ),
                max_size=3,
            ),
        )
    },
)


@FUZZ
@given(body=bodies)
def test_any_x_page_is_items_skips_or_clear_rejections(
    engine: Engine, body: dict[str, Any]
):
    batch = PostBatch("x", own_user_ids=("1",), include_retweets=False)
    data = body["data"]
    batch.take(data, Includes.of(body), "mentions")
    distinct = len({json.dumps(p, sort_keys=True) for p in data})
    # every post is accounted for (a repeated id counts once)
    assert len(batch.items) + len(batch.rejected) + batch.skipped <= len(data)
    assert len(batch.items) + len(batch.rejected) + batch.skipped >= min(1, distinct)
    assert all(r.reason for r in batch.rejected)
    _through_pipeline(engine, "x", batch.items, batch.rejected)


def _mail(external_id: str, raw: bytes) -> InboundMessage:
    return InboundMessage(
        channel="surat",
        external_id=external_id,
        received_at=datetime.now(UTC),
        raw=raw,
        raw_format="rfc822",
    )


@FUZZ
@given(raw=st.binary(max_size=3000) | st.text(max_size=2000).map(str.encode))
def test_any_bytes_as_mail_become_a_record_or_a_quarantined_item(
    engine: Engine, raw: bytes
):
    _through_pipeline(engine, "surat", [_mail("fuzz", raw)], [])


def _nested(depth: int) -> bytes:
    parts = b"Isi paling dalam: jalan rusak\r\n"
    for level in range(depth):
        boundary = f"b{level}".encode()
        parts = (
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--'
            + boundary + b"\r\n" + parts + b"\r\n--" + boundary + b"--\r\n"
        )  # fmt: skip
    return b"From: a@example.org\r\nSubject: dalam\r\nMIME-Version: 1.0\r\n" + parts


def test_hostile_mails_are_stored_or_quarantined_never_raised(engine: Engine):
    recipients = ", ".join(f"warga{i}@example.org" for i in range(10_000))
    big = EmailMessage()
    big["From"] = "a@example.org"
    big["To"] = recipients
    big["Subject"] = "Banyak penerima"
    big.set_content("Jalan rusak " * 50_000)  # ~600 kB of text
    zip_like = EmailMessage()
    zip_like["From"] = "b@example.org"
    zip_like["Subject"] = "lampiran"
    zip_like.set_content("lihat lampiran")
    zip_like.add_attachment(b"PK\x03\x04" + b"\x00" * 200_000, maintype="application",
                            subtype="zip", filename="bom.zip")  # fmt: skip
    cases = {
        "nested-300": _nested(300),
        "recipients-10000": bytes(big),
        "zip": bytes(zip_like),
        "bad-utf8": b"From: \xff\xfe <c@example.org>\r\nSubject: \xc3\x28 rusak\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n\xed\xa0\x80 jalan \xff\r\n",
        "bogus-charset": b"From: d@example.org\r\nSubject: =?x-unknown?B?AAAA?=\r\n"
        b"Content-Type: text/plain; charset=x-klingon\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
        "empty": b"",
        "headers-only": b"From: e@example.org\r\n",
        "nul": b"From: N\x00ama <f@example.org>\r\nSubject: lampu\x00 mati\r\n\r\n"
        b"Lampu jalan mati di Jl. Veteran\x00 sudah seminggu.\r\n",
        "encoded-nul": b"From: =?utf-8?q?Bu=00di?= <g@example.org>\r\n"
        b"Subject: =?utf-8?b?bGFtcHUAbWF0aQ==?=\r\n\r\nisi\r\n",
        "lone-surrogate": b"From: h@example.org\r\nSubject: =?utf-16?b?2AA=?=\r\n"
        b"Content-Type: text/plain; charset=utf-16\r\n\r\n\x00\xd8\x00\xdc\r\n",
        "huge-subject": b"From: i@example.org\r\nSubject: "
        + b"X" * 100_000
        + b"\r\n\r\n",
    }
    with Session(engine) as session:
        for name, raw in cases.items():
            summary = _PIPELINE.ingest(
                session,
                "surat",
                FetchResult(items=[_mail(f"hostile:{name}", raw)], cursor=None),
                advance_cursor=False,
            )
            kept = summary.new_cases + summary.ignored + summary.quarantined
            kept += summary.follow_ups
            assert kept == 1, name
        session.rollback()
