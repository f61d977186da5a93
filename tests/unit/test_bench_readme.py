"""bench/readme.py replaces exactly one benchmark block of the README."""

from __future__ import annotations

import pytest

from bench.readme import replace_block


def test_replaces_only_the_named_block() -> None:
    text = (
        "a\n<!-- bench:x -->\nold\n<!-- /bench:x -->\n"
        "<!-- bench:y -->\nkeep\n<!-- /bench:y -->\n"
    )
    out = replace_block(text, "x", "new table")
    assert "new table" in out
    assert "old" not in out
    assert "keep" in out


def test_missing_block_is_an_error() -> None:
    with pytest.raises(SystemExit, match="no <!-- bench:z -->"):
        replace_block("nothing here", "z", "t")
