"""Facebook Page and Instagram through the whole of Dengar: signed POSTs to
the web app, the spool, ``Runner.run_once``; a comment waits in triage and
is answered the way staff chose (CLI and dashboard), a direct message is a
chat case acknowledged within the window, an edit and a deletion are kept
in the case's history, and bad posts are refused or kept."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlmodel import select

from config.settings import Settings
from dengar.app import App
from dengar.cli.triage import TriageBackend, triage
from dengar.web.app import create_app
from dengar.web.auth import add_user
from storage.tables import ComplaintRow, OutboxRow, QuarantineRow, StatusEvent
from tests.fakes.meta_api import (
    PAGE_ID,
    VERIFY_TOKEN,
    FakeMetaApi,
    channel_settings,
    ig_comment_webhook,
    ig_mention_webhook,
    messaging_webhook,
    page_feed_webhook,
    signed,
)
from tests.integration.runs import run_once


@pytest.fixture
async def api():
    async with FakeMetaApi().running() as fake:
        yield fake


def settings_for(api: FakeMetaApi, tmp_path: Path, **channel: Any) -> Settings:
    return Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
            "tracking_prefix": "KTB",
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
            "routing": {"default_agency": "PUPR"},
            "web": {
                "secret_key": "test-secret",
                "cookie_secure": False,
                "public_url": "https://lapor.example.go.id",
            },
            "channels": [
                channel_settings(api.base_url, str(tmp_path / "spool"), **channel)
            ],
        }
    )


def post(client: TestClient, payload: dict[str, Any]) -> tuple[int, str]:
    body, signature = signed(payload)
    response = client.post(
        "/webhooks/meta/meta",
        content=body,
        headers={"X-Hub-Signature-256": signature, "Content-Type": "application/json"},
    )
    return response.status_code, response.text


def rows(app: App, kind: str | None = "case") -> list[ComplaintRow]:
    with app.sessions() as session:
        query = select(ComplaintRow)
        if kind is not None:
            query = query.where(ComplaintRow.kind == kind)
        return list(session.exec(query).all())


def accept_by_cli(app: App, tracking_no: str, *args: str) -> Any:
    backend = TriageBackend(
        sessions=app.sessions,
        route_and_enqueue=app.pipeline.enqueue_for_agency,
        agencies={"PUPR"},
        messages=app.pipeline.replies.messages,
        public_url=app.settings.web.public_url,
    )
    return CliRunner().invoke(
        triage, ["accept", tracking_no, *args], obj={"triage_backend": backend}
    )


async def test_comment_waits_in_triage_and_staff_send_the_private_reply(
    api: FakeMetaApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path)
    post_id = api.add_post("fb")
    comment = api.add_comment(post_id, "Jalan di Desa Sigam berlubang besar")
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    try:
        handshake = client.get(
            "/webhooks/meta/meta",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": VERIFY_TOKEN,
                "hub.challenge": "1158201444",
            },
        )
        assert (handshake.status_code, handshake.text) == (200, "1158201444")
        assert client.post("/webhooks/meta/meta", content=b"{}").status_code == 401
        payload = page_feed_webhook(
            comment, "Jalan di Desa Sigam berlubang besar", post_id=post_id
        )
        assert post(client, payload) == (200, "received")
        assert post(client, payload) == (200, "already received")

        app = await run_once(settings)
        [case] = rows(app)
        assert case.status == "triage"
        assert case.reporter_name == "Budi Santoso"
        assert api.sent == []  # nothing is said in public before staff decide

        listed = CliRunner().invoke(
            triage,
            ["--json"],
            obj={
                "triage_backend": TriageBackend(
                    sessions=app.sessions, route_and_enqueue=lambda s, r: None
                )
            },
        )
        [entry] = [json.loads(line) for line in listed.output.splitlines()]
        assert entry["reply_modes"] == ["private", "public"]

        done = accept_by_cli(app, case.tracking_no, "--reply", "private")
        assert done.exit_code == 0, done.output
        assert "private reply queued" in done.output
        await run_once(settings)
        [sent] = api.sent
        assert sent["recipient"] == {"comment_id": comment}
        assert case.tracking_no in sent["message"]["text"]
        assert "https://lapor.example.go.id/lacak" in sent["message"]["text"]
        assert "Sigam" not in sent["message"]["text"]

        # the author edits the comment, then deletes it: both kept
        edited = page_feed_webhook(
            comment, "Jalan di Desa Sigam berlubang, sudah 2 bulan", verb="edited"
        )
        assert post(client, edited)[0] == 200
        assert post(client, page_feed_webhook(comment, None, verb="remove"))[0] == 200
        app = await run_once(settings)
        [case] = rows(app)
        assert "2 bulan" in case.clean_text
        with app.sessions() as session:
            notes = [
                e.note or ""
                for e in session.exec(
                    select(StatusEvent).where(StatusEvent.complaint_id == case.id)
                )
            ]
        assert any("previous version" in n for n in notes)
        assert any("deleted at the source" in n for n in notes)
    finally:
        client.close()
        web_app.engine.dispose()


async def test_dashboard_triage_offers_and_sends_the_public_reply(
    api: FakeMetaApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path)
    post_id = api.add_post("fb")
    comment = api.add_comment(post_id, "Rumah saya di Jl. Melati 3 kebanjiran")
    web_app = App.open(settings)
    with web_app.sessions() as session:
        add_user(session, "staf", "rahasia-staf-123", "staff")
        session.commit()
    client = TestClient(create_app(web_app))
    try:
        post(
            client,
            page_feed_webhook(
                comment, "Rumah saya di Jl. Melati 3 kebanjiran", post_id=post_id
            ),
        )
        app = await run_once(settings)
        [case] = rows(app)
        login = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        client.post(
            "/login",
            data={
                "name": "staf",
                "password": "rahasia-staf-123",
                "csrf_token": token,
            },
        )
        page = client.get("/triase")
        assert "Pesan pribadi dengan nomor pelacakan" in page.text
        assert "Balasan publik: nomor pelacakan saja" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        answer = client.post(
            f"/triase/{case.id}/terima",
            data={"agency": "", "reply": "public", "csrf_token": token},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        await run_once(settings)
        [sent] = api.sent
        assert sent["reply_to"] == comment
        assert case.tracking_no in sent["message"]
        assert "Melati" not in sent["message"]
    finally:
        client.close()
        web_app.engine.dispose()


async def test_direct_message_is_a_chat_case_acknowledged_in_the_window(
    api: FakeMetaApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path)
    api.person_wrote("24001")
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    try:
        message = {"message": {"mid": "m_1", "text": "Sampah menumpuk di Pasar Hanyar"}}
        assert post(client, messaging_webhook("fb", "24001", message))[0] == 200
        app = await run_once(settings)
        [case] = rows(app)
        assert case.status == "received"  # a chat, not a post for triage
        assert case.reporter_chat_id == "fb:24001"
        [ack] = api.sent
        assert ack["recipient"] == {"id": "24001"}
        assert ack["messaging_type"] == "RESPONSE"
        assert case.tracking_no in ack["message"]["text"]
        # the biasa/anonim/rahasia choice as quick replies, answered by payload
        payloads = [q["payload"] for q in ack["message"]["quick_replies"]]
        assert payloads == [
            f"{word} {case.tracking_no}" for word in ("biasa", "anonim", "rahasia")
        ]
        tap = {
            "message": {
                "mid": "m_2",
                "text": "Anonim",
                "quick_reply": {"payload": payloads[1]},
            }
        }
        assert post(client, messaging_webhook("fb", "24001", tap))[0] == 200
        app = await run_once(settings)
        [case] = rows(app)
        assert case.confidentiality == "anonim"
    finally:
        client.close()
        web_app.engine.dispose()


async def test_bad_posts_are_refused_or_kept(api: FakeMetaApi, tmp_path: Path) -> None:
    settings = settings_for(api, tmp_path, max_webhook_bytes=2048)
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    spool = tmp_path / "spool" / "meta"
    try:
        big = page_feed_webhook("5001_9", "x" * 4000)
        assert post(client, big)[0] == 413
        body, signature = signed({"object": "page", "entry": "no"})
        unreadable = client.post(
            "/webhooks/meta/meta",
            content=body,
            headers={"X-Hub-Signature-256": signature},
        )
        assert unreadable.status_code == 200
        assert "kept for review" in unreadable.text
        assert [p.read_bytes() for p in (spool / "rejected").iterdir()] == [body]
        # a field this channel does not read is quarantined with its body
        other = page_feed_webhook("5001_10", "halo")
        other["entry"][0]["changes"] = [{"field": "ratings", "value": {"x": 1}}]
        assert post(client, other)[0] == 200
        app = await run_once(settings)
        with app.sessions() as session:
            [kept] = session.exec(select(QuarantineRow)).all()
        assert "'ratings' is not read" in kept.reason
        assert json.loads(kept.data)["entry"][0]["id"] == PAGE_ID
    finally:
        client.close()
        web_app.engine.dispose()


async def test_missed_instagram_reply_and_mention_become_one_case_each(
    api: FakeMetaApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path, catch_up_interval=0.001)
    media = api.add_post("ig")
    top = api.add_comment(media, "Lampu jalan mati", platform="ig", author_id="7002")
    web_app = App.open(settings)
    client = TestClient(create_app(web_app))
    try:
        # the comment came by webhook; its reply and a mention never did
        assert post(client, ig_comment_webhook(top, "Lampu jalan mati"))[0] == 200
        written = time.time() - 3 * 3600
        reply = api.add_comment(
            media,
            "Di gang kami juga, sudah seminggu",
            platform="ig",
            author_id="7005",
            author="rudi",
            parent_id=top,
            created=written,
        )
        tagged = api.tag_account("@pemkabkotabaru jembatan Desa Sigam retak")
        app = await run_once(settings)
        texts = sorted(row.clean_text for row in rows(app, kind=None))
        assert texts == [
            "@pemkabkotabaru jembatan Desa Sigam retak",
            "Di gang kami juga, sudah seminggu",
            "Lampu jalan mati",
        ]
        assert {row.status for row in rows(app)} == {"triage"}
        [late_reply] = [r for r in rows(app) if "seminggu" in (r.clean_text or "")]
        stored_at = late_reply.received_at.replace(tzinfo=UTC)  # SQLite: naive UTC
        assert stored_at.timestamp() == int(written)

        # the webhooks Meta retried at last, and the next polls: nothing new
        assert post(client, ig_comment_webhook(reply, "Di gang kami juga"))[0] == 200
        assert post(client, ig_mention_webhook(tagged))[0] == 200
        await run_once(settings)
        app = await run_once(settings)
        assert len(rows(app, kind=None)) == 3
    finally:
        client.close()
        web_app.engine.dispose()


def notes_of(app: App, case: ComplaintRow) -> list[str]:
    with app.sessions() as session:
        return [
            e.note or ""
            for e in session.exec(
                select(StatusEvent).where(StatusEvent.complaint_id == case.id)
            )
        ]


async def test_instagram_comments_hidden_or_deleted_are_marked_on_their_case_once(
    api: FakeMetaApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path, catch_up_interval=0.001)
    media = api.add_post("ig")
    hidden = api.add_comment(
        media, "Jalan Desa Sigam berlubang", platform="ig", author_id="7001"
    )
    deleted = api.add_comment(
        media, "Lampu jalan di Jl. Melati mati", platform="ig", author_id="7002"
    )
    app = await run_once(settings)
    assert len(rows(app)) == 2
    api.hide_comment(hidden)
    api.delete_comment(deleted)
    for _ in range(2):  # the next poll marks them; the one after adds nothing
        time.sleep(0.01)
        app = await run_once(settings)
    by_text = {row.clean_text: row for row in rows(app)}
    assert [
        n for n in notes_of(app, by_text["Jalan Desa Sigam berlubang"]) if "source" in n
    ] == ["the complaint: hidden at the source"]
    assert [
        n
        for n in notes_of(app, by_text["Lampu jalan di Jl. Melati mati"])
        if "source" in n
    ] == ["the complaint: deleted at the source by its author or the page"]
    # marked, not dropped: the words stay
    assert by_text["Lampu jalan di Jl. Melati mati"].original_text


async def test_a_photo_the_account_is_only_tagged_in_offers_no_reply(
    api: FakeMetaApi, tmp_path: Path
) -> None:
    settings = settings_for(api, tmp_path, catch_up_interval=0.001)
    api.tag_account("Jembatan Desa Sigam retak, mohon dicek")
    mentioned = api.tag_account("@pemkabkotabaru trotoar Jl. Melati rusak")
    web_app = App.open(settings)
    with web_app.sessions() as session:
        add_user(session, "staf", "rahasia-staf-123", "staff")
        session.commit()
    client = TestClient(create_app(web_app))
    try:
        app = await run_once(settings)
        by_text = {row.clean_text: row for row in rows(app)}
        tagged_case = by_text["Jembatan Desa Sigam retak, mohon dicek"]
        mention_case = by_text["@pemkabkotabaru trotoar Jl. Melati rusak"]
        listed = CliRunner().invoke(
            triage,
            ["--json"],
            obj={
                "triage_backend": TriageBackend(
                    sessions=app.sessions, route_and_enqueue=lambda s, r: None
                )
            },
        )
        modes = {
            e["tracking_no"]: e["reply_modes"]
            for e in map(json.loads, listed.output.splitlines())
        }
        assert modes == {
            tagged_case.tracking_no: [],
            mention_case.tracking_no: ["public"],
        }
        for mode in ("public", "private"):
            refused = accept_by_cli(app, tagged_case.tracking_no, "--reply", mode)
            assert refused.exit_code == 1
            assert "only tagged in that photo" in " ".join(refused.output.split())

        login = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        client.post(
            "/login",
            data={"name": "staf", "password": "rahasia-staf-123", "csrf_token": token},
        )
        assert "akun hanya ditandai di foto ini" in client.get("/triase").text

        # Meta refuses the public reply to the mention anyway: final, and
        # the case page says why in Indonesian
        api.fail("comments", 200, "Permissions error")
        done = accept_by_cli(app, mention_case.tracking_no, "--reply", "public")
        assert done.exit_code == 0, done.output
        for _ in range(2):
            app = await run_once(settings)
        assert api.sent == []
        with app.sessions() as session:
            [row] = [
                o
                for o in session.exec(select(OutboxRow))
                if o.complaint_id == mention_case.id and o.kind == "reply"
            ]
        assert (row.status, row.attempts) == ("skipped", 1)
        page = client.get(f"/kasus/{mention_case.tracking_no}").text
        assert (
            f"Meta menolak balasan publik pada unggahan Instagram {mentioned}" in page
        )
        assert "hubungi pelapor langsung lewat aplikasi Instagram" in page
    finally:
        client.close()
        web_app.engine.dispose()
