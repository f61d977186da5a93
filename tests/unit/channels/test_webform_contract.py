"""The web form channel beyond the shared contract (which it runs in
test_channel_contract.py): the item it makes, and old form markers."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from channels.webform.channel import sent_before, spool_of, store
from tests.unit.channels.test_channel_contract import WebformSource, submission


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
