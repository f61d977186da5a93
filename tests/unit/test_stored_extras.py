"""What a channel's typed fields become in the stored record's extras: the
keys the dashboard and the album search have always read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.records import InboundMessage, MissingFile, stored_extras


def item(**fields: Any) -> InboundMessage:
    return InboundMessage(
        channel="bot",
        external_id="msg:42:7",
        received_at=datetime(2026, 12, 7, tzinfo=UTC),
        raw=b"{}",
        raw_format="json",
        **fields,
    )


def test_display_metadata_keeps_its_scalars_only() -> None:
    extras = stored_extras(item(metadata={"chat_type": "private", "media": [1, 2]}))
    assert extras == {"chat_type": "private"}


def test_a_command_an_edit_and_an_album_keep_their_keys() -> None:
    extras = stored_extras(
        item(
            command="anonim",
            command_args="",
            button_press_id="700",
            edit_of="msg:42:6",
            media_group_id="1357",
            contact_shared=True,
            hint=None,
        )
    )
    assert extras == {
        "command": "anonim",
        "command_args": "",
        "callback_query_id": "700",
        "edit_of": "msg:42:6",
        "media_group_id": "1357",
        "contact_shared": True,
    }


def test_a_plain_message_adds_no_keys() -> None:
    assert stored_extras(item()) == {}


def test_missing_files_keep_their_ids_and_the_too_large_details() -> None:
    extras = stored_extras(
        item(
            missing_files=(
                MissingFile("photo", "a.jpg", 500, "unavailable: 404", "F1"),
                MissingFile("document", "b.pdf", 5000, "too_large", "F2"),
            ),
            max_file_bytes=1000,
        )
    )
    assert extras == {
        "files_not_downloaded_ids": "F1 F2",
        "max_file_bytes": 1000,
        "file_too_large": True,
        "file_too_large_name": "b.pdf",
        "file_too_large_bytes": 5000,
    }


def test_the_limit_a_too_large_file_broke_wins_over_the_channels() -> None:
    extras = stored_extras(
        item(
            missing_files=(
                MissingFile("sticker", None, None, "too_large", "M1", limit=512_000),
            )
        )
    )
    assert extras["max_file_bytes"] == 512_000
    # unknown name and size stay, as null, as they did as metadata
    assert extras["file_too_large_name"] is None
    assert extras["file_too_large_bytes"] is None


def test_a_download_failure_without_a_channel_limit_names_none() -> None:
    extras = stored_extras(
        item(missing_files=(MissingFile("photo", "a.jpg", 1, "unavailable", "W1"),))
    )
    assert extras == {"files_not_downloaded_ids": "W1"}
