"""Coordinates in duplicate links (normalizer/dedupe/geo.py and the index):
two reports whose shared locations are a few metres apart are at one place
for links in other words, reports far apart are not, `dedupe explain`
shows the distance, and a rebuilt index keeps it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from pydantic import ValidationError
from sqlmodel import SQLModel

import bench.paraphrase as bp
from config.dedupe_settings import DedupeSettings
from normalizer.dedupe.database import case_from_row
from normalizer.dedupe.geo import PointGrid, km_between
from normalizer.dedupe.index import DedupeCase, DuplicateIndex
from normalizer.dedupe.keys import key_tokens
from normalizer.dedupe.rows import RowDeduper
from normalizer.matching import matching_text
from storage.engine import make_engine, session_factory
from storage.tables import ComplaintRow

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
KNOWN = bp.known_names()
HOME = (-3.24213, 116.22061)  # a street corner in Kotabaru
NEXT_DOOR = (-3.24251, 116.22102)  # ~60 m away
ACROSS_TOWN = (-3.26705, 116.19020)  # ~4 km away
# neither names a place: a Telegram location says where
POTHOLE = "Jalan di depan rumah saya berlubang besar, motor sering jatuh malam hari."
POTHOLE_CHAT = "aspal hancur bolong2 disini, bahaya bgt"
STREETLIGHT_CHAT = "lampu jalan mati disini, gelap"


def case(i, text, where=None, *, hours=0.0):
    return DedupeCase(
        id=i,
        text=matching_text(text),
        received_at=T0 + timedelta(hours=hours),
        reporter=frozenset({f"chat:tg:{i}"}),
        tracking_no=f"KTB-0000-{i:04d}",
        location=where,
    )


def index_with(*cases, settings=None):
    index = DuplicateIndex(settings or DedupeSettings(), known_places=KNOWN)
    for i, text in enumerate(
        [
            "Sampah menumpuk di TPS Jalan Veteran, bau sekali",
            "Air PDAM mati di Jalan Kenanga RT 9 Kotabaru Hulu",
        ],
        100,
    ):
        index.add(case(i, text))
    for c in cases:
        index.add(c)
    return index


def test_distances_are_great_circle_kilometres():
    assert km_between(HOME, HOME) == 0
    assert km_between(HOME, NEXT_DOOR) == pytest.approx(0.062, abs=0.005)
    assert km_between((0.0, 0.0), (1.0, 0.0)) == pytest.approx(111.2, abs=0.1)


def test_the_grid_finds_every_point_within_reach_across_cells():
    grid = PointGrid(0.3)
    points = [
        (-3.24 + i * 0.0007, 116.22 + j * 0.0007) for i in range(10) for j in range(10)
    ]
    for slot, point in enumerate(points):
        grid.add(slot, point)
    centre = (-3.2368, 116.2232)
    found = grid.near(centre, 0.3)
    expected = sorted(
        (km_between(centre, p), s)
        for s, p in enumerate(points)
        if km_between(centre, p) <= 0.3
    )
    assert found == expected
    assert 5 < len(found) < len(points)
    assert grid.near((10.0, 10.0), 0.3) == []


def test_reports_a_few_metres_apart_link_though_they_name_no_place():
    index = index_with(case(1, POTHOLE, HOME))
    link = index.find(case(9, POTHOLE_CHAT, NEXT_DOOR, hours=3))
    assert link is not None
    assert link.target_id == 1
    assert link.scorer == "paraphrase"


def test_without_coordinates_or_far_apart_they_stay_apart():
    index = index_with(case(1, POTHOLE, HOME))
    assert index.find(case(9, POTHOLE_CHAT, hours=3)) is None
    assert index.find(case(10, POTHOLE_CHAT, ACROSS_TOWN, hours=3)) is None


def test_another_problem_at_the_same_spot_stays_apart():
    index = index_with(case(1, POTHOLE, HOME))
    assert index.find(case(9, STREETLIGHT_CHAT, NEXT_DOOR, hours=3)) is None


def test_the_same_street_named_far_apart_is_not_linked_in_other_words():
    first = "Jalan Ahmad Yani berlubang besar dekat jembatan."
    second = "jl a yani aspal hancur berlubang dekat jembatan"
    near = index_with(case(1, first, HOME))
    assert near.find(case(9, second, NEXT_DOOR, hours=2)) is not None
    far = index_with(case(1, first, HOME))
    assert far.find(case(9, second, ACROSS_TOWN, hours=2)) is None


def test_the_near_distance_is_a_setting():
    settings = DedupeSettings(near_metres=30)
    index = index_with(case(1, POTHOLE, HOME), settings=settings)
    assert index.find(case(9, POTHOLE_CHAT, NEXT_DOOR, hours=3)) is None
    with pytest.raises(ValidationError, match="near_metres"):
        DedupeSettings(near_metres=3000, far_metres=2000)


def test_explain_shows_the_distance_in_indonesian():
    index = index_with(case(1, POTHOLE, HOME))
    parts = {
        p.code: p for p in index.paraphrase_parts(case(9, POTHOLE_CHAT, NEXT_DOOR), 1)
    }
    assert parts["coordinates"].label == "jarak titik lokasi"
    assert parts["coordinates"].detail == "62 m: tempat yang sama"
    assert parts["coordinates"].contribution > 0
    assert "jarak titik lokasi" in parts["places_agree"].detail
    far = {
        p.code: p for p in index.paraphrase_parts(case(9, POTHOLE_CHAT, ACROSS_TOWN), 1)
    }
    assert far["coordinates"].detail.endswith("tempat lain")
    assert far["coordinates"].contribution < 0


def test_the_bulk_build_keeps_coordinates_as_add_does():
    built = DuplicateIndex(DedupeSettings(), known_places=KNOWN)
    first = case(1, POTHOLE, HOME)
    built.build(
        [
            (
                first.id,
                key_tokens(first.text),
                first.received_at.timestamp(),
                first.reporter,
                None,
                None,
                first.tracking_no,
                None,
                first.location,
            )
        ]
    )
    query = case(9, POTHOLE_CHAT, NEXT_DOOR, hours=3)
    assert built.find(query) == index_with(first).find(query)
    assert built.find(query) is not None


def test_a_restarted_service_links_by_the_stored_coordinates(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    SQLModel.metadata.create_all(engine)
    sessions = session_factory(engine)
    now = datetime.now(UTC)

    def row(n, text, where):
        return ComplaintRow(
            kind="case",
            tracking_no=f"KTB-0000-{n:04d}",
            channel="tg",
            external_id=str(n),
            received_at=now - timedelta(hours=5 - n),
            reporter_chat_id=str(n),
            original_text=text,
            clean_text=text,
            raw_format="json",
            location_lat=where[0],
            location_lon=where[1],
        )

    with sessions() as s:
        first = row(1, POTHOLE, HOME)
        s.add(first)
        s.flush()
        assert case_from_row(first).location == HOME
        s.commit()
    with sessions() as s:
        deduper = RowDeduper.open(s, DedupeSettings(), known_places=KNOWN)
        second = row(2, POTHOLE_CHAT, NEXT_DOOR)
        s.add(second)
        link = deduper.find(s, second, deduper.pending())
        assert link is not None
        assert link.target_id == 1
    engine.dispose()


def test_the_labelled_pairs_with_coordinates_need_the_distance():
    pairs = bp.load_pairs(bp.COORDINATES)
    assert sum(int(str(p["label"])) for p in pairs) >= 8
    labels = [int(str(p["label"])) for p in pairs]
    with_distance = bp.linked_pairs(pairs, KNOWN, coordinates=True)
    words_only = bp.linked_pairs(pairs, KNOWN, coordinates=False)
    precision, recall, _, _ = bp.measure(with_distance, np.array(labels))
    assert precision >= 0.95
    assert recall >= 0.90
    # the words alone miss most of them: the distance does the work
    assert words_only.sum() < with_distance.sum()


def test_a_location_sent_after_the_words_is_used_for_later_reports(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'late.db'}")
    SQLModel.metadata.create_all(engine)
    sessions = session_factory(engine)
    now = datetime.now(UTC)

    def row(n, text):
        return ComplaintRow(
            kind="case",
            tracking_no=f"KTB-0000-{n:04d}",
            channel="tg",
            external_id=str(n),
            received_at=now - timedelta(hours=5 - n),
            reporter_chat_id=str(n),
            original_text=text,
            clean_text=text,
            raw_format="json",
        )

    with sessions() as s:
        deduper = RowDeduper.open(s, DedupeSettings(), known_places=KNOWN)
        first = row(1, POTHOLE)  # the words first, as in a chat
        s.add(first)
        batch = deduper.pending()
        assert deduper.find(s, first, batch) is None
        deduper.add(first, batch)
        s.commit()
        deduper.publish(batch)
        probe = row(2, POTHOLE_CHAT)
        probe.location_lat, probe.location_lon = NEXT_DOOR
        s.add(probe)
        # the first has no location yet
        assert deduper.find(s, probe, deduper.pending()) is None
        s.rollback()
        first.location_lat, first.location_lon = HOME  # the location follows
        batch = deduper.pending()
        deduper.locate(first, batch)
        s.add(first)
        s.commit()
        deduper.publish(batch)  # known once its batch committed
        second = row(3, POTHOLE_CHAT)
        second.location_lat, second.location_lon = NEXT_DOOR
        s.add(second)
        link = deduper.find(s, second, deduper.pending())
        assert link is not None
        assert link.target_id == first.id
    engine.dispose()


@pytest.mark.parametrize(("pin", "linked"), [(NEXT_DOOR, True), (ACROSS_TOWN, False)])
def test_a_case_is_decided_again_when_its_location_comes_after_its_words(
    tmp_path, pin, linked
):
    # a chat citizen writes first and sends the pin afterwards: with the
    # words alone the report was not linked; with the pin next door to an
    # earlier report of the pothole it is (and not with a pin across town)
    engine = make_engine(f"sqlite:///{tmp_path / 'again.db'}")
    SQLModel.metadata.create_all(engine)
    sessions = session_factory(engine)
    now = datetime.now(UTC)

    def row(n, text, at=None):
        found = ComplaintRow(
            kind="case",
            tracking_no=f"KTB-0000-{n:04d}",
            channel="tg",
            external_id=str(n),
            received_at=now - timedelta(hours=5 - n),
            reporter_chat_id=str(n),
            original_text=text,
            clean_text=text,
            raw_format="json",
        )
        if at is not None:
            found.location_lat, found.location_lon = at
        return found

    def stored(deduper, s, case):
        s.add(case)
        batch = deduper.pending()
        link = deduper.find(s, case, batch)
        deduper.add(case, batch)
        s.commit()
        deduper.publish(batch)
        return link

    with sessions() as s:
        deduper = RowDeduper.open(s, DedupeSettings(), known_places=KNOWN)
        earlier = row(1, POTHOLE, at=HOME)
        assert stored(deduper, s, earlier) is None
        words_first = row(2, POTHOLE_CHAT)
        assert stored(deduper, s, words_first) is None
        words_first.location_lat, words_first.location_lon = pin
        batch = deduper.pending()
        link = deduper.locate(words_first, batch)
        s.commit()
        deduper.publish(batch)
        assert (link is not None and link.target_id == earlier.id) is linked
        if linked:
            # the shared index knows the link: a third report joins the
            # primary, and the primary itself is never decided again
            third = row(3, POTHOLE_CHAT, at=NEXT_DOOR)
            s.add(third)
            found = deduper.find(s, third, deduper.pending())
            assert found is not None
            assert found.target_id == earlier.id
            s.rollback()
            assert deduper.locate(earlier, deduper.pending()) is None
    engine.dispose()
