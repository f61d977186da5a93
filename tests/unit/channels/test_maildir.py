"""The Maildir channel: order, cursor, size limit, after_import."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from channels.maildir import MaildirChannel
from config.channel_settings import MaildirChannelSettings
from contracts.errors import FatalChannelError


def make_maildir(root: Path, count: int) -> Path:
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = root / "new" / f"100{i}.M{i}.host"
        path.write_bytes(f"Subject: {i}\r\n\r\nisi {i}\r\n".encode())
        os.utime(
            path, ns=(1_700_000_000_000_000_000 + i, 1_700_000_000_000_000_000 + i)
        )
    return root


def channel(root: Path, **kwargs: object) -> MaildirChannel:
    settings = MaildirChannelSettings(type="maildir", name="surat", path=root, **kwargs)  # type: ignore[arg-type]
    return MaildirChannel(settings)


async def test_keep_reads_in_order_and_resumes_after_the_cursor(tmp_path: Path) -> None:
    ch = channel(make_maildir(tmp_path, 5), after_import="keep")
    first = await ch.fetch(None, 2)
    assert [i.external_id for i in first.items] == ["1000.M0.host", "1001.M1.host"]
    assert first.more
    rest = await ch.fetch(first.cursor, 10)
    assert [i.external_id for i in rest.items] == [
        "1002.M2.host",
        "1003.M3.host",
        "1004.M4.host",
    ]
    assert not rest.more
    await ch.after_commit(rest)
    assert len(list((tmp_path / "new").iterdir())) == 5  # keep touches nothing
    again = await ch.fetch(rest.cursor, 10)
    assert again.items == []


async def test_move_files_messages_as_seen_only_after_commit(tmp_path: Path) -> None:
    ch = channel(make_maildir(tmp_path, 3), after_import="move")
    result = await ch.fetch(None, 10)
    assert len(result.items) == 3
    # not yet committed: a crash here leaves every file in new/
    assert len(list((tmp_path / "new").iterdir())) == 3
    await ch.after_commit(result)
    assert list((tmp_path / "new").iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "cur").iterdir()) == [
        "1000.M0.host:2,S",
        "1001.M1.host:2,S",
        "1002.M2.host:2,S",
    ]
    await ch.after_commit(result)  # a second call (rerun) is harmless


async def test_oversized_message_is_rejected_with_its_bytes(tmp_path: Path) -> None:
    root = make_maildir(tmp_path, 1)
    big = root / "new" / "2000.big.host"
    big.write_bytes(b"Subject: besar\r\n\r\n" + b"x" * 5000)
    ch = channel(root, max_message_bytes=1000)
    result = await ch.fetch(None, 10)
    assert [i.external_id for i in result.items] == ["1000.M0.host"]
    assert len(result.rejected) == 1
    rejected = result.rejected[0]
    assert rejected.external_id == "2000.big.host"
    assert rejected.raw == big.read_bytes()
    assert "over max_message_bytes (1000)" in rejected.reason


async def test_missing_folder_is_fatal(tmp_path: Path) -> None:
    ch = channel(tmp_path / "nowhere")
    with pytest.raises(FatalChannelError, match="not a directory"):
        await ch.check()
