"""The sandbox that renders ``http`` sink templates, and the checks made on
them when the configuration loads."""

from __future__ import annotations

import json

import pytest

from config.loader import ConfigError, parse_settings
from config.response_paths import PathProblem, extract, json_steps
from config.templating import (
    DELIVERY_VARIABLES,
    MESSAGE_VARIABLES,
    TemplateProblem,
    check_template,
    render_template,
)
from dispatcher.message import CaseExtras, CaseRecord, compose_message
from tests.unit.dispatcher.test_message_schema import built_delivery, sqlite_sessions

ESCAPES = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ text['__class__'] }}",
    "{{ message.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
]


@pytest.fixture
def sessions(tmp_path):
    return sqlite_sessions(tmp_path / "dengar.db")


def _context(delivery):
    return {**delivery.message, "message": delivery.message}


def test_the_names_are_the_message_fields(sessions):
    message = built_delivery(sessions).message
    assert set(message) - {"$schema"} == MESSAGE_VARIABLES


def test_an_anonim_case_gives_a_template_no_reporter(sessions):
    delivery = built_delivery(sessions, confidentiality="anonim")
    source = (
        "{{ reporter.name }}|{{ reporter.email }}|{{ message.reporter.phone }}"
        "|{{ reporter | tojson }}|{{ message | tojson }}"
    )
    assert not check_template(source, DELIVERY_VARIABLES)
    out = render_template(source, _context(delivery))
    assert out.startswith("|||null|")
    for leak in ("Siti", "siti@warga.example", "+6281234567890", "81234567890"):
        assert leak not in out


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_escapes_are_refused_at_load(source):
    problems = check_template(source, DELIVERY_VARIABLES | {"cycler"})
    assert problems
    assert "not allowed" in " ".join(problems)


@pytest.mark.parametrize(
    "source",
    [
        "{{ text[key] }}",  # a name the load-time check cannot see through
        "{% set f = text.__len__ %}{{ f() }}",
        "{{ message.update({'reporter': 1}) }}",  # the message is read-only
    ],
)
def test_sandbox_escapes_fail_cleanly_at_render(source):
    context = {"text": "isi", "key": "__class__", "message": {}}
    with pytest.raises(TemplateProblem) as caught:
        render_template(source, context)
    assert "Traceback" not in str(caught.value)


def test_an_unsafe_attribute_from_data_is_an_error_not_an_empty_value():
    with pytest.raises(TemplateProblem, match="not allowed"):
        render_template("{{ text[key] }}", {"text": "isi", "key": "__class__"})


def test_tojson_and_xml_escape_make_valid_bodies():
    hostile = 'Jalan "rusak" & <berlubang> \\ \n baris \u202e'
    body = render_template('{"isi": {{ text | tojson }}}', {"text": hostile})
    assert json.loads(body) == {"isi": hostile}
    xml = render_template("<isi>{{ text | xml_escape }}</isi>", {"text": hostile})
    assert "<berlubang>" not in xml
    escaped = render_template("<isi>{{ text }}</isi>", {"text": hostile}, xml=True)
    assert escaped == xml  # xml bodies escape by default, and never twice
    twice = render_template("{{ text | xml_escape }}", {"text": "&"}, xml=True)
    assert twice == "&amp;"


def test_unknown_names_and_filters_are_reported_with_a_hint():
    [problem] = check_template("{{ trackingno }}", DELIVERY_VARIABLES)
    assert "did you mean 'tracking_no'" in problem
    [problem] = check_template("{{ text | tojsn }}", DELIVERY_VARIABLES)
    assert "tojsn" in problem


def test_loop_variables_and_set_are_not_unknown():
    source = (
        "{% set n = 1 %}{% for a in attachments %}{{ a.filename }}{{ n }}{% endfor %}"
    )
    assert check_template(source, DELIVERY_VARIABLES) == []


CONFIG = """\
agencies:
  - code: LAPOR
    name: SP4N-LAPOR!
    sink:
      type: http
      url: "https://lapor.example/api/{{ tracking_no }}"
      headers:
        X-Kunci: "{{ ''.__class__ }}"
      content_type: xml
      body: "<a>{{ text }}</a>"
      auth: {type: bearer, token: "token-yang-rahasia"}
      response_id: {json_path: "data..id"}
      status:
        url: "https://lapor.example/status/{{ remote_id }}/{{ subject }}"
        path: {regex: "("}
        map: {selesai: closed}
routing: {default_agency: LAPOR}
"""


def test_config_errors_name_their_line_and_hide_the_token():
    with pytest.raises(ConfigError) as caught:
        parse_settings(CONFIG, "dengar.yaml")
    found = {p.path[3:]: p for p in caught.value.problems}
    assert found[("headers", "X-Kunci")].line == 8
    assert "not allowed" in found[("headers", "X-Kunci")].message
    assert found[("response_id",)].line == 12
    assert found[("status", "url")].line == 14
    assert "'subject'" in found[("status", "url")].message
    assert found[("status", "path")].line == 15
    assert found[("status", "map", "selesai")].line == 16
    assert "token-yang-rahasia" not in str(caught.value)


def test_a_mapping_body_is_for_forms_only():
    text = CONFIG.replace('body: "<a>{{ text }}</a>"', "body: {isi: '{{ text }}'}")
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, "dengar.yaml")
    [body] = [p for p in caught.value.problems if p.path[-1] == "body"]
    assert "content_type: form" in body.message


@pytest.mark.parametrize(
    ("path", "answer", "expected"),
    [
        ("data.id", b'{"data": {"id": 42}}', "42"),
        (
            "$.data.items[1].no",
            b'{"data": {"items": [{"no": 1}, {"no": "B-2"}]}}',
            "B-2",
        ),
        ("data.id", b'{"data": {"id": {"x": 1}}}', None),
        ("data.id", b'{"data": []}', None),
        ("data.id", b"[1]", None),
    ],
)
def test_json_paths(path, answer, expected):
    assert extract(answer, json_path=path, xml_path=None, regex=None) == expected


def test_xml_paths_regexes_and_refusals():
    answer = b'<r xmlns="urn:x"><data><id> LPR-1 </id></data></r>'
    assert extract(answer, json_path=None, xml_path="{*}data/{*}id", regex=None) == (
        "LPR-1"
    )
    assert extract(b"Nomor: AG-7.", json_path=None, xml_path=None, regex=r"(AG-\d+)")
    with pytest.raises(PathProblem, match="DOCTYPE"):
        extract(
            b'<!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>',
            json_path=None,
            xml_path="r",
            regex=None,
        )
    with pytest.raises(PathProblem, match="not JSON"):
        extract(b"<html>", json_path="a", xml_path=None, regex=None)
    with pytest.raises(PathProblem):
        json_steps("a..b")


def test_compose_message_keys_match_without_a_database():
    from datetime import UTC, datetime

    record = CaseRecord(
        1, "ADU-1", "received", "biasa", "c", datetime.now(UTC), None, None,
        None, "t", None, None, None, None, None, None, None, None,
    )  # fmt: skip
    message = compose_message(record, CaseExtras(), "A", "A")
    assert set(message) - {"$schema"} == MESSAGE_VARIABLES
