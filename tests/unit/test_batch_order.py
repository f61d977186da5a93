"""A batch is stored parents first: a reply or an edit after the message of
the batch it answers, whatever order the source handed them over in."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.records import InboundMessage
from dengar.batch_order import parents_first

WHEN = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def item(n: int, reply_to: int | None = None, **metadata: object) -> InboundMessage:
    return InboundMessage(
        channel="x",
        external_id=str(n),
        received_at=WHEN,
        raw=b"{}",
        raw_format="json",
        text=f"post {n}",
        message_id=f"x:{n}",
        in_reply_to=(f"x:{reply_to}",) if reply_to is not None else (),
        metadata=metadata,
    )


def order(items: list[InboundMessage]) -> list[str]:
    return [i.external_id for i, _ in parents_first([(i, None) for i in items])]


def test_a_timeline_newest_first_is_stored_oldest_of_each_thread_first():
    # 1 <- 3 <- 5 is a thread; 2 and 4 stand alone; newest first
    items = [item(5, 3), item(4), item(3, 1), item(2), item(1)]
    assert order(items) == ["1", "3", "5", "4", "2"]


def test_items_without_parents_in_the_batch_keep_their_order():
    items = [item(3), item(2, 99), item(1)]
    assert order(items) == ["3", "2", "1"]


def test_an_edit_comes_after_its_original():
    edit = InboundMessage(
        channel="x",
        external_id="7-edit",
        received_at=WHEN,
        raw=b"{}",
        raw_format="json",
        text="post 7, corrected",
        message_id="x:7",
        edit_of="7",
    )
    assert order([edit, item(7)]) == ["7", "7-edit"]


def test_a_long_chain_and_a_cycle_take_linear_time_and_lose_nothing():
    chain = [item(n, n - 1 if n else None) for n in range(5000)][::-1]
    assert order(chain) == [str(n) for n in range(5000)]
    looped = [item(1, 2), item(2, 1), item(3)]
    assert sorted(order(looped)) == ["1", "2", "3"]
