"""Duplicates on the dashboard and in the agency API (issue 16, item 7): an
agency sees the problem once with its supporters, nobody acts on a
duplicate separately, and a duplicate has no deadline of its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from storage.tables import ComplaintRow
from tests.unit.web.conftest import NOW, csrf_of, login, make_case

PRIMARY, DUPLICATE = "ADU-DDDD-0001", "ADU-DDDD-0002"


@pytest.fixture
def linked(dengar, web):
    """A PUPR case and a later report of it, linked as its duplicate."""
    with dengar.sessions() as session:
        primary = make_case(session, PRIMARY, "PUPR")
        make_case(
            session,
            DUPLICATE,
            "PUPR",
            channel="bot",
            received_at=NOW - timedelta(days=20),  # its own clock would be late
            status="received",
            duplicate_of_id=primary.id,
            duplicate_score=91.0,
        )
        session.commit()


def status_of(dengar, number):
    with dengar.sessions() as session:
        row = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == number)
        ).one()
        return row.status


def test_the_api_lists_the_problem_once_with_its_supporters(client, keys, linked):
    listed = client.get("/api/v1/cases", headers={"X-API-Key": keys["PUPR"]}).json()
    numbers = [c["tracking_no"] for c in listed]
    assert PRIMARY in numbers
    assert DUPLICATE not in numbers
    [primary] = [c for c in listed if c["tracking_no"] == PRIMARY]
    assert primary["supporters"] == 1
    [supporter] = primary["supporter_reports"]
    assert supporter["tracking_no"] == DUPLICATE
    assert supporter["channel"] == "bot"
    assert supporter["received_at"].startswith(
        (NOW - timedelta(days=20)).date().isoformat()
    )


def test_the_api_answers_a_duplicates_number_with_its_primary(
    client, dengar, keys, linked
):
    headers = {"X-API-Key": keys["PUPR"]}
    got = client.get(f"/api/v1/cases/{DUPLICATE}", headers=headers).json()
    assert got["tracking_no"] == PRIMARY
    assert got["supporters"] == 1
    done = client.post(
        f"/api/v1/cases/{DUPLICATE}/status",
        headers=headers,
        json={"status": "resolved", "note": "sudah diperbaiki"},
    )
    assert done.status_code == 200
    assert done.json()["tracking_no"] == PRIMARY
    assert status_of(dengar, PRIMARY) == "resolved"
    assert status_of(dengar, DUPLICATE) == "resolved"
    other = client.get(
        f"/api/v1/cases/{DUPLICATE}", headers={"X-API-Key": keys["DISDUKCAPIL"]}
    )
    assert other.status_code == 404


def test_staff_cannot_verify_a_duplicate_and_are_told_why(
    client, dengar, users, linked
):
    login(client, "budi")
    token = csrf_of(client, "/")
    page = client.get(f"/kasus/{DUPLICATE}").text
    assert "mengikuti pengaduan utama" in page
    assert "status/verifikasi" not in page  # no button that can only fail
    assert "TERLAMBAT" not in page  # no deadline of its own
    refused = client.post(
        f"/kasus/{DUPLICATE}/status/verifikasi", data={"csrf_token": token}
    )
    assert f"{DUPLICATE} adalah duplikat dari {PRIMARY}" in refused.text
    assert status_of(dengar, DUPLICATE) == "received"
    rerouted = client.post(
        f"/kasus/{DUPLICATE}/alihkan",
        data={"csrf_token": token, "agency": "DISDUKCAPIL"},
    )
    assert "adalah duplikat dari" in rerouted.text
    # the primary's change is the duplicate's too
    client.post(
        f"/kasus/{PRIMARY}/status/selesai",
        data={"csrf_token": token, "note": "sudah diperbaiki"},
    )
    assert status_of(dengar, DUPLICATE) == "resolved"


def test_an_agency_account_sees_the_problem_once_in_its_list(client, users, linked):
    login(client, "pupr")
    page = client.get("/").text
    assert PRIMARY in page
    assert DUPLICATE not in page
    assert "+1 pendukung" in page
