"""The web form's settings: one per installation."""

from __future__ import annotations

import pytest

from config.loader import ConfigError, parse_settings

TWO_FORMS = """
database_url: "sqlite:///:memory:"
channels:
  - {name: formulir, type: webform}
  - {name: formulir-dua, type: webform}
agencies:
  - {code: PUPR, name: Dinas PUPR}
routing:
  default_agency: PUPR
"""


def test_only_one_webform_per_installation() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(TWO_FORMS)
    assert "only one webform channel per installation" in str(caught.value)
    assert "channels[1].type" in str(caught.value)
