"""Working-day SLA clocks."""

from datetime import UTC, date, datetime

from config.web_settings import SlaSettings
from dengar.sla import SlaPolicy, WorkingCalendar


def test_weekends_and_holidays_do_not_count():
    # Friday 2026-08-14; Monday 17 August is Independence Day
    calendar = WorkingCalendar([date(2026, 8, 17)])
    assert calendar.add_working_days(date(2026, 8, 14), 1) == date(2026, 8, 18)
    assert calendar.add_working_days(date(2026, 8, 14), 3) == date(2026, 8, 20)
    assert calendar.working_days_between(date(2026, 8, 14), date(2026, 8, 20)) == 3
    assert calendar.working_days_between(date(2026, 8, 20), date(2026, 8, 14)) == -3


def test_verify_clock_overdue_after_three_working_days():
    policy = SlaPolicy(SlaSettings(), "Asia/Makassar")
    received = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # Friday 10:00 WITA
    on_time = policy.clock("received", received, datetime(2026, 11, 25, 8, tzinfo=UTC))
    assert on_time is not None
    assert on_time.kind == "verify"
    assert on_time.due == date(2026, 11, 25)
    assert not on_time.overdue
    assert on_time.days_left == 0
    late = policy.clock("received", received, datetime(2026, 11, 26, 1, tzinfo=UTC))
    assert late is not None
    assert late.overdue
    assert late.days_left == -1


def test_clock_uses_local_date_not_utc():
    # 23:30 UTC on Thursday is already Friday 07:30 in Makassar
    policy = SlaPolicy(SlaSettings(verify=1), "Asia/Makassar")
    clock = policy.clock(
        "received",
        datetime(2026, 11, 19, 23, 30, tzinfo=UTC),
        datetime(2026, 11, 20, tzinfo=UTC),
    )
    assert clock is not None
    assert clock.started == date(2026, 11, 20)
    assert clock.due == date(2026, 11, 23)


def test_configured_limits_and_statuses_without_clock():
    policy = SlaPolicy(SlaSettings(follow_up=2, auto_close=4), "UTC")
    since = datetime(2026, 11, 23, 9, tzinfo=UTC)  # Monday
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    assert policy.clock("dispatched", since, now).due == date(2026, 11, 25)
    assert policy.clock("resolved", since, now).due == date(2026, 11, 27)
    assert policy.clock("in_progress", since, now) is None
    assert policy.clock("closed", since, now) is None


def test_auto_close_closes_only_silent_resolved_cases(dengar):
    from datetime import timedelta

    from sqlmodel import select

    from dengar.sla import auto_close
    from storage.tables import ComplaintRow, StatusEvent
    from tests.unit.web.conftest import make_case

    now = datetime(2026, 11, 27, 3, tzinfo=UTC)
    resolved_at = now - timedelta(days=20)
    told = []
    with dengar.sessions() as session:
        silent = make_case(session, "ADU-SSSS-0001", "PUPR", status="resolved")
        answered = make_case(session, "ADU-SSSS-0002", "PUPR", status="resolved")
        recent = make_case(session, "ADU-SSSS-0003", "PUPR", status="resolved")
        for row, at in ((silent, resolved_at), (answered, resolved_at), (recent, now)):
            session.add(
                StatusEvent(
                    complaint_id=row.id,
                    status="resolved",
                    actor="api:PUPR",
                    created_at=at,
                )
            )
        make_case(
            session,
            "ADU-SSSS-0004",
            None,
            kind="follow_up",
            tracking_no=None,
            external_id="reply-1",
            follow_up_of_id=answered.id,
            received_at=resolved_at + timedelta(days=1),
        )
        session.flush()
        policy = SlaPolicy(SlaSettings(), "Asia/Makassar")
        closed = auto_close(
            session, policy, now, lambda row, text: told.append((row.tracking_no, text))
        )
        session.commit()
        assert closed == ["ADU-SSSS-0001"]
        statuses = {
            r.tracking_no: r.status
            for r in session.exec(select(ComplaintRow)).all()
            if r.tracking_no
        }
    assert statuses == {
        "ADU-SSSS-0001": "closed",
        "ADU-SSSS-0002": "resolved",
        "ADU-SSSS-0003": "resolved",
    }
    assert told[0][0] == "ADU-SSSS-0001"
