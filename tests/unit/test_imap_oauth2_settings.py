"""The IMAP channel takes exactly one kind of credential, and says so clearly."""

from __future__ import annotations

import pytest

from config.channel_settings import ImapChannelSettings
from config.loader import ConfigError, parse_settings

OAUTH2 = """
    oauth2:
      token_url: https://login.microsoftonline.com/kotabaru/oauth2/v2.0/token
      client_id: 0b5e-dengar
      client_secret: rahasia-klien
      refresh_token: 1//rahasia-segar"""


def config(credentials: str) -> str:
    return f"""
agencies: [{{code: PUPR, name: Dinas PUPR}}]
routing: {{default_agency: PUPR}}
channels:
  - name: surel
    type: imap
    host: outlook.office365.com
    username: pengaduan@kotabarukab.go.id{credentials}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, "dengar.yaml", {})
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(
    "credentials",
    ["\n    password: sandi", "\n    oauth2_token: ya29.akses", OAUTH2],
    ids=["password", "oauth2_token", "oauth2"],
)
def test_one_kind_of_credential_is_accepted(credentials: str) -> None:
    [channel] = parse_settings(config(credentials), environ={}).channels
    assert isinstance(channel, ImapChannelSettings)


@pytest.mark.parametrize(
    ("credentials", "found"),
    [
        ("", "found none"),
        ("\n    password: sandi" + OAUTH2, "found password and oauth2"),
        (
            "\n    password: sandi\n    oauth2_token: ya29.akses" + OAUTH2,
            "found password and oauth2_token and oauth2",
        ),
    ],
    ids=["none", "two", "three"],
)
def test_none_or_several_credentials_are_refused_with_the_line(
    credentials: str, found: str
) -> None:
    assert problems(config(credentials)) == [
        "channels[0] (line 5): give exactly one of password, oauth2_token or "
        f"oauth2 ({found})"
    ]


@pytest.mark.parametrize("key", ["password", "oauth2_token"])
def test_an_empty_password_names_the_channel_and_the_setting(key: str) -> None:
    # an unset ${VAR:-}: said here, not as a login refused by the server
    text = config(f"\n    {key}: ${{DENGAR_IMAP_SECRET:-}}")
    assert problems(text) == [
        f"channels[0] (line 5): channel 'surel': {key} is empty (is its "
        "environment variable set?); set it or disable the channel"
    ]
    disabled = text.replace("type: imap", "type: imap\n    enabled: false")
    assert parse_settings(disabled, environ={}).channels[0].enabled is False


def test_oauth2_problems_name_the_key_and_line() -> None:
    text = config(
        "\n    oauth2:"
        "\n      token_url: http://login.example.com/token"
        "\n      client_id: dengar"
        "\n      refresh_token: ${DENGAR_IMAP_REFRESH_TOKEN:-}"
        "\n      client_secrt: x"
    )
    assert problems(text) == [
        "channels[0].oauth2.token_url (line 10): must be an https:// URL "
        "(http:// only for localhost)",
        "channels[0].oauth2.refresh_token (line 12): is empty (is its environment "
        "variable set?)",
        "channels[0].oauth2.client_secrt (line 13): unknown key; did you mean "
        "'client_secret'?",
    ]


def test_missing_refresh_token_is_reported() -> None:
    text = config(
        "\n    oauth2: {token_url: 'https://oauth2.googleapis.com/token', "
        "client_id: dengar}"
    )
    assert problems(text) == [
        "channels[0].oauth2.refresh_token (line 9): field required"
    ]


def test_secrets_never_show_in_the_settings_repr() -> None:
    settings = parse_settings(config(OAUTH2), environ={})
    assert "rahasia" not in repr(settings)
    assert "rahasia" not in str(settings.model_dump())
