"""The case page offers exactly the actions that would be accepted: what the
role may do and ``dispatcher.status.TRANSITIONS`` allows."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from contracts.records import CaseStatus
from dengar.web.actions import STATUS_ACTIONS, offered_actions
from dengar.web.auth import Principal
from dispatcher.status import StatusChangeError, check_transition
from storage.tables import AuditEvent, ComplaintRow
from tests.unit.web.conftest import csrf_of, login, make_case

ROLES = {
    "admin": Principal("admin", "admin", user_id=1),
    "staff": Principal("budi", "staff", user_id=2),
    "agency": Principal("pupr", "agency", "PUPR", user_id=3),
}


def forms(page: str) -> set[str]:
    return set(re.findall(r'action="/kasus/[^/"]+/status/([a-z-]+)"', page))


@pytest.mark.parametrize("status", list(CaseStatus))
@pytest.mark.parametrize("role", list(ROLES))
def test_offered_iff_the_role_may_and_the_transition_is_allowed(status, role):
    case = ComplaintRow(
        kind="case",
        channel="surat",
        external_id="x",
        received_at=None,
        original_text="",
        clean_text="",
        raw_format="json",
        status=status.value,
        agency_code="PUPR",
    )
    offered = {b.action for b in offered_actions(ROLES[role], case)}
    for action, (target, roles) in STATUS_ACTIONS.items():
        try:
            check_transition(status.value, target, "alasan", "pesan")
            allowed = role in roles
        except StatusChangeError:
            allowed = False
        assert (action in offered) == allowed, (status, role, action)


def test_a_resolved_case_offers_no_verification(client, dengar, users):
    # before: "Verifikasi" was offered on a resolved case and then refused
    with dengar.sessions() as session:
        make_case(session, "ADU-DDDD-0001", "PUPR", status="resolved")
        session.commit()
    login(client, "budi")
    page = client.get("/kasus/ADU-DDDD-0001").text
    assert forms(page) == {"proses", "tutup"}
    assert "Verifikasi" not in page
    assert 'id="reroute"' in page  # a resolved case may still go elsewhere


def test_every_offered_action_is_accepted(client, dengar, users):
    statuses = ["received", "verified", "dispatched", "in_progress", "rerouted"]
    with dengar.sessions() as session:
        for i, status in enumerate(statuses):
            make_case(session, f"ADU-EEEE-000{i}", "PUPR", status=status)
        session.commit()
    for name in ("budi", "pupr"):
        client.cookies.clear()
        login(client, name)
        for i, status in enumerate(statuses):
            number = f"ADU-EEEE-000{i}"
            page = client.get(f"/kasus/{number}")
            if page.status_code == 404:  # a rerouted case left the agency
                continue
            for action in forms(page.text):
                token = csrf_of(client, f"/kasus/{number}")
                answer = client.post(
                    f"/kasus/{number}/status/{action}",
                    data={
                        "csrf_token": token,
                        "note": "alasannya",
                        "message": "pesannya",
                    },
                )
                assert answer.status_code == 200
                assert "Gagal" not in answer.text, (name, status, action)
                with dengar.sessions() as session:
                    row = session.exec(
                        select(ComplaintRow).where(ComplaintRow.tracking_no == number)
                    ).one()
                    row.status = status  # back, for the next action
                    row.agency_code = "PUPR"
                    session.add(row)
                    session.commit()


def test_a_closed_or_rejected_case_offers_no_reroute(client, dengar, users):
    with dengar.sessions() as session:
        make_case(session, "ADU-FFFF-0001", "PUPR", status="closed")
        make_case(session, "ADU-FFFF-0002", "PUPR", status="rejected")
        session.commit()
    login(client, "budi")
    closed = client.get("/kasus/ADU-FFFF-0001").text
    assert forms(closed) == set()
    assert 'id="reroute"' not in closed
    rejected = client.get("/kasus/ADU-FFFF-0002").text
    assert forms(rejected) == {"verifikasi"}
    assert 'id="reroute"' not in rejected


def test_status_changes_and_reroutes_are_audited(client, dengar, users, cases):
    login(client, "budi")
    token = csrf_of(client, "/")
    number = cases["late"]
    client.post(f"/kasus/{number}/status/verifikasi", data={"csrf_token": token})
    client.post(
        f"/kasus/{number}/alihkan",
        data={"csrf_token": token, "agency": "DISDUKCAPIL", "note": "soal KTP"},
    )
    client.post(
        f"/kasus/{number}/duplikat", data={"csrf_token": token, "target": cases["pupr"]}
    )
    with dengar.sessions() as session:
        rows = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action != "login")
            .order_by(AuditEvent.id)
        ).all()
    assert [(r.actor, r.action, r.target, r.detail) for r in rows] == [
        ("web:budi", "case_status", number, "received -> verified"),
        ("web:budi", "case_reroute", number, "PUPR -> DISDUKCAPIL"),
        ("web:budi", "case_link", number, f"-> {cases['pupr']}"),
    ]
    assert rows[0].address == "testclient"
