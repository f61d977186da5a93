"""`dengar status` through the bare driver says what it says through SQLAlchemy,
on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dengar.status_report import cases, status_report
from storage.engine import make_engine, session_factory
from storage.migrate import upgrade
from storage.quick_read import SessionReader, open_reader
from storage.tables import ChannelLease, ChannelState, ComplaintRow, utcnow

WHEN = datetime(2026, 12, 7, 15, 21, tzinfo=UTC)


def _case(number: str, minutes: int, **fields: object) -> ComplaintRow:
    values: dict[str, object] = {
        "kind": "case",
        "tracking_no": number,
        "channel": "surat",
        "external_id": f"ext-{number}",
        "received_at": WHEN + timedelta(minutes=minutes),
        "original_text": "Lampu jalan mati",
        "clean_text": "Lampu jalan mati",
        "agency_code": "PUPR",
        "raw_format": "eml",
    }
    values.update(fields)
    return ComplaintRow(**values)


def test_the_driver_and_the_session_give_the_same_report(
    database_url, make_settings
) -> None:
    settings = make_settings(database_url=database_url)
    engine = make_engine(database_url)
    upgrade(engine)
    with session_factory(engine)() as session:
        first = _case("KTB-1", 0)
        session.add(first)
        session.flush()
        # linked by hand: no score
        session.add(_case("KTB-2", 5, duplicate_of_id=first.id, status="verified"))
        session.add(
            ChannelState(
                name="surat",
                last_poll_at=WHEN,
                last_error="timeout",
                consecutive_failures=2,
            )
        )
        session.add(
            ChannelLease(
                name="surat", holder="a:1", expires_at=utcnow() + timedelta(minutes=1)
            )
        )
        session.commit()
        through_session = status_report(SessionReader(session), settings)
        cases_through_session = cases(session)
    engine.dispose()

    reader = open_reader(database_url)
    assert reader is not None
    try:
        through_driver = status_report(reader, settings)
        cases_through_driver = cases(reader)
    finally:
        reader.close()

    assert through_driver == through_session
    assert cases_through_driver == cases_through_session
    [channel] = through_driver["channels"]
    assert channel["healthy"] is False
    assert channel["polled_by"] == "a:1"
    assert channel["last_poll_at"] == "2026-12-07T15:21:00+00:00"
    assert [c["tracking_no"] for c in cases_through_driver] == ["KTB-2", "KTB-1"]
    assert cases_through_driver[0]["duplicate_of"] == "KTB-1"
    assert cases_through_driver[0]["duplicate_score"] is None
    assert through_driver["complaints"]["duplicates"] == 1


def test_a_database_that_does_not_exist_yet_is_left_to_sqlalchemy(tmp_path) -> None:
    assert open_reader(f"sqlite:///{tmp_path / 'new.db'}") is None
    assert open_reader("mysql://u@localhost/dengar") is None
