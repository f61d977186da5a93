"""X posts through the whole installation (runner, pipeline, SQLite) to
triage, and from triage to an agency's queue; quota and credential errors
seen in the channel's state."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlmodel import select

from config.settings import Settings
from contracts.errors import FatalChannelError, RetriableChannelError
from dengar.app import App
from dengar.runner import Runner
from dengar.triage import accept, list_triage
from storage.tables import ChannelState, ComplaintRow, OutboxRow, utcnow
from tests.fakes.x_api import x_api_fixture  # noqa: F401

GOV = "PemkabKotabaru"


@pytest.fixture
def app(x_api, tmp_path):
    settings = Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
            "channels": [
                {
                    "type": "x",
                    "name": "x",
                    "bearer_token": "test-bearer-token",
                    "mentions_of": [GOV],
                    "search": ["#KotabaruMendengar"],
                    "api_base_url": x_api.url,
                },
                {
                    "type": "x",
                    "name": "x-other",
                    "bearer_token": "test-bearer-token",
                    "search": ["banjir"],
                    "api_base_url": x_api.url,
                },
            ],
            "agencies": [
                {"code": "PUPR", "name": "Dinas PUPR"},
                {"code": "DINKES", "name": "Dinas Kesehatan"},
            ],
            "routing": {
                "default_agency": "PUPR",
                "rules": [{"agency": "DINKES", "keywords": ["puskesmas"]}],
            },
        }
    )
    return App.open(settings)  # each test closes it in its own event loop


async def cases(app):
    def load():
        with app.sessions() as s:
            return s.exec(select(ComplaintRow).order_by(ComplaintRow.id)).all()

    return await asyncio.to_thread(load)


async def test_posts_wait_in_triage_and_accepting_queues_them(app, x_api):
    citizen = x_api.add_user("warga_kotabaru", "Siti Warga", id="900001")
    x_api.add_place("p1", "Kotabaru, Kalimantan Selatan", [116.1, -3.4, 116.3, -3.2])
    first = x_api.post(
        citizen, f"@{GOV} antrean puskesmas Sebelimbingan 4 jam", place_id="p1"
    )
    runner = Runner(app)
    try:
        await runner.poll("x")
        x_api.post(citizen, f"@{GOV} hari ini juga sama", reply_to=first)
        await runner.poll("x")
        rows = await cases(app)
    finally:
        await app.close()

    case, follow = rows
    assert (case.kind, case.status, case.channel) == ("case", "triage", "x")
    assert case.reporter_handle == "warga_kotabaru"
    assert case.location_label == "Kotabaru, Kalimantan Selatan"
    assert case.agency_code == "DINKES"
    assert follow.kind == "follow_up"
    assert follow.follow_up_of_id == case.id

    with app.sessions() as s:
        assert [r.id for r in list_triage(s, "x")] == [case.id]
        assert s.exec(select(OutboxRow)).all() == []  # nothing sent before triage
        accept(s, case.tracking_no, None, "staff", app.pipeline.enqueue_for_agency)
        s.commit()
        [queued] = s.exec(select(OutboxRow)).all()
        assert (queued.kind, queued.target) == ("agency", "DINKES")


async def test_rate_limit_defers_one_channel_and_the_other_goes_on(app, x_api):
    citizen = x_api.add_user("warga_kotabaru", id="900001")
    x_api.post(citizen, f"@{GOV} banjir di Jl. Pangeran Hidayat")
    x_api.fail("/mentions", 429, reset_in=600)
    runner = Runner(app)
    try:
        limited, other = await asyncio.gather(
            runner.poll("x"), runner.poll("x-other"), return_exceptions=True
        )
    finally:
        await app.close()

    assert isinstance(limited, RetriableChannelError)
    assert other.new_cases == 1
    with app.sessions() as s:
        state = s.get(ChannelState, "x")
        assert state.disabled_reason is None
        assert "rate limit" in state.last_error
        assert state.next_poll_at > utcnow() + timedelta(seconds=500)


async def test_wrong_token_disables_the_channel_with_the_reason(app, x_api):
    x_api.bearer_token = "rotated-token"
    runner = Runner(app)
    try:
        with pytest.raises(FatalChannelError):
            await runner.poll("x")
    finally:
        await app.close()
    with app.sessions() as s:
        reason = s.get(ChannelState, "x").disabled_reason
    assert "401 Unauthorized" in reason
    assert "test-bearer-token" not in reason


async def test_a_stopped_channel_stays_stopped_until_its_settings_change(app, x_api):
    x_api.bearer_token = "rotated-token"
    with pytest.raises(FatalChannelError):
        await Runner(app).poll("x")
    asked = len(x_api.requests)
    # same settings, new process: not tried again (the refusal would repeat)
    restarted = App.open(app.settings)
    try:
        assert (await Runner(restarted).poll("x")).new_cases == 0
    finally:
        await restarted.close()
    assert len(x_api.requests) == asked
    # the operator puts in the new token and restarts: the channel works again
    citizen = x_api.add_user("warga_kotabaru", "Siti Warga", id="900001")
    x_api.post(citizen, f"@{GOV} jalan rusak di Sigam")
    channels = list(app.settings.channels)
    channels[0] = channels[0].model_copy(
        update={"bearer_token": SecretStr("rotated-token")}
    )
    reopened = App.open(app.settings.model_copy(update={"channels": channels}))
    try:
        assert (await Runner(reopened).poll("x")).new_cases == 1
        with reopened.sessions() as s:
            state = s.get(ChannelState, "x")
            assert state.disabled_reason is None
            assert state.consecutive_failures == 0
    finally:
        await reopened.close()
        await app.close()


async def test_a_thread_read_in_one_poll_becomes_one_case(app, x_api):
    # timelines come newest first, so the replies are read before the post
    # they answer; small pages put the thread's parts on different pages
    x_api.page_cap = 2
    citizen = x_api.add_user("warga_kotabaru", "Siti Warga", id="900001")
    other = x_api.add_user("warga_lain", "Budi", id="900002")
    post = x_api.post(citizen, f"@{GOV} jembatan Desa Semayap retak parah")
    x_api.post(other, f"@{GOV} lampu jalan Stagen mati")
    first = x_api.post(citizen, f"@{GOV} retaknya sudah selebar 5 cm", reply_to=post)
    x_api.post(other, f"@{GOV} sampah menumpuk di pasar")
    x_api.post(other, f"@{GOV} air PDAM keruh")
    x_api.post(citizen, f"@{GOV} tolong segera, anak sekolah lewat", reply_to=first)
    runner = Runner(app)
    try:
        await runner.poll("x")
        rows = await cases(app)
    finally:
        await app.close()
    thread = [r for r in rows if r.reporter_handle == "warga_kotabaru"]
    assert [(r.external_id, r.kind) for r in thread] == [
        (post, "case"),
        (first, "follow_up"),
        (thread[2].external_id, "follow_up"),
    ]
    assert {r.follow_up_of_id for r in thread[1:]} == {thread[0].id}
    assert sum(1 for r in rows if r.kind == "case") == 4


async def test_a_thread_split_by_the_poll_budget_still_becomes_one_case(
    x_api, tmp_path
):
    # ten posts per poll: the reply is read in the first poll, the post it
    # answers only in the next one; the reply waits for it
    settings = Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'dengar.db'}",
            "channels": [
                {
                    "type": "x",
                    "name": "x",
                    "bearer_token": "test-bearer-token",
                    "mentions_of": [GOV],
                    "api_base_url": x_api.url,
                    "max_posts_per_poll": 10,
                }
            ],
            "agencies": [{"code": "PUPR", "name": "Dinas PUPR"}],
            "routing": {"default_agency": "PUPR"},
        }
    )
    app = App.open(settings)
    citizen = x_api.add_user("warga_kotabaru", "Siti Warga", id="900001")
    other = x_api.add_user("warga_lain", "Budi", id="900002")
    post = x_api.post(citizen, f"@{GOV} jembatan Desa Semayap retak parah")
    for n in range(8):
        x_api.post(other, f"@{GOV} lampu jalan mati di gang {n}")
    reply = x_api.post(citizen, f"@{GOV} retaknya makin lebar", reply_to=post)
    for n in range(3):
        x_api.post(other, f"@{GOV} sampah menumpuk di pasar {n}")
    try:
        await Runner(app).run_once()
        rows = await cases(app)
    finally:
        await app.close()
    assert len(rows) == 13
    thread = {r.external_id: r for r in rows if r.reporter_handle == "warga_kotabaru"}
    assert thread[post].kind == "case"
    assert thread[reply].kind == "follow_up"
    assert thread[reply].follow_up_of_id == thread[post].id
