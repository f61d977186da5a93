"""One batch of mails stored at once: what the batch itself repeats or
answers is recognised as well as what earlier batches stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from config.settings import Settings
from contracts.channel import FetchResult
from contracts.records import InboundMessage, RejectedItem
from dengar.app import App
from storage.tables import AttachmentRow, ComplaintRow, OutboxRow, StatusEvent

WHEN = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def mail(
    number: int,
    *,
    subject: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    attachment: bool = False,
) -> bytes:
    head = [
        f"From: Warga {number} <warga{number}@example.id>",
        "To: pengaduan@kab.example.go.id",
        f"Subject: {subject or f'Jalan berlubang nomor {number}'}",
        f"Message-ID: {message_id or f'<m{number}@example.id>'}",
    ]
    if in_reply_to:
        head.append(f"In-Reply-To: {in_reply_to}")
    text = f"Jalan di desa {number} berlubang, mohon segera diperbaiki."
    if not attachment:
        return ("\n".join([*head, "", text, ""])).encode()
    head += ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b"']
    body = [
        "--b",
        "Content-Type: text/plain; charset=utf-8",
        "",
        text,
        "--b",
        'Content-Type: image/jpeg; name="foto.jpg"',
        "Content-Transfer-Encoding: base64",
        "",
        "/9j/4AAQSkZJRgABAQ==",
        "--b--",
        "",
    ]
    return "\n".join([*head, "", *body]).encode()


def item(external_id: str, raw: bytes) -> InboundMessage:
    return InboundMessage(
        channel="surat",
        external_id=external_id,
        received_at=WHEN,
        raw=raw,
        raw_format="rfc822",
    )


@pytest.fixture
def app(make_settings: Callable[..., Settings]) -> Iterator[App]:
    opened = App.open(make_settings())
    yield opened
    opened.engine.dispose()


def rows(app: App) -> list[ComplaintRow]:
    with app.sessions() as session:
        return list(session.exec(select(ComplaintRow).order_by(ComplaintRow.id)))


def test_a_batch_stores_each_mail_once_with_its_own_tracking_number(app: App) -> None:
    batch = [item(f"f{n}", mail(n, attachment=n % 2 == 0)) for n in range(30)]
    summary = app.store("surat", FetchResult(items=batch, cursor="c1"))
    assert summary.new_cases == 30
    assert summary.queued["PUPR"] == 30
    stored = rows(app)
    assert len({row.tracking_no for row in stored}) == 30
    assert all(row.tracking_no and row.tracking_no.startswith("ADU-") for row in stored)
    assert {row.agency_code for row in stored} == {"PUPR"}
    assert {row.status for row in stored} == {"received"}
    with app.sessions() as session:
        outbox = session.exec(select(OutboxRow)).all()
        assert sorted(o.idempotency_key for o in outbox) == sorted(
            f"{row.tracking_no}/PUPR" for row in stored
        )
        assert len(session.exec(select(StatusEvent)).all()) == 30
        photos = session.exec(select(AttachmentRow)).all()
        assert len(photos) == 15
        assert {p.filename for p in photos} == {"foto.jpg"}


def test_a_batch_stored_again_adds_nothing(app: App) -> None:
    batch = [item(f"f{n}", mail(n)) for n in range(5)]
    app.store("surat", FetchResult(items=batch, cursor="c1"))
    again = app.store("surat", FetchResult(items=batch, cursor="c1"))
    assert again.already_stored == 5
    assert again.new_cases == 0
    assert len(rows(app)) == 5


def test_a_mail_twice_in_one_batch_is_stored_once(app: App) -> None:
    # the same file listed twice, and the same mail delivered as two files
    batch = [
        item("f1", mail(1)),
        item("f1", mail(1)),
        item("f2", mail(2)),
        item("f2-copy", mail(2)),
    ]
    summary = app.store("surat", FetchResult(items=batch, cursor="c1"))
    assert summary.new_cases == 2
    assert summary.already_stored == 2
    assert [row.external_id for row in rows(app)] == ["f1", "f2"]


def test_a_mail_already_stored_under_another_file_name_is_recognised(
    app: App,
) -> None:
    app.store("surat", FetchResult(items=[item("f1", mail(1))], cursor="c1"))
    summary = app.store("surat", FetchResult(items=[item("f9", mail(1))], cursor="c2"))
    assert summary.already_stored == 1
    assert len(rows(app)) == 1


def test_replies_in_the_same_batch_follow_their_case(app: App) -> None:
    app.store("surat", FetchResult(items=[item("f0", mail(0))], cursor="c0"))
    first = rows(app)[0]
    batch = [
        item("f1", mail(1)),
        # answers f1, stored a moment earlier in this very batch
        item("f2", mail(2, in_reply_to="<m1@example.id>")),
        # names the tracking number of a case from an earlier batch
        item("f3", mail(3, subject=f"Re: [{first.tracking_no}] jalan")),
    ]
    summary = app.store("surat", FetchResult(items=batch, cursor="c1"))
    assert (summary.new_cases, summary.follow_ups) == (1, 2)
    by_file = {row.external_id: row for row in rows(app)}
    assert by_file["f2"].kind == "follow_up"
    assert by_file["f2"].follow_up_of_id == by_file["f1"].id
    assert by_file["f3"].follow_up_of_id == first.id


def test_unreadable_and_rejected_items_are_quarantined_once(app: App) -> None:
    rejected = RejectedItem("surat", "big", b"x" * 10, "too large")
    batch = FetchResult(items=[item("f1", mail(1))], cursor="c1", rejected=[rejected])
    first = app.store("surat", batch)
    assert first.quarantined == 1
    again = app.store("surat", batch)
    assert again.quarantined == 0
    assert again.already_stored == 2


def test_a_tracking_number_already_taken_is_never_given_again(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    app.store("surat", FetchResult(items=[item("f1", mail(1))], cursor="c1"))
    taken = rows(app)[0].tracking_no
    drawn = iter([taken, taken, taken, *(f"ADU-TEST-{n:04d}" for n in range(100))])
    monkeypatch.setattr("dengar.batch.new_tracking_no", lambda _prefix: next(drawn))
    batch = [item(f"f{n}", mail(n)) for n in range(2, 5)]
    app.store("surat", FetchResult(items=batch, cursor="c2"))
    numbers = [row.tracking_no for row in rows(app)]
    assert len(set(numbers)) == 4
    assert numbers.count(taken) == 1


def test_an_edit_in_the_same_batch_is_recorded_after_the_case_opened(
    app: App,
) -> None:
    first = InboundMessage(
        channel="surat",
        external_id="m1",
        received_at=WHEN,
        raw=b"{}",
        raw_format="json",
        text="Jalan berlubang di Stagen",
    )
    edit = InboundMessage(
        channel="surat",
        external_id="m1-edit",
        received_at=WHEN,
        raw=b"{}",
        raw_format="json",
        text="Jalan berlubang besar di Stagen",
        edit_of="m1",
    )
    summary = app.store("surat", FetchResult(items=[first, edit], cursor="c1"))
    assert (summary.new_cases, summary.follow_ups) == (1, 1)
    case = rows(app)[0]
    assert case.clean_text == "Jalan berlubang besar di Stagen"
    with app.sessions() as session:
        events = session.exec(select(StatusEvent).order_by(StatusEvent.id)).all()
    assert [(e.complaint_id, e.actor) for e in events] == [
        (case.id, "dengar"),
        (case.id, "citizen"),
    ]
    assert events[1].note == "text edited; previous version: Jalan berlubang di Stagen"
