"""Candidate search of the duplicate index (used by
:class:`normalizer.dedupe.index.DuplicateIndex`): which indexed cases a new one
is scored against. Its tokens, rarest first, are looked up in the blocks
of categories and regions it may link to, with the known words one slip
from a rare one and the rare slips of a common one; numpy or sets count
how many of those lists hold each case, and the likeness of the token
signatures breaks ties (see docs/dedupe.md)."""

from __future__ import annotations

import math
from array import array

from normalizer.dedupe.candidates import ranked_by_numpy, ranked_by_sets
from normalizer.dedupe.details import DetailRules
from normalizer.dedupe.keys import Codes, DedupeCase, common_slips, key_tokens, slips

# postings read by a decision from which numpy counts them faster than sets
NUMPY_FROM = 400


class CandidateSearch(DetailRules):
    """The cases worth scoring for a new one, over the index's postings."""

    _slot: dict[int, int]
    _keys: list[str]
    _sig: array[int]
    _bit: array[int]
    _budget: int
    _categories: Codes
    _regions: Codes
    _blocks: dict[int, dict[int, array[int]]]
    _compatible: dict[tuple[int, int], list[dict[int, array[int]]]]
    _slip_ids: dict[str, list[int]]

    def _near_words(self, token: str, seen: int = 0) -> list[str]:
        """Known words one slip from ``token`` that ten times as many cases
        hold (two at least; at most the two most held), for a word long
        enough that a slip does not make another word. A word ``seen`` in
        a few cases may still be a common slip of a street's name."""
        if len(token) < 4 or not token.isalpha():
            return []
        vocab, df = self._vocab, self._df
        least = max(2, 10 * seen)
        near = sorted(
            (-df[tid], word)
            for word in slips(token)
            if (tid := vocab.get(word)) is not None and df[tid] >= least
        )
        return [word for _, word in near[:2]]

    def _rare_slips(self, token: str, held: int, slip: int) -> list[int]:
        """Ids of the known words one common slip from ``token`` (a word
        ``held`` by that many cases) held by at most ``slip`` cases and a
        tenth of ``held``: its misspellings, as :meth:`_near_words` sees
        them from the other side. Only the common slips: all ~30 per
        letter would cost a decision more than it gains."""
        if len(token) < 4 or not token.isalpha():
            return []
        near = self._slip_ids.get(token)
        if near is None:
            vocab = self._vocab
            near = [
                tid
                for word in common_slips(token)
                if (tid := vocab.get(word)) is not None
            ]
            if len(self._slip_ids) >= 1 << 16:  # bounded: query words vary
                self._slip_ids.clear()
            self._slip_ids[token] = near
        df, most = self._df, min(slip, held // 10)
        return [tid for tid in near if df[tid] <= most]

    def _blocks_for(
        self, case: DedupeCase, wide: bool = False
    ) -> list[dict[int, array[int]]]:
        """The blocks of the categories and regions ``case`` may link to:
        its own and the unknown one, or all when it has none (or the
        settings do not require the same, or ``wide``)."""
        s = self.settings
        category = 0 if wide else self._categories.find(case.category)
        region = 0 if wide else self._regions.find(case.region)
        found = self._compatible.get((category, region))
        if found is None:
            found = self._compatible[category, region] = [
                block
                for key, block in sorted(self._blocks.items())
                if (
                    key >> 16 in (category, 0)
                    or not category
                    or not s.require_same_category
                )
                and (
                    key & 0xFFFF in (region, 0)
                    or not region
                    or not s.require_same_region
                )
            ]
        return found

    def _candidate_slots(
        self, case: DedupeCase, keys: list[str], wide: bool = False
    ) -> list[int]:
        """The slots worth scoring, best first: see :meth:`candidates`."""
        blocks = self._blocks_for(case, wide)
        vocab = self._vocab
        df = self._df
        # rarest first over the whole index: a village is rarer than a
        # closing phrase, even where the phrase's block list is shorter
        lists: list[tuple[int, str, list[array[int]]]] = []
        unique = set(keys)
        slip = max(2, len(self._ids) // 20_000)
        for token in list(unique):
            tid = vocab.get(token)
            seen = 0 if tid is None else df[tid]
            if seen <= slip:  # a slip? look for the word too
                unique.update(self._near_words(token, seen))
        known = sorted(
            (df[tid], token, tid)
            for token in unique
            if (tid := vocab.get(token)) is not None
        )
        most = self.settings.query_tokens
        for held, token, tid in known:
            # a link needs a number or a rare word in common: the rarest
            # token always, then only those (only these lists are read)
            if lists and not self._distinct(token):
                continue
            found = [p for b in blocks if (p := b.get(tid)) is not None]
            # a common word is also looked up under its rare slips: an
            # indexed report may hold a misspelling already seen before it
            # (only a word's first slip is posted under the word, see add)
            if held > slip and self._distinct(token):
                # one list of them: numpy pays per list, not per posting
                extra = array("i")
                if others := self._rare_slips(token, held, slip):
                    for block in blocks:
                        # map and filter loop in C: most slips are in no block
                        for postings in filter(None, map(block.get, others)):
                            extra += postings
                if extra:
                    found.append(extra)
            if found:
                lists.append((held, token, found))
                if len(lists) == most:
                    break
        mark = 0
        for _, _, tid in known:
            mark |= 1 << self._bit[tid]
        return self._ranked(lists, self._slot.get(case.id, -1), mark)

    def _ranked(
        self, lists: list[tuple[int, str, list[array[int]]]], own: int, mark: int
    ) -> list[int]:
        """The ``max_candidates`` slots found by most of ``lists``; among
        equals, those whose token bits are most like the bits ``mark`` of
        the new case, then the newest. The rarest lists, within the budget, bring in
        the slots; longer ones, within twice the budget, only rank them. A
        slot is in one block, so in each token's lists at most once:
        counting occurrences counts the tokens shared."""
        budget, limit = self._budget, self.settings.max_candidates
        chosen: list[tuple[bool, list[array[int]]]] = []  # (anchor, lists)
        read = 0
        for _, _, found in lists[: self.settings.query_tokens]:
            size = sum(map(len, found))
            anchor = not chosen or read + size <= budget
            if not anchor and read + size > 2 * budget:
                continue
            read += size
            chosen.append((anchor, found))
        if not chosen:
            return []
        # numpy's fixed cost per call outweighs its speed on a few postings
        if read < NUMPY_FROM:
            return ranked_by_sets(chosen, own, mark, self._sig, budget, limit)
        return ranked_by_numpy(chosen, own, mark, self._sig, budget, limit)

    def candidates(
        self, case: DedupeCase, keys: list[str] | None = None, *, wide: bool = False
    ) -> list[tuple[int, float]]:
        """``(case id, weight of shared tokens)`` of the cases worth scoring,
        best first (see the module's doc); the weight is the summed rarity
        (idf) of all the tokens they share with ``case``. ``wide`` looks in
        every category and region (for ``explain``).
        """
        keys = key_tokens(case.text) if keys is None else keys
        mine = frozenset(keys)
        total = len(self._ids) + 1
        out = []
        for slot in self._candidate_slots(case, keys, wide):
            shared = mine.intersection(self._keys[slot].split())
            weight = sum(math.log(total / (self._df_of(t) + 1)) for t in shared)
            out.append((self._ids[slot], round(weight, 2)))
        return out
