"""Which details keep two similar reports apart (used by
:class:`normalizer.dedupe.DuplicateIndex`): the numbers and rare words two
reports share or contradict, a typo excused."""

from __future__ import annotations

from array import array
from collections.abc import Iterable

from config.places_settings import DedupeSettings
from normalizer.dedupe_records import typo


class DetailRules:
    """The details rules over the index's live vocabulary: a word is rare
    (a detail) when few indexed cases hold it, a number always is."""

    settings: DedupeSettings
    _ids: array[int]
    _vocab: dict[str, int]
    _df: array[int]
    _rare: dict[str, bool]

    def _df_of(self, token: str) -> int:
        tid = self._vocab.get(token)
        return 0 if tid is None else self._df[tid]

    def _distinct(self, token: str) -> bool:
        # numbers always; words when few indexed cases hold them (street and
        # village names, unusual details), judged by the live index
        known = self._rare.get(token)
        if known is None:
            limit = max(
                self.settings.rare_share * len(self._ids), self.settings.rare_min_df
            )
            known = self._rare[token] = token.isdigit() or self._df_of(token) <= limit
        return known

    def shared_distinct(self, a: frozenset[str], b: frozenset[str]) -> list[str]:
        """The numbers and rare words two token sets have in common, rarest
        first (words before numbers)."""
        shared = [t for t in a & b if self._distinct(t)]
        return sorted(shared, key=lambda t: (self._df_of(t), t.isdigit(), t))

    def conflict(self, a: frozenset[str], b: frozenset[str]) -> str:
        """'' unless the two token sets disagree on a detail: each holds a
        number or a rare word the other lacks (another RT, another street:
        ``'mawar' vs 'melati'``), or one holds as many such details the
        other lacks as the two share, or more (``jalan pinus nomor 4
        berangas`` is not ``jalan pinus``: one street in common says too
        little). A typo of a
        word only the other has is not a difference. Words count only once
        the index holds ``rare_min_cases`` cases: before that, rarity means
        little."""
        if not self.settings.distinct_tokens_veto:
            return ""
        words = len(self._ids) >= self.settings.rare_min_cases
        mine = self._unmatched_distinct(a, b, words)
        theirs = self._unmatched_distinct(b, a, words)
        if mine and theirs:
            return f"{mine[0]!r} vs {theirs[0]!r}"
        extra = mine or theirs
        # with numbers alone (a small index) one stray number (``1 meter``)
        # would outweigh the rest: counted only once words count too
        if extra and words:
            shared = sum(1 for t in a & b if self._distinct(t))
            if len(extra) >= shared:
                return f"{', '.join(map(repr, extra))} vs nothing"
        return ""

    def _clash(
        self, a: frozenset[str], specific: frozenset[str], b: frozenset[str]
    ) -> bool:
        """``bool(conflict(a, b))`` for ``specific``, the numbers and rare
        words of ``a``: the test of every hit, without the message."""
        if not self.settings.distinct_tokens_veto:
            return False
        words = len(self._ids) >= self.settings.rare_min_cases
        distinct = self._distinct
        only_b = b - a
        mine = list(specific - b) if words else [t for t in specific - b if t.isdigit()]
        theirs = [t for t in only_b if (words or t.isdigit()) and distinct(t)]
        if not mine and not theirs:
            return False
        if mine:
            mine = untypoed(mine, only_b)
        if theirs:
            theirs = untypoed(theirs, a - b)
        if mine and theirs:
            return True
        extra = mine or theirs
        return bool(extra) and words and len(extra) >= len(specific & b)

    def _unmatched_distinct(
        self, a: frozenset[str], b: frozenset[str], words: bool
    ) -> list[str]:
        """The numbers (and rare words, with ``words``) of ``a`` that ``b``
        lacks, numbers first; a word within one typo of a word only ``b``
        has is not missing."""
        distinct = self._distinct
        missing = [t for t in a - b if (words or t.isdigit()) and distinct(t)]
        if not missing:
            return missing
        missing.sort(key=lambda t: (not t.isdigit(), t))
        return untypoed(missing, b - a)


def untypoed(missing: Iterable[str], others: frozenset[str]) -> list[str]:
    """The tokens of ``missing`` that are not a typo of one of ``others``
    (words only: a number is never a typo)."""
    words = [(len(o), o) for o in others if not o.isdigit()]
    kept = []
    for t in missing:
        size = len(t)
        if size >= 4 and not t.isdigit():
            # no slip changes a word's length by more than two: most pairs
            # are told apart without an edit distance
            for other_size, other in words:
                if -2 <= other_size - size <= 2 and typo(t, other):
                    break
            else:
                kept.append(t)
        else:
            kept.append(t)
    return kept
