"""The contract every agency sink keeps, as one class of tests (kombu's
``t/integration/common.py`` style): a sink's test class subclasses
:class:`SinkContract` and provides a ``backend`` fixture giving a
:class:`Backend` — the agency delivering through the sink against its real
server or a local fake, and how to read what arrived there.

What every sink must do: deliver a built message intact (schema v1) with its
idempotency key where the consumer sees it, its codes with the Indonesian
its people read beside them; carry the same key on a re-send
after a crash; deliver confidential cases without the reporter; answer a
batch per delivery, in order; fail retriably when its target cannot be
reached; keep its credentials out of its repr and its errors; and redact a
case made confidential after it was delivered.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from config.settings import AgencySettings, Settings
from contracts.errors import RetriableDeliveryError
from dengar.confidentiality import change_confidentiality
from dispatcher.message import idempotency_key
from dispatcher.outbox import queue as outbox
from dispatcher.sinks.base import Delivery, Sink, SinkContext, deliver_batch
from dispatcher.sinks.registry import build_sink
from dispatcher.worker import OutboxWorker
from tests.unit.dispatcher.test_message_schema import (
    add_case,
    add_photo,
    assert_valid,
    built_delivery,
    sqlite_sessions,
)

Read = Callable[[], Awaitable[list[tuple[str, dict[str, Any]]]]]


@dataclass
class Backend:
    """One sink type against its backend.

    ``read()`` gives what arrived, as (idempotency key, message) pairs, and
    sets ``read.meta`` to what tells each arrival's kind (event types, mail
    subjects, requests).
    ``unreachable`` is the same agency pointed at a closed port (None for a
    sink with no remote target); ``secrets`` are the credentials its
    settings hold, none of which may show in a repr or an error.
    """

    agency: AgencySettings
    read: Read
    unreachable: AgencySettings | None = None
    secrets: list[str] = field(default_factory=list)


def agency(sink: dict[str, Any], code: str = "PUPR") -> AgencySettings:
    """An agency delivering through ``sink`` (its config block)."""
    return AgencySettings.model_validate(
        {"code": code, "name": "Dinas PUPR", "sink": sink}
    )


class SinkContract:
    """Subclass with a ``backend`` fixture (see the module docstring)."""

    @pytest.fixture
    def sessions(self, tmp_path):
        return sqlite_sessions(tmp_path / "dengar.db")

    @staticmethod
    async def _deliver(sink: Sink, *deliveries: Delivery) -> None:
        try:
            for delivery in deliveries:
                await sink.deliver(delivery)
        finally:
            await sink.close()

    async def test_delivers_the_message_with_its_key(self, backend, sessions):
        sink = build_sink(backend.agency, SinkContext(sessions=sessions))
        delivery = built_delivery(sessions)
        await self._deliver(sink, delivery)
        [(key, message)] = await backend.read()
        assert key == delivery.idempotency_key
        assert message == delivery.message
        assert_valid(message)

    async def test_people_at_the_agency_read_status_and_reason_in_indonesian(
        self, backend, sessions
    ):
        """What reaches the agency's system carries the stored codes for its
        software and, beside them, the Indonesian its staff read."""
        sink = build_sink(backend.agency, SinkContext(sessions=sessions))
        delivery = built_delivery(
            sessions, routing_reason="no rule matched: default agency"
        )
        await self._deliver(sink, delivery)
        [(_, message)] = await backend.read()
        assert message["status"] == "dispatched"
        assert message["status_text"] == "diteruskan"
        assert message["routing_reason"] == "no rule matched: default agency"
        assert message["routing_reason_text"] == (
            "tidak ada aturan rute yang cocok: instansi bawaan"
        )
        assert_valid(message)

    async def test_a_resend_carries_the_same_key(self, backend, sessions):
        sink = build_sink(backend.agency, SinkContext(sessions=sessions))
        delivery = built_delivery(sessions)
        await self._deliver(sink, delivery, delivery)  # crash between send and record
        arrived = await backend.read()
        assert 1 <= len(arrived) <= 2
        assert {key for key, _ in arrived} == {delivery.idempotency_key}

    @pytest.mark.parametrize("level", ["anonim", "rahasia"])
    async def test_confidential_cases_arrive_without_the_reporter(
        self, backend, sessions, level
    ):
        sink = build_sink(backend.agency, SinkContext(sessions=sessions))
        delivery = built_delivery(
            sessions,
            confidentiality=level,
            clean_text="Saya Siti Rahmawati, HP 0812-3456-7890, NIK 6302011203900004: "
            "jalan berlubang, sudah 3 bulan.",
        )
        await self._deliver(sink, delivery)
        [(_, message)] = await backend.read()
        assert message["reporter"] is None
        assert "siti@warga.example" not in json.dumps(message)
        # the text the agency reads names nobody: the reporter's own name and
        # every phone number and NIK in it are masked
        assert message["text"] == (
            "Saya [identitas disembunyikan], HP [telepon ***890], NIK [NIK ****0004]: "
            "jalan berlubang, sudah 3 bulan."
        )

    async def test_a_batch_is_answered_per_delivery_in_order(self, backend, sessions):
        sink = build_sink(backend.agency, SinkContext(sessions=sessions))
        batch = [built_delivery(sessions) for _ in range(3)]
        try:
            outcomes = await deliver_batch(sink, batch)
        finally:
            await sink.close()
        assert len(outcomes) == 3
        assert not [o for o in outcomes if isinstance(o, Exception)]
        arrived = await backend.read()
        assert sorted(key for key, _ in arrived) == sorted(
            d.idempotency_key for d in batch
        )

    async def test_an_unreachable_target_is_retried_without_secrets(
        self, backend, sessions
    ):
        if backend.unreachable is None:
            pytest.skip("this sink has no remote target to lose")
        sink = build_sink(backend.unreachable, SinkContext(sessions=sessions))
        delivery = built_delivery(sessions)
        try:
            with pytest.raises(RetriableDeliveryError) as caught:
                await sink.deliver(delivery)
        finally:
            await sink.close()
        shown = f"{caught.value} {caught.value!r} {sink!r}"
        for secret in backend.secrets:
            assert secret not in shown

    async def test_a_case_made_anonim_after_delivery_is_redacted_at_the_agency(
        self, backend, sessions
    ):
        """The reporter asks for anonymity after the agency got the case: the
        agency gets the documented ``redacted`` event through its own sink
        (the database queue is rewritten in place), with the configured
        regency in its type, and no copy in the queue names the reporter."""
        agency, read = backend.agency, backend.read
        settings = Settings.model_validate(
            {
                "regency": "tanah-bumbu",
                "agencies": [agency],
                "routing": {"default_agency": agency.code},
            }
        )
        sink = build_sink(agency, SinkContext(sessions=sessions, regency="tanah-bumbu"))
        engine = sessions.kw["bind"]
        worker = OutboxWorker(engine, sessions, settings, {"PUPR": sink}, {})
        with sessions() as session:
            case = add_case(session)
            add_photo(session, case)
            key = idempotency_key(case, "PUPR")
            outbox.enqueue_agency(session, case, "PUPR", 5, key)
            session.commit()
            case_id = case.id
        try:
            first = await worker.drain_once()
            assert first.outcomes == {"delivered": 1}
            with sessions() as session:
                case = session.get(type(case), case_id)
                change_confidentiality(
                    session, case, "anonim", actor="reporter:tg:42", via="/anonim"
                )
                session.commit()
            second = await worker.drain_once()
            assert second.outcomes == {"delivered": 1}
        finally:
            await sink.close()

        arrived = await read()
        for _key, message in arrived:
            assert_valid(message)
        *_, (_redaction_key, redacted) = arrived
        assert redacted["confidentiality"] == "anonim"
        assert redacted["reporter"] is None
        assert "siti@warga.example" not in json.dumps(redacted)
        assert redacted["redaction"]["replaces"] == key
        assert redacted["redaction"]["previous_confidentiality"] == "biasa"
        assert "hapus" in redacted["redaction"]["note"]
        if agency.sink.type == "database":
            # the queue holds the case once, rewritten without the identity
            assert [k for k, _m in arrived] == [key]
            assert read.meta == ["dispatched"]  # type: ignore[attr-defined]
            return
        assert [k for k, _m in arrived] == [key, f"{key}/redacted/1"]
        assert arrived[0][1]["reporter"]["email"] == "siti@warga.example"
        assert redacted["event"] == "redacted"
        self.check_redaction_meta(read.meta)  # type: ignore[attr-defined]

    def check_redaction_meta(self, meta: list[str]) -> None:
        """What tells the agency the second arrival is a redaction (by
        default: the CloudEvents types)."""
        assert meta == [
            "id.go.tanah-bumbu.dengar.complaint.dispatched",
            "id.go.tanah-bumbu.dengar.complaint.redacted",
        ]

    def test_repr_holds_no_secret(self, backend, sessions):
        sink = build_sink(backend.agency, SinkContext(sessions=sessions))
        for secret in backend.secrets:
            assert secret not in repr(sink)
            assert secret not in repr(backend.agency)
