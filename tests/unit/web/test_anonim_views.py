"""What an agency (and non-admin staff) reads of an anonim e-mail case, on
every endpoint: the cleaned text (no signature, no quoted "… menulis:" line)
with personal data masked, and history entries of the reporter without the
reporter's account (issue 16, item 2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from contracts.channel import FetchResult
from contracts.records import InboundMessage
from dengar.confidentiality import change_confidentiality
from dengar.status_report import agency_queue
from dispatcher.message import build_message
from storage.tables import AgencyQueueRow, ComplaintRow, OutboxRow
from tests.unit.web.conftest import csrf_of, login

MAIL = """\
From: Siti Rahmawati <siti.r@warga.example>
To: pengaduan@kab.example.go.id
Subject: Jalan berlubang di Jl. Veteran
Message-ID: <anonim-1@warga.example>
Content-Type: text/plain; charset=utf-8

Saya Siti Rahmawati, warga RT 4. Jalan di depan SDN 3 berlubang besar,
sudah dua motor jatuh. Hubungi saya di 0812-3456-7890 bila perlu.

--
Siti Rahmawati
Jl. Veteran No. 12

Pada Sen, 30 Nov 2026 pukul 08.00, Siti Rahmawati <siti.r@warga.example> menulis:
> laporan sebelumnya
"""

REPORTER_ACTOR = "reporter:telegram-bot:4242"


def h(key):
    return {"X-API-Key": key}


@pytest.fixture
def anonim_mail(dengar, web):
    """An e-mail case of PUPR made anonim by its reporter from the chat; its
    tracking number."""
    item = InboundMessage(
        channel="surat",
        external_id="anonim-1",
        received_at=datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
        raw=MAIL.encode(),
        raw_format="rfc822",
    )
    dengar.store("surat", FetchResult(items=[item], cursor="c1"))
    with dengar.sessions() as session:
        case = session.exec(
            select(ComplaintRow).where(ComplaintRow.kind == "case")
        ).one()
        case.agency_code = "PUPR"
        case.status = "dispatched"
        # what the agency's database queue got while the case was biasa
        session.add(
            AgencyQueueRow(
                agency_code="PUPR",
                complaint_id=case.id,
                idempotency_key=f"{case.tracking_no}/PUPR",
                message=json.dumps(build_message(session, case, "PUPR", "Dinas PUPR")),
            )
        )
        change_confidentiality(
            session, case, "anonim", actor=REPORTER_ACTOR, via="/anonim"
        )
        session.commit()
        assert "menulis:" in case.original_text  # the raw text still has it
        return case.tracking_no


def _assert_clean(text: str) -> None:
    assert "dua motor jatuh" in text
    assert "Saya [identitas disembunyikan], warga RT 4" in text
    assert "Siti" not in text
    assert "Jl. Veteran No. 12" not in text
    assert "menulis:" not in text
    assert "0812-3456-7890" not in text
    assert "[telepon ***890]" in text


def test_api_list_shows_the_cleaned_masked_text(client, anonim_mail, keys):
    [case] = [
        c
        for c in client.get("/api/v1/cases", headers=h(keys["PUPR"])).json()
        if c["tracking_no"] == anonim_mail
    ]
    _assert_clean(case["text"])
    assert case["reporter"]["name"] == "(disembunyikan)"


def test_api_detail_shows_the_cleaned_masked_text(client, anonim_mail, keys):
    case = client.get(f"/api/v1/cases/{anonim_mail}", headers=h(keys["PUPR"])).json()
    _assert_clean(case["text"])
    assert "siti.r@warga.example" not in str(case)
    assert "4242" not in str(case)


@pytest.mark.parametrize("user", ["pupr", "budi"])
def test_dashboard_for_agency_and_staff_shows_cleaned_text_and_no_reporter_account(
    client, users, anonim_mail, user
):
    login(client, user)
    page = client.get(f"/kasus/{anonim_mail}").text
    _assert_clean(page.split('id="original-text">', 1)[1].split("</pre>", 1)[0])
    assert "Siti Rahmawati" not in page
    assert "siti.r@warga.example" not in page
    assert REPORTER_ACTOR not in page
    assert "pelapor" in page
    listing = client.get("/").text
    assert "Siti Rahmawati" not in listing


def test_admins_see_the_original_and_who_changed_it(client, users, anonim_mail):
    login(client, "admin")
    page = client.get(f"/kasus/{anonim_mail}").text
    assert "Siti Rahmawati" in page
    assert REPORTER_ACTOR in page


def test_dengar_queue_applies_the_confidentiality_of_now(dengar, anonim_mail):
    with dengar.sessions() as session:
        [message] = [
            m for m in agency_queue(session, "PUPR") if m["tracking_no"] == anonim_mail
        ]
    assert message["confidentiality"] == "anonim"
    assert message["reporter"] is None
    assert "siti.r@warga.example" not in str(message)
    _assert_clean(message["text"])


def test_staff_marking_a_delivered_case_anonim_asks_the_agency_and_says_so(
    client, dengar, users, cases
):
    with dengar.sessions() as session:
        case = session.exec(
            select(ComplaintRow).where(ComplaintRow.tracking_no == cases["pupr"])
        ).one()
        session.add(
            OutboxRow(
                kind="agency",
                target="PUPR",
                complaint_id=case.id,
                idempotency_key=f"{case.tracking_no}/PUPR",
                status="delivered",
                attempts=1,
            )
        )
        session.commit()
    login(client, "budi")
    token = csrf_of(client, "/")
    page = client.post(
        f"/kasus/{cases['pupr']}/kerahasiaan",
        data={"csrf_token": token, "level": "anonim"},
    ).text
    assert "PUPR telah diminta menghapus identitas pelapor" in page
    with dengar.sessions() as session:
        keys = [r.idempotency_key for r in session.exec(select(OutboxRow))]
    assert f"{cases['pupr']}/PUPR/redacted/1" in keys
