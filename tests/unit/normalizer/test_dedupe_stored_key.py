"""The dedupe key stored on each case: the index rebuilds from it without
normalising every open case again, and falls back to the text when the key
is missing or of another version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import SQLModel

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe.database import (
    KEY_VERSION,
    apply_link,
    case_from_row,
    rebuild_index,
)
from normalizer.dedupe.rows import RowDeduper
from storage.engine import make_engine, session_factory
from storage.tables import ComplaintRow

NOW = datetime.now(UTC)
BRIDGE = "Jembatan di Desa Semayap ambruk, warga tidak bisa lewat ke pasar"
BRIDGE_2 = "jembatan desa semayap ambruk!! warga gk bisa lewat ke pasar tlg"


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    SQLModel.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


def row(n, text, hours_ago=1.0):
    return ComplaintRow(
        kind="case",
        tracking_no=f"ADU-0000-{n:04d}",
        channel="tg",
        external_id=str(n),
        received_at=NOW - timedelta(hours=hours_ago),
        reporter_chat_id=str(n),
        original_text=text,
        clean_text=text,
        raw_format="json",
    )


def test_the_pipeline_stores_the_key_and_a_restart_links_from_it(sessions):
    with sessions() as s:
        deduper = RowDeduper.open(s, DedupeSettings())
        first = row(1, BRIDGE, hours_ago=3)
        s.add(first)
        assert deduper.find(s, first) is None
        deduper.add(first)
        s.commit()
        assert (
            first.dedupe_key
            == f"{KEY_VERSION}:jembatan desa semayap ambruk warga pasar"
        )
    with sessions() as s:
        # the text is not read again: only the stored key counts
        stored = s.get(ComplaintRow, 1)
        stored.clean_text = "something else entirely"
        s.commit()
        deduper = RowDeduper.open(s, DedupeSettings())
        second = row(2, BRIDGE_2)
        s.add(second)
        link = deduper.find(s, second)
        assert link is not None
        assert link.target_id == 1
        apply_link(second, link)
        s.commit()


@pytest.mark.parametrize("key", [None, "0:obsolete tokens of an older version"])
def test_a_missing_or_outdated_key_is_computed_from_the_text(sessions, key):
    with sessions() as s:
        old = row(1, BRIDGE, hours_ago=3)
        old.dedupe_key = key
        s.add(old)
        s.commit()
        index = rebuild_index(s, DedupeSettings())
        new = row(2, BRIDGE_2)
        s.add(new)
        s.flush()
        link = index.find(case_from_row(new))
        assert link is not None
        assert link.target_id == 1
