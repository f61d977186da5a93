"""dengar.yaml: interpolation, validation, every error with its path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import ConfigError, load_settings, parse_settings

MINIMAL = """
agencies:
  - {code: PUPR, name: Dinas PUPR}
routing:
  default_agency: PUPR
"""


def problems(text: str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, "dengar.yaml", environ or {})
    return [str(p) for p in info.value.problems]


def test_minimal_config_gets_the_documented_defaults() -> None:
    settings = parse_settings(MINIMAL, environ={})
    assert settings.database_url == "sqlite:///./dengar.db"
    assert settings.channels == []
    assert settings.agencies[0].sink.type == "database"


def test_every_problem_is_reported_at_once_with_path_and_line() -> None:
    found = problems(
        """
agencies:
  - {code: PUPR, name: Dinas PUPR}
routing:
  default_agency: DUKCAPIL
channels:
  - name: bot
    type: telegram
  - name: surat
    type: maildir
    path: /srv/mail
    after_imprt: keep
  - name: lain
    type: telegarm
"""
    )
    assert found == [
        "routing.default_agency (line 5): unknown agency 'DUKCAPIL' (known: PUPR)",
        "channels[0].token (line 7): field required",
        "channels[1].after_imprt (line 12): unknown key; did you mean 'after_import'?",
        "channels[2].type (line 14): unknown type 'telegarm' (known: maildir, imap, "
        "telegram, whatsapp, meta, webform, x); did you mean 'telegram'?",
    ]


def test_unknown_sink_type_lists_the_known_ones() -> None:
    found = problems(
        """
agencies:
  - code: PUPR
    name: Dinas PUPR
    sink: {type: rabbit, url: amqp://x}
routing: {default_agency: PUPR}
"""
    )
    assert len(found) == 1
    assert found[0].startswith("agencies[0].sink.type (line 5): unknown type 'rabbit'")
    assert "database, webhook, email, amqp, redis" in found[0]


def test_environment_interpolation_with_defaults() -> None:
    text = MINIMAL + "database_url: ${DB:-sqlite:///x.db}\ntracking_prefix: ${PFX}\n"
    assert parse_settings(text, environ={"PFX": "KTB"}).tracking_prefix == "KTB"
    assert parse_settings(text, environ={"PFX": "KTB"}).database_url == "sqlite:///x.db"
    assert (
        parse_settings(
            text, environ={"PFX": "KTB", "DB": "sqlite:///y.db"}
        ).database_url
        == "sqlite:///y.db"
    )


def test_missing_environment_variable_is_named() -> None:
    found = problems(MINIMAL + "tracking_prefix: ${PFX}\n")
    assert found == [
        "tracking_prefix (line 6): environment variable PFX is not set (no default)"
    ]


def test_routing_rule_that_can_never_match_is_refused() -> None:
    found = problems(
        """
agencies: [{code: PUPR, name: Dinas PUPR}]
categories: [{name: jalan, keywords: [jalan]}]
routing:
  default_agency: PUPR
  rules:
    - {agency: PUPR, categories: [jalanan]}
    - {agency: PUPR}
"""
    )
    assert found == [
        "routing.rules[0].categories[0] (line 7): unknown category 'jalanan': "
        "this rule can never match",
        "routing.rules[1] (line 8): a rule needs at least one of keywords, "
        "categories or regions",
    ]


def test_secrets_never_print() -> None:
    settings = parse_settings(
        MINIMAL
        + """
channels:
  - {name: bot, type: telegram, token: "123456:SUPERSECRET"}
""",
        environ={},
    )
    assert "SUPERSECRET" not in repr(settings)
    assert "SUPERSECRET" not in str(settings.model_dump())
    assert settings.channels[0].token.get_secret_value() == "123456:SUPERSECRET"  # type: ignore[union-attr]


def test_invalid_yaml_says_where(tmp_path: Path) -> None:
    path = tmp_path / "dengar.yaml"
    path.write_text("agencies: [\n  - code: X\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "not valid YAML" in str(info.value)
    assert info.value.problems[0].line is not None


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.yaml")


def test_config_path_from_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text(MINIMAL + "tracking_prefix: ENV\n", encoding="utf-8")
    monkeypatch.setenv("DENGAR_CONFIG", str(path))
    assert load_settings().tracking_prefix == "ENV"


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[3] / "config" / "dengar.example.yaml"
    settings = load_settings(example)
    codes = {a.code for a in settings.agencies}
    assert {"PUPR", "DISDUKCAPIL", "DINKES", "DISDIK", "DLH", "DINSOS"} <= codes
    assert {c.type for c in settings.channels} == {
        "maildir",
        "imap",
        "telegram",
        "whatsapp",
        "meta",
        "webform",
        "x",
    }
    assert [c.name for c in settings.channels if c.enabled] == ["contoh-maildir"]
