"""One class of contract tests every channel runs (kombu's
``t/integration/common.py`` is the model): subclass ``ChannelContract`` in
the channel's test module and give it a ``source`` fixture.

What it holds a channel to (channels/base.py):
- cursor semantics: the cursor a fetch returns, passed to the next fetch
  after ``after_commit``, brings only newer items; ``limit`` is honoured and
  ``more`` says when the batch was cut;
- confirmation only after commit: a batch fetched but never confirmed (the
  process died before its transaction) comes again to a new instance
  started from the last stored cursor;
- idempotent re-fetch: what comes again carries the same external ids, so
  ``(channel, external_id)`` recognises it;
- error classification: a broken source raises a ``ChannelError``
  (fatal or retriable), never a library's own exception;
- secrets absent from reprs and from error messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import pytest

from contracts.channel import Channel
from contracts.errors import ChannelError


class ContractSource(Protocol):
    """What a channel's test gives the contract about its source."""

    secrets: Sequence[str]

    async def add(self, count: int) -> None:
        """Make ``count`` new items arrive at the source."""

    def channel(self) -> Channel:
        """A fresh channel instance (a restarted process)."""

    async def break_source(self) -> None:
        """Make the source fail (gone, credentials refused, down)."""


async def _check_then_fetch(channel: Channel) -> None:
    # a source may fail at check (credentials) or only at fetch (a folder)
    await channel.check()
    await channel.fetch(None, 100)


class ChannelContract:
    """The shared contract tests; the subclass provides ``source``."""

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

    async def test_broken_source_raises_a_channel_error_without_secrets(
        self, source: ContractSource
    ) -> None:
        await source.add(1)
        await source.break_source()
        channel = source.channel()
        try:
            with pytest.raises(ChannelError) as caught:
                await _check_then_fetch(channel)
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
