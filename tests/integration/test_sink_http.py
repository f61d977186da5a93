"""The ``http`` sink's worked examples of docs/dispatch.md, read from the
document itself, against a local agency system over real HTTP."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
import yaml

from config.loader import ConfigError, parse_settings
from config.settings import AgencySettings
from contracts.errors import PermanentDeliveryError, RetriableDeliveryError
from dispatcher.sinks.base import SinkContext
from dispatcher.sinks.http import HttpSink
from dispatcher.sinks.registry import build_sink
from tests.fakes.agency_http import AgencySystem
from tests.unit.dispatcher.test_message_schema import built_delivery, sqlite_sessions

DOC = Path(__file__).resolve().parents[2] / "docs" / "dispatch.md"


def doc_example(name: str) -> str:
    """The YAML block after ``<!-- example: name -->`` in docs/dispatch.md."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(
        rf"<!-- example: {re.escape(name)} -->.*?```yaml\n(.*?)```", text, re.S
    )
    assert found, f"no example {name!r} in {DOC}"
    return found.group(1)


def example_agency(name: str, system: AgencySystem) -> AgencySettings:
    """The example's agency, loaded as ``dengar.yaml`` is (env interpolation,
    template checks), pointed at ``system``."""
    block = doc_example(name)
    code = yaml.safe_load(block)["agencies"][0]["code"]
    environ = {
        "PUPR_TIKET_URL": system.base,
        "PUPR_TIKET_TOKEN": system.token,
        "SURAT_URL": system.base,
        "SURAT_PASSWORD": system.password,
        "LAPOR_URL": system.base,
        "LAPOR_API_KEY": system.api_key,
    }
    text = block + f"routing: {{default_agency: {code}}}\n"
    return parse_settings(text, f"docs/dispatch.md#{name}", environ).agencies[0]


@pytest.fixture
def sessions(tmp_path):
    return sqlite_sessions(tmp_path / "dengar.db")


async def test_json_rest_ticket_system(sessions):
    async with AgencySystem() as system:
        sink = build_sink(example_agency("json-rest", system), SinkContext(sessions))
        delivery = built_delivery(sessions)
        try:
            first = await sink.deliver(delivery)
            again = await sink.deliver(delivery)  # a replay after a crash
        finally:
            await sink.close()
    assert first == again == "TKT-000001"
    [ticket] = system.tickets.values()
    assert ticket.submissions == 2  # the system saw the key twice, kept one
    message = delivery.message
    assert ticket.fields == {
        "judul": message["subject"],
        "isi": message["text"],
        "kategori": message["category"],
        "nomor_pengaduan": message["tracking_no"],
        "pelapor": "Siti Rahmawati",
        "lokasi": message["location"],
    }
    assert system.requests[0].headers["Idempotency-Key"] == delivery.idempotency_key


async def test_form_post_reads_the_number_from_an_html_answer(sessions):
    async with AgencySystem() as system:
        sink = build_sink(example_agency("form", system), SinkContext(sessions))
        delivery = built_delivery(sessions, subject='Lampu "mati" & <rusak>')
        try:
            remote = await sink.deliver(delivery)
        finally:
            await sink.close()
    assert remote == "AG-000001"
    fields = dict(parse_qsl(system.requests[0].body.decode()))
    assert fields["kunci"] == delivery.idempotency_key
    assert fields["perihal"].endswith('Lampu "mati" & <rusak>')
    assert fields["pengirim"] == "Siti Rahmawati"


@pytest.mark.parametrize("level", ["anonim", "rahasia"])
async def test_lapor_xml_escapes_values_and_never_names_a_hidden_reporter(
    sessions, level
):
    async with AgencySystem() as system:
        sink = build_sink(example_agency("lapor-xml", system), SinkContext(sessions))
        text = "Air PDAM keruh <3 hari> & berbau 'kaporit'"
        delivery = built_delivery(
            sessions, confidentiality=level, clean_text=text, original_text=text
        )
        try:
            remote = await sink.deliver(delivery)
        finally:
            await sink.close()
    assert remote == "LPR-000001"
    body = system.requests[0].body
    root = ET.fromstring(body)
    assert root.findtext("isi") == text
    assert root.findtext("anonim") == "1"
    assert root.findtext("nama_pelapor") == ""
    assert b"Siti" not in body
    assert b"siti@warga.example" not in body


async def test_lapor_xml_status_back_is_read_by_its_path(sessions):
    async with AgencySystem() as system:
        sink = build_sink(example_agency("lapor-xml", system), SinkContext(sessions))
        assert isinstance(sink, HttpSink)
        try:
            remote = await sink.deliver(built_delivery(sessions))
            assert remote is not None
            system.set_status(remote, "Proses", "Diteruskan ke Dinas PUPR")
            report = await sink.ask_status(remote, "ADU-X", "ADU-X/LAPOR")
        finally:
            await sink.close()
    assert (report.word, report.message) == ("Proses", "Diteruskan ke Dinas PUPR")
    assert report.note is None


async def test_hmac_signature_is_over_the_exact_body(sessions):
    async with AgencySystem(require_signature=True) as system:
        agency = example_agency("lapor-xml", system)
        sink_block = agency.sink.model_dump()
        sink_block["auth"] = {
            "type": "hmac",
            "header": "X-Signature",
            "secret": system.hmac_secret,
        }
        sink_block["headers"] = {"X-Api-Key": system.api_key}
        good = AgencySettings.model_validate(
            {"code": "LAPOR", "name": "LAPOR", "sink": sink_block}
        )
        sink_block["auth"]["secret"] = "kunci-yang-salah"
        bad = AgencySettings.model_validate(
            {"code": "LAPOR", "name": "LAPOR", "sink": sink_block}
        )
        delivery = built_delivery(sessions)
        ok_sink = build_sink(good, SinkContext(sessions))
        bad_sink = build_sink(bad, SinkContext(sessions))
        try:
            assert await ok_sink.deliver(delivery) == "LPR-000001"
            with pytest.raises(PermanentDeliveryError) as refused:
                await bad_sink.deliver(delivery)
        finally:
            await ok_sink.close()
            await bad_sink.close()
    assert "401" in str(refused.value)
    assert "kunci-yang-salah" not in str(refused.value)
    assert "kunci-yang-salah" not in (refused.value.detail or "")


async def test_errors_are_classified_as_the_webhook_sink_does(sessions):
    async with AgencySystem() as system:
        sink = build_sink(example_agency("json-rest", system), SinkContext(sessions))
        delivery = built_delivery(sessions)
        system.fail_next(503)
        system.fail_next(400)
        try:
            with pytest.raises(RetriableDeliveryError):
                await sink.deliver(delivery)
            with pytest.raises(PermanentDeliveryError) as dead:
                await sink.deliver(delivery)
        finally:
            await sink.close()
    assert dead.value.detail == "HTTP 400: gangguan"
    assert system.token not in str(dead.value)


async def test_a_body_that_is_not_json_is_refused_before_sending(sessions):
    async with AgencySystem() as system:
        agency = example_agency("json-rest", system)
        block = agency.sink.model_dump()
        block["auth"]["token"] = system.token
        block["body"] = '{"isi": "{{ text }}"}'  # no tojson: a quote breaks it
        agency = AgencySettings.model_validate(
            {"code": "PUPR", "name": "Dinas PUPR", "sink": block}
        )
        sink = build_sink(agency, SinkContext(sessions))
        text = 'Ada tulisan "awas" di jalan'
        delivery = built_delivery(sessions, clean_text=text, original_text=text)
        try:
            with pytest.raises(PermanentDeliveryError) as refused:
                await sink.deliver(delivery)
        finally:
            await sink.close()
    assert "tojson" in str(refused.value)
    assert system.requests == []


def test_every_example_loads_and_a_broken_template_names_its_line():
    system = AgencySystem()
    for name in ("json-rest", "form", "lapor-xml"):
        assert example_agency(name, system).sink.type == "http"
    broken = doc_example("json-rest").replace(
        '"isi": {{ text | tojson }}', '"isi": {{ text | tojson }'
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(
            broken + "routing: {default_agency: PUPR}\n",
            "dengar.yaml",
            {"PUPR_TIKET_URL": "http://x", "PUPR_TIKET_TOKEN": "t" * 8},
        )
    [problem] = caught.value.problems
    assert problem.path == ("agencies", 0, "sink", "body")
    body_line = broken.splitlines().index("      body: |") + 1
    assert problem.line == body_line
    assert "line 2 of the template" in problem.message
    assert json.dumps(problem.message)  # plain text
