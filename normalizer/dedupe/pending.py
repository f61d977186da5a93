"""The new cases of one batch, between their links and the batch's commit.

The shared index (:class:`~normalizer.dedupe.rows.RowDeduper`) learns a
batch's cases only once its transaction committed: a batch that rolls back
leaves nothing to undo, and no batch links to a case another channel's batch
has not committed (and may never). Meanwhile a batch's later cases are
linked to its earlier ones: they are judged against the committed index and
against the batch's own cases, with the word counts of both, and the link
the one index would have chosen wins.
"""

from __future__ import annotations

from normalizer.dedupe.index import DedupeCase, DuplicateIndex, Link, key_tokens


class PendingCases:
    """The cases one batch linked and has not committed yet.

    Made per batch (:meth:`RowDeduper.pending`) and used by that batch's
    thread only; the batch's transaction owns it, never the shared pipeline.
    """

    def __init__(self, committed: DuplicateIndex) -> None:
        self._own = _BatchIndex(committed)
        self._found: dict[int, tuple[DedupeCase, list[str]]] = {}
        # (case, primary, key tokens) in the order added: what the shared
        # index learns after the commit
        self.cases: list[tuple[DedupeCase, int | None, list[str]]] = []
        # coordinates a follow-up gave a case, committed or of this batch
        self.located: list[tuple[int, tuple[float, float]]] = []
        # (case, primary): a case decided again once its location came
        self.relinked: list[tuple[int, int]] = []

    def find(
        self,
        case: DedupeCase,
        keys: list[str],
        committed: DuplicateIndex,
        link: Link | None,
    ) -> Link | None:
        """The link of ``case``: ``link`` (found in ``committed``, which the
        caller holds locked) or one to a case of this batch, whichever the
        rules put first."""
        self._found[case.id] = (case, keys)
        if not self.cases or (link is not None and link.kind == "same_reporter"):
            return link  # nothing in the batch could come first
        self._own.committed = committed
        return _first(link, self._own.find(case, keys))

    def find_again(
        self, case: DedupeCase, keys: list[str], committed: DuplicateIndex
    ) -> Link | None:
        """The link of a case already linked once (as no duplicate), decided
        again: against ``committed`` (locked by the caller) and this batch."""
        link = committed.find(case, keys)
        if not self.cases:
            return link
        self._own.committed = committed
        return _first(link, self._own.find(case, keys))

    def has_duplicates(self, case_id: int) -> bool:
        """True when a case of this batch links to ``case_id``."""
        return any(primary == case_id for _, primary, _ in self.cases)

    def relink(self, case_id: int, primary: int) -> None:
        """``case_id`` got a link after it was indexed: for this batch now,
        for the shared index once the batch committed."""
        self._own.set_primary(case_id, primary)
        self.relinked.append((case_id, primary))

    def locate(self, case_id: int, point: tuple[float, float]) -> None:
        """A case (committed, or of this batch) got coordinates."""
        self._own.locate(case_id, point)
        self.located.append((case_id, point))

    def add(self, case: DedupeCase, primary: int | None) -> None:
        """Take ``case`` into the batch with the link it got."""
        found = self._found.pop(case.id, None)
        keys = found[1] if found is not None else key_tokens(case.text)
        self._own.add(case, primary, keys)
        self.cases.append((case, primary, keys))


class _BatchIndex(DuplicateIndex):
    """A batch's own cases, judged as if they were in the committed index:
    a word is rare or common by its count there and here together."""

    def __init__(self, committed: DuplicateIndex) -> None:
        self.committed = committed  # read by the word counts from the start
        super().__init__(committed.settings, known_places=committed.known_places)

    def _held(self) -> int:
        return len(self._ids) + self.committed._held()

    def _df_of(self, token: str) -> int:
        return super()._df_of(token) + self.committed._df_of(token)

    def find(self, case: DedupeCase, keys: list[str] | None = None) -> Link | None:
        # which words are rare is known for one decision only: the
        # committed index changes between two (it is locked during one)
        self._rare.clear()
        self._rare_at = self._rare_limit()
        return super().find(case, keys)

    def _candidate_slots(
        self, case: DedupeCase, keys: list[str], wide: bool = False
    ) -> list[int]:
        # as the committed index looks: through the rarest token and the
        # numbers and rare words (a link needs one in common); a batch is
        # small, so every case found that way is a candidate
        vocab = self._vocab
        known = sorted((self._df_of(t), t) for t in set(keys) if t in vocab)
        slots: set[int] = set()
        for rank, (_, token) in enumerate(known):
            if rank and not self._distinct(token):
                continue
            tid = vocab[token]
            for block in self._blocks.values():
                postings = block.get(tid)
                if postings is not None:
                    slots.update(postings)
        slots.discard(self._slot.get(case.id, -1))
        return sorted(slots)


def _first(committed: Link | None, own: Link | None) -> Link | None:
    """The link one index holding both would give: the same-reporter rule
    before similar words before other words; within the same-reporter rule
    the earliest case (a committed one), otherwise the best score, the
    committed case on a tie (it came first)."""
    if own is None:
        return committed
    if committed is None or _rank(own) < _rank(committed):
        return own
    return committed


def _rank(link: Link) -> tuple[int, float]:
    if link.kind == "same_reporter":
        return 0, 0.0
    return (2 if link.scorer == "paraphrase" else 1), -link.score
