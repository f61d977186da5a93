"""The order a batch is stored in: a message after the one it answers or
edits, when both are in the batch.

Sources hand items over in their own order: an X timeline newest first, so a
citizen's thread (a post, then the author's reply to it) arrives reply
first, and stored in that order the reply would find no parent and open a
case of its own. Each item is moved behind its parent, chains of any length
included; everything else keeps its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from contracts.records import InboundMessage
from normalizer.normalize import Normalized

Fields = TypeVar("Fields")


def parents_first(
    read: Sequence[tuple[InboundMessage, Fields]],
) -> list[tuple[InboundMessage, Fields]]:
    """``read`` (items with their normalised fields, if any) reordered so
    that an item comes after the item of the batch it answers or edits."""
    by_message_id: dict[str, int] = {}
    by_source: dict[tuple[str, str], int] = {}
    for index, (item, fields) in enumerate(read):
        message_id = _message_id(item, fields)
        if message_id:
            # an edit shares its original's id: the first holder is the parent
            by_message_id.setdefault(message_id, index)
        by_source.setdefault((item.channel, item.external_id), index)
    parents = [
        _parent(i, pair, by_message_id, by_source) for i, pair in enumerate(read)
    ]
    if all(p is None for p in parents):
        return list(read)
    order: list[int] = []
    placed = [False] * len(read)
    for start in range(len(read)):
        # walk up to the oldest ancestor not placed yet, then place the chain
        # from there down; each item is walked once it is placed, so the
        # whole batch costs linear time (a cycle stops the walk)
        chain: list[int] = []
        on_chain: set[int] = set()
        current: int | None = start
        while current is not None and not placed[current] and current not in on_chain:
            chain.append(current)
            on_chain.add(current)
            current = parents[current]
        for index in reversed(chain):
            placed[index] = True
            order.append(index)
    return [read[i] for i in order]


def _message_id(item: InboundMessage, fields: object) -> str | None:
    if isinstance(fields, Normalized):
        return fields.message_id
    return item.message_id


def _parent(
    index: int,
    pair: tuple[InboundMessage, object],
    by_message_id: dict[str, int],
    by_source: dict[tuple[str, str], int],
) -> int | None:
    item, fields = pair
    if item.edit_of:
        found = by_source.get((item.channel, item.edit_of))
        if found is not None and found != index:
            return found
    refs = fields.references if isinstance(fields, Normalized) else item.in_reply_to
    for ref in refs:
        found = by_message_id.get(ref)
        if found is not None and found != index:
            return found
    return None
