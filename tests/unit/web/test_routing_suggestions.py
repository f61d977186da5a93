"""The routing model's suggestions in the dashboard (triage and case pages,
in Indonesian, masked like the text), and staff re-routing as a lesson for
``dengar routing learn --from-history``."""

from __future__ import annotations

import json

from dispatcher.routing_store import history_examples
from tests.unit.web.conftest import csrf_of, login, make_case

DETAIL = {
    "method": "model",
    "triage": True,
    "model_version": 3,
    "threshold": 0.6,
    "suggestions": [
        {"agency": "DINKES", "confidence": 0.4712, "words": ["bpjs", "puskesmas"]},
        {"agency": "DINSOS", "confidence": 0.31, "words": ["bantuan"]},
        {"agency": "PUPR", "confidence": 0.1, "words": []},
    ],
}


def test_triage_and_case_pages_show_the_suggestions(client, dengar, users) -> None:
    with dengar.sessions() as session:
        make_case(
            session,
            "ADU-MMMM-0001",
            "DINKES",
            status="triage",
            routing_detail=json.dumps(DETAIL),
        )
        session.commit()
    login(client, "budi")
    for page in (client.get("/triase").text, client.get("/kasus/ADU-MMMM-0001").text):
        assert "Saran model:" in page
        assert "DINKES (47%) — kata: bpjs, puskesmas" in page
        assert "DINSOS (31%) — kata: bantuan" in page
        assert "PUPR (10%)" in page


def test_suggested_words_are_masked_where_the_text_is(client, dengar, users) -> None:
    detail = {
        **DETAIL,
        "suggestions": [
            {"agency": "DINKES", "confidence": 0.5, "words": ["6302011203900004"]}
        ],
    }
    with dengar.sessions() as session:
        make_case(
            session,
            "ADU-MMMM-0002",
            "DINKES",
            status="triage",
            confidentiality="anonim",
            routing_detail=json.dumps(detail),
        )
        session.commit()
    login(client, "budi")
    page = client.get("/kasus/ADU-MMMM-0002").text
    assert "Saran model:" in page
    assert "6302011203900004" not in page


def test_a_case_staff_rerouted_is_learnt_from(client, dengar, users, cases) -> None:
    login(client, "budi")
    token = csrf_of(client, f"/kasus/{cases['pupr']}")
    reply = client.post(
        f"/kasus/{cases['pupr']}/alihkan",
        data={"csrf_token": token, "agency": "DISDUKCAPIL", "note": "soal KTP"},
    )
    assert "dialihkan ke DISDUKCAPIL" in reply.text
    with dengar.sessions() as session:
        texts, agencies = history_examples(session)
    assert agencies == ["DISDUKCAPIL"]
    assert texts == [f"keluhan {cases['pupr']}"]
