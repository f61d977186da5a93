"""`dengar status` shows which worker polls each channel."""

from __future__ import annotations

from datetime import timedelta

from dengar.status_report import status_report
from storage.engine import make_engine, session_factory
from storage.migrate import upgrade
from storage.tables import ChannelLease, utcnow


def test_live_leases_name_the_worker_and_expired_ones_do_not(make_settings) -> None:
    settings = make_settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    now = utcnow()
    with session_factory(engine)() as session:
        session.add(
            ChannelLease(
                name="surat", holder="a:1", expires_at=now + timedelta(seconds=30)
            )
        )
        session.add(
            ChannelLease(
                name="worker:a:1", holder="a:1", expires_at=now + timedelta(seconds=30)
            )
        )
        session.add(
            ChannelLease(
                name="worker:b:2", holder="b:2", expires_at=now - timedelta(seconds=1)
            )
        )
        session.commit()
        report = status_report(session, settings)
    engine.dispose()
    assert report["channels"][0]["polled_by"] == "a:1"
    assert report["workers"] == ["a:1"]  # b:2 stopped renewing: not counted
