"""A status change reaches the reporter, and the reporter of a linked
duplicate, through the emulated Telegram Bot API: ``change_status`` ->
notify (an outbox reply) -> the outbox worker -> ``sendMessage``."""

from __future__ import annotations

import pytest
from sqlmodel import select

from config.settings import Settings
from contracts.records import CaseStatus, OutgoingReply
from dengar.app import App
from dengar.runner import Runner
from dispatcher.outbox import queue as outbox
from dispatcher.status import change_status
from storage.tables import ComplaintRow
from tests.fakes.telegram_api import FakeTelegramApi, bot_settings


@pytest.fixture
async def api():
    async with FakeTelegramApi().running() as fake:
        yield fake


@pytest.fixture
def settings(api, tmp_path):
    return bot_settings(api, f"sqlite:///{tmp_path / 'dengar.db'}")


async def run_once(settings: Settings) -> App:
    app = App.open(settings)
    try:
        await Runner(app).run_once()
    finally:
        await app.close()
    return app


def queue_reply(sessions, row: ComplaintRow, text: str, n: int) -> None:
    """What the application's notify does: a reply row in the outbox."""
    with sessions() as session:
        case = session.get(ComplaintRow, row.id)
        outbox.enqueue_reply(
            session,
            case,
            OutgoingReply(
                channel=row.channel,
                recipient=row.reporter_chat_id or "",
                text=text,
                tracking_no=row.tracking_no,
                idempotency_key=f"status:{row.id}:{n}",
            ),
        )
        session.commit()


async def test_status_change_reaches_reporter_and_duplicate_reporter(api, settings):
    await api.push_message(42, "Jalan Pramuka berlubang besar, bahaya untuk motor")
    await api.push_message(43, "Di Jl. Pramuka ada lubang besar di tengah jalan")
    app = await run_once(settings)
    with app.sessions() as session:
        first, second = session.exec(
            select(ComplaintRow)
            .where(ComplaintRow.kind == "case")
            .order_by(ComplaintRow.id)
        ).all()
        if second.duplicate_of_id != first.id:
            # dedupe may or may not have linked them; staff link them here
            second.duplicate_of_id = first.id
            session.add(second)
            session.commit()
    acks = len(api.sent)

    told = []
    with app.sessions() as session:
        case = session.get(ComplaintRow, first.id)
        change_status(
            session,
            case,
            CaseStatus.IN_PROGRESS,
            "regu 2, alat berat besok",
            "agency:PUPR",
            lambda row, text: told.append((row, text)),
            message="Tim PUPR sudah ke lokasi",
        )
        session.commit()
    for n, (row, text) in enumerate(told):
        queue_reply(app.sessions, row, text, n)

    await run_once(settings)
    sent = {m.chat_id: m.text for m in api.sent[acks:]}
    assert set(sent) == {42, 43}
    assert first.tracking_no in sent[42]
    assert (second.tracking_no or first.tracking_no) in sent[43]
    for text in sent.values():
        assert "sedang ditindaklanjuti" in text
        assert "Tim PUPR sudah ke lokasi" in text
        assert "regu 2" not in text  # the internal note stays inside
