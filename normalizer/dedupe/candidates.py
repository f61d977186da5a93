"""Candidate ranking and posting lists of the duplicate index (used by
:mod:`normalizer.dedupe.index`): which of the cases found by a new case's rare
tokens are worth scoring, and the postings of a bulk build."""

from __future__ import annotations

from array import array
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt


def ranked_by_sets(
    chosen: list[tuple[bool, list[array[int]]]],
    own: int,
    mark: int,
    sig: array[int],
    budget: int,
    limit: int,
) -> list[int]:
    """:func:`ranked_by_numpy` in Python sets, for a few postings."""
    # ``levels[k]``: the slots found by more than k of the lists read
    levels: list[set[int]] = []
    for anchor, found in chosen:
        here: set[int] = set()
        for postings in found:
            if not anchor:
                here.update(levels[0].intersection(postings))
            elif len(postings) > budget:  # of a long list, its newest part
                here.update(postings[-budget:])
            else:
                here.update(postings)
        levels.append(set())
        for k in range(len(levels) - 1, 0, -1):
            levels[k] |= levels[k - 1] & here
        levels[0] |= here
    best: list[int] = []
    above: set[int] = set()
    for level in reversed(levels):
        if len(best) >= limit:
            break
        level.discard(own)
        fresh: Iterable[int] = level - above
        room = limit - len(best)
        if len(level) - len(above) > room:  # the bits only choose, when all fit
            fresh = _most_alike(level - above, mark, sig, room)
        best.extend(sorted(fresh, reverse=True))
        above = level
    return best


# The likeness of two token signatures: their Dice coefficient,
# 2 * shared / (bits of one + bits of the other), as an integer 0..ALIKE.
# Counting only the bits shared ranked a long report that holds the new
# case's few words (and many more) as high as the same short report: a
# village's viral event crowded out an older identical report of another
# problem there, which token_sort_ratio then scores far higher.
ALIKE = 1023


def alike(sig: int, mark: int, marked: int) -> int:
    """Dice likeness of the bits ``sig`` to ``mark`` (``marked`` of them)."""
    return 2 * ALIKE * (sig & mark).bit_count() // (sig.bit_count() + marked or 1)


def _alike_numpy(
    bits: npt.NDArray[np.uint64], mark: int, marked: int
) -> npt.NDArray[np.int64]:
    """:func:`alike` of many signatures at once."""
    likeness: npt.NDArray[np.int64]
    likeness = np.bitwise_count(bits & np.uint64(mark)).astype(np.int64)
    likeness *= 2 * ALIKE
    total = np.bitwise_count(bits) + marked  # at most 128: fits its uint8
    likeness //= total if marked else np.maximum(total, 1)
    return likeness


def _most_alike(slots: set[int], mark: int, sig: array[int], room: int) -> list[int]:
    """The ``room`` slots whose token bits are most like ``mark``, then the
    newest."""
    marked = mark.bit_count()
    if len(slots) <= 2 * room:
        # one sortable int: likeness, then the slot
        ranked = [alike(sig[slot], mark, marked) << 32 | slot for slot in slots]
        ranked.sort(reverse=True)
        return [key & 0xFFFFFFFF for key in ranked[:room]]
    # many more than are taken: numpy counts the bits of all at once
    found = np.fromiter(slots, dtype=np.int64, count=len(slots))
    bits = np.frombuffer(sig, dtype=np.uint64)[found]
    keys = _alike_numpy(bits, mark, marked) << 32 | found
    keys = np.partition(keys, len(keys) - room)[len(keys) - room :]
    best: list[int] = (keys & 0xFFFFFFFF).tolist()
    return best


# Around a decision's postings: sorted, they come first and last, so every
# slot's run of entries has a neighbour on each side that differs from it
_BEFORE, _AFTER = -1, 2**31 - 1


def ranked_by_numpy(
    chosen: list[tuple[bool, list[array[int]]]],
    own: int,
    mark: int,
    sig: array[int],
    budget: int,
    limit: int,
) -> list[int]:
    """The ``limit`` slots found by most of the lists ``chosen``, slot
    ``own`` left out, best first (the newest first among equals): an
    anchor's lists (of a long one its newest ``budget`` postings) bring
    the slots in, the others only count. When more than ``limit`` tie,
    those whose token bits ``sig`` are most like ``mark`` are chosen,
    then the newest."""
    # numpy pays per call, not per posting: the postings are gathered in
    # two arrays first, and each step below is one call over all of them
    brought = array("i", (_BEFORE, _AFTER))
    ranking = array("i")
    for anchor, found in chosen:
        for postings in found:
            if not anchor:
                ranking += postings
            elif len(postings) > budget:  # of a long list, its newest part
                brought += postings[-budget:]
            else:
                brought += postings
    entries: npt.NDArray[np.int64] | npt.NDArray[np.intc]
    if ranking:
        # each posting as slot * 2 + 1 when it brings the slot in: sorted,
        # a slot's last entry is odd if any of its postings brought it
        tagged = np.concatenate(
            (np.frombuffer(brought, np.intc), np.frombuffer(ranking, np.intc)),
            dtype=np.int64,
        )
        tagged <<= 1
        tagged[: len(brought)] |= 1
        tagged.sort()
        entries = tagged >> 1
    else:
        entries = np.array(brought, dtype=np.intc)
        entries.sort()  # the methods, not np.sort: one Python wrapper less
    # the last entry of each run: the first is _BEFORE's, none is _AFTER's
    ends = (entries[1:] != entries[:-1]).nonzero()[0]
    counts = ends[1:] - ends[:-1]
    slots = entries[ends[1:]]
    if ranking:
        keep = (tagged[ends[1:]] & 1).astype(bool)
        counts, slots = counts[keep], slots[keep]
    if own >= 0:
        keep = slots != own
        counts, slots = counts[keep], slots[keep]
    counts <<= 32
    if len(slots) > limit:
        # one sortable key: rare tokens shared, likeness, then the slot
        bits = np.frombuffer(sig, dtype=np.uint64)[slots]
        order = counts << 10 | _alike_numpy(bits, mark, mark.bit_count()) << 32
        order |= slots
        order.partition(len(order) - limit)
        order = order[len(order) - limit :]
        # listed as the sets list them: tokens shared, then the newest
        order = (order >> 42) << 32 | (order & 0xFFFFFFFF)
    else:  # all are taken: the likeness would not change the list
        order = counts | slots
    order.sort()
    best: list[int] = (order[::-1] & 0xFFFFFFFF).tolist()
    return best


def group_postings(
    block_of: npt.NDArray[np.int64],
    parts: list[tuple[npt.NDArray[np.intc], npt.NDArray[np.intc]]],
    vocab_size: int,
) -> dict[int, dict[int, array[int]]]:
    """Postings by block, then token id, each in slot order and without
    repeats, from ``(token ids, slots)`` pairs of arrays (emptied as they are
    read: they are ten times the cases); ``block_of`` gives each slot's
    block."""
    blocks, block_index = np.unique(block_of, return_inverse=True)
    n = len(block_of)
    # one sortable key: block, token, slot (fits in 63 bits for any index
    # that fits in memory: blocks * tokens * cases < 2**63)
    keys = []
    while parts:
        tids, slots = parts.pop()
        key = block_index[slots].astype(np.int64, copy=False)
        key *= vocab_size
        key += tids
        key *= n
        key += slots
        keys.append(key)
        del tids, slots, key
    key = np.concatenate(keys) if keys else np.empty(0, dtype=np.int64)
    del keys
    if not len(key):
        # no tokens at all (no case, or only content-less ones): the runs
        # below read the first key, which an empty array does not have
        return {}
    key.sort()
    fresh = np.ones(len(key), dtype=bool)
    np.not_equal(key[1:], key[:-1], out=fresh[1:])
    key = key[fresh]
    del fresh
    group = key // n
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    ends = np.append(starts[1:], len(key))
    heads = group[starts]
    del group
    block_codes = blocks[heads // vocab_size]
    head_tids = heads % vocab_size
    data = (key % n).astype(np.intc).data.cast("B")
    del key
    out: dict[int, dict[int, array[int]]] = {}
    # Python ints for a chunk of postings lists at a time: for all at once
    # they would take more memory than the index
    chunk = 1 << 16
    for at in range(0, len(starts), chunk):
        for code, tid, lo, hi in zip(
            block_codes[at : at + chunk].tolist(),
            head_tids[at : at + chunk].tolist(),
            starts[at : at + chunk].tolist(),
            ends[at : at + chunk].tolist(),
            strict=True,
        ):
            postings = array("i")
            postings.frombytes(data[lo * 4 : hi * 4])
            block = out.get(code)
            if block is None:
                block = out[code] = {}
            block[tid] = postings
    return out
