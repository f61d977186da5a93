"""Outside ``config``, code reads settings through their typed models and
the channels' policies, never with ``getattr`` (which hid a default that
disagreed with the configured one: the session window)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("channels", "normalizer", "dispatcher", "dengar", "storage", "contracts")


def _names(node: ast.AST) -> str:
    """The identifiers in ``node``, joined: ``self.settings`` → ``self settings``."""
    return " ".join(
        n.id if isinstance(n, ast.Name) else n.attr
        for n in ast.walk(node)
        if isinstance(n, ast.Name | ast.Attribute)
    )


def settings_getattrs(source: str) -> list[int]:
    """Lines of ``source`` that call getattr on something named settings."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and node.args
        and "settings" in _names(node.args[0]).lower()
    ]


def test_the_scan_finds_a_getattr_on_settings() -> None:
    source = (
        "a = getattr(channel_settings, 'session_minutes', 0)\n"
        "b = getattr(self.settings.channel(name), 'messages', None)\n"
        "c = getattr(row, 'status')\n"
    )
    assert settings_getattrs(source) == [1, 2]


def test_no_getattr_on_settings_outside_config() -> None:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            for line in settings_getattrs(path.read_text(encoding="utf-8")):
                found.append(f"{relative}:{line}")
    assert found == [], "read the typed settings or the channel's policy instead"
