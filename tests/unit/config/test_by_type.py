"""A channel or sink entry is validated by the model its ``type`` names, and
only the models of the types a configuration uses are built."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from config.loader import ConfigError, parse_settings
from tests.conftest import REPO


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, "dengar.yaml", {})
    return [str(p) for p in info.value.problems]


def test_an_entry_without_type_names_the_known_types() -> None:
    found = problems(
        """
agencies:
  - {code: PUPR, name: Dinas PUPR, sink: {url: "https://pupr.example/in"}}
routing: {default_agency: PUPR}
channels:
  - {name: surat, path: /srv/mail}
"""
    )
    assert found == [
        "agencies[0].sink.type (line 3): field required (known types: database, "
        "webhook, email, amqp, redis, http)",
        "channels[0].type (line 6): field required (known types: maildir, imap, "
        "telegram, whatsapp, meta, webform, x)",
    ]


def test_errors_of_several_entries_and_types_come_together() -> None:
    found = problems(
        """
agencies:
  - {code: PUPR, name: Dinas PUPR, sink: {type: webhook, url: "ftp://x"}}
routing: {default_agency: PUPR}
channels:
  - {name: surat, type: maildir, path: /srv/mail, after_import: maybe}
  - {name: bot, type: telegram, token: "123:abc", mode: webhook}
"""
    )
    assert found == [
        "agencies[0].sink.secret (line 3): field required",
        "agencies[0].sink.url (line 3): String should match pattern '^https?://'",
        "channels[0].after_import (line 6): Input should be 'move' or 'keep'",
        "channels[1] (line 7): mode webhook needs webhook_url",
    ]


def test_a_configuration_builds_only_the_models_of_the_types_it_uses(tmp_path):
    # a fresh interpreter: other tests build every model
    probe = """
import json
from config.loader import parse_settings
from config.channel_settings import MaildirChannelSettings, TelegramChannelSettings
from config.sink_settings import DatabaseSinkSettings, HttpSinkSettings
parse_settings('''
agencies: [{code: PUPR, name: Dinas PUPR}]
routing: {default_agency: PUPR}
channels: [{name: surat, type: maildir, path: /srv/mail}]
''', environ={})
print(json.dumps({m.__name__: m.__pydantic_complete__ for m in (
    MaildirChannelSettings, TelegramChannelSettings,
    DatabaseSinkSettings, HttpSinkSettings)}))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENGAR_")}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout) == {
        "MaildirChannelSettings": True,
        "TelegramChannelSettings": False,
        "DatabaseSinkSettings": True,
        "HttpSinkSettings": False,
    }
