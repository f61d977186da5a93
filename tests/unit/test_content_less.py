"""A message with no complaint in it opens no case (issue 16, item 8): it is
kept as ignored with the reason, its sender is told how to write a
complaint, and the first message that says something opens the case, is
classified and routed. Photos, locations and documents are complaints."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlmodel import SQLModel, select

from config.settings import Settings
from contracts.channel import FetchResult
from contracts.records import (
    InboundAttachment,
    InboundMessage,
    Location,
    MissingFile,
    Reporter,
)
from dengar.app import _classifier
from dengar.pipeline import Pipeline
from normalizer.content import CONTENT_LESS_REASON, complaint_words
from normalizer.dedupe.rows import RowDeduper
from storage.engine import make_engine, session_factory
from storage.tables import ComplaintRow, OutboxRow

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
_ids = count(1)

CONTENT_LESS = [
    "halo",
    "Halo min 👋",
    "P",
    "ok",
    "Oke siap, terima kasih banyak ya pak",
    "terima kasih",
    "makasih kak 🙏🙏",
    "Assalamualaikum wr wb",
    "Selamat siang Bapak/Ibu, mohon maaf mengganggu",
    "permisi, mau tanya",
    "saya mau lapor min",
    "matur nuwun",
    "good morning",
    "wkwkwk hahaha",
    "👍",
    "...",
    "halo, saya Siti Aminah",  # the sender's own name is no complaint
    "halo, WA saya 0812-3456-7890",
]
SAYS_SOMETHING = [
    "banjir",
    "Halo min, lampu jalan di depan SDN 3 mati",
    "sampah menumpuk",
    "pungli di kantor desa",
    "RT 5",
]


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.model_validate(
        {
            "database_url": f"sqlite:///{tmp_path / 'd.db'}",
            "tracking_prefix": "ADU",
            "agencies": [
                {"code": "DISKOMINFO", "name": "Diskominfo"},
                {"code": "PUPR", "name": "Dinas PUPR"},
            ],
            "categories": [{"name": "jalan", "keywords": {"jalan": 1, "berlubang": 3}}],
            "routing": {
                "default_agency": "DISKOMINFO",
                "rules": [{"agency": "PUPR", "categories": ["jalan"]}],
            },
            "channels": [
                {"type": "telegram", "name": "bot", "token": "1:x"},
                {
                    "type": "imap",
                    "name": "surat",
                    "host": "127.0.0.1",
                    "username": "pengaduan",
                    "password": "rahasia",
                    "smtp": {"host": "127.0.0.1", "from_address": "p@kab.go.id"},
                },
            ],
        }
    )


@pytest.fixture
def sessions(settings: Settings) -> Iterator[object]:
    engine = make_engine(settings.database_url)
    SQLModel.metadata.create_all(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def pipeline(settings: Settings, sessions) -> Pipeline:
    with sessions() as session:
        deduper = RowDeduper.open(session, settings.dedupe)
    return Pipeline(
        settings=settings,
        policies=settings.channel_policies(),
        repliers=frozenset({"bot", "surat"}),
        classifier=_classifier(settings),
        deduper=deduper,
    )


def chat(
    text: str | None,
    minutes: float = 0,
    chat_id: str = "42",
    **fields: object,
) -> InboundMessage:
    return InboundMessage(
        channel="bot",
        external_id=f"msg:{chat_id}:{next(_ids)}",
        received_at=T0 + timedelta(minutes=minutes),
        raw=b"{}",
        raw_format="json",
        text=text,
        reporter=Reporter(name="Siti Aminah", chat_id=chat_id),
        **fields,  # type: ignore[arg-type]
    )


def mail(subject: str, body: str) -> InboundMessage:
    n = next(_ids)
    raw = (
        f"From: Warga <warga{n}@example.id>\nTo: pengaduan@kab.go.id\n"
        f"Subject: {subject}\nMessage-ID: <m{n}@example.id>\n\n{body}\n"
    ).encode()
    return InboundMessage(
        channel="surat",
        external_id=f"f{n}",
        received_at=T0,
        raw=raw,
        raw_format="rfc822",
    )


def ingest(pipeline: Pipeline, sessions, *items: InboundMessage):
    channel = items[0].channel
    with sessions() as session:
        summary = pipeline.ingest(
            session, channel, FetchResult(items=list(items), cursor="c")
        )
        session.commit()
    return summary


def stored(sessions, kind: str) -> list[ComplaintRow]:
    with sessions() as session:
        return list(
            session.exec(
                select(ComplaintRow)
                .where(ComplaintRow.kind == kind)
                .order_by(ComplaintRow.id)
            )
        )


def replies(sessions) -> list[OutboxRow]:
    with sessions() as session:
        return list(
            session.exec(
                select(OutboxRow)
                .where(OutboxRow.kind == "reply")
                .order_by(OutboxRow.id)
            )
        )


def reply_text(row: OutboxRow) -> str:
    return str(json.loads(row.payload or "{}").get("text", ""))


@pytest.mark.parametrize("text", CONTENT_LESS)
def test_a_message_without_complaint_content_has_no_complaint_words(text):
    assert complaint_words(None, text, "Siti Aminah") == []


@pytest.mark.parametrize("text", SAYS_SOMETHING)
def test_a_message_that_names_a_problem_has_complaint_words(text):
    assert complaint_words(None, text, "Siti Aminah")


def test_a_greeting_then_the_complaint_opens_one_routed_case(pipeline, sessions):
    first = ingest(pipeline, sessions, chat("halo"))
    assert (first.new_cases, first.ignored) == (0, 1)
    [greeting] = stored(sessions, "ignored")
    assert greeting.ignored_reason == CONTENT_LESS_REASON
    assert greeting.original_text == "halo"  # kept, not lost
    [how_to] = replies(sessions)
    assert how_to.recipient == "42"
    text = reply_text(how_to)
    assert "apa masalahnya, di mana" in text
    assert "sejak kapan" in text
    assert "Foto dan lokasi" in text

    # a minute later, in the same chat session: the real complaint
    second = ingest(
        pipeline, sessions, chat("Jalan Pramuka berlubang besar, bahaya", minutes=1)
    )
    assert (second.new_cases, second.follow_ups) == (1, 0)
    [case] = stored(sessions, "case")
    assert case.original_text.startswith("Jalan Pramuka")
    assert (case.category, case.agency_code) == ("jalan", "PUPR")
    assert stored(sessions, "follow_up") == []
    # and a "terima kasih" after the acknowledgement is the case's, unanswered
    third = ingest(pipeline, sessions, chat("terima kasih", minutes=2))
    assert third.follow_ups == 1
    assert [r.idempotency_key.split(":")[1] for r in replies(sessions)] == [
        "how-to",
        "ack",
    ]


@pytest.mark.parametrize("text", CONTENT_LESS)
def test_no_content_less_first_message_opens_a_case(pipeline, sessions, text):
    summary = ingest(pipeline, sessions, chat(text))
    assert (summary.new_cases, summary.ignored) == (0, 1)
    assert stored(sessions, "case") == []


def test_a_sticker_alone_opens_no_case(pipeline, sessions):
    summary = ingest(pipeline, sessions, chat(None, hint="sticker"))
    assert (summary.new_cases, summary.ignored) == (0, 1)


@pytest.mark.parametrize(
    "extra",
    [
        {"attachments": (InboundAttachment("foto.jpg", "image/jpeg", b"\xff\xd8"),)},
        {"attachments": (InboundAttachment("surat.pdf", "application/pdf", b"%PDF"),)},
        {"attachments": (InboundAttachment("voice.ogg", "audio/ogg", b"OggS"),)},
        {"location": Location(-3.24, 116.21)},
    ],
    ids=["photo", "document", "voice", "location"],
)
@pytest.mark.parametrize("caption", [None, "halo"])
def test_a_photo_location_or_document_alone_is_a_complaint(
    pipeline, sessions, extra, caption
):
    summary = ingest(pipeline, sessions, chat(caption, **extra))
    assert (summary.new_cases, summary.ignored) == (1, 0)


def test_a_string_of_greetings_gets_one_answer(pipeline, sessions):
    ingest(pipeline, sessions, chat("halo"), chat("halo min", minutes=0.5))
    ingest(pipeline, sessions, chat("P", minutes=2))
    assert len(stored(sessions, "ignored")) == 3
    assert len(replies(sessions)) == 1
    # another chat is answered on its own; the same chat again after the session
    ingest(pipeline, sessions, chat("halo", minutes=3, chat_id="43"))
    ingest(pipeline, sessions, chat("halo", minutes=60))
    assert [r.recipient for r in replies(sessions)] == ["42", "43", "42"]


def test_greetings_are_never_linked_as_duplicates(pipeline, sessions):
    ingest(pipeline, sessions, chat("terima kasih"), chat("terima kasih", 30))
    ingest(pipeline, sessions, chat("terima kasih", 5, chat_id="43"))
    assert stored(sessions, "case") == []
    ingest(pipeline, sessions, chat("Lampu jalan di Jl. Veteran mati", 40))
    [case] = stored(sessions, "case")
    assert case.duplicate_of_id is None


@pytest.mark.parametrize(
    ("subject", "body"), [("test", ""), ("", ""), ("Halo", "Terima kasih.")]
)
def test_a_content_less_mail_is_answered_with_how_to_complain(
    pipeline, sessions, subject, body
):
    summary = ingest(pipeline, sessions, mail(subject, body))
    assert (summary.new_cases, summary.ignored) == (0, 1)
    [answer] = replies(sessions)
    assert answer.recipient.startswith("warga")
    assert "apa masalahnya" in reply_text(answer)


def test_a_mail_whose_subject_names_the_problem_is_a_case(pipeline, sessions):
    summary = ingest(pipeline, sessions, mail("Jalan berlubang di Desa Stagen", ""))
    assert summary.new_cases == 1


def test_a_greeting_stored_as_a_case_earlier_is_no_follow_up_target(
    pipeline: Pipeline, sessions
):
    # what older versions stored: "halo" as a case of its own
    with sessions() as session:
        session.add(
            ComplaintRow(
                kind="case",
                tracking_no="ADU-0000-0001",
                channel="bot",
                external_id="msg:42:old",
                received_at=T0,
                reporter_chat_id="42",
                original_text="halo",
                clean_text="halo",
                raw_format="json",
                agency_code="DISKOMINFO",
            )
        )
        session.commit()
    summary = ingest(pipeline, sessions, chat("Jalan Pramuka berlubang", minutes=1))
    assert (summary.new_cases, summary.follow_ups) == (1, 0)
    new = stored(sessions, "case")[-1]
    assert (new.category, new.agency_code) == ("jalan", "PUPR")


def test_an_edit_of_a_greeting_that_says_something_opens_the_case(pipeline, sessions):
    greeting = chat("halo")
    ingest(pipeline, sessions, greeting)
    edit = chat(
        "halo, jalan Pramuka berlubang besar",
        minutes=1,
        edit_of=greeting.external_id,
    )
    summary = ingest(pipeline, sessions, edit)
    assert (summary.new_cases, summary.follow_ups) == (1, 0)
    [case] = stored(sessions, "case")
    assert case.category == "jalan"


def test_a_reply_to_the_how_to_mail_with_the_complaint_opens_the_case(
    pipeline, sessions
):
    ingest(pipeline, sessions, mail("test", ""))
    [how_to] = replies(sessions)
    with sessions() as session:
        row = session.get(OutboxRow, how_to.id)
        row.remote_id = "<jawaban-1@kab.go.id>"  # what the SMTP sender records
        session.add(row)
        session.commit()
    n = next(_ids)
    answer = InboundMessage(
        channel="surat",
        external_id=f"f{n}",
        received_at=T0 + timedelta(minutes=5),
        raw=(
            "From: Warga <warga@example.id>\nTo: pengaduan@kab.go.id\n"
            "Subject: Re: Cara menyampaikan pengaduan\n"
            f"Message-ID: <m{n}@example.id>\n"
            "In-Reply-To: <jawaban-1@kab.go.id>\n\n"
            "Jalan di Desa Stagen berlubang besar sejak sebulan.\n"
        ).encode(),
        raw_format="rfc822",
    )
    summary = ingest(pipeline, sessions, answer)
    assert (summary.new_cases, summary.follow_ups) == (1, 0)


@pytest.mark.parametrize(
    "text",
    [
        "terima kasih " * 400 + "jalan berlubang",  # the problem comes last
        "jalan berlubang " + "terima kasih " * 400,
    ],
)
def test_a_long_text_with_a_problem_anywhere_is_a_case(pipeline, sessions, text):
    summary = ingest(pipeline, sessions, chat(text))
    assert summary.new_cases == 1


def test_a_long_text_of_thanks_only_is_no_case(pipeline, sessions):
    summary = ingest(pipeline, sessions, chat("terima kasih banyak " * 400))
    assert summary.new_cases == 0


@pytest.mark.parametrize(
    "fields",
    [
        {
            "missing_files": (
                MissingFile(
                    kind="photo",
                    filename="foto.jpg",
                    size=1000,
                    reason="unavailable: file is temporarily unavailable",
                    file_id="AgAD",
                ),
            )
        },
        {
            "missing_files": (
                MissingFile(
                    kind="photo",
                    filename="foto.jpg",
                    size=30_000_000,
                    reason="too_large",
                    file_id="AgAE",
                ),
            )
        },
        {"contact_shared": True},
    ],
    ids=["photo-not-downloaded", "photo-too-large", "contact"],
)
def test_a_file_we_could_not_keep_or_a_shared_contact_is_no_greeting(
    pipeline, sessions, fields
):
    summary = ingest(pipeline, sessions, chat(None, **fields))
    assert (summary.new_cases, summary.ignored) == (1, 0)
