"""What a follow-up changes in its case, decided without a database."""

from __future__ import annotations

from datetime import UTC, datetime

from contracts.records import Location, Reporter
from normalizer.followups import add_to_case
from normalizer.normalize import Normalized
from storage.tables import ComplaintRow


def case(**values: object) -> ComplaintRow:
    return ComplaintRow(
        kind="case",
        channel="bot",
        external_id="1",
        received_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
        original_text=str(values.pop("text", "")),
        clean_text=str(values.pop("clean", "")),
        raw_format="json",
        **values,
    )


def follow_up(
    text: str = "", location: Location | None = None, phone: str | None = None
) -> Normalized:
    return Normalized(
        subject=None,
        original_text=text,
        clean_text=text,
        reporter=Reporter(chat_id="42", phone=phone),
        location=location,
    )


PASAR = Location(-3.44, 114.83, "Pasar Martapura")


def test_a_photo_opened_case_takes_the_first_words_and_place() -> None:
    row = case()
    add_to_case(row, follow_up("Jalan depan pasar berlubang", PASAR), edit=False)
    assert row.clean_text == "Jalan depan pasar berlubang"
    assert row.original_text == "Jalan depan pasar berlubang"
    assert (row.location_lat, row.location_lon, row.location_label) == (
        -3.44,
        114.83,
        "Pasar Martapura",
    )


def test_what_the_case_has_is_kept() -> None:
    row = case(
        text="Lampu jalan mati",
        clean="Lampu jalan mati",
        location_lat=1.0,
        location_lon=2.0,
        reporter_phone="0812",
    )
    add_to_case(row, follow_up("sudah seminggu", PASAR, "0899"), edit=False)
    assert row.clean_text == "Lampu jalan mati"
    assert (row.location_lat, row.location_lon) == (1.0, 2.0)
    assert row.reporter_phone == "0812"


def test_a_phone_shared_later_is_kept_on_the_case() -> None:
    row = case(text="Lampu jalan mati", clean="Lampu jalan mati")
    add_to_case(row, follow_up(phone="081234567890"), edit=False)
    assert row.reporter_phone == "081234567890"


def test_an_edit_leaves_the_text_to_the_edit_rules() -> None:
    row = case()
    add_to_case(row, follow_up("Jalan berlubang (diperbaiki)", PASAR), edit=True)
    assert row.clean_text == ""
    assert row.location_label == "Pasar Martapura"


def test_the_answer_to_where_gives_the_case_its_region() -> None:
    asked: list[str] = []

    def region_of(text: str, where: Location | None) -> str | None:
        asked.append(text)
        return "Martapura" if where == PASAR else None

    row = case(text="Lampu jalan mati", clean="Lampu jalan mati")
    add_to_case(row, follow_up(location=PASAR), edit=False, region_of=region_of)
    assert row.region == "Martapura"
    assert asked == ["Lampu jalan mati"]  # read with the case's own words
    routed = case(clean="Lampu mati", region="Banjarbaru")
    add_to_case(routed, follow_up(location=PASAR), edit=False, region_of=region_of)
    assert routed.region == "Banjarbaru"  # a region it had stays
