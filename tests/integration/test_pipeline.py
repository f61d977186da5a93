"""The whole pipeline on the bundled sample inbox, on SQLite and PostgreSQL:
idempotent reruns and the crash invariant (DESIGN.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlmodel import func, select

from config.settings import Settings
from dengar.app import App
from dengar.pipeline import Pipeline
from dengar.runner import Runner
from storage.tables import AgencyQueueRow, ChannelState, ComplaintRow, OutboxRow

pytestmark = pytest.mark.postgres  # the postgres half of `database_url`


def counts(app: App) -> dict[str, int]:
    with app.sessions() as session:

        def n(model: type, *where: object) -> int:
            return int(
                session.exec(
                    select(func.count()).select_from(model).where(*where)
                ).one()
            )  # type: ignore[arg-type]

        return {
            "cases": n(ComplaintRow, ComplaintRow.kind == "case"),
            "ignored": n(ComplaintRow, ComplaintRow.kind == "ignored"),
            "outbox": n(OutboxRow),
            "queued": n(AgencyQueueRow),
        }


async def run_once(settings: Settings) -> tuple[App, dict[str, int]]:
    app = App.open(settings)
    try:
        await Runner(app).run_once()
        return app, counts(app)
    finally:
        await app.close()


async def test_sample_inbox_end_to_end_and_rerun_changes_nothing(
    make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = make_settings(database_url=database_url)
    app, first = await run_once(settings)
    assert first == {"cases": 12, "ignored": 1, "outbox": 12, "queued": 12}
    with app.sessions() as session:
        ignored = session.exec(
            select(ComplaintRow).where(ComplaintRow.kind == "ignored")
        ).one()
        assert ignored.ignored_reason == "Auto-Submitted: auto-replied"
        stagen = session.exec(
            select(ComplaintRow).where(
                ComplaintRow.kind == "case",
                ComplaintRow.clean_text.contains("Stagen"),  # type: ignore[union-attr]
            )
        ).all()
        # the near-identical pair stays two cases, each with its own number
        assert len(stagen) == 2
        assert len({c.tracking_no for c in stagen}) == 2
        assert {c.agency_code for c in stagen} == {"PUPR"}
        ktp = session.exec(
            select(ComplaintRow).where(ComplaintRow.subject.contains("KTP-el"))  # type: ignore[union-attr]
        ).one()
        assert ktp.agency_code == "DISDUKCAPIL"
        assert ktp.status == "dispatched"
    app.engine.dispose()  # inspected after close: release those connections
    app, second = await run_once(settings)
    app.engine.dispose()
    assert second == first


async def test_crash_before_commit_loses_nothing_and_doubles_nothing(
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(after_import="move", batch_size=5)
    original = Pipeline.ingest
    calls = {"n": 0}

    def crash_on_second_batch(self: Pipeline, session, channel, result, **kw):  # type: ignore[no-untyped-def]
        summary = original(self, session, channel, result, **kw)
        calls["n"] += 1
        if calls["n"] == 2:
            session.flush()  # everything is written, nothing committed
            raise KeyboardInterrupt  # stands in for SIGKILL: no cleanup runs
        return summary

    monkeypatch.setattr(Pipeline, "ingest", crash_on_second_batch)
    app = App.open(settings)
    with pytest.raises(KeyboardInterrupt):
        await Runner(app).run_once()
    await app.close()
    assert counts(app)["cases"] + counts(app)["ignored"] == 5  # the first batch only
    monkeypatch.setattr(Pipeline, "ingest", original)
    app, after = await run_once(settings)
    assert after == {"cases": 12, "ignored": 1, "outbox": 12, "queued": 12}


async def test_crash_between_commit_and_maildir_move_doubles_nothing(
    make_settings: Callable[..., Settings],
    example_maildir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from channels.maildir import MaildirChannel

    settings = make_settings(after_import="move")

    def killed(self: MaildirChannel, result: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(MaildirChannel, "_move", killed)
    app = App.open(settings)
    with pytest.raises(KeyboardInterrupt):
        await Runner(app).run_once()
    await app.close()
    assert counts(app)["cases"] == 12
    assert len(list((example_maildir / "new").iterdir())) == 13  # nothing moved
    monkeypatch.undo()
    app, after = await run_once(settings)
    assert after == {"cases": 12, "ignored": 1, "outbox": 12, "queued": 12}
    assert list((example_maildir / "new").iterdir()) == []
    assert (
        len([p for p in (example_maildir / "cur").iterdir() if p.name.endswith(":2,S")])
        == 13
    )


async def test_unreadable_item_is_quarantined_and_the_batch_goes_on(
    make_settings: Callable[..., Settings],
    example_maildir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import normalizer.normalize as normalize_module

    real = normalize_module.parse_mail

    def fragile(raw: bytes):  # type: ignore[no-untyped-def]
        if b"Puskesmas" in raw:
            raise ValueError("simulated parser failure")
        return real(raw)

    monkeypatch.setattr(normalize_module, "parse_mail", fragile)
    app, after = await run_once(make_settings())
    assert after["cases"] == 11
    from storage.tables import QuarantineRow

    with app.sessions() as session:
        held = session.exec(select(QuarantineRow)).one()
        assert held.reason == "cannot normalise: ValueError: simulated parser failure"
        assert b"Puskesmas" in held.data
        state = session.get(ChannelState, "surat")
        assert state is not None
        assert state.last_error is None


BOUNCE = b"""From: Mail Delivery System <MAILER-DAEMON@mail.kotabarukab.go.id>
To: pengaduan@kotabarukab.go.id
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-1@mail.kotabarukab.go.id>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.kotabarukab.go.id

Final-Recipient: rfc822; warga.hilang@example.com
Action: failed
Status: 5.1.1

--b1--
"""


async def test_a_bounce_marks_the_address_undeliverable(
    make_settings: Callable[..., Settings], example_maildir: Path
) -> None:
    from contracts.records import OutgoingReply
    from dispatcher.outbox import queue as outbox
    from storage.tables import UnreachableRecipient

    (example_maildir / "new" / "1999.bounce.host").write_bytes(BOUNCE)
    app, after = await run_once(make_settings())
    assert after["ignored"] == 2  # the auto-reply and the bounce
    with app.sessions() as session:
        marked = session.exec(select(UnreachableRecipient)).one()
        assert marked.recipient == "warga.hilang@example.com"
        case = session.exec(
            select(ComplaintRow).where(ComplaintRow.kind == "case")
        ).first()
        reply = OutgoingReply(
            channel="surat",
            recipient="warga.hilang@example.com",
            text="x",
            idempotency_key="k",
        )
        assert outbox.enqueue_reply(session, case, reply) is None
    app.engine.dispose()
