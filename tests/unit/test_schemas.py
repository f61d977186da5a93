"""The JSON Schemas in the repository match the models they document."""

from __future__ import annotations

import pytest

from dengar.schemas import SCHEMAS, render


@pytest.mark.parametrize("path", list(SCHEMAS), ids=lambda p: p.name)
def test_schema_file_is_current(path) -> None:
    assert path.exists(), "run `python -m dengar.schemas`"
    assert path.read_text(encoding="utf-8") == render(SCHEMAS[path], path), (
        "stale: run `python -m dengar.schemas`"
    )
