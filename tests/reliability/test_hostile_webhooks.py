"""A signed Meta webhook of any shape cannot hurt the service (issues 19,
22): the receiver answers it without a 500 and keeps it, and in the
channel one odd body (a list that is a number, a lone surrogate escape) is
quarantined with its reason while the good bodies beside it become cases;
the channel never stops on it. Outsiders get a plain refusal for an
ambiguous handshake or signature."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from channels.meta_signature import sign
from config.settings import Settings
from dengar.app import App
from dengar.runner import Runner
from dengar.web.app import create_app
from storage.tables import ComplaintRow, QuarantineRow
from tests.fakes import meta_api
from tests.fakes import whatsapp_api as wa

WABA = "whatsapp_business_account"
OWN = {"phone_number_id": wa.PHONE_NUMBER_ID}


def _change(value: dict[str, Any]) -> dict[str, Any]:
    return {"object": WABA, "entry": [{"id": "1", "changes": [{"value": value}]}]}


def _text(wamid: str, body: str = "halo") -> dict[str, Any]:
    return {"from": "6281234567890", "id": wamid, "timestamp": "1700000000",
            "type": "text", "text": {"body": body}}  # fmt: skip


# signed bodies that are JSON but not what Meta documents, each a way the
# channel once stopped on (or the receiver answered 500)
HOSTILE_WHATSAPP = {
    "changes is a number": {"object": WABA, "entry": [{"id": "1", "changes": 5}]},
    "messages is a number": _change({"metadata": OWN, "messages": 5}),
    "statuses is a number": _change({"metadata": OWN, "statuses": 7}),
    "a lone surrogate escape": _change(
        {"metadata": OWN, "messages": [_text("wamid.surrogate", "ha\ud800lo")]}
    ),
    "status errors not a list": _change(
        {
            "metadata": OWN,
            "statuses": [
                {"id": "wamid.s", "status": "failed", "timestamp": "1", "errors": 5}
            ],
        }
    ),
}
HOSTILE_META = {
    "changes is a number": {
        "object": "page",
        "entry": [{"id": meta_api.PAGE_ID, "time": 1, "changes": 5}],
    },
    "messaging is a number": {
        "object": "instagram",
        "entry": [{"id": meta_api.IG_ID, "time": 1, "messaging": 5}],
    },
}


def _settings(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
            "routing": {"default_agency": "PUPR"},
            "web": {"secret_key": "test-secret", "cookie_secure": False},
            "channels": [
                wa.channel_settings("http://127.0.0.1:9", str(tmp_path / "spool")),
                meta_api.channel_settings(
                    "http://127.0.0.1:9", str(tmp_path / "spool")
                ),
            ],
        }
    )


def _post(
    client: TestClient, path: str, payload: object, secret: str
) -> tuple[int, str]:
    body = json.dumps(payload).encode()
    answer = client.post(
        path,
        content=body,
        headers={"X-Hub-Signature-256": sign(body, secret)},
    )
    return answer.status_code, answer.text


def _kept(spool: Path) -> int:
    return sum(
        1 for sub in ("new", "rejected") if (spool / sub).is_dir()
        for _ in (spool / sub).iterdir()
    )  # fmt: skip


@pytest.fixture
def client(tmp_path: Path):
    app = App.open(_settings(tmp_path))
    with TestClient(create_app(app), raise_server_exceptions=False) as web:
        yield web
    app.engine.dispose()


@pytest.mark.parametrize("name", sorted(HOSTILE_WHATSAPP))
def test_a_signed_whatsapp_body_of_any_shape_is_answered_and_kept(
    client: TestClient, tmp_path: Path, name: str
) -> None:
    status, text = _post(
        client, "/webhooks/whatsapp/wa", HOSTILE_WHATSAPP[name], wa.APP_SECRET
    )
    assert status == 200, text  # kept: anything else Meta retries for days
    assert _kept(tmp_path / "spool" / "wa") == 1


@pytest.mark.parametrize("name", sorted(HOSTILE_META))
def test_a_signed_meta_body_of_any_shape_is_answered_and_kept(
    client: TestClient, tmp_path: Path, name: str
) -> None:
    status, text = _post(
        client, "/webhooks/meta/meta", HOSTILE_META[name], meta_api.APP_SECRET
    )
    assert status == 200, text  # kept: anything else Meta retries for days
    assert _kept(tmp_path / "spool" / "meta") == 1


async def test_odd_signed_bodies_are_quarantined_and_the_good_ones_become_cases(
    client: TestClient, tmp_path: Path
) -> None:
    for payload in HOSTILE_WHATSAPP.values():
        _post(client, "/webhooks/whatsapp/wa", payload, wa.APP_SECRET)
    for payload in HOSTILE_META.values():
        _post(client, "/webhooks/meta/meta", payload, meta_api.APP_SECRET)
    good = _change(
        {"metadata": OWN,
         "messages": [_text("wamid.good", "Jalan di Desa Sigam berlubang besar")]}
    )  # fmt: skip
    assert _post(client, "/webhooks/whatsapp/wa", good, wa.APP_SECRET)[0] == 200

    app = App.open(_settings(tmp_path))
    try:
        summary = await Runner(app).run_once()
        assert summary.errors == {}
        with app.sessions() as session:
            cases = session.exec(select(ComplaintRow.external_id)).all()
            reasons = session.exec(select(QuarantineRow.reason)).all()
    finally:
        await app.close()
    assert "wamid:wamid.good" in cases
    # the surrogate message is read too: its text can be stored cleaned
    assert "wamid:wamid.surrogate" in cases
    # one reason for each odd body that reached a channel, saying what is odd
    assert len(reasons) == 5, reasons
    assert all("not" in reason for reason in reasons), reasons
    for channel in ("wa", "meta"):
        assert not list((tmp_path / "spool" / channel / "new").iterdir())


def test_a_handshake_with_a_twice_given_parameter_is_refused(
    client: TestClient,
) -> None:
    answer = client.get(
        "/webhooks/whatsapp/wa",
        params=[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", "tebakan"),
            ("hub.verify_token", wa.VERIFY_TOKEN),
            ("hub.challenge", "8432"),
        ],
    )
    assert answer.status_code == 400
    assert "hub.verify_token" in answer.text


def test_a_handshake_echoes_no_overlong_challenge(client: TestClient) -> None:
    answer = client.get(
        "/webhooks/whatsapp/wa",
        params={
            "hub.mode": "subscribe",
            "hub.verify_token": wa.VERIFY_TOKEN,
            "hub.challenge": "9" * 10_000,
        },
    )
    assert answer.status_code == 400
    assert "hub.challenge" in answer.text
    assert len(answer.text) < 200


def test_a_second_signature_header_is_refused(client: TestClient) -> None:
    body = json.dumps(_change({"metadata": OWN, "messages": []})).encode()
    answer = client.post(
        "/webhooks/whatsapp/wa",
        content=body,
        headers=[
            ("X-Hub-Signature-256", sign(body, wa.APP_SECRET)),
            ("X-Hub-Signature-256", "sha256=" + "0" * 64),
        ],
    )
    assert answer.status_code == 401
