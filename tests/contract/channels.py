"""One class of contract tests every channel runs (kombu's
``t/integration/common.py`` is the model): subclass ``ChannelContract`` in
tests/unit/channels/test_channel_contract.py and give it a ``source``
fixture; a test there checks that every registered channel type has one.

What it holds a channel to (contracts/channel.py, contracts/errors.py):
- cursor semantics: the cursor a fetch returns, passed to the next fetch
  after ``after_commit``, brings only newer items; ``limit`` is honoured and
  ``more`` says when the batch was cut;
- confirmation only after commit: a fetch alone confirms nothing (the same
  instance, asked again from the same cursor, hands the same items), and a
  batch fetched but never confirmed (the process died before its
  transaction) comes again to a new instance started from the last stored
  cursor;
- idempotent re-fetch: what comes again carries the same external ids, so
  ``(channel, external_id)`` recognises it;
- replay: the channel class rebuilds each item from its raw bytes (what
  ``dengar quarantine retry`` does), with the same external id;
- error classification: credentials refused or a source gone for good raise
  ``contracts.errors.Fatal``; a source down for now raises
  ``contracts.errors.Retriable``; both are ``ChannelError``s, never a
  library's own exception;
- secrets absent from reprs and from error messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import pytest

from channels.registry import channel_class
from contracts.channel import Channel, ReplaysRaw
from contracts.errors import ChannelError, Fatal, Retriable


class ContractSource(Protocol):
    """What a channel's test gives the contract about its source."""

    secrets: Sequence[str]
    settings: Any  # the channel's config model

    async def add(self, count: int) -> None:
        """Make ``count`` new items arrive at the source."""

    def channel(self) -> Channel:
        """A fresh channel instance (a restarted process)."""

    async def break_for_good(self) -> bool:
        """Make the source refuse us until the config changes (a revoked
        token, a changed password, a mailbox gone); False when the channel
        has no such state."""

    async def break_for_now(self) -> bool:
        """Make the source fail for now (server down, 5xx); False when the
        channel has no such state (a local folder)."""


async def _check_then_fetch(channel: Channel) -> None:
    # a source may fail at check (credentials) or only at fetch (a folder)
    await channel.check()
    await channel.fetch(None, 100)


class ChannelContract:
    """The shared contract tests; the subclass names its ``channel_type``
    (the registry key) and provides ``source``."""

    channel_type: str

    async def test_cursor_after_commit_brings_only_newer_items(
        self, source: ContractSource
    ) -> None:
        await source.add(3)
        channel = source.channel()
        try:
            first = await channel.fetch(None, 100)
            assert len(first.items) == 3
            assert len({i.external_id for i in first.items}) == 3
            await channel.after_commit(first)
            assert (await channel.fetch(first.cursor, 100)).items == []
            await source.add(1)
            later = await channel.fetch(first.cursor, 100)
            assert len(later.items) == 1
            assert later.items[0].external_id not in {
                i.external_id for i in first.items
            }
        finally:
            await channel.close()

    async def test_limit_cuts_the_batch_and_says_there_is_more(
        self, source: ContractSource
    ) -> None:
        await source.add(3)
        channel = source.channel()
        try:
            first = await channel.fetch(None, 2)
            assert 1 <= len(first.items) <= 2
            assert first.more
            await channel.after_commit(first)
            rest = await channel.fetch(first.cursor, 100)
            seen = [i.external_id for i in (*first.items, *rest.items)]
            assert len(seen) == len(set(seen)) == 3
        finally:
            await channel.close()

    async def test_a_fetch_alone_confirms_nothing(self, source: ContractSource) -> None:
        await source.add(2)
        channel = source.channel()
        try:
            first = await channel.fetch(None, 100)
            # the transaction failed: the runner asks again from the cursor
            # it has stored, without after_commit
            again = await channel.fetch(None, 100)
            assert sorted(i.external_id for i in again.items) == sorted(
                i.external_id for i in first.items
            )
            assert len(again.items) == 2
        finally:
            await channel.close()

    async def test_unconfirmed_batch_comes_again_with_the_same_ids(
        self, source: ContractSource
    ) -> None:
        await source.add(2)
        crashed = source.channel()
        try:
            lost = await crashed.fetch(None, 100)
        finally:
            await crashed.close()  # died before the commit: no after_commit
        restarted = source.channel()
        try:
            again = await restarted.fetch(None, 100)
            assert [i.external_id for i in again.items] == [
                i.external_id for i in lost.items
            ]
            assert len(again.items) == 2
        finally:
            await restarted.close()

    async def test_the_class_rebuilds_each_item_from_its_raw_bytes(
        self, source: ContractSource
    ) -> None:
        await source.add(2)
        channel = source.channel()
        try:
            fetched = await channel.fetch(None, 100)
        finally:
            await channel.close()
        replayer: ReplaysRaw = channel_class(source.settings.type)
        assert isinstance(channel, channel_class(source.settings.type))
        for item in fetched.items:
            rebuilt = replayer.replay(
                source.settings, item.raw, item.external_id, item.received_at
            )
            [again] = rebuilt.items
            assert again.channel == item.channel
            assert again.external_id == item.external_id
            assert again.raw_format == item.raw_format
            assert again.raw == item.raw
            assert again.text == item.text
            assert rebuilt.cursor is None  # a replay never moves the cursor

    async def test_credentials_refused_are_fatal_without_secrets(
        self, source: ContractSource
    ) -> None:
        await source.add(1)
        if not await source.break_for_good():
            pytest.skip("this channel's source cannot refuse it for good")
        channel = source.channel()
        try:
            with pytest.raises(ChannelError) as caught:
                await _check_then_fetch(channel)
            assert isinstance(caught.value, Fatal)
            for secret in source.secrets:
                assert secret not in str(caught.value)
        finally:
            await channel.close()

    async def test_a_source_down_for_now_is_retriable_without_secrets(
        self, source: ContractSource
    ) -> None:
        await source.add(1)
        if not await source.break_for_now():
            pytest.skip("this channel's source has no passing failure")
        channel = source.channel()
        try:
            with pytest.raises(ChannelError) as caught:
                await _check_then_fetch(channel)
            assert isinstance(caught.value, Retriable)
            for secret in source.secrets:
                assert secret not in str(caught.value)
        finally:
            await channel.close()

    async def test_secrets_absent_from_reprs(self, source: ContractSource) -> None:
        channel = source.channel()
        try:
            shown = repr(channel) + str(channel)
            for secret in source.secrets:
                assert secret not in shown
        finally:
            await channel.close()
