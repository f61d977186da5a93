"""Why an item opens no case, decided without a database: the reason kept
on the record is the one staff have always read, and a stored ``/baru`` is
recognised by the thread rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from contracts.records import InboundMessage, Reporter
from normalizer.content import CONTENT_LESS_REASON
from normalizer.ignored import (
    CONTENT_LESS,
    IgnoreReason,
    asked_for_new_case,
    why_ignored,
)
from normalizer.normalize import Normalized


def chat(**typed: Any) -> InboundMessage:
    return InboundMessage(
        channel="bot",
        external_id="1",
        received_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
        raw=b"{}",
        raw_format="json",
        text="halo",
        reporter=Reporter(chat_id="42"),
        **typed,
    )


def fields(ignored_reason: str | None = None) -> Normalized:
    return Normalized(
        subject=None,
        original_text="halo",
        clean_text="halo",
        reporter=Reporter(chat_id="42"),
        ignored_reason=ignored_reason,
    )


@pytest.mark.parametrize(
    ("metadata", "found", "stored"),
    [
        ({"command": "status"}, None, "command /status"),
        ({"command": "baru"}, "auto-reply", "command /baru"),  # a command first
        ({"hint": "stiker"}, None, "unsupported message: stiker"),
        ({"command": "start", "hint": "stiker"}, None, "command /start"),
        ({}, "auto-reply (Auto-Submitted: auto-replied)", None),
    ],
)
def test_the_reason_kept_on_the_record(
    metadata: dict[str, str], found: str | None, stored: str | None
) -> None:
    why = why_ignored(chat(**metadata), fields(found))
    assert why is not None
    assert why.stored == (stored or found)


def test_a_message_from_a_person_is_not_ignored_here() -> None:
    # a greeting opens no case either, but only once it continues none
    assert why_ignored(chat(), fields()) is None


def test_a_message_without_content_keeps_its_known_reason() -> None:
    assert CONTENT_LESS.stored == CONTENT_LESS_REASON == "no complaint content"


def test_only_the_citizens_baru_starts_a_new_case() -> None:
    baru = IgnoreReason("command", "baru").stored
    assert asked_for_new_case("ignored", baru)
    assert not asked_for_new_case("ignored", "command /status")
    assert not asked_for_new_case("ignored", None)
    assert not asked_for_new_case("case", baru)


@pytest.mark.parametrize(
    ("hint", "silent"), [("reaction", True), ("system", True), ("stiker", False)]
)
def test_a_reaction_or_a_number_change_gets_no_answer(hint: str, silent: bool) -> None:
    why = why_ignored(chat(hint=hint), fields())
    assert why is not None
    assert why.silent is silent
    assert why.stored == f"unsupported message: {hint}"
