"""The shared channel contract (tests/contract/channels.py) run against the
web form channel: submissions the web app spooled, read by the channel."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from channels.webform import WebformChannel
from channels.webform.channel import sent_before, spool_of, store
from channels.webform.submission import StoredFile, Submission
from config.channel_settings import WebformChannelSettings
from contracts.channel import Channel
from tests.contract.channels import ChannelContract


def submission(n: int) -> Submission:
    """A checked submission as the web app spools it."""
    return Submission(
        form_id=f"{n:032x}",
        tracking_no=f"ADU-0000-{n:04d}",
        received_at=datetime(2026, 12, 1, 2, 0, n % 60, tzinfo=UTC),
        title=f"Laporan {n}",
        text=f"Jalan rusak nomor {n} di depan pasar.",
        incident_date=date(2026, 11, 30),
        kecamatan="Pulau Laut Utara",
        files=(StoredFile("foto.jpg", "image/jpeg", b"\xff\xd8\xff-bytes"),),
    )


class WebformSource:
    """Citizens sending the form: the web app's spool."""

    secrets: tuple[str, ...] = ()

    def __init__(self, spool: Path) -> None:
        self.settings = WebformChannelSettings(
            type="webform", name="formulir", spool_directory=spool
        )
        self._ids = itertools.count(1)

    async def add(self, count: int) -> None:
        for _ in range(count):
            store(spool_of(self.settings), submission(next(self._ids)))

    def channel(self) -> Channel:
        return WebformChannel(self.settings)

    async def break_for_good(self) -> bool:
        # the spool replaced by a file (a wrong path in the config)
        directory = spool_of(self.settings).directory
        shutil.rmtree(directory)
        directory.write_text("not a directory")
        return True

    async def break_for_now(self) -> bool:
        return False  # a local folder is there or not


class TestWebformContract(ChannelContract):
    """The web form /lapor."""

    channel_type = "webform"

    @pytest.fixture
    def source(self, tmp_path: Path) -> WebformSource:
        return WebformSource(tmp_path / "spool")


def test_item_carries_the_form_and_the_shown_number(tmp_path: Path) -> None:
    spooled = submission(7)
    item_source = WebformSource(tmp_path / "spool")
    store(spool_of(item_source.settings), spooled)
    result = asyncio.run(item_source.channel().fetch(None, 10))
    (item,) = result.items
    assert item.external_id == f"form:{spooled.form_id}"
    assert item.tracking_no == "ADU-0000-0007"
    assert item.subject == "Laporan 7"
    assert item.text.endswith("Lokasi: Kecamatan Pulau Laut Utara")
    assert item.attachments[0].data == b"\xff\xd8\xff-bytes"
    assert b"-bytes" not in item.raw  # the raw payload names files, no bytes


def test_old_form_markers_are_pruned_after_a_commit(tmp_path: Path) -> None:
    source = WebformSource(tmp_path / "spool")
    spool = spool_of(source.settings)
    store(spool, submission(1))
    store(spool, submission(2))
    old = spool.directory / "forms" / f"{1:032x}"
    week_ago = time.time() - 7 * 86400
    os.utime(old, (week_ago, week_ago))
    channel = source.channel()
    asyncio.run(channel.after_commit(asyncio.run(channel.fetch(None, 10))))
    assert not old.exists()
    assert sent_before(spool, f"{2:032x}") == "ADU-0000-0002"  # still recent
