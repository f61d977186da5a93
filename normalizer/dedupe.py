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

Candidates come from an inverted index blocked by category: a new case looks
up its rarest tokens in its category's block (and the block of cases
without a category), at most ``query_tokens`` of them and no more once their
postings exceed ``posting_budget``, ranks the cases found by the rarity of
the tokens they share, and scores the ``max_candidates`` best with
rapidfuzz. ``bench/dedupe.py`` measures this against an exhaustive scan of
the whole window.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process

from config.places_settings import DedupeSettings
from normalizer.dedupe_records import (
    Candidate,
    DedupeCase,
    Identities,
    Link,
    LinkKind,
    key_tokens,
    reporter_keys,
)

if TYPE_CHECKING:
    from sqlmodel import Session

    from config.settings import Settings

__all__ = [
    "Candidate",
    "DedupeCase",
    "DuplicateIndex",
    "Link",
    "LinkKind",
    "key_tokens",
    "reporter_keys",
]

_TYPO_RATIO = 80.0  # two spellings of one word (stagen / staagen)
_SEP = "\x1f"


@dataclass(slots=True)
class _Entry:
    key: str  # key tokens in order: what the scorer compares
    ts: float
    category: str | None
    region: str | None
    tracking_no: str | None
    primary: int | None = None
    open: bool = True
    children: set[int] | None = None

    def tokens(self) -> frozenset[str]:
        return frozenset(self.key.split())


class DuplicateIndex:
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
    ) -> None:
        self.settings = settings or DedupeSettings()
        self.scorer_name = self.settings.scorer
        self._scorer: Callable[..., float] = getattr(fuzz, self.settings.scorer)
        self._budget = self.settings.posting_budget
        self._entries: dict[int, _Entry] = {}
        self._postings: dict[str, array[int]] = {}  # "category<US>token" → ids
        self._df: Counter[str] = Counter()
        self._categories: set[str] = {""}
        self._people = Identities()
        self._unlinked: set[tuple[int, int]] = set()
        for a, b in unlinked:
            self.forbid(a, b)

    @classmethod
    def rebuild(
        cls, session: Session, settings: Settings | DedupeSettings
    ) -> DuplicateIndex:
        """The index rebuilt from the complaint table (open cases in the
        window, their links and staff unlinks); see
        :func:`normalizer.dedupe_db.rebuild_index`."""
        # imported here: normalizer.dedupe_db imports this module
        from normalizer.dedupe_db import rebuild_index

        if not isinstance(settings, DedupeSettings):
            settings = settings.dedupe
        return rebuild_index(session, settings)

    def same_reporter(self, a: frozenset[str], b: frozenset[str]) -> bool:
        """True when two sets of reporter keys belong to one known person."""
        return self._people.same(a, b)

    # -- maintenance ----------------------------------------------------------
    def __len__(self) -> int:
        return sum(1 for e in self._entries.values() if e.open)

    def __contains__(self, case_id: object) -> bool:
        entry = self._entries.get(case_id) if isinstance(case_id, int) else None
        return entry is not None and entry.open

    def add(self, case: DedupeCase, primary: int | None = None) -> None:
        """Index a stored case; ``primary`` is the case it was linked to."""
        if case.id in self._entries:
            self.set_primary(case.id, primary)
            return
        keys = key_tokens(case.text)
        self._entries[case.id] = _Entry(
            " ".join(keys),
            case.received_at.timestamp(),
            case.category,
            case.region,
            case.tracking_no,
        )
        block = case.category or ""
        self._categories.add(block)
        for token in sorted(set(keys)):
            self._df[token] += 1
            self._postings.setdefault(block + _SEP + token, array("q")).append(case.id)
        self._people.add(case.reporter, case.id)
        self.set_primary(case.id, primary)

    def set_primary(self, case_id: int, primary: int | None) -> None:
        """Record that ``case_id`` is now a duplicate of ``primary`` (or of
        nothing); its own duplicates follow it to the new primary."""
        entry = self._entries.get(case_id)
        if entry is None:
            return
        old = self._entries.get(entry.primary) if entry.primary is not None else None
        if old is not None and old.children:
            old.children.discard(case_id)
        entry.primary = primary
        target = self._entries.get(primary) if primary is not None else None
        if target is None:
            return
        if target.children is None:
            target.children = set()
        target.children.add(case_id)
        for child in sorted(entry.children or ()):
            self.set_primary(child, primary)

    def discard(self, case_id: int) -> None:
        """Forget a case that closed (or left the window)."""
        entry = self._entries.get(case_id)
        if entry is not None:
            entry.open = False

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
            entry = self._entries.get(current)
            if entry is None or entry.primary is None:
                return current
            current = entry.primary
            if current in seen:  # defensive: a cycle written by hand in the DB
                return min(seen)
            seen.add(current)

    def snapshot(self) -> Mapping[int, int | None]:
        """``case id → primary id`` for every indexed case (for tests)."""
        return {i: e.primary for i, e in self._entries.items()}

    # -- rules --------------------------------------------------------------
    def find(self, case: DedupeCase) -> Link | None:
        """The link a new case should get, or None. Deterministic: the same
        index and case always give the same answer."""
        if not self.settings.enabled:
            return None
        keys = key_tokens(case.text)
        return self._same_reporter(case, keys) or self._similar(case, keys)

    def _target(self, case_id: int, other_id: int) -> int | None:
        primary = self.primary_of(other_id)
        if primary == case_id or self.is_forbidden(case_id, primary):
            return None
        if self.is_forbidden(case_id, other_id):
            return None
        return primary

    def _same_reporter(self, case: DedupeCase, keys: list[str]) -> Link | None:
        ids = self._people.cases_of(case.reporter)
        if not ids:
            return None
        s = self.settings
        ts = case.received_at.timestamp()
        mine = " ".join(keys)
        for other_id in sorted(ids, key=lambda i: (self._entries[i].ts, i)):
            other = self._entries[other_id]
            if not other.open or other_id == case.id:
                continue
            if abs(ts - other.ts) > s.same_reporter_hours * 3600:
                continue
            score = self._scorer(mine, other.key)
            target = self._target(case.id, other_id)
            if score < s.same_reporter_threshold or target is None:
                continue
            return Link(
                target,
                round(score, 1),
                self.scorer_name,
                f"same reporter within {s.same_reporter_hours:g} h: "
                f"{self.scorer_name} {score:.1f} >= {s.same_reporter_threshold:g} "
                f"with {other.tracking_no or other_id}",
                "same_reporter",
            )
        return None

    def candidates(
        self, case: DedupeCase, keys: list[str] | None = None
    ) -> list[tuple[int, float]]:
        """``(case id, weight of shared tokens)`` of the cases worth scoring,
        best first (rarest tokens shared, then newest).

        The rarest tokens of ``case`` are looked up in the blocks of
        compatible categories: the rarest, then more (at most
        ``query_tokens``) while under ``posting_budget`` postings read; of a
        long list only the newest ``posting_budget`` entries. The cases found
        are ranked by how many keys they share, then the best
        ``2 x max_candidates`` by the summed rarity (idf) of all the tokens
        they share.
        """
        keys = key_tokens(case.text) if keys is None else keys
        blocks = (
            [case.category, ""]
            if case.category and self.settings.require_same_category
            else sorted(self._categories)
        )
        rarest = sorted((self._df[t], t) for t in set(keys) if self._df[t])
        hits: Counter[int] = Counter()
        read = 0
        for chosen, (_, token) in enumerate(rarest[: self.settings.query_tokens]):
            lists = [self._postings.get(block + _SEP + token) for block in blocks]
            size = sum(len(p) for p in lists if p)
            # the rarest always, more only while under budget: a common word
            # finds everything and tells little
            if chosen and read + size > self._budget:
                break
            read += size
            for postings in lists:
                if postings:
                    hits.update(postings[-self._budget :])
        hits.pop(case.id, None)
        limit = self.settings.max_candidates
        pool = heapq.nlargest(2 * limit, hits.items(), key=itemgetter(1, 0))
        # rank by the rarity of what they share (idf), so that a case sharing
        # the street and the village beats one sharing only the usual words
        total = len(self._entries) + 1
        mine = frozenset(keys)
        weight = {t: math.log(total / (self._df[t] + 1)) for t in mine}
        entries = self._entries
        ranked = [
            (i, sum(map(weight.__getitem__, mine.intersection(entries[i].key.split()))))
            for i, _ in pool
        ]
        best = heapq.nlargest(limit, ranked, key=itemgetter(1, 0))
        return [(i, round(w, 2)) for i, w in best]

    def _distinct(self, token: str) -> bool:
        # numbers always; words when few indexed cases hold them (street and
        # village names, unusual details), judged by the live index
        if token.isdigit():
            return True
        limit = self.settings.rare_share * len(self._entries)
        return self._df[token] <= max(limit, self.settings.rare_min_df)

    def shared_distinct(self, a: frozenset[str], b: frozenset[str]) -> list[str]:
        """The numbers and rare words two token sets have in common, rarest
        first (words before numbers)."""
        shared = [t for t in a & b if self._distinct(t)]
        return sorted(shared, key=lambda t: (self._df[t], t.isdigit(), t))

    def conflict(self, a: frozenset[str], b: frozenset[str]) -> str:
        """'' unless both token sets hold a number the other lacks (another
        RT, another house), or both a rare word the other lacks (another
        street): then the two, ``'mawar' vs 'melati'``. A typo of a word the
        other has is not a difference. Words count only once the index holds
        ``rare_min_cases`` cases: before that, rarity means little."""
        if not self.settings.distinct_tokens_veto:
            return ""
        kinds = [True]
        if len(self._entries) >= self.settings.rare_min_cases:
            kinds.append(False)
        for digits in kinds:
            mine = self._unmatched_distinct(a, b, digits)
            theirs = self._unmatched_distinct(b, a, digits) if mine else None
            if mine and theirs:
                return f"{mine!r} vs {theirs!r}"
        return ""

    def _unmatched_distinct(
        self, a: frozenset[str], b: frozenset[str], digits: bool
    ) -> str | None:
        words = [t for t in b if not t.isdigit()]
        for token in sorted(a - b):
            if token.isdigit() != digits or not self._distinct(token):
                continue
            if not digits and len(token) >= 4:
                near = process.extractOne(
                    token, words, scorer=fuzz.ratio, score_cutoff=_TYPO_RATIO
                )
                if near is not None:
                    continue
            return token
        return None

    def verdict(
        self, case: DedupeCase, mine: frozenset[str], other_id: int, score: float
    ) -> str:
        """'match', or why ``other_id`` is not a duplicate target."""
        s = self.settings
        other = self._entries[other_id]
        theirs = other.tokens()
        if not other.open:
            return "closed"
        if abs(case.received_at.timestamp() - other.ts) > s.window_days * 86400:
            return "outside window"
        if (
            s.require_same_category
            and case.category
            and other.category
            and case.category != other.category
        ):
            return "different category"
        if (
            s.require_same_region
            and case.region
            and other.region
            and case.region != other.region
        ):
            return "different region"
        if self._target(case.id, other_id) is None:
            return "unlinked by staff"
        if min(len(mine), len(theirs)) < s.min_tokens:
            return "too short"
        if score < s.threshold:
            return "score below threshold"
        if s.require_shared_rare and not self.shared_distinct(mine, theirs):
            return "nothing specific in common"
        clash = self.conflict(mine, theirs)
        return f"different details: {clash}" if clash else "match"

    def scored(self, case: DedupeCase) -> list[Candidate]:
        """Every candidate with its score and verdict, best first: what
        :meth:`find` saw (used by ``dengar dedupe explain``)."""
        keys = key_tokens(case.text)
        mine, text = frozenset(keys), " ".join(keys)
        out = []
        for other_id, shared in self.candidates(case, keys):
            other = self._entries[other_id]
            score = round(self._scorer(text, other.key), 1)
            why = self.verdict(case, mine, other_id, score)
            out.append(Candidate(other_id, other.tracking_no, score, shared, why))
        out.sort(key=lambda c: (-c.score, self._entries[c.id].ts, c.id))
        return out

    def _similar(self, case: DedupeCase, keys: list[str]) -> Link | None:
        s = self.settings
        mine = frozenset(keys)
        if len(mine) < s.min_tokens:
            return None
        pool = [i for i, _ in self.candidates(case, keys)]
        # the scorer runs in C over the candidates; Python judges the few hits
        found = process.extract(
            " ".join(keys),
            [self._entries[i].key for i in pool],
            scorer=self._scorer,
            score_cutoff=s.threshold,
            limit=None,
        )
        # best score; ties go to the earliest case, then the smallest id
        found.sort(key=lambda f: (-f[1], self._entries[pool[f[2]]].ts, pool[f[2]]))
        for _, score, position in found:
            other_id = pool[position]
            if self.verdict(case, mine, other_id, score) != "match":
                continue
            other = self._entries[other_id]
            target = self._target(case.id, other_id)
            assert target is not None  # _verdict checked it
            return Link(
                target,
                round(score, 1),
                self.scorer_name,
                f"similar text: {self.scorer_name} {score:.1f} >= {s.threshold:g} "
                f"with {other.tracking_no or other_id}, sharing "
                f"{', '.join(self.shared_distinct(mine, other.tokens())[:3]) or '-'}"
                + (f"; category {other.category}" if other.category else "")
                + (f"; region {other.region}" if other.region else ""),
                "similar",
            )
        return None
