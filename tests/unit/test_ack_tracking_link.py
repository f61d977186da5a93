"""The acknowledgement links to the public tracking page when the web app's
public address is configured, and reads well without it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from sqlmodel import select

from config.settings import Settings
from contracts.channel import FetchResult
from dengar.app import App
from dispatcher.notify import DEFAULT_MESSAGES, render, tracking_url
from storage.tables import ComplaintRow, OutboxRow
from tests.unit.test_email_batch import item, mail


def _ack_of(make_settings: Callable[..., Settings], extra: str) -> tuple[str, str]:
    app = App.open(make_settings(extra=extra))
    app.pipeline.repliers = frozenset({"surat"})  # the Maildir channel answers
    app.pipeline.__post_init__()
    try:
        app.store("surat", FetchResult(items=[item("f1", mail(1))], cursor="c1"))
        with app.sessions() as session:
            case = session.exec(select(ComplaintRow)).one()
            reply = session.exec(
                select(OutboxRow).where(OutboxRow.kind == "reply")
            ).one()
            return str(case.tracking_no), reply.payload or ""
    finally:
        app.engine.dispose()


def test_the_acknowledgement_links_to_the_tracking_page(make_settings) -> None:
    number, payload = _ack_of(
        make_settings, "web:\n  public_url: https://lapor.kotabarukab.go.id/\n"
    )
    text = json.loads(payload)["text"]
    assert f"https://lapor.kotabarukab.go.id/lacak?no={number}" in text
    assert "memantau perkembangannya" in text


def test_without_a_public_address_there_is_no_link(make_settings) -> None:
    number, payload = _ack_of(make_settings, "")
    text = json.loads(payload)["text"]
    assert number in text
    assert "/lacak" not in text
    assert "{tracking_link}" not in text
    assert "memantau" not in text


@pytest.mark.parametrize("name", ["ack", "ack_choice", "ack_email"])
def test_every_acknowledgement_template_carries_the_link(name: str) -> None:
    values = {
        "tracking_no": "ADU-7K3M-9Q2D",
        "window": "2 menit",
        "salutation": "Bapak/Ibu",
        "excerpt": "> jalan",
        "signature": "Hormat kami",
    }
    url = tracking_url("https://lapor.example.go.id", "ADU-7K3M-9Q2D")
    assert url == "https://lapor.example.go.id/lacak?no=ADU-7K3M-9Q2D"
    assert url in render(name, None, tracking_url=url, **values)
    plain = render(name, None, tracking_url=None, **values)
    assert "/lacak" not in plain
    assert not plain.endswith("\n")


def test_an_override_without_the_placeholder_still_renders() -> None:
    overrides = {"ack": "Nomor Anda {tracking_no}."}
    text = render("ack", overrides, tracking_no="ADU-1", tracking_url="https://x/l")
    assert text == "Nomor Anda ADU-1."
    assert "{tracking_link}" in DEFAULT_MESSAGES["ack"]
