"""Triage of social posts on SQLite: list, accept into a routed case, dismiss;
and the ``dengar triage`` commands staff use."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlmodel import Session, SQLModel, select

from dengar.cli.triage import TriageBackend, triage
from dengar.triage import TriageError, accept, dismiss, find_case, list_triage
from dispatcher.outbox.queue import enqueue_agency
from storage.engine import make_engine, session_factory
from storage.tables import AuditEvent, ComplaintRow, OutboxRow, StatusEvent

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def route_and_enqueue(session: Session, row: ComplaintRow) -> None:
    enqueue_agency(session, row, row.agency_code, 10, f"agency:{row.id}")


@pytest.fixture
def sessions(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'dengar.db'}")
    SQLModel.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


def add(session, n, *, channel="x", status="triage", agency="PUPR", kind="case"):
    row = ComplaintRow(
        kind=kind,
        tracking_no=f"ADU-0000-000{n}",
        channel=channel,
        external_id=str(1000 + n),
        received_at=T0 + timedelta(minutes=n),
        reporter_handle=f"warga{n}",
        original_text=f"jalan rusak nomor {n}",
        clean_text=f"jalan rusak nomor {n}",
        status=status,
        agency_code=agency,
        routing_reason="keyword jalan",
        raw_format="json",
    )
    session.add(row)
    session.commit()
    return row


def outbox(session):
    return session.exec(select(OutboxRow)).all()


def events(session, row):
    query = select(StatusEvent).where(StatusEvent.complaint_id == row.id)
    return session.exec(query).all()


def test_lists_only_triage_cases_oldest_first_and_by_channel(sessions):
    with sessions() as s:
        add(s, 3)
        add(s, 1)
        add(s, 2, channel="x-hashtag")
        add(s, 4, status="received")
        add(s, 5, kind="follow_up")
        assert [r.external_id for r in list_triage(s)] == ["1001", "1002", "1003"]
        assert [r.external_id for r in list_triage(s, "x")] == ["1001", "1003"]
        assert list_triage(s, "telegram") == []


def test_accept_routes_and_queues_the_case(sessions):
    with sessions() as s:
        row = add(s, 1)
        accept(s, "ADU-0000-0001", None, "staff:rina", route_and_enqueue)
        s.commit()
        assert row.status == "received"
        [queued] = outbox(s)
        assert (queued.kind, queued.target, queued.complaint_id) == (
            "agency",
            "PUPR",
            row.id,
        )
        [event] = events(s, row)
        assert (event.status, event.actor) == ("received", "staff:rina")
        assert list_triage(s) == []


def test_accept_with_agency_override_keeps_why(sessions):
    with sessions() as s:
        row = add(s, 1)
        accept(
            s,
            str(row.id),
            "dinkes",
            "staff:rina",
            route_and_enqueue,
            agencies={"PUPR", "DINKES"},
        )
        assert row.agency_code == "DINKES"
        assert "staff:rina" in row.routing_reason
        assert "PUPR" in row.routing_reason
        assert outbox(s)[0].target == "DINKES"


def test_unknown_agency_changes_nothing(sessions):
    with sessions() as s:
        row = add(s, 1)
        with pytest.raises(TriageError, match="did you mean DINKES"):
            accept(
                s,
                row.id,
                "DINKS",
                "staff",
                route_and_enqueue,
                agencies={"PUPR", "DINKES"},
            )
        assert row.status == "triage"
        assert outbox(s) == []


def test_dismiss_keeps_the_reason(sessions):
    with sessions() as s:
        row = add(s, 1)
        dismiss(s, row.id, "promosi, bukan pengaduan", "staff:rina")
        s.commit()
        assert row.status == "dismissed"
        [event] = events(s, row)
        assert (event.status, event.note) == ("dismissed", "promosi, bukan pengaduan")
        assert outbox(s) == []


def test_dismiss_needs_a_reason(sessions):
    with sessions() as s:
        row = add(s, 1)
        with pytest.raises(TriageError, match="reason is required"):
            dismiss(s, row.id, "  ", "staff")


def test_decided_posts_cannot_be_decided_again(sessions):
    with sessions() as s:
        row = add(s, 1)
        dismiss(s, row.id, "spam", "staff")
        with pytest.raises(TriageError, match=r"not awaiting triage .*dismissed"):
            accept(s, row.id, None, "staff", route_and_enqueue)
        with pytest.raises(TriageError, match="not awaiting triage"):
            dismiss(s, row.id, "spam", "staff")


def test_lookup_by_tracking_number_forgives_typos(sessions):
    with sessions() as s:
        row = add(s, 1)
        assert find_case(s, "adu-oooo-ooo1").id == row.id
        assert find_case(s, "ADU00000001").id == row.id
        with pytest.raises(TriageError, match="no case with id or tracking number"):
            find_case(s, "ADU-9999-9999")
        with pytest.raises(TriageError, match="'999'"):
            find_case(s, "999")


# -- the commands ---------------------------------------------------------------


def invoke(sessions, *args):
    backend = TriageBackend(
        sessions=sessions,
        route_and_enqueue=route_and_enqueue,
        agencies={"PUPR", "DINKES"},
    )
    return CliRunner().invoke(triage, list(args), obj={"triage_backend": backend})


def test_cli_lists_accepts_and_dismisses(sessions):
    with sessions() as s:
        add(s, 1)
        add(s, 2)
        add(s, 3, channel="x-hashtag")

    listed = invoke(sessions)
    assert listed.exit_code == 0, listed.output
    assert "ADU-0000-0001" in listed.output
    assert "3 awaiting triage" in listed.output
    only = invoke(sessions, "--channel", "x-hashtag", "--json")
    assert [json.loads(line)["tracking_no"] for line in only.output.splitlines()] == [
        "ADU-0000-0003"
    ]

    done = invoke(
        sessions, "accept", "ADU-0000-0001", "--agency", "DINKES", "--actor", "cli:ani"
    )
    assert done.exit_code == 0, done.output
    assert "accepted ADU-0000-0001 for DINKES" in done.output
    gone = invoke(
        sessions, "dismiss", "ADU-0000-0002", "--reason", "iklan", "--actor", "cli:ani"
    )
    assert gone.exit_code == 0, gone.output

    with sessions() as s:
        assert [r.tracking_no for r in list_triage(s)] == ["ADU-0000-0003"]
        assert [o.target for o in outbox(s)] == ["DINKES"]
        # admins read both at /audit, as they read the dashboard's decisions
        entries = s.exec(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.actor, e.action, e.target, e.detail) for e in entries] == [
        ("cli:ani", "triage_accept", "ADU-0000-0001", "DINKES"),
        ("cli:ani", "triage_dismiss", "ADU-0000-0002", "iklan"),
    ]
    assert "Nothing awaits triage" in invoke(sessions, "--channel", "x").output


def test_cli_errors_are_clear_and_change_nothing(sessions):
    with sessions() as s:
        add(s, 1)
    bad = invoke(sessions, "accept", "ADU-0000-0001", "--agency", "NOPE")
    assert bad.exit_code == 1
    assert "unknown agency 'NOPE'" in bad.output
    missing = invoke(sessions, "dismiss", "42")
    assert missing.exit_code == 2
    assert "--reason" in missing.output
    with sessions() as s:
        assert len(list_triage(s)) == 1
        assert outbox(s) == []
        assert s.exec(select(AuditEvent)).all() == []  # nothing was done


def test_cli_triage_also_lists_cases_an_agency_returned_like_the_dashboard(sessions):
    """One triage: `dengar triage` shows what /triase shows."""
    with sessions() as s:
        add(s, 1)
        add(s, 2, channel="email", status="rerouted", agency=None)
        returned = s.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == "ADU-0000-0002")
        ).one()
        returned.routing_reason = "dialihkan oleh DISDUKCAPIL: wewenang Inspektorat"
        s.add(returned)
        s.commit()
    listed = invoke(sessions, "--json")
    items = {
        json.loads(line)["tracking_no"]: json.loads(line)
        for line in listed.output.splitlines()
    }
    assert items["ADU-0000-0001"]["why"] == "post"
    assert items["ADU-0000-0002"]["why"] == "returned"
    table = invoke(sessions)
    assert "2 awaiting triage" in table.output
    # the returned case must be given its right agency; then it is verified
    assert invoke(sessions, "accept", "ADU-0000-0002").exit_code == 1
    refused = invoke(sessions, "dismiss", "ADU-0000-0002", "--reason", "x")
    assert refused.exit_code == 1
    done = invoke(sessions, "accept", "ADU-0000-0002", "--agency", "DINKES")
    assert done.exit_code == 0, done.output
    with sessions() as s:
        row = find_case(s, "ADU-0000-0002")
        assert (row.status, row.agency_code) == ("verified", "DINKES")
        assert [o.target for o in outbox(s)] == ["DINKES"]


def test_an_unrouted_case_waits_in_triage_and_its_reporter_is_acknowledged(tmp_path):
    """With routing.unmatched: triage nothing is "diteruskan" to the
    default agency: staff choose."""
    from config.settings import Settings
    from contracts.channel import FetchResult
    from contracts.records import InboundMessage, Reporter
    from dengar.app import App
    from dengar.triage import triage_queue

    settings = Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
            "agencies": [
                {"code": "DISKOMINFO", "name": "Diskominfo"},
                {"code": "PUPR", "name": "PUPR"},
            ],
            "routing": {
                "default_agency": "DISKOMINFO",
                "unmatched": "triage",
                "rules": [{"agency": "PUPR", "keywords": ["jalan"]}],
            },
        }
    )
    app = App.open(settings)
    app.pipeline.repliers = frozenset({"bot"})
    app.pipeline.replies = type(app.pipeline.replies)(
        settings, settings.channel_policies(), frozenset({"bot"})
    )

    def item(n: int, text: str) -> InboundMessage:
        return InboundMessage(
            channel="bot",
            external_id=str(n),
            received_at=T0,
            reporter=Reporter(chat_id=str(100 + n), name="Warga"),
            text=text,
            raw=b"{}",
            raw_format="json",
        )

    app.store(
        "bot",
        FetchResult(
            items=[item(1, "jalan berlubang"), item(2, "lampu taman mati")],
            cursor="2",
        ),
    )
    with app.sessions() as s:
        rows = {r.external_id: r for r in s.exec(select(ComplaintRow)).all()}
        assert rows["1"].status == "received"
        assert rows["2"].status == "triage"
        assert rows["2"].agency_code == "DISKOMINFO"  # suggested
        waiting = triage_queue(s)
        assert [r.external_id for r in waiting] == ["2"]
        sent = s.exec(select(OutboxRow)).all()
        assert sorted((o.kind, o.target) for o in sent if o.kind == "agency") == [
            ("agency", "PUPR")
        ]
        acked = {o.complaint_id for o in sent if o.kind == "reply"}
        assert rows["2"].id in acked  # the citizen still hears from us


def test_the_cli_offers_exactly_the_comment_reply_modes():
    from dengar.cli.triage import accept_command
    from dengar.comment_replies import MODES

    [option] = [p for p in accept_command.params if p.name == "reply_mode"]
    assert tuple(option.type.choices) == MODES
