"""Built agency messages against docs/schema/agency-message.v1.json.

Also home of the small case builders the sink tests share.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
from sqlmodel import Session, SQLModel

from contracts.tracking import new_tracking_no
from dispatcher.message import build_message, idempotency_key
from dispatcher.sinks.base import Delivery
from storage.engine import make_engine, session_factory
from storage.tables import AttachmentRow, ComplaintRow

SCHEMA_PATH = Path(__file__).parents[3] / "docs" / "schema" / "agency-message.v1.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
WHEN = datetime(2026, 11, 27, 8, 30, tzinfo=UTC)
PHOTO = b"\x89PNG\r\n\x1a\n" + b"lubang" * 50


def sqlite_sessions(path: Path):
    """A fresh SQLite database with every table."""
    engine = make_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    return session_factory(engine)


def add_case(session: Session, **fields) -> ComplaintRow:
    """A stored case with a reporter, a location and a photo."""
    values = {
        "kind": "case",
        "tracking_no": new_tracking_no("ADU"),
        "channel": "email-pengaduan",
        "external_id": f"<{new_tracking_no('X')}@warga.example>",
        "received_at": WHEN,
        "reporter_name": "Siti Rahmawati",
        "reporter_email": "siti@warga.example",
        "reporter_phone": "+6281234567890",
        "reporter_handle": None,
        "subject": "Jalan berlubang di Jl. Pangeran Antasari",
        "original_text": "Jalan berlubang, sudah 3 bulan. Mohon segera diperbaiki.",
        "clean_text": "Jalan berlubang, sudah 3 bulan. Mohon segera diperbaiki.",
        "location_lat": -3.3194,
        "location_lon": 116.1667,
        "location_label": "Jl. Pangeran Antasari",
        "category": "jalan",
        "region": "Pulau Laut Utara",
        "status": "dispatched",
        "agency_code": "PUPR",
        "routing_reason": "routing.rules[0]: category jalan",
        "raw_format": "rfc822",
    }
    values.update(fields)
    row = ComplaintRow(**values)
    session.add(row)
    session.flush()
    return row


def add_photo(session: Session, case: ComplaintRow, data: bytes = PHOTO) -> str:
    """Attach a stored photo to ``case``; its sha256."""
    digest = hashlib.sha256(data).hexdigest()
    assert case.id is not None
    session.add(
        AttachmentRow(
            complaint_id=case.id,
            filename="lubang.png",
            content_type="image/png",
            size=len(data),
            sha256=digest,
            data=data,
        )
    )
    session.flush()
    return digest


def built_delivery(sessions, confidentiality: str = "biasa", **fields) -> Delivery:
    """A real message built by dispatcher.message, with its photo bytes."""
    with sessions() as session:
        case = add_case(session, confidentiality=confidentiality, **fields)
        digest = add_photo(session, case)
        message = build_message(session, case, "PUPR", "Dinas PUPR")
        session.commit()
    return Delivery(
        idempotency_key=idempotency_key(case, "PUPR"),
        agency_code="PUPR",
        message=message,
        attachments={digest: PHOTO},
    )


def assert_valid(message: dict) -> None:
    """Fail with every schema error at once."""
    errors = sorted(VALIDATOR.iter_errors(message), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.fixture
def sessions(tmp_path):
    return sqlite_sessions(tmp_path / "dengar.db")


def test_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_full_case_matches_the_schema_and_documents_every_field(sessions):
    with sessions() as session:
        case = add_case(session)
        add_photo(session, case)
        add_case(session, duplicate_of_id=case.id, tracking_no=new_tracking_no("ADU"))
        add_case(
            session,
            kind="follow_up",
            tracking_no=None,
            follow_up_of_id=case.id,
            received_at=WHEN + timedelta(hours=2),
            clean_text="Sudah ada yang jatuh dari motor di situ.",
        )
        message = build_message(session, case, "PUPR", "Dinas PUPR")

    assert_valid(message)
    # every field but the one only a redaction carries
    documented = set(SCHEMA["properties"]) - {"redaction"}
    assert set(message) == documented, "undocumented or missing field"
    assert message["reporter"]["email"] == "siti@warga.example"
    assert message["supporters"] == 1
    assert message["follow_ups"][0]["text"].startswith("Sudah ada")
    assert message["attachments"][0]["sha256"] == hashlib.sha256(PHOTO).hexdigest()
    assert message["idempotency_key"] == f"{case.tracking_no}/PUPR"


@pytest.mark.parametrize(
    ("stored", "status", "reason_text", "status_text"),
    [
        (
            "routing.rules[0]: category jalan",
            "dispatched",
            "aturan rute ke-1: kategori jalan",
            "diteruskan",
        ),
        (
            "model v3: PUPR at confidence 0.91 (>= 0.80)",
            "dispatched",
            "model rute v3: PUPR dengan keyakinan 91% (ambang 80%)",
            "diteruskan",
        ),
        (
            "set by web:budi at triage (was DISKOMINFO)",
            "dispatched",
            "ditetapkan oleh web:budi saat pemilahan (sebelumnya DISKOMINFO)",
            "diteruskan",
        ),
        # a note staff typed reads as typed
        (
            "dialihkan oleh DISDUKCAPIL: wewenang Inspektorat",
            "rerouted",
            "dialihkan oleh DISDUKCAPIL: wewenang Inspektorat",
            "bukan wewenang",
        ),
        (None, "received", None, "diterima"),
    ],
)
def test_the_agency_reads_status_and_reason_in_indonesian_beside_the_codes(
    sessions, stored, status, reason_text, status_text
):
    with sessions() as session:
        case = add_case(session, routing_reason=stored, status=status)
        message = build_message(session, case, "PUPR", "Dinas PUPR")
    assert_valid(message)
    assert message["routing_reason"] == stored  # the code, for software
    assert message["status"] == status
    assert message["routing_reason_text"] == reason_text
    assert message["status_text"] == status_text


def test_minimal_case_matches_the_schema(sessions):
    with sessions() as session:
        case = add_case(
            session,
            reporter_name=None,
            reporter_email=None,
            reporter_phone=None,
            subject=None,
            location_lat=None,
            location_lon=None,
            location_label=None,
            category=None,
            region=None,
            routing_reason=None,
        )
        message = build_message(session, case, "TRIASE", "Diskominfo (triase)")
    assert_valid(message)
    assert message["location"] is None
    assert message["attachments"] == []


@pytest.mark.parametrize("level", ["anonim", "rahasia"])
def test_confidential_cases_never_carry_the_reporter(sessions, level):
    with sessions() as session:
        case = add_case(
            session,
            confidentiality=level,
            reporter_handle="@siti_r",
            reporter_chat_id="998877",
        )
        message = build_message(session, case, "PUPR", "Dinas PUPR")
    assert_valid(message)
    assert message["reporter"] is None
    wire = json.dumps(message, ensure_ascii=False)
    for identity in (
        "Siti",
        "siti@warga.example",
        "+6281234567890",
        "siti_r",
        "998877",
    ):
        assert identity not in wire
    if level == "rahasia":
        assert message["subject"] is None
    else:
        assert message["subject"] == "Jalan berlubang di Jl. Pangeran Antasari"


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (
            {
                "confidentiality": "anonim",
                "reporter": {
                    "name": "Siti",
                    "email": None,
                    "phone": None,
                    "handle": None,
                },
            },
            "reporter",
        ),
        ({"confidentiality": "rahasia", "reporter": None, "subject": "x"}, "subject"),
        ({"tracking_no": "ADU-OOOO-IIII"}, "tracking_no"),
        ({"schema_version": 2}, "schema_version"),
        ({"status": "selesai"}, "status"),
    ],
)
def test_schema_catches_a_leak_or_a_malformed_message(sessions, change, path):
    with sessions() as session:
        message = build_message(session, add_case(session), "PUPR", "Dinas PUPR")
    message.update(change)
    errors = list(VALIDATOR.iter_errors(message))
    assert errors, f"schema accepted a bad {path}"
