"""Near-duplicate linking: an in-memory index of the open cases in the window.

Two rules, checked in order (see docs/dedupe.md):

1. *same reporter*: a case from the same person (same e-mail, phone, chat or
   handle, or identities joined because one case carried both) with similar
   text within ``same_reporter_hours`` → duplicate of the first such case;
2. *similar*: a case from anyone, within ``window_days``, with a compatible
   category and region, whose text scores at least ``threshold``, shares a
   number or a rare word with it, and has no rare word or number the other
   contradicts (``jalan mawar`` / ``jalan melati``) → duplicate of the best.

A link always points at a primary (a case that is not itself a duplicate),
never at the case itself, never at a pair staff have unlinked, and a new case
has no duplicates of its own yet, so no link can close a cycle.

Candidates come from an inverted index blocked by category and region: a
new case looks up its tokens, rarest first over the whole index, in the
blocks it may link to (its category and region, and the blocks of cases
without one). The rarest token always counts, then the numbers and rare
words (a link needs one in common), at most ``query_tokens`` of them: the
lists within ``posting_budget`` postings bring in cases, longer ones only
rank them (numpy counts them over the postings in place). The
``max_candidates`` cases that share most of those tokens (among equals,
those whose tokens are most like all of its own, by a 64-bit signature
per case, then the newest) are scored with rapidfuzz, and the verdict is checked on
the hits, best first. ``bench/dedupe.py`` measures this against an exhaustive
scan of the whole window.

Memory: one slot per case in flat arrays (time, category, region, open,
token signature), one prepared key string per case, tokens as integer ids
and postings as ``array('i')`` of slots: about 460 bytes a case at a
million cases. The rebuild at start fills an empty index in bulk
(:meth:`DuplicateIndex.add_many`).
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from rapidfuzz import process

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe.candidates import group_postings
from normalizer.dedupe.geo import PointGrid, km_between
from normalizer.dedupe.keys import (
    Candidate,
    Codes,
    DedupeCase,
    Identities,
    Link,
    LinkKind,
    Scorer,
    SlipFinder,
    key_tokens,
    prepared_scorer,
    reporter_keys,
    slips,
)
from normalizer.dedupe.paraphrase import (
    LINK_NEEDS_CONCEPT,
    THRESHOLD_LOGIT,
    Component,
    Profile,
    components,
    logit,
    probability,
    traits_of,
)
from normalizer.dedupe.search import CandidateSearch

if TYPE_CHECKING:
    pass

__all__ = [
    "BulkRow",
    "Candidate",
    "DedupeCase",
    "DuplicateIndex",
    "Link",
    "LinkKind",
    "key_tokens",
    "prepared_scorer",
    "reporter_keys",
]


# A case as the bulk build takes it: (id, key tokens, received at as a POSIX
# timestamp, reporter keys, category, region, tracking number, primary id,
# shared coordinates)
BulkRow = tuple[
    int,
    list[str],
    float,
    frozenset[str],
    str | None,
    str | None,
    str | None,
    int | None,
    tuple[float, float] | None,
]


# profiles of candidates kept between decisions (about 1 KB each)
PROFILES_KEPT = 20_000


class DuplicateIndex(CandidateSearch):
    """The open cases of the window, indexed for duplicate candidates.

    Built once at start (:meth:`rebuild`), then per new case :meth:`find`
    before storing it and :meth:`add` after. One pipeline owns it: it is not
    thread-safe.
    """

    def __init__(
        self,
        settings: DedupeSettings | None = None,
        *,
        unlinked: Iterable[tuple[int, int]] = (),
        known_places: frozenset[str] = frozenset(),
    ) -> None:
        self.settings = settings or DedupeSettings()
        # the gazetteer's names (normalizer.dedupe.paraphrase.gazetteer_names)
        self.known_places = known_places
        self.scorer_name = self.settings.scorer
        self._prepare, self._score = prepared_scorer(self.settings.scorer)
        self._budget = self.settings.posting_budget
        # one slot per indexed case, in the order added
        self._slot: dict[int, int] = {}
        self._ids = array("q")
        self._keys: list[str] = []  # prepared key tokens: what the scorer reads
        self._ts = array("d")
        self._category = array("H")
        self._region = array("H")
        self._open = bytearray()
        # the token bits of each case (see token_bit): candidates that share
        # as many rare tokens are ranked by how alike their bits are
        self._sig = array("Q")
        self._tracking: dict[int, str] = {}  # slot → tracking number
        # places and problem concepts of each case (traits_of), for links in
        # other words: the key is sorted for the scorer, places need order
        # read when a case is first a candidate in other words (most never
        # are): until then its key tokens in text order are kept instead
        self._traits: list[tuple[str, ...] | None] = []
        self._order: list[str] = []
        self._profiles: dict[int, Profile] = {}  # slot → profile, see _profile_at
        self._last_traits: tuple[list[str], tuple[str, ...]] | None = None
        # the slots of the cases that shared coordinates, by grid cell
        self._points = PointGrid(self.settings.near_metres / 1000)
        self._categories = Codes()
        self._regions = Codes()
        # tokens as integer ids; postings per category code → token id → slots
        self._vocab: dict[str, int] = {}
        self._df = array("i")  # indexed cases holding each token
        self._bit = array("B")  # token_bit of each token
        # postings by block (category code << 16 | region code), then token
        self._blocks: dict[int, dict[int, array[int]]] = {}
        self._compatible: dict[tuple[int, int], list[dict[int, array[int]]]] = {}
        self._primary: dict[int, int] = {}  # case id → primary, linked ones only
        self._children: dict[int, set[int]] = {}
        self._people = Identities(lambda case_id: self._ts[self._slot[case_id]])
        self._unlinked: set[tuple[int, int]] = set()
        # token → rare or a number, for the index as it is (see _refresh_rare)
        self._rare: dict[str, bool] = {}
        self._rare_at = self._rare_limit()
        # word → ids of the known words one slip away: cleared of a word's
        # entries when a word one slip from it comes up (see add)
        self._slip_ids: dict[str, list[int]] = {}
        for a, b in unlinked:
            self.forbid(a, b)

    def same_reporter(self, a: frozenset[str], b: frozenset[str]) -> bool:
        """True when two sets of reporter keys belong to one known person."""
        return self._people.same(a, b)

    def prepared(self, keys: list[str]) -> str:
        """Key tokens as the index stores and scores them."""
        return self._prepare(keys)

    @property
    def fast_scorer(self) -> Scorer:
        """Scores two :meth:`prepared` keys as the configured scorer scores
        the texts (for an exhaustive scan with the same scores)."""
        return self._score

    # -- maintenance ----------------------------------------------------------
    def __len__(self) -> int:
        return self._open.count(1)

    def __contains__(self, case_id: object) -> bool:
        slot = self._slot.get(case_id) if isinstance(case_id, int) else None
        return slot is not None and bool(self._open[slot])

    def add(
        self,
        case: DedupeCase,
        primary: int | None = None,
        keys: list[str] | None = None,
    ) -> None:
        """Index a stored case; ``primary`` is the case it was linked to,
        ``keys`` its :func:`key_tokens` when known (a stored key)."""
        if case.id in self._slot:
            self.set_primary(case.id, primary)
            return
        keys = key_tokens(case.text) if keys is None else keys
        slot = len(self._ids)
        self._slot[case.id] = slot
        self._ids.append(case.id)
        self._keys.append(self._prepare(keys))
        self._keep_traits(keys)
        self._ts.append(case.received_at.timestamp())
        category = self._categories.code(case.category)
        region = self._regions.code(case.region)
        self._category.append(category)
        self._region.append(region)
        self._open.append(1)
        if case.tracking_no:
            self._tracking[slot] = case.tracking_no
        if case.location is not None:
            self._points.add(slot, case.location)
        block = self._blocks.get(category << 16 | region)
        if block is None:
            block = self._blocks[category << 16 | region] = {}
            self._compatible.clear()
        vocab, df = self._vocab, self._df
        unique = set(keys)
        new: list[str] = []
        sig = 0
        for token in unique:
            tid = vocab.get(token)
            if tid is None:
                tid = vocab[token] = len(df)
                df.append(0)
                self._bit.append(token_bit(token))
                new.append(token)
            df[tid] += 1
            sig |= 1 << self._bit[tid]
            postings = block.get(tid)
            if postings is None:
                block[tid] = array("i", (slot,))
            else:
                postings.append(slot)
        self._sig.append(sig)
        self._refresh_rare(unique)
        # a word never seen before is most often a slip: the case is also
        # found under the known words one slip away (not counted in their df)
        for token in new:
            for near in self._near_words(token):
                if near not in unique:
                    self._post(block, vocab[near], slot)
            if self._slip_ids and len(token) >= 4 and token.isalpha():
                # common_slips is not symmetric (a drop undoes a doubling):
                # the wider slips cover both sides
                for word in slips(token):
                    self._slip_ids.pop(word, None)
        self._people.add(case.reporter, case.id)
        self.set_primary(case.id, primary)

    def add_many(
        self, items: Iterable[tuple[DedupeCase, int | None, list[str] | None]]
    ) -> None:
        """:meth:`add` each ``(case, primary, keys)``, oldest first: the same
        index, built in bulk (:meth:`build`) when this one is empty."""
        if self._ids:
            for case, primary, keys in items:
                self.add(case, primary, keys)
            return
        self.build(
            (
                case.id,
                key_tokens(case.text) if keys is None else keys,
                case.received_at.timestamp(),
                case.reporter,
                case.category,
                case.region,
                case.tracking_no,
                primary,
                case.location,
            )
            for case, primary, keys in items
        )

    def build(self, rows: Iterable[BulkRow]) -> None:
        """Fill this empty index with the cases ``rows``, oldest first: the
        index :meth:`add` would build case by case (the rebuild at start).
        Rows are plain tuples, no :class:`DedupeCase`: a frozen dataclass
        costs more to make than the rest of a row's indexing. Postings are
        grouped with numpy at the end instead of appended one by one, and
        the typo neighbours of each word are found as :meth:`add` finds them
        when the word first comes up."""
        if self._ids:
            raise ValueError("build fills an empty index: add to this one")
        vocab = _Numbering()
        tids, slots = array("i"), array("i")
        slot_by_id, ids, keys_of, ts = self._slot, self._ids, self._keys, self._ts
        category_of, region_of = self._category, self._region
        categories, regions = self._categories, self._regions
        prepare, people, tracking = self._prepare, self._people, self._tracking
        points = self._points
        traits, order = self._traits, self._order
        paraphrase = self.settings.paraphrase
        for row in rows:
            (
                case_id, keys, received, reporter, category, region, number,
                primary, location,
            ) = row  # fmt: skip
            if case_id in slot_by_id:
                self.set_primary(case_id, primary)
                continue
            slot = len(ids)
            slot_by_id[case_id] = slot
            ids.append(case_id)
            keys_of.append(prepare(keys))
            traits.append(None if paraphrase else ())
            order.append(" ".join(keys) if paraphrase else "")
            ts.append(received)
            category_of.append(categories.code(category))
            region_of.append(regions.code(region))
            if number:
                tracking[slot] = number
            if location is not None:
                points.add(slot, location)
            unique = set(keys)
            tids.extend(map(vocab.__getitem__, unique))
            slots.extend([slot] * len(unique))
            people.add(reporter, case_id)
            if primary is not None:
                self.set_primary(case_id, primary)
        self._open.extend(b"\x01" * len(ids))
        self._vocab = dict(vocab)  # a plain dict: a lookup never adds a word
        self._bit = array("B", map(token_bit, vocab))  # in id order
        self._slip_ids.clear()
        if not self._ids:
            return
        tid_of = np.frombuffer(tids, dtype=np.intc)
        slot_of = np.frombuffer(slots, dtype=np.intc)
        sig = np.zeros(len(self._ids), dtype=np.uint64)
        bit = np.frombuffer(self._bit, dtype=np.uint8)[tid_of].astype(np.uint64)
        np.bitwise_or.at(sig, slot_of, np.left_shift(np.uint64(1), bit))
        del bit
        self._sig = array("Q", sig.tobytes())
        del sig
        self._df = array(
            "i", np.bincount(tid_of, minlength=len(vocab)).astype(np.intc).tobytes()
        )
        near = self._bulk_near_words(tid_of, slot_of)
        block_of = (
            np.frombuffer(self._category, dtype=np.uint16).astype(np.int64) << 16
        ) | np.frombuffer(self._region, dtype=np.uint16)
        # handed over: group_postings frees each part once read
        parts = [(tid_of, slot_of), near]
        del tids, slots, tid_of, slot_of, near
        self._blocks = group_postings(block_of, parts, len(vocab))
        self._compatible.clear()
        self._rare.clear()
        self._rare_at = self._rare_limit()

    def _bulk_near_words(
        self, tid_of: npt.NDArray[np.intc], slot_of: npt.NDArray[np.intc]
    ) -> tuple[npt.NDArray[np.intc], npt.NDArray[np.intc]]:
        """``(token ids, slots)`` of the typo neighbours :meth:`add` would
        have posted: for each word, at the slot where it first came up, the
        known words one slip away that at least two cases held by then."""
        order = np.argsort(tid_of, kind="stable")  # each word's slots, in order
        sorted_slots = slot_of[order]
        starts = np.searchsorted(tid_of[order], np.arange(len(self._vocab) + 1))
        first = sorted_slots[starts[:-1]].tolist()
        bounds = starts.tolist()
        vocab, df = self._vocab, self._df
        # only a word held by two cases (by the end) can be a neighbour
        finder = SlipFinder(w for w, tid in vocab.items() if df[tid] >= 2)
        out_tids: list[int] = []
        out_slots: list[int] = []
        for token, tid in vocab.items():
            if len(token) < 4 or not token.isalpha():
                continue
            slot = first[tid]
            near: list[tuple[int, str, int, bool]] = []
            for word in finder.near(token):
                other = vocab.get(word)
                if other is None or first[other] > slot:
                    continue
                lo, hi = bounds[other], bounds[other + 1]
                # cases holding ``word`` up to this slot (this one included)
                seen = int(np.searchsorted(sorted_slots[lo:hi], slot, side="right"))
                if seen >= 2:
                    own = sorted_slots[lo + seen - 1] == slot
                    near.append((-seen, word, other, own))
            near.sort()
            # as in add: the two most held, then those this case lacks
            for _, _, other, own in near[:2]:
                if not own:
                    out_tids.append(other)
                    out_slots.append(slot)
        return np.array(out_tids, dtype=np.intc), np.array(out_slots, dtype=np.intc)

    @staticmethod
    def _post(block: dict[int, array[int]], tid: int, slot: int) -> None:
        postings = block.get(tid)
        if postings is None:
            block[tid] = array("i", (slot,))
        elif postings[-1] != slot:
            postings.append(slot)

    def set_primary(self, case_id: int, primary: int | None) -> None:
        """Record that ``case_id`` is now a duplicate of ``primary`` (or of
        nothing); its own duplicates follow it to the new primary."""
        if case_id not in self._slot:
            return
        old = self._primary.pop(case_id, None)
        if old is not None and old in self._children:
            self._children[old].discard(case_id)
        if primary is None:
            return
        self._primary[case_id] = primary
        if primary not in self._slot:  # closed or out of the window
            return
        self._children.setdefault(primary, set()).add(case_id)
        for child in sorted(self._children.get(case_id, ())):
            self.set_primary(child, primary)

    def has_duplicates(self, case_id: int) -> bool:
        """True when some indexed case links to ``case_id``."""
        return bool(self._children.get(case_id))

    def locate(self, case_id: int, point: tuple[float, float]) -> None:
        """Coordinates that came after the case (a chat location sent after
        the words): later cases near them are compared with it. The first
        location counts, as on the case row."""
        slot = self._slot.get(case_id)
        if slot is not None and self._points.point(slot) is None:
            self._points.add(slot, point)

    def discard(self, case_id: int) -> None:
        """Forget a case that closed (or left the window)."""
        slot = self._slot.get(case_id)
        if slot is not None:
            self._open[slot] = 0

    def reopen(self, case_id: int) -> bool:
        """Take a discarded case back (reopened: resolved → in progress);
        False when it is not indexed at all."""
        slot = self._slot.get(case_id)
        if slot is None:
            return False
        self._open[slot] = 1
        return True

    def expire(self, before: float) -> int:
        """Discard the cases received before the timestamp ``before`` (out of
        the window); how many were still open."""
        received = np.frombuffer(self._ts, dtype=np.float64)
        is_open = np.frombuffer(self._open, dtype=np.uint8)
        old = np.flatnonzero((received < before) & (is_open == 1))
        for slot in old.tolist():
            self._open[slot] = 0
        return len(old)

    @property
    def slots(self) -> int:
        """Cases held, discarded ones included (what memory is spent on)."""
        return len(self._ids)

    def forbid(self, a: int, b: int) -> None:
        """Never link ``a`` and ``b`` automatically (staff unlinked them)."""
        self._unlinked.update(((a, b), (b, a)))

    def allow(self, a: int, b: int) -> None:
        """Undo :meth:`forbid` (staff linked the pair by hand)."""
        self._unlinked.difference_update(((a, b), (b, a)))

    def is_forbidden(self, a: int, b: int) -> bool:
        """True when staff unlinked ``a`` from ``b``."""
        return (a, b) in self._unlinked

    def primary_of(self, case_id: int) -> int:
        """The primary case of ``case_id`` (itself when it is one)."""
        seen = {case_id}
        current = case_id
        while True:
            parent = self._primary.get(current)
            if parent is None:
                return current
            current = parent
            if current in seen:  # defensive: a cycle written by hand in the DB
                return min(seen)
            seen.add(current)

    def snapshot(self) -> Mapping[int, int | None]:
        """``case id → primary id`` for every indexed case (for tests)."""
        return {i: self._primary.get(i) for i in self._ids}

    # -- rules --------------------------------------------------------------
    def find(self, case: DedupeCase, keys: list[str] | None = None) -> Link | None:
        """The link a new case should get, or None; ``keys`` are its
        :func:`key_tokens` when known. Deterministic: the same index and
        case always give the same answer."""
        if not self.settings.enabled:
            return None
        keys = key_tokens(case.text) if keys is None else keys
        if not keys:
            # a greeting, thanks or emoji says nothing about a problem: two
            # such texts would score 100 and link one reporter's "halo"s
            return None
        return self._same_reporter(case, keys) or self._similar(case, keys)

    def _target(self, case_id: int, other_id: int) -> int | None:
        primary = self.primary_of(other_id)
        if primary == case_id or self.is_forbidden(case_id, primary):
            return None
        if self.is_forbidden(case_id, other_id):
            return None
        return primary

    def _same_reporter(self, case: DedupeCase, keys: list[str]) -> Link | None:
        s = self.settings
        ts = case.received_at.timestamp()
        span = s.same_reporter_hours * 3600
        mine = None
        # the earliest first: the first similar case wins
        for other_id in self._people.cases_between(case.reporter, ts - span, ts + span):
            slot = self._slot[other_id]
            if not self._open[slot] or other_id == case.id or not self._keys[slot]:
                continue  # closed, itself, or nothing to compare with
            if mine is None:
                mine = self._prepare(keys)
            score = self._score(mine, self._keys[slot])
            target = self._target(case.id, other_id)
            if score < s.same_reporter_threshold or target is None:
                continue
            return Link(
                target,
                round(score, 1),
                self.scorer_name,
                f"same reporter within {s.same_reporter_hours:g} h: "
                f"{self.scorer_name} {score:.1f} >= {s.same_reporter_threshold:g} "
                f"with {self._tracking.get(slot) or other_id}",
                "same_reporter",
            )
        return None

    def verdict(
        self, case: DedupeCase, mine: frozenset[str], other_id: int, score: float
    ) -> str:
        """'match', or why ``other_id`` is not a duplicate target."""
        s = self.settings
        slot = self._slot[other_id]
        where = self._misplaced(case, other_id, slot)
        if where:
            return where
        theirs = frozenset(self._keys[slot].split())
        if min(len(mine), len(theirs)) < s.min_tokens:
            return "too short"
        if score < s.threshold:
            return "score below threshold"
        if s.require_shared_rare and not any(map(self._distinct, mine & theirs)):
            return "nothing specific in common"
        clash = self.conflict(mine, theirs)
        return f"different details: {clash}" if clash else "match"

    def _misplaced(self, case: DedupeCase, other_id: int, slot: int) -> str:
        """'' or why ``other_id`` cannot be a target whatever its text."""
        s = self.settings
        if not self._open[slot]:
            return "closed"
        if abs(case.received_at.timestamp() - self._ts[slot]) > s.window_days * 86400:
            return "outside window"
        category = self._categories.names[self._category[slot]]
        if (
            s.require_same_category
            and case.category
            and category
            and case.category != category
        ):
            return "different category"
        region = self._regions.names[self._region[slot]]
        if s.require_same_region and case.region and region and case.region != region:
            return "different region"
        if self._target(case.id, other_id) is None:
            return "unlinked by staff"
        if case.location is not None:
            km = self._km_apart(case, slot)
            if km is not None and km >= s.far_metres / 1000:
                # both shared a location, far apart: two places
                return f"locations {km:.1f} km apart"
        return ""

    def scored(self, case: DedupeCase) -> list[Candidate]:
        """The candidates with their score and verdict, best first: what
        :meth:`find` saw, and the near cases of other categories and regions
        it skipped (used by ``dengar dedupe explain``)."""
        keys = key_tokens(case.text)
        mine, text = frozenset(keys), self._prepare(keys)
        out = []
        for other_id, shared in self.candidates(case, keys, wide=True):
            slot = self._slot[other_id]
            score = round(self._score(text, self._keys[slot]), 1)
            why = self.verdict(case, mine, other_id, score)
            tracking = self._tracking.get(slot)
            out.append(Candidate(other_id, tracking, score, shared, why))
        out.sort(key=lambda c: (-c.score, self._ts[self._slot[c.id]], c.id))
        return out

    def _similar(self, case: DedupeCase, keys: list[str]) -> Link | None:
        s = self.settings
        mine = frozenset(keys)
        if len(mine) < s.min_tokens:
            return None
        pool = self._candidate_slots(case, keys)
        # the scorer runs in C over the candidates; Python judges the few hits
        found = process.extract(
            self._prepare(keys),
            list(map(self._keys.__getitem__, pool)),
            scorer=self._score,
            score_cutoff=s.threshold,
            limit=None,
        )
        # best score; ties go to the earliest case, then the smallest id
        ts, ids = self._ts, self._ids
        found.sort(key=lambda f: (-f[1], ts[pool[f[2]]], ids[pool[f[2]]]))
        # most hits fail on their details: those checks first, the whole
        # verdict only for what passes them
        specific = frozenset(t for t in mine if self._distinct(t))
        needs_shared = s.require_shared_rare
        # reports of one event often have the same key: judged once
        apart: set[str] = set()
        agreed: set[str] = set()
        for _, score, position in found:
            slot = pool[position]
            key = self._keys[slot]
            if key in apart:
                continue
            theirs = frozenset(key.split())
            if key not in agreed:
                if (needs_shared and specific.isdisjoint(theirs)) or self._clash(
                    mine, specific, theirs
                ):
                    apart.add(key)
                    continue
                agreed.add(key)
            other_id = ids[slot]
            # the rest of verdict: the details passed, the score is a hit
            if len(theirs) < s.min_tokens or self._misplaced(case, other_id, slot):
                continue
            target = self._target(case.id, other_id)
            assert target is not None  # verdict checked it
            category = self._categories.names[self._category[slot]]
            region = self._regions.names[self._region[slot]]
            return Link(
                target,
                round(score, 1),
                self.scorer_name,
                f"similar text: {self.scorer_name} {score:.1f} >= {s.threshold:g} "
                f"with {self._tracking.get(slot) or other_id}, sharing "
                f"{', '.join(self.shared_distinct(mine, theirs)[:3]) or '-'}"
                + (f"; category {category}" if category else "")
                + (f"; region {region}" if region else ""),
                "similar",
            )
        # the word rule's hits were judged on their words and details: a
        # case whose near twins it kept apart (another street, another RT)
        # is not looked at again in other words
        return None if found else self._in_other_words(case, keys, pool)

    def _in_other_words(
        self, case: DedupeCase, keys: list[str], pool: list[int]
    ) -> Link | None:
        """The link to a case of the same problem at the same place told in
        other words (:mod:`normalizer.dedupe.paraphrase`), among the
        candidates the index found (they share a rare word: a street, a
        name) and the cases whose shared coordinates are near this case's,
        or None. The best score wins; ties go to the earliest case."""
        s = self.settings
        if not s.paraphrase:
            return None
        near = self._near_slots(case)
        if not pool and not near:
            return None
        mine = self._traits_of(keys)
        concepts = {t for t in mine if t[0] == "#"}
        # a link needs a place (named, or coordinates near another case's),
        # and (with the fitted weights) a problem concept in common: a case
        # without either is not looked at
        if not (near or any(t[1] == ":" for t in mine)) or (
            LINK_NEEDS_CONCEPT and not concepts
        ):
            return None
        me = Profile.from_traits(mine, keys)
        # a candidate must share a place exactly or hold a place's name in
        # its words (dedupe_paraphrase.keyed), or be near: checked on the
        # stored traits before anything is built
        exact = {t for t in mine if t[0] == "*" or t[:2] == "n:"}
        names = [t[1:] for t in mine if t[0] == "*"]
        ts = case.received_at.timestamp()
        best: tuple[float, float, int, int] | None = None
        looked = 0
        near_km = dict(near)
        # the near ones first (each scored), then the word candidates
        for slot in [*near_km, *(p for p in pool if p not in near_km)]:
            theirs = self._traits_at(slot)
            if LINK_NEEDS_CONCEPT and concepts.isdisjoint(theirs):
                continue
            stored = self._keys[slot]
            if slot not in near_km:
                if exact.isdisjoint(theirs) and not (
                    any(t[0] == "*" and t[1:] in me.tokens for t in theirs)
                    # a substring search in C, no split: the key's words are
                    # separated by single spaces
                    or any(f" {name} " in f" {stored} " for name in names)
                ):
                    continue
                looked += 1
                if looked > s.paraphrase_candidates:
                    break
            other_id = self._ids[slot]
            if self._misplaced(case, other_id, slot):
                continue
            profile = self._profile_at(slot)
            if len(profile.tokens) < s.min_tokens:
                continue
            z, shared = logit(
                me,
                profile,
                days_apart=abs(ts - self._ts[slot]) / 86400,
                window_days=s.window_days,
                km_apart=self._km_apart(case, slot),
                near_km=s.near_metres / 1000,
                far_km=s.far_metres / 1000,
            )
            if shared and z >= THRESHOLD_LOGIT:
                rank = (-z, self._ts[slot], other_id, slot)
                if best is None or rank < best:
                    best = rank
        if best is None:
            return None
        z, _, other_id, slot = best
        score = probability(-z)
        target = self._target(case.id, other_id)
        assert target is not None  # _misplaced checked it
        return Link(
            target,
            round(score * 100, 1),
            "paraphrase",
            f"same problem at the same place in other words: paraphrase "
            f"{score:.2f} >= {self.paraphrase_threshold:.2f} with "
            f"{self._tracking.get(slot) or other_id} (dengar dedupe explain "
            "shows each part)",
            "similar",
        )

    def _near_slots(self, case: DedupeCase) -> list[tuple[int, float]]:
        """``(slot, km)`` of the cases whose coordinates are within
        ``near_metres`` of the case's, nearest first, at most
        ``paraphrase_candidates`` (itself left out)."""
        if case.location is None or not len(self._points):
            return []
        own = self._slot.get(case.id, -1)
        found = self._points.near(case.location, self.settings.near_metres / 1000)
        out = [(slot, km) for km, slot in found if slot != own]
        return out[: self.settings.paraphrase_candidates]

    def _km_apart(self, case: DedupeCase, slot: int) -> float | None:
        """The distance between the coordinates of ``case`` and of the
        indexed ``slot``, when both shared some."""
        theirs = self._points.point(slot)
        if case.location is None or theirs is None:
            return None
        return km_between(case.location, theirs)

    def _keep_traits(self, keys: list[str]) -> None:
        """What links in other words read of a case being added: its traits
        when :meth:`find` already read them, else its key tokens in text
        order for :meth:`_traits_at` (nothing when the rule is off)."""
        last = self._last_traits
        if not self.settings.paraphrase:
            self._traits.append(())
            self._order.append("")
        elif last is not None and last[0] is keys:
            self._traits.append(last[1])
            self._order.append("")
        else:
            self._traits.append(None)
            self._order.append(" ".join(keys))

    def _traits_at(self, slot: int) -> tuple[str, ...]:
        """The traits of an indexed case, read on first use (reading every
        case's places when it is indexed cost a tenth of a decision and
        slowed the rebuild; most cases are never a candidate in other
        words)."""
        traits = self._traits[slot]
        if traits is None:
            words = self._order[slot].split()
            traits = self._traits[slot] = traits_of(words, self.known_places)
            self._order[slot] = ""
        return traits

    def _profile_at(self, slot: int) -> Profile:
        """The paraphrase profile of an indexed case; the recent ones are
        kept (a place's reports are candidates again and again), at most
        :data:`PROFILES_KEPT`."""
        profile = self._profiles.get(slot)
        if profile is None:
            if len(self._profiles) >= PROFILES_KEPT:
                self._profiles.clear()
            profile = self._profiles[slot] = Profile.from_traits(
                self._traits_at(slot), self._keys[slot].split()
            )
        return profile

    def _traits_of(self, keys: list[str]) -> tuple[str, ...]:
        # the pipeline hands find and add the same list of key tokens: the
        # traits of the last one are kept for the next call
        last = self._last_traits
        if last is not None and last[0] is keys:
            return last[1]
        traits = traits_of(keys, self.known_places)
        self._last_traits = (keys, traits)
        return traits

    @property
    def paraphrase_threshold(self) -> float:
        """The probability from which two reports in other words link."""
        return probability(THRESHOLD_LOGIT)

    def paraphrase_parts(self, case: DedupeCase, other_id: int) -> list[Component]:
        """The components of the paraphrase score of ``case`` against the
        indexed case ``other_id`` (for ``dengar dedupe explain``)."""
        slot = self._slot[other_id]
        keys = key_tokens(case.text)
        traits = self._traits_at(slot)
        if not traits and not self.settings.paraphrase:
            # not kept when links in other words are off: read from the key
            traits = traits_of(self._keys[slot].split(), self.known_places)
        return components(
            Profile.of(keys, self.known_places),
            Profile.from_traits(traits, self._keys[slot].split()),
            days_apart=abs(case.received_at.timestamp() - self._ts[slot]) / 86400,
            window_days=self.settings.window_days,
            km_apart=self._km_apart(case, slot),
            near_km=self.settings.near_metres / 1000,
            far_km=self.settings.far_metres / 1000,
        )


def token_bit(token: str) -> int:
    """A token's bit of the 64 of a case's signature: the same in every
    process (``hash`` of a string is not), so a rebuilt index ranks as the
    one it replaces."""
    return zlib.crc32(token.encode()) & 63


class _Numbering(dict[str, int]):
    """Token ids in order of first use: an unknown token gets the next."""

    def __missing__(self, token: str) -> int:
        tid = self[token] = len(self)
        return tid
