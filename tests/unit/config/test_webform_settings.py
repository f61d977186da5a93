"""The web form's settings: one per installation, and the WhatsApp channel
it sends through."""

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


WHATSAPP = """
database_url: "sqlite:///:memory:"
channels:
  - {{name: formulir, type: webform, whatsapp_channel: {target}}}
  - name: wa
    type: whatsapp
    enabled: {enabled}
    phone_number_id: "1065"
    access_token: t
    app_secret: s
    verify_token: v
    templates: {templates}
  - {{name: surat, type: maildir, path: ./inbox}}
agencies:
  - {{code: PUPR, name: Dinas PUPR}}
routing:
  default_agency: PUPR
"""
BOTH = "{acknowledgement: {name: diterima}, status_update: {name: status}}"


def _whatsapp(target: str = "wa", templates: str = BOTH, enabled: str = "true"):
    return parse_settings(
        WHATSAPP.format(target=target, templates=templates, enabled=enabled)
    )


@pytest.mark.parametrize(
    ("target", "templates", "expected"),
    [
        (
            "wa2",
            BOTH,
            "no channel named 'wa2' (whatsapp channels: wa); did you mean 'wa'?",
        ),
        ("surat", BOTH, "channel 'surat' is a maildir channel, not a whatsapp channel"),
        (
            "wa",
            "{acknowledgement: {name: diterima}}",
            "channel 'wa' has no templates.status_update",
        ),
        (
            "wa",
            "{}",
            "no templates.acknowledgement or templates.status_update",
        ),
    ],
)
def test_whatsapp_channel_of_the_form_is_checked_at_load(target, templates, expected):
    with pytest.raises(ConfigError) as caught:
        _whatsapp(target, templates)
    assert expected in str(caught.value)
    assert "channels[0].whatsapp_channel" in str(caught.value)


def _unused_whatsapp():
    """A running WhatsApp channel the form does not name."""
    return parse_settings(
        WHATSAPP.format(target="wa", templates=BOTH, enabled="true").replace(
            ", whatsapp_channel: wa", ""
        )
    )


def test_form_answers_numbers_only_through_a_whatsapp_channel() -> None:
    assert _whatsapp().channel("formulir").policy().replies_to_phone
    assert not _unused_whatsapp().channel("formulir").policy().replies_to_phone


def test_check_warns_about_whatsapp_the_form_cannot_use() -> None:
    from dengar.checks import webform_whatsapp

    assert webform_whatsapp(_whatsapp()) == {}
    disabled = webform_whatsapp(_whatsapp(enabled="false"))
    assert "whatsapp_channel 'wa' is disabled" in disabled["formulir"]
    assert "does not offer WhatsApp" in disabled["formulir"]
    unused = webform_whatsapp(_unused_whatsapp())
    assert "set whatsapp_channel: wa" in unused["formulir"]
