"""The agency API: every endpoint keeps one agency out of another's cases."""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage.tables import ComplaintRow, OutboxRow, StatusEvent


def h(key):
    return {"X-API-Key": key}


def test_without_or_with_a_wrong_key_nothing_is_answered(client, cases, keys):
    for headers in ({}, h("dgk_not-a-real-key"), h(keys["PUPR"] + "x")):
        response = client.get("/api/v1/cases", headers=headers)
        assert response.status_code == 401
        assert "API key" in response.json()["detail"]


def test_queue_lists_only_my_open_cases(client, cases, keys):
    response = client.get("/api/v1/cases", headers=h(keys["PUPR"]))
    assert response.status_code == 200
    numbers = {c["tracking_no"] for c in response.json()}
    assert numbers == {
        cases["pupr"],
        cases["pupr_anonim"],
        cases["pupr_rahasia"],
        cases["late"],
    }
    other = client.get("/api/v1/cases", headers=h(keys["DISDUKCAPIL"])).json()
    assert {c["tracking_no"] for c in other} == {
        cases["dukcapil"],
        cases["dukcapil_rahasia"],
    }


def test_queue_marks_overdue_cases(client, cases, keys):
    data = {
        c["tracking_no"]: c
        for c in client.get("/api/v1/cases", headers=h(keys["PUPR"])).json()
    }
    assert data[cases["late"]]["overdue"] is True
    assert data[cases["pupr"]]["overdue"] is False
    assert data[cases["pupr"]]["sla_due"] == "2026-12-03"


def test_unknown_status_filter_is_explained(client, cases, keys):
    response = client.get("/api/v1/cases?status=done", headers=h(keys["PUPR"]))
    assert response.status_code == 400
    assert "status 'done' tidak dikenal" in response.json()["detail"]


OTHER_AGENCY_CALLS = [
    ("get", "/api/v1/cases/{no}", None),
    ("get", "/api/v1/cases/{no}/attachments/1", None),
    ("post", "/api/v1/cases/{no}/status", {"status": "in_progress", "note": "x"}),
    ("post", "/api/v1/cases/{no}/reject", {"message": "bukan masalah"}),
    ("post", "/api/v1/cases/{no}/bukan-wewenang", {"note": "bukan kami"}),
]


@pytest.mark.parametrize(("method", "path", "body"), OTHER_AGENCY_CALLS)
@pytest.mark.parametrize("target", ["dukcapil", "dukcapil_rahasia"])
def test_an_agency_cannot_read_or_change_another_agencys_case(
    client, dengar, cases, keys, method, path, body, target
):
    number = cases[target]
    url = path.format(no=number)
    response = client.request(method, url, headers=h(keys["PUPR"]), json=body)
    assert response.status_code == 404
    assert number not in response.text or "tidak ada kasus" in response.text
    assert "Keluhan" not in response.text
    with dengar.sessions() as session:
        row = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).one()
        assert row.status == "dispatched"
        assert row.agency_code == "DISDUKCAPIL"
        assert (
            session.exec(
                select(StatusEvent).where(StatusEvent.complaint_id == row.id)
            ).all()
            == []
        )
    # the owner can
    if method == "get" and "attachments" not in path:
        mine = client.get(url, headers=h(keys["DISDUKCAPIL"]))
        assert mine.status_code == 200


def test_a_case_of_mine_with_its_attachment(client, cases, keys):
    case = client.get(
        f"/api/v1/cases/{cases['dukcapil']}", headers=h(keys["DISDUKCAPIL"])
    ).json()
    assert case["text"] == f"Keluhan {cases['dukcapil']}"
    assert case["reporter"]["email"] == "adu-bbbb-0001@warga.example"
    [att] = case["attachments"]
    data = client.get(att["url"], headers=h(keys["DISDUKCAPIL"]))
    assert data.status_code == 200
    assert data.content == b"\x89PNG"
    assert data.headers["content-disposition"].startswith("attachment;")
    assert data.headers["x-content-type-options"] == "nosniff"


def test_anonim_hides_the_reporter_and_masks_personal_data(client, cases, keys):
    case = client.get(
        f"/api/v1/cases/{cases['pupr_anonim']}", headers=h(keys["PUPR"])
    ).json()
    assert case["reporter"] == {
        "name": "(disembunyikan)",
        "email": None,
        "phone": None,
        "handle": None,
    }
    assert "6302011203900004" not in case["text"]
    assert "081234567890" not in case["text"]
    assert "adu-aaaa-0002@warga.example" not in str(case)


def test_rahasia_is_visible_to_the_assigned_agency(client, cases, keys):
    response = client.get(
        f"/api/v1/cases/{cases['pupr_rahasia']}", headers=h(keys["PUPR"])
    )
    assert response.status_code == 200
    assert response.json()["reporter"]["name"] == "(disembunyikan)"


def test_status_change_is_recorded_and_the_citizen_told_in_one_commit(
    client, dengar, cases, keys
):
    number = cases["pupr"]
    response = client.post(
        f"/api/v1/cases/{number}/status",
        headers=h(keys["PUPR"]),
        json={
            "status": "in_progress",
            "message": "tim sudah ke lokasi",
            "note": "alat berat dipinjam dari kecamatan",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "in_progress"
    with dengar.sessions() as session:
        row = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).one()
        assert row.status == "in_progress"
        event = session.exec(
            select(StatusEvent)
            .where(StatusEvent.complaint_id == row.id)
            .order_by(StatusEvent.id.desc())
        ).first()
        assert (event.status, event.note, event.actor) == (
            "in_progress",
            "alat berat dipinjam dari kecamatan",
            "api:PUPR",
        )
        [reply] = session.exec(
            select(OutboxRow).where(
                OutboxRow.kind == "reply", OutboxRow.complaint_id == row.id
            )
        ).all()
        assert "tim sudah ke lokasi" in reply.payload
        assert "alat berat" not in reply.payload  # the note stays internal
        assert reply.recipient == "adu-aaaa-0001@warga.example"


def test_an_agency_cannot_set_what_is_diskominfos_to_decide(client, cases, keys):
    response = client.post(
        f"/api/v1/cases/{cases['pupr']}/status",
        headers=h(keys["PUPR"]),
        json={"status": "closed"},
    )
    assert response.status_code == 422


def test_an_impossible_transition_is_a_conflict_with_the_reason(client, cases, keys):
    url = f"/api/v1/cases/{cases['pupr']}/status"
    assert (
        client.post(
            url, headers=h(keys["PUPR"]), json={"status": "resolved", "note": "ok"}
        ).status_code
        == 200
    )
    again = client.post(url, headers=h(keys["PUPR"]), json={"status": "resolved"})
    assert again.status_code == 409
    assert "sudah berstatus selesai" in again.json()["detail"]


def test_reject_needs_a_reason(client, cases, keys):
    url = f"/api/v1/cases/{cases['pupr']}/reject"
    assert (
        client.post(url, headers=h(keys["PUPR"]), json={"message": ""}).status_code
        == 422
    )
    # an internal note alone is no reason the citizen can read
    assert (
        client.post(url, headers=h(keys["PUPR"]), json={"note": "x"}).status_code == 422
    )
    done = client.post(
        url,
        headers=h(keys["PUPR"]),
        json={"message": "laporan tidak lengkap", "note": "pelapor iseng"},
    )
    assert done.json()["status"] == "rejected"


def test_bukan_wewenang_sends_the_case_back_to_triage(client, dengar, cases, keys):
    number = cases["pupr"]
    response = client.post(
        f"/api/v1/cases/{number}/bukan-wewenang",
        headers=h(keys["PUPR"]),
        json={"note": "jalan provinsi, bukan kabupaten"},
    )
    assert response.status_code == 200
    assert response.json() == {**response.json(), "status": "rerouted", "agency": None}
    # it left PUPR's queue, and PUPR can no longer see it
    queue = client.get("/api/v1/cases", headers=h(keys["PUPR"])).json()
    assert number not in {c["tracking_no"] for c in queue}
    assert (
        client.get(f"/api/v1/cases/{number}", headers=h(keys["PUPR"])).status_code
        == 404
    )
    with dengar.sessions() as session:
        row = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).one()
        assert "jalan provinsi" in row.routing_reason


def test_rotating_a_key_revokes_the_old_one(client, dengar, cases, keys):
    from dengar.web.auth import rotate_api_key

    with dengar.sessions() as session:
        new = rotate_api_key(session, "PUPR")
        session.commit()
    assert client.get("/api/v1/cases", headers=h(keys["PUPR"])).status_code == 401
    assert client.get("/api/v1/cases", headers=h(new)).status_code == 200


def test_openapi_describes_the_agency_api(client):
    spec = client.get("/api/openapi.json").json()
    assert "/api/v1/cases/{tracking_no}/bukan-wewenang" in spec["paths"]
    assert "X-API-Key" in str(spec["components"]["securitySchemes"])
    assert not any(p.startswith("/kasus") for p in spec["paths"])
