"""Property tests: linking is deterministic, never self-links, never cycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from normalizer.dedupe.index import DedupeCase, DuplicateIndex, reporter_keys

T0 = datetime(2026, 11, 1, tzinfo=UTC)
WORDS = [
    "jalan",
    "rusak",
    "jembatan",
    "semayap",
    "stagen",
    "banjir",
    "sampah",
    "lampu",
    "mati",
    "pasar",
    "sekolah",
    "air",
    "bocor",
    "gelap",
    "3",
    "7",
]

case_spec = st.tuples(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=8),  # text
    st.integers(0, 5),  # reporter
    st.integers(0, 24 * 40),  # hours after T0
    st.sampled_from([None, "jalan", "air"]),
    st.sampled_from([None, "Hampang", "Pulau Laut Utara"]),
)
# a manual action between cases: relink case a to case b, or unlink a
action = st.one_of(
    st.none(),
    st.tuples(st.just("link"), st.integers(1, 40), st.integers(1, 40)),
    st.tuples(st.just("unlink"), st.integers(1, 40), st.just(0)),
)


def run(specs, actions):
    index = DuplicateIndex()
    links = []
    for i, ((words, who, hours, category, region), act) in enumerate(
        zip(specs, actions, strict=False), 1
    ):
        c = DedupeCase(
            id=i,
            text=" ".join(words),
            received_at=T0 + timedelta(hours=hours),
            reporter=reporter_keys("tg", chat_id=str(who)),
            category=category,
            region=region,
        )
        link = index.find(c)
        if link is not None:
            assert link.target_id != i
            assert index.primary_of(link.target_id) == link.target_id
            assert not index.is_forbidden(i, link.target_id)
        links.append(None if link is None else (link.target_id, link.score))
        index.add(c, None if link is None else link.target_id)
        if act and act[0] == "link" and act[1] <= i and act[2] <= i:
            primary = index.primary_of(act[2])
            if primary != act[1]:
                index.allow(act[1], primary)
                index.set_primary(act[1], primary)
        elif act and act[0] == "unlink" and act[1] <= i:
            former = index.snapshot().get(act[1])
            if former is not None:
                index.forbid(act[1], former)
                index.set_primary(act[1], None)
    return index, links


def assert_acyclic(index):
    snap = index.snapshot()
    for start in snap:
        seen = {start}
        node = snap[start]
        while node is not None:
            assert node not in seen, f"cycle through {start}"
            seen.add(node)
            node = snap.get(node)


@settings(max_examples=150, deadline=None)
@given(st.lists(case_spec, min_size=1, max_size=40), st.lists(action, max_size=40))
def test_linking_never_self_links_never_cycles_and_is_deterministic(specs, actions):
    index, links = run(specs, actions)
    assert_acyclic(index)
    for case_id, primary in index.snapshot().items():
        assert primary != case_id
        if primary is not None:
            # every link points at a primary, never at a duplicate
            assert index.snapshot().get(primary) is None
    _, again = run(specs, actions)
    assert again == links


@settings(max_examples=100, deadline=None)
@given(st.lists(case_spec, min_size=2, max_size=30))
def test_rebuilt_index_decides_like_the_running_one(specs):
    """A restart (the same cases added again, oldest first, with their links)
    gives the same decision for the next case."""
    *stored, last = specs
    running, _ = run(stored, [])
    rebuilt = DuplicateIndex()
    order = sorted(
        running.snapshot().items(),
        key=lambda kv: (T0 + timedelta(hours=stored[kv[0] - 1][2]), kv[0]),
    )
    for case_id, primary in order:
        words, who, hours, category, region = stored[case_id - 1]
        rebuilt.add(
            DedupeCase(
                case_id,
                " ".join(words),
                T0 + timedelta(hours=hours),
                reporter_keys("tg", chat_id=str(who)),
                category,
                region,
            ),
            primary,
        )
    words, who, hours, category, region = last
    new = DedupeCase(
        len(specs),
        " ".join(words),
        T0 + timedelta(hours=hours),
        reporter_keys("tg", chat_id=str(who)),
        category,
        region,
    )
    assert running.find(new) == rebuilt.find(new)
