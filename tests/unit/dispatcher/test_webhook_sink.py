"""The webhook sink against a real local HTTP server that fails on demand."""

from __future__ import annotations

import json

import pytest

from config.settings import AgencySettings, Settings
from contracts.errors import PermanentDeliveryError, RetriableDeliveryError
from dengar.app import App
from dispatcher.sinks.base import Delivery, SinkContext
from dispatcher.sinks.registry import build_sink
from dispatcher.sinks.webhook import (
    SIGNATURE_HEADER,
    WebhookSink,
    cloud_event,
    retry_after_seconds,
    sign,
    verify_signature,
)
from tests.fakes.webhook_server import WebhookServer
from tests.services import free_port

SECRET = "rahasia-agensi-123"


def _delivery(key: str = "ADU-7K3M-9Q2D/PUPR") -> Delivery:
    return Delivery(
        idempotency_key=key,
        agency_code="PUPR",
        message={
            "$schema": "https://dengar.id/schema/agency-message.v1.json",
            "schema_version": 1,
            "idempotency_key": key,
            "tracking_no": key.split("/")[0],
            "text": "Jalan berlubang di Jl. Pangeran Antasari, tolong diperbaiki",
        },
    )


def _agency(
    url: str, timeout: float = 5.0, secret: str = SECRET, concurrency: int = 8
) -> AgencySettings:
    return AgencySettings.model_validate(
        {
            "code": "PUPR",
            "name": "Dinas PUPR",
            "sink": {
                "type": "webhook",
                "url": url,
                "secret": secret,
                "timeout": timeout,
                "concurrency": concurrency,
            },
        }
    )


def _context() -> SinkContext:
    # the webhook sink never touches the database
    return SinkContext(sessions=None, regency="kotabaru")  # type: ignore[arg-type]


@pytest.fixture
async def server():
    async with WebhookServer(secret=SECRET) as srv:
        yield srv


@pytest.fixture
async def sink(server):
    built = build_sink(_agency(server.url), _context())
    yield built
    await built.close()


async def test_delivers_a_signed_cloudevent(server, sink):
    await sink.deliver(_delivery())

    [request] = server.requests
    assert request.status == 200
    event = request.json()
    assert event["specversion"] == "1.0"
    assert event["type"] == "id.go.kotabaru.dengar.complaint.dispatched"
    assert event["id"] == "ADU-7K3M-9Q2D/PUPR"
    assert event["source"] == "/dengar/kotabaru/agencies/PUPR"
    assert event["subject"] == "ADU-7K3M-9Q2D"
    assert event["datacontenttype"] == "application/json"
    assert event["time"].endswith("Z")
    assert event["data"]["text"].startswith("Jalan berlubang")
    assert request.headers["Content-Type"].startswith("application/cloudevents+json")
    assert verify_signature(SECRET, request.body, request.headers[SIGNATURE_HEADER])
    assert server.accepted_ids == ["ADU-7K3M-9Q2D/PUPR"]


async def test_wrong_secret_is_refused_by_a_verifying_consumer(server):
    sink = WebhookSink(_agency(server.url, secret="bukan-rahasianya"), _context())
    try:
        with pytest.raises(PermanentDeliveryError) as caught:
            await sink.deliver(_delivery())
    finally:
        await sink.close()
    assert caught.value.detail == "HTTP 401: bad signature"
    assert server.accepted_ids == []


def test_verify_signature_rejects_tampering_and_junk():
    body = b'{"id":"x"}'
    header = sign(SECRET, body)
    assert verify_signature(SECRET, body, header)
    assert verify_signature(SECRET.encode(), body, header)
    assert not verify_signature(SECRET, body + b" ", header)
    assert not verify_signature("other", body, header)
    assert not verify_signature(SECRET, body, header.removeprefix("sha256="))
    assert not verify_signature(SECRET, body, None)
    assert not verify_signature(SECRET, body, "sha256=zz")


async def test_three_500s_then_200_delivers_once_with_the_same_id(server, sink):
    server.fail_next(500, times=3)
    outcomes = []
    for _ in range(5):  # what the outbox does, minus the backoff
        try:
            await sink.deliver(_delivery())
        except RetriableDeliveryError as exc:
            outcomes.append(str(exc))
            continue
        outcomes.append("delivered")
        break

    assert outcomes[-1] == "delivered"
    assert len(outcomes) == 4
    assert all("answered 500" in o for o in outcomes[:3])
    assert {r.json()["id"] for r in server.requests} == {"ADU-7K3M-9Q2D/PUPR"}
    assert server.accepted_ids == ["ADU-7K3M-9Q2D/PUPR"]
    assert server.duplicates == []


async def test_a_resend_after_a_crash_carries_the_same_id(server, sink):
    # the remote accepted, we crashed before recording: the outbox sends again
    await sink.deliver(_delivery())
    await sink.deliver(_delivery())
    assert server.accepted_ids == ["ADU-7K3M-9Q2D/PUPR"]
    assert server.duplicates == ["ADU-7K3M-9Q2D/PUPR"]
    assert server.requests[0].headers["Idempotency-Key"] == "ADU-7K3M-9Q2D/PUPR"


async def test_400_is_permanent_with_the_answer_kept(server, sink):
    server.fail_next(400, body="field 'kategori' wajib diisi " + "x" * 5000)
    with pytest.raises(PermanentDeliveryError) as caught:
        await sink.deliver(_delivery())
    detail = caught.value.detail
    assert detail is not None
    assert detail.startswith("HTTP 400: field 'kategori' wajib diisi")
    assert len(detail) == len("HTTP 400: ") + 2048


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503])
async def test_retriable_statuses(server, sink, status):
    server.fail_next(status)
    with pytest.raises(RetriableDeliveryError, match=f"answered {status}"):
        await sink.deliver(_delivery())


@pytest.mark.parametrize("status", [301, 403, 404, 410, 422])
async def test_permanent_statuses(server, sink, status):
    server.fail_next(status)
    with pytest.raises(PermanentDeliveryError, match=f"with {status}"):
        await sink.deliver(_delivery())


async def test_429_retry_after_is_honoured(server, sink):
    server.fail_next(429, headers={"Retry-After": "120"})
    with pytest.raises(RetriableDeliveryError) as caught:
        await sink.deliver(_delivery())
    assert caught.value.retry_after == 120.0


def test_retry_after_as_http_date():
    from datetime import UTC, datetime

    now = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Fri, 27 Nov 2026 12:01:30 GMT", now=now) == 90.0
    assert retry_after_seconds("Fri, 27 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert retry_after_seconds("besok", now=now) is None
    assert retry_after_seconds(None) is None


async def test_timeout_is_retriable(server):
    sink = WebhookSink(_agency(server.url, timeout=0.2), _context())
    server.delay_next(2.0)
    try:
        with pytest.raises(RetriableDeliveryError, match=r"no answer within 0\.2s"):
            await sink.deliver(_delivery())
    finally:
        await sink.close()


async def test_nobody_listening_is_retriable_and_hides_url_secrets():
    url = f"http://user:pw@127.0.0.1:{free_port()}/hook?token=sangat-rahasia"
    sink = WebhookSink(_agency(url), _context())
    try:
        with pytest.raises(RetriableDeliveryError) as caught:
            await sink.deliver(_delivery())
    finally:
        await sink.close()
    text = str(caught.value) + repr(sink)
    assert "sangat-rahasia" not in text
    assert "pw" not in text
    assert SECRET not in text
    assert "127.0.0.1" in text


async def test_body_sent_is_exactly_what_was_signed():
    async with WebhookServer() as plain:  # no secret: it only records
        sink = WebhookSink(_agency(plain.url), _context())
        try:
            await sink.deliver(_delivery())
        finally:
            await sink.close()
    [request] = plain.requests
    assert verify_signature(SECRET, request.body, request.headers[SIGNATURE_HEADER])
    assert json.loads(request.body)["data"]["tracking_no"] == "ADU-7K3M-9Q2D"


async def test_receiver_down_then_up_delivers_with_the_same_sink():
    server = WebhookServer(secret=SECRET)  # not started: nobody listens yet
    sink = WebhookSink(_agency(server.url), _context())
    try:
        with pytest.raises(RetriableDeliveryError):
            await sink.deliver(_delivery())
        async with server:
            await sink.deliver(_delivery())
    finally:
        await sink.close()
    assert server.accepted_ids == ["ADU-7K3M-9Q2D/PUPR"]


async def test_a_batch_goes_out_at_most_concurrency_at_a_time(server):
    sink = WebhookSink(_agency(server.url, concurrency=3), _context())
    for _ in range(12):
        server.delay_next(0.05)  # slow enough that requests overlap
    keys = [f"ADU-7K3M-{n:04d}/PUPR" for n in range(30)]
    try:
        outcomes = await sink.deliver_many([_delivery(k) for k in keys])
    finally:
        await sink.close()
    assert outcomes == [None] * 30
    assert 1 < server.most_in_flight <= 3
    assert sorted(json.loads(r.body)["id"] for r in server.requests) == sorted(keys)


async def test_a_batch_does_not_wait_out_a_timeout_per_row(server):
    # the agency answers nothing: the first timeouts stand for the rest
    sink = WebhookSink(_agency(server.url, timeout=0.2, concurrency=2), _context())
    for _ in range(40):
        server.delay_next(5.0)
    try:
        outcomes = await sink.deliver_many([_delivery(f"K{n}/PUPR") for n in range(40)])
    finally:
        await sink.close()
    assert all(isinstance(o, RetriableDeliveryError) for o in outcomes)
    assert len(server.requests) + server.in_flight <= 2  # only the first two tried
    assert "no answer within 0.2s" in str(outcomes[0])
    assert str(outcomes[-1]).startswith("not sent: webhook")


async def test_a_refusal_in_a_batch_stays_that_rows_own(server):
    sink = WebhookSink(_agency(server.url, concurrency=1), _context())
    server.fail_next(400)  # the first case is refused, the others go through
    try:
        outcomes = await sink.deliver_many([_delivery(f"K{n}/PUPR") for n in range(5)])
    finally:
        await sink.close()
    assert isinstance(outcomes[0], PermanentDeliveryError)
    assert outcomes[1:] == [None] * 4


@pytest.mark.parametrize(
    ("configured", "expected"), [("tanah-bumbu", "tanah-bumbu"), (None, "pemda")]
)
def test_the_event_namespace_comes_from_the_regency_setting(
    tmp_path, configured, expected
):
    settings = Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'd.db'}",
            "regency": configured,
            "agencies": [_agency("https://pupr.example.go.id/hook")],
            "routing": {"default_agency": "PUPR"},
        }
    )
    app = App.open(settings)
    try:
        sink = app.sinks["PUPR"]
        assert isinstance(sink, WebhookSink)
        event = cloud_event(_delivery(), sink.regency)
        assert event["type"] == f"id.go.{expected}.dengar.complaint.dispatched"
    finally:
        app.engine.dispose()
