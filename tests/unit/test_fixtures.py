"""A fresh clone runs every test: no test reads data from outside the repo."""

from __future__ import annotations

import re

from tests.conftest import FIXTURES, REPO

OUTSIDE = re.compile(r"shared/data|\"shared\" / \"data\"|/work/")


def test_no_test_reads_data_outside_the_repository():
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "tests").rglob("*.py")
        if OUTSIDE.search(path.read_text(encoding="utf-8"))
        and path.name != "test_fixtures.py"
    ]
    assert offenders == []


def test_every_copied_source_keeps_its_licence():
    for folder in ("email/mime-samples", "email/replies", "x/tweepy-cassettes"):
        names = {p.name for p in (FIXTURES / folder).iterdir()}
        assert names & {"LICENSE", "COPYING"}, folder
    assert (FIXTURES / "x" / "twitterdev-examples" / "LICENSE").is_file()
    for source in ("illemius-telegram_types", "tg-rs-tgbot"):
        assert (FIXTURES / "telegram" / source / "LICENSE").is_file()
