"""Duplicate links in the database: store, rebuild after restart, manual
link and unlink (SQLite, the embedded default)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from config.dedupe_settings import DedupeSettings
from normalizer.dedupe.database import (
    LinkError,
    apply_link,
    case_from_row,
    find_case,
    link_manually,
    rebuild_index,
    supporters,
    unlink,
    unlinked_pairs,
)
from normalizer.dedupe.index import DuplicateIndex
from normalizer.dedupe.rows import RowDeduper
from normalizer.mime import parse_mail
from storage.engine import make_engine, session_factory
from storage.tables import ComplaintRow

NOW = datetime.now(UTC)
BRIDGE = "Jembatan di Desa Semayap ambruk, warga tidak bisa lewat ke pasar"
BRIDGE_2 = "jembatan desa semayap ambruk!! warga gk bisa lewat ke pasar tlg"
BRIDGE_3 = "Tolong jembatan Semayap ambruk, warga tidak bisa lewat ke pasar"
POTHOLE = "Jalan Berangas depan SDN 3 berlubang besar, bahaya buat motor"


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'd.db'}")
    SQLModel.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


def store(session, index, n, text, *, hours_ago=1.0, chat="1", status="received"):
    row = ComplaintRow(
        kind="case",
        tracking_no=f"ADU-0000-{n:04d}",
        channel="tg",
        external_id=str(n),
        received_at=NOW - timedelta(hours=hours_ago),
        reporter_chat_id=chat,
        original_text=text,
        clean_text=text,
        raw_format="json",
        status=status,
    )
    session.add(row)
    session.flush()
    case = case_from_row(row)
    link = index.find(case) if index is not None else None
    if link is not None:
        apply_link(row, link)
    session.commit()
    if index is not None:
        index.add(case, link.target_id if link else None)
    return row


def test_pipeline_flow_links_and_counts_supporters(sessions):
    index = DuplicateIndex()
    with sessions() as s:
        first = store(s, index, 1, BRIDGE, hours_ago=5, chat="1")
        second = store(s, index, 2, BRIDGE_2, hours_ago=4, chat="2")
        third = store(s, index, 3, BRIDGE_3, hours_ago=3, chat="3")
        other = store(s, index, 4, POTHOLE, hours_ago=2, chat="4")
        assert second.duplicate_of_id == first.id
        assert third.duplicate_of_id == first.id
        assert second.duplicate_score >= 75
        assert "token_sort_ratio" in second.duplicate_reason
        assert other.duplicate_of_id is None
        assert supporters(s, first.id) == 2


def test_rebuilt_index_keeps_links_and_skips_closed_and_old_cases(sessions):
    with sessions() as s:
        store(s, DuplicateIndex(), 1, BRIDGE, hours_ago=24 * 40)  # outside window
        store(s, None, 2, BRIDGE, hours_ago=5, status="closed")
        open_case = store(s, None, 3, BRIDGE, hours_ago=4)
    with sessions() as s:
        index = rebuild_index(s, DedupeSettings())
        assert len(index) == 1
        assert 3 in index
        new = store(s, index, 4, BRIDGE_2, hours_ago=1, chat="9")
        assert new.duplicate_of_id == open_case.id


def test_unlink_is_recorded_and_never_redone_after_restart(sessions):
    index = DuplicateIndex()
    with sessions() as s:
        store(s, index, 1, BRIDGE, hours_ago=5, chat="1")
        second = store(s, index, 2, BRIDGE_2, hours_ago=4, chat="2")
        assert second.duplicate_of_id == 1
        unlink(s, second.id, "staf-budi", index)
        s.commit()
        assert second.duplicate_of_id is None
        assert [
            (u.complaint_id, u.other_id, u.actor) for u in unlinked_pairs(s, 2)
        ] == [(2, 1, "staf-budi")]
    with sessions() as s:
        rebuilt = rebuild_index(s, DedupeSettings())
        row = s.get(ComplaintRow, 2)
        assert rebuilt.find(case_from_row(row)) is None
        assert rebuilt.is_forbidden(2, 1)


def test_manual_link_moves_duplicates_and_lifts_an_unlink(sessions):
    index = DuplicateIndex()
    with sessions() as s:
        store(s, index, 1, BRIDGE, hours_ago=5, chat="1")
        store(s, index, 2, BRIDGE_2, hours_ago=4, chat="2")
        store(s, index, 3, POTHOLE, hours_ago=3, chat="3")
        unlink(s, 2, "staf", index)
        # staff decide: the bridge case 1 belongs to case 3 after all; 2 back to 1
        change = link_manually(s, 2, 1, "staf", index)
        assert change.primary_id == 1
        assert unlinked_pairs(s, 2) == []
        change = link_manually(s, 1, 3, "staf", index)
        s.commit()
        assert change.moved == (2,)
        assert s.get(ComplaintRow, 1).duplicate_of_id == 3
        assert s.get(ComplaintRow, 2).duplicate_of_id == 3
        assert "linked by hand by staf" in s.get(ComplaintRow, 1).duplicate_reason
        assert index.primary_of(2) == 3


def test_manual_link_refuses_self_and_cycles(sessions):
    index = DuplicateIndex()
    with sessions() as s:
        store(s, index, 1, BRIDGE, hours_ago=5, chat="1")
        store(s, index, 2, BRIDGE_2, hours_ago=4, chat="2")
        with pytest.raises(LinkError, match="itself"):
            link_manually(s, 1, 1, "staf")
        with pytest.raises(LinkError, match="its own duplicate"):
            link_manually(s, 1, 2, "staf")  # 2 is a duplicate of 1
        with pytest.raises(LinkError, match="not linked"):
            unlink(s, 1, "staf")
        with pytest.raises(LinkError, match="no complaint"):
            link_manually(s, 1, 99, "staf")


def test_find_case_by_tracking_number(sessions):
    with sessions() as s:
        store(s, None, 7, BRIDGE)
        assert find_case(s, "ADU-0000-0007").id is not None
        assert find_case(s, "ADU-0000-9999") is None


INBOX = Path(__file__).resolve().parents[3] / "examples" / "inbox" / "new"


def test_example_inbox_near_identical_pair_is_linked_and_nothing_else(sessions):
    """The two reports of the hole in Jalan Raya Stagen (different people,
    different words, signatures) become one case with a visible score; the
    other complaints of the example inbox stay cases of their own."""
    index = DuplicateIndex()
    rows = []
    with sessions() as s:
        for n, path in enumerate(sorted(INBOX.iterdir()), 1):
            mail = parse_mail(path.read_bytes())
            if "Auto-Submitted" in mail.headers:
                continue
            row = ComplaintRow(
                kind="case",
                tracking_no=f"ADU-0000-{n:04d}",
                channel="mail",
                external_id=path.name,
                received_at=NOW - timedelta(hours=20 - n),
                reporter_name=mail.from_name,
                reporter_email=mail.from_address,
                subject=mail.subject,
                original_text=mail.text,
                clean_text=mail.text,
                raw_format="rfc822",
            )
            s.add(row)
            s.flush()
            case = case_from_row(row)
            link = index.find(case)
            if link is not None:
                apply_link(row, link)
            index.add(case, link.target_id if link else None)
            rows.append(row)
        s.commit()
        linked = [(r.tracking_no, r.duplicate_of_id) for r in rows if r.duplicate_of_id]
        first, second = rows[0], rows[1]
        assert "Stagen" in first.subject
        assert linked == [(second.tracking_no, first.id)]
        assert second.duplicate_score >= 75
        assert f"with {first.tracking_no}" in second.duplicate_reason


def test_row_deduper_is_what_the_pipeline_calls(sessions):
    with sessions() as s:
        store(s, None, 1, BRIDGE, hours_ago=5, chat="1")
        deduper = RowDeduper.open(s, DedupeSettings())
        row = ComplaintRow(
            kind="case",
            tracking_no="ADU-0000-0002",
            channel="tg",
            external_id="2",
            received_at=NOW,
            reporter_chat_id="2",
            original_text=BRIDGE_2,
            clean_text=BRIDGE_2,
            raw_format="json",
        )
        s.add(row)
        link = deduper.find(s, row)  # flushes the row to get its id
        assert row.id is not None
        assert link.target_id == 1
        apply_link(row, link)
        deduper.add(row)
        s.commit()
        assert row.id in deduper.index
        assert deduper.index.primary_of(row.id) == 1
        deduper.forget(row.id)
        assert row.id not in deduper.index
