"""A Dengar installation with a web application and some cases in it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from dengar.app import App
from dengar.web.app import create_app
from dengar.web.auth import add_user, rotate_api_key
from storage.tables import AttachmentRow, ComplaintRow, StatusEvent

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # a Friday, 11:00 WITA
PASSWORD = "rahasia-sekali-123"

WEB_EXTRA = """
web:
  secret_key: test-secret-key-for-sessions
  login_max_failures: 3
"""


def make_case(session, number, agency, **fields):
    values = {
        "kind": "case",
        "tracking_no": number,
        "channel": "surat",
        "external_id": f"ext-{number}",
        "received_at": NOW - timedelta(days=1),
        "reporter_name": f"Pelapor {number}",
        "reporter_email": f"{number.lower()}@warga.example",
        "original_text": f"Keluhan {number}",
        "clean_text": f"keluhan {number}",
        "status": "dispatched",
        "agency_code": agency,
        "raw_format": "rfc822",
    }
    values.update(fields)
    row = ComplaintRow(**values)
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def dengar(make_settings):
    app = App.open(make_settings(extra=WEB_EXTRA))
    # let the maildir channel answer citizens, so notifications are queued
    app.pipeline.repliers = frozenset({"surat"})
    app.pipeline.__post_init__()
    yield app
    app.engine.dispose()


@pytest.fixture
def web(dengar):
    return create_app(dengar, clock=lambda: NOW)


@pytest.fixture
def cases(dengar, web):
    """Cases of PUPR and DISDUKCAPIL, plain, anonim and rahasia."""
    with dengar.sessions() as session:
        rows = {
            "pupr": make_case(session, "ADU-AAAA-0001", "PUPR"),
            "pupr_anonim": make_case(
                session,
                "ADU-AAAA-0002",
                "PUPR",
                confidentiality="anonim",
                original_text="NIK saya 6302011203900004, HP 081234567890",
                clean_text="NIK saya 6302011203900004, HP 081234567890",
            ),
            "pupr_rahasia": make_case(
                session, "ADU-AAAA-0003", "PUPR", confidentiality="rahasia"
            ),
            "dukcapil": make_case(session, "ADU-BBBB-0001", "DISDUKCAPIL"),
            "dukcapil_rahasia": make_case(
                session, "ADU-BBBB-0002", "DISDUKCAPIL", confidentiality="rahasia"
            ),
            "late": make_case(
                session,
                "ADU-CCCC-0001",
                "PUPR",
                status="received",
                received_at=NOW - timedelta(days=10),
            ),
        }
        session.add(
            AttachmentRow(
                complaint_id=rows["dukcapil"].id,
                filename="ktp.png",
                content_type="image/png",
                size=4,
                sha256="0" * 64,
                data=b"\x89PNG",
            )
        )
        session.add(
            StatusEvent(
                complaint_id=rows["pupr"].id,
                status="dispatched",
                actor="worker",
                created_at=NOW - timedelta(days=1),
            )
        )
        session.commit()
        return {k: v.tracking_no for k, v in rows.items()}


@pytest.fixture
def keys(dengar, web):
    with dengar.sessions() as session:
        result = {
            "PUPR": rotate_api_key(session, "PUPR"),
            "DISDUKCAPIL": rotate_api_key(session, "DISDUKCAPIL"),
        }
        session.commit()
    return result


def add_test_users(app):
    """admin, budi (staff), pupr and dukcapil (agencies), one password."""
    with app.sessions() as session:
        add_user(session, "admin", PASSWORD, "admin")
        add_user(session, "budi", PASSWORD, "staff")
        add_user(session, "pupr", PASSWORD, "agency", "PUPR")
        add_user(session, "dukcapil", PASSWORD, "agency", "DISDUKCAPIL")
        session.commit()


@pytest.fixture
def users(dengar, web):
    add_test_users(dengar)


@pytest.fixture
def client(web):
    with TestClient(web, base_url="https://testserver") as c:
        yield c


def csrf_of(client, path="/login"):
    import re

    page = client.get(path)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def login(client, name, password=PASSWORD):
    token = csrf_of(client)
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
