"""Which details keep two similar reports apart (used by
:class:`normalizer.dedupe.index.DuplicateIndex`): the numbers and rare words two
reports share or contradict, a typo excused."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe.keys import typo


class DetailRules:
    """The details rules over the index's live vocabulary: a word is rare
    (a detail) when few indexed cases hold it, a number always is."""

    settings: DedupeSettings
    _ids: array[int]
    _vocab: dict[str, int]
    _df: array[int]
    _rare: dict[str, bool]  # token → rare or a number, for _rare_at
    _rare_at: int  # the _rare_limit the answers of _rare hold for

    def _df_of(self, token: str) -> int:
        tid = self._vocab.get(token)
        return 0 if tid is None else self._df[tid]

    def _distinct(self, token: str) -> bool:
        # numbers always; words when few indexed cases hold them (street and
        # village names, unusual details), judged by the live index
        known = self._rare.get(token)
        if known is None:
            known = token.isdigit() or self._df_of(token) <= self._rare_at
            self._rare[token] = known
        return known

    def _rare_limit(self) -> int:
        """The most cases that may hold a rare word, for the index as it is."""
        s = self.settings
        return math.floor(max(s.rare_share * len(self._ids), s.rare_min_df))

    def _refresh_rare(self, changed: Iterable[str]) -> None:
        """Forget what an added case changed: whether its ``changed`` tokens
        are rare (each is held once more), or all when the limit moved. A
        decision asks this of some fifty tokens: most stay known."""
        limit = self._rare_limit()
        if limit != self._rare_at:
            self._rare.clear()
            self._rare_at = limit
        else:
            for token in changed:
                self._rare.pop(token, None)

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
        mine = specific - b if words else [t for t in specific - b if t.isdigit()]
        theirs = (t for t in only_b if (words or t.isdigit()) and distinct(t))
        # most hits clash on both sides: one kept detail each settles it, so
        # the details are read (and typos looked for) only as far as needed
        kept_mine = _untypoed(mine, only_b)
        kept_theirs = _untypoed(theirs, a - b)
        first_mine = next(kept_mine, None)
        first_theirs = next(kept_theirs, None)
        if first_mine is not None and first_theirs is not None:
            return True
        if not words:
            return False
        if first_mine is not None:
            extra = 1 + sum(1 for _ in kept_mine)
        elif first_theirs is not None:
            extra = 1 + sum(1 for _ in kept_theirs)
        else:
            return False
        return extra >= len(specific & b)

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
    return list(_untypoed(missing, others))


def _untypoed(missing: Iterable[str], others: frozenset[str]) -> Iterator[str]:
    """:func:`untypoed`, one token at a time."""
    words: list[tuple[int, str]] | None = None
    for t in missing:
        size = len(t)
        if size < 4 or t.isdigit():
            yield t
            continue
        if words is None:
            words = [(len(o), o) for o in others if not o.isdigit()]
        # most pairs are told apart without an edit distance: no slip
        # changes a word's length by more than two, and the one slip of a
        # short word keeps its first or its last letter
        if size >= 8:
            for other_size, other in words:
                if -2 <= other_size - size <= 2 and typo(t, other):
                    break
            else:
                yield t
            continue
        first, last = t[0], t[-1]
        for other_size, other in words:
            if (
                -1 <= other_size - size <= 1
                and (other[0] == first or other[-1] == last)
                and typo(t, other)
            ):
                break
        else:
            yield t
