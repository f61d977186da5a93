"""The http sink's request building, without a network."""

from __future__ import annotations

import base64

import pytest

from config.settings import AgencySettings
from dispatcher.sinks.base import SinkContext
from dispatcher.sinks.http import HttpSink, RequestProblem
from tests.unit.dispatcher.test_message_schema import built_delivery, sqlite_sessions

TOKEN = "token-sangat-rahasia-99"


@pytest.fixture
def sessions(tmp_path):
    return sqlite_sessions(tmp_path / "dengar.db")


def _sink(sessions, **sink) -> HttpSink:
    agency = AgencySettings.model_validate(
        {
            "code": "PUPR",
            "name": "Dinas PUPR",
            "sink": {"type": "http", "url": "https://tiket.example/api"} | sink,
        }
    )
    return HttpSink(agency, SinkContext(sessions))


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ({"type": "bearer", "token": TOKEN}, "Authorization", f"Bearer {TOKEN}"),
        (
            {"type": "basic", "username": "dengar", "password": TOKEN},
            "Authorization",
            "Basic " + base64.b64encode(f"dengar:{TOKEN}".encode()).decode(),
        ),
        ({"type": "api_key", "header": "X-Kunci", "key": TOKEN}, "X-Kunci", TOKEN),
    ],
)
def test_credentials_are_sent_but_never_shown(sessions, auth, header, value):
    sink = _sink(sessions, auth=auth)
    prepared = sink.prepare(built_delivery(sessions))
    assert prepared.headers[header] == value
    assert prepared.shown_headers()[header] == "***"
    assert TOKEN not in repr(prepared)
    assert TOKEN not in repr(sink)
    assert TOKEN not in repr(sink.settings)


def test_hmac_signs_the_exact_body(sessions):
    import hashlib
    import hmac

    sink = _sink(sessions, auth={"type": "hmac", "secret": TOKEN})
    prepared = sink.prepare(built_delivery(sessions))
    assert prepared.body is not None
    expected = hmac.new(TOKEN.encode(), prepared.body, hashlib.sha256).hexdigest()
    assert prepared.headers["X-Signature"] == f"sha256={expected}"


def test_a_header_value_cannot_start_a_new_header(sessions):
    text = "baris satu\r\nX-Palsu: ya"
    sink = _sink(sessions, headers={"X-Judul": "{{ text }}"})
    delivery = built_delivery(sessions, clean_text=text, original_text=text)
    prepared = sink.prepare(delivery)
    assert prepared.headers["X-Judul"] == "baris satu X-Palsu: ya"
    assert "X-Palsu" not in prepared.headers


def test_a_url_template_must_give_an_http_url(sessions):
    sink = _sink(sessions, url="{{ category }}://x")
    with pytest.raises(RequestProblem, match="http"):
        sink.prepare(built_delivery(sessions))


def test_without_a_body_template_the_message_is_the_json_body(sessions):
    import json

    delivery = built_delivery(sessions)
    prepared = _sink(sessions).prepare(delivery)
    assert prepared.body is not None
    assert json.loads(prepared.body) == delivery.message
    assert prepared.headers["Content-Type"] == "application/json; charset=utf-8"


async def test_a_redaction_without_a_redaction_request_is_dead_with_the_reason(
    sessions,
):
    from dataclasses import replace

    from contracts.errors import PermanentDeliveryError

    delivery = built_delivery(sessions, confidentiality="anonim")
    message = delivery.message | {
        "event": "redacted",
        "redaction": {"replaces": "ADU-X/PUPR"},
    }
    redaction = replace(delivery, message=message, event="redacted")
    sink = _sink(sessions)
    with pytest.raises(PermanentDeliveryError) as dead:
        await sink.deliver(redaction)
    assert "ADU-X/PUPR by other means" in str(dead.value)
