"""A newcomer copies tracking numbers from the docs: they carry the prefix
the example configuration (and ``dengar init``) gives them."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

TRACKING = re.compile(r"\b([A-Z]{2,8})-(?:[0-9A-Z]{4}-[0-9A-Z]{4}|…)")


def test_docs_show_the_example_configurations_prefix() -> None:
    example = yaml.safe_load((REPO / "config" / "dengar.example.yaml").read_text())
    prefix = example["tracking_prefix"]
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    pages += sorted((REPO / "docs" / "schema").glob("*.json"))
    other = [
        f"{page.relative_to(REPO)}:{number}: {match.group(0)}"
        for page in pages
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        for match in TRACKING.finditer(line)
        if match.group(1) != prefix
    ]
    assert other == []
