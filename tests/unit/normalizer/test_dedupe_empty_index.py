"""An index with no usable tokens works: built from no cases, from cases
whose text has no content (a greeting, stopwords, emoji, a photo without a
caption) or from any mix with real reports, in bulk (the rebuild at start)
or case by case, and then queried. A stored "halo" once made every later
start crash while the index was rebuilt (issue 16, item 0)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import SQLModel

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe import search as dedupe_search
from normalizer.dedupe.database import case_from_row, rebuild_index
from normalizer.dedupe.index import (
    DedupeCase,
    DuplicateIndex,
    key_tokens,
    reporter_keys,
)
from normalizer.matching import matching_text
from storage.engine import make_engine, session_factory
from storage.tables import ComplaintRow

T0 = datetime(2026, 11, 1, tzinfo=UTC)
CONTENT = ["jalan", "rusak", "jembatan", "semayap", "lampu", "mati", "3", "07"]
EMPTY = ["halo", "terima", "kasih", "yang", "di", "dan", "ya", "ok", "selamat"]
NOISE = ["", "👍", "🙏🙏", "!!", "...", "@admin", "https://t.me/x", "a"]

# a text of any mix: often nothing but greetings, stopwords and emoji
text = st.lists(
    st.one_of(st.sampled_from(CONTENT), st.sampled_from(EMPTY), st.sampled_from(NOISE)),
    max_size=8,
).map(" ".join)
case_spec = st.tuples(
    text,
    st.integers(0, 3),  # reporter
    st.integers(0, 24 * 40),  # hours after T0
    st.sampled_from([None, "jalan"]),
    st.sampled_from([None, "Hampang"]),
)


def make(case_id: int, spec: tuple[str, int, int, str | None, str | None]):
    words, who, hours, category, region = spec
    return DedupeCase(
        case_id,
        matching_text(words),
        T0 + timedelta(hours=hours),
        reporter_keys("tg", chat_id=str(who)),
        category,
        region,
        f"ADU-0000-{case_id:04d}",
    )


def both_ways(cases: list[DedupeCase]) -> tuple[DuplicateIndex, DuplicateIndex]:
    """The same cases indexed in bulk and one by one, linked as found."""
    one_by_one = DuplicateIndex(DedupeSettings())
    primaries = []
    for case in cases:
        link = one_by_one.find(case)
        primary = None if link is None else link.target_id
        primaries.append(primary)
        one_by_one.add(case, primary)
    bulk = DuplicateIndex(DedupeSettings())
    bulk.add_many(zip(cases, primaries, [None] * len(cases), strict=True))
    return bulk, one_by_one


@settings(max_examples=200, deadline=None)
@given(
    st.lists(case_spec, max_size=25),
    st.lists(case_spec, min_size=1, max_size=5),
    st.booleans(),
)
def test_any_case_set_builds_an_index_that_answers_queries(stored, queries, by_numpy):
    cases = [make(i, spec) for i, spec in enumerate(stored, 1)]
    bulk, one_by_one = both_ways(cases)
    assert bulk.snapshot() == one_by_one.snapshot()
    assert len(bulk) == len(one_by_one) == len(cases)
    empty = {c.id for c in cases if not key_tokens(c.text)}
    # both counting paths of the candidate search, on few postings too
    dedupe_search.NUMPY_FROM = 0 if by_numpy else 10**9
    try:
        for n, spec in enumerate(queries, len(cases) + 1):
            query = make(n, spec)
            assert bulk.candidates(query) == one_by_one.candidates(query)
            link = bulk.find(query)
            assert link == one_by_one.find(query)
            assert bulk.scored(query) == one_by_one.scored(query)
            if link is not None:
                # content-less text is never linked, nor linked to
                assert key_tokens(query.text)
                assert link.target_id not in empty
            for index in (bulk, one_by_one):
                index.add(query, None if link is None else link.target_id)
    finally:
        dedupe_search.NUMPY_FROM = 400
    for index in (bulk, one_by_one):
        index.discard(1)
        index.reopen(1)
        held = len(index)
        assert held == len(cases) + len(queries)
        assert index.expire((T0 + timedelta(days=60)).timestamp()) == held
        assert len(index) == 0


def test_an_empty_bulk_build_starts_and_then_indexes_new_cases():
    index = DuplicateIndex(DedupeSettings())
    index.build([])
    assert len(index) == 0
    assert index.expire(T0.timestamp()) == 0
    first = make(1, ("jembatan desa semayap ambruk sejak 3 hari", 1, 0, None, None))
    assert index.find(first) is None
    index.add(first)
    again = make(2, ("jembatan desa semayap ambruk sejak 3 hari", 2, 1, None, None))
    assert index.find(again) is not None


@pytest.mark.parametrize(
    "greetings",
    [["halo"], ["halo", "terima kasih", "🙏"], ["", "ok ya", "selamat pagi admin"]],
)
def test_only_content_less_cases_build_and_never_link(greetings):
    cases = [make(i, (g, i, i, None, None)) for i, g in enumerate(greetings, 1)]
    bulk, one_by_one = both_ways(cases)
    assert bulk.snapshot() == {c.id: None for c in cases}
    assert one_by_one.snapshot() == bulk.snapshot()
    # the same reporter greeting twice is not one problem reported twice
    again = make(9, (greetings[0], 1, 2, None, None))
    assert bulk.find(again) is None
    assert one_by_one.find(again) is None
    real = make(10, ("lampu jalan desa semayap mati 3 malam", 1, 3, None, None))
    assert bulk.find(real) is None
    bulk.add(real)
    assert bulk.find(make(11, ("lampu jalan semayap mati 3 malam", 2, 4, None, None)))


def test_a_stored_greeting_does_not_stop_the_rebuild_at_start(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    SQLModel.metadata.create_all(engine)
    sessions = session_factory(engine)
    with sessions() as s:
        row = ComplaintRow(
            kind="case",
            tracking_no="ADU-0000-0001",
            channel="tg",
            external_id="1",
            received_at=datetime.now(UTC),
            reporter_chat_id="1",
            original_text="halo",
            clean_text="halo",
            raw_format="json",
            status="received",
        )
        s.add(row)
        s.commit()
        s.refresh(row)
        stored = case_from_row(row)
        index = rebuild_index(s, DedupeSettings())
    engine.dispose()
    assert stored.id in index
    assert index.find(make(2, ("halo", 1, 0, None, None))) is None
