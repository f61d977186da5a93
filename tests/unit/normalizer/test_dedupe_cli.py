"""``dengar dedupe explain | link | unlink`` against a real SQLite database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from click.testing import CliRunner
from sqlmodel import SQLModel

from dengar.cli.main import main
from normalizer.dedupe.database import apply_link, case_from_row
from normalizer.dedupe.index import DuplicateIndex
from storage.engine import make_engine, session_factory
from storage.migrate import alembic_config
from storage.tables import ComplaintRow

NOW = datetime.now(UTC)
TEXTS = [
    "Jembatan di Desa Semayap ambruk, warga tidak bisa lewat ke pasar",
    "jembatan desa semayap ambruk!! warga gk bisa lewat ke pasar tlg",
    "Lampu jalan di Gang Mawar RT 4 Stagen mati sudah seminggu gelap",
]


@pytest.fixture
def installation(tmp_path):
    db = tmp_path / "dengar.db"
    config = tmp_path / "dengar.yaml"
    config.write_text(
        f"database_url: sqlite:///{db}\n"
        "agencies:\n  - {code: DISKOMINFO, name: Diskominfo}\n"
        "routing:\n  default_agency: DISKOMINFO\n",
        encoding="utf-8",
    )
    engine = make_engine(f"sqlite:///{db}")
    # the schema from the tables (with duplicate_unlink), marked as migrated
    SQLModel.metadata.create_all(engine)
    command.stamp(alembic_config(engine), "head")
    index = DuplicateIndex()
    with session_factory(engine)() as s:
        for n, text in enumerate(TEXTS, 1):
            row = ComplaintRow(
                kind="case",
                tracking_no=f"ADU-0000-000{n}",
                channel="tg",
                external_id=str(n),
                received_at=NOW - timedelta(hours=10 - n),
                reporter_chat_id=str(n),
                original_text=text,
                clean_text=text,
                raw_format="json",
            )
            s.add(row)
            s.flush()
            case = case_from_row(row)
            link = index.find(case)
            if link:
                apply_link(row, link)
            index.add(case, link.target_id if link else None)
        s.commit()
    yield config, session_factory(engine)
    engine.dispose()


def run(config, *args):
    return CliRunner().invoke(main, ["--config", str(config), "dedupe", *args])


def primary_of(sessions, n):
    with sessions() as s:
        row = s.get(ComplaintRow, n)
        return row.duplicate_of_id


def test_explain_shows_the_link_its_score_and_the_candidates(installation):
    config, _ = installation
    result = run(config, "explain", "ADU-0000-0002")
    assert result.exit_code == 0, result.output
    assert "duplicate of ADU-0000-0001" in result.output
    assert "token_sort_ratio" in result.output
    assert "Nearest candidates" in result.output
    primary = run(config, "explain", "adu-0000-0001")
    assert "1 case(s) are duplicates of this one" in primary.output


def test_explain_json_lists_candidates_with_verdicts(installation):
    config, _ = installation
    result = run(config, "explain", "ADU-0000-0002", "--json")
    data = json.loads(result.output)
    assert data["duplicate_of"] == "ADU-0000-0001"
    assert data["score"] >= 75
    verdicts = {c["tracking_no"]: c["verdict"] for c in data["candidates"]}
    assert verdicts["ADU-0000-0001"] == "match"


def test_explain_breaks_the_score_in_other_words_down(installation):
    config, _ = installation
    result = run(config, "explain", "ADU-0000-0002")
    assert result.exit_code == 0, result.output
    assert "Kemiripan makna dengan ADU-0000-0001" in result.output
    assert "desa/kelurahan" in result.output
    assert "masalahnya cocok" in result.output
    data = json.loads(run(config, "explain", "ADU-0000-0002", "--json").output)
    words = {c["tracking_no"]: c["paraphrase"] for c in data["candidates"]}
    parts = {p["code"]: p for p in words["ADU-0000-0001"]["components"]}
    assert parts["village"]["detail"] == "sama: semayap"
    assert parts["village"]["contribution"] > 0
    assert words["ADU-0000-0001"]["probability"] > 0.5


def test_unlink_then_explain_then_link_back(installation):
    config, sessions = installation
    result = run(config, "unlink", "ADU-0000-0002", "--actor", "staf-rina")
    assert result.exit_code == 0, result.output
    assert "no longer a duplicate of ADU-0000-0001" in result.output
    assert primary_of(sessions, 2) is None
    explained = run(config, "explain", "ADU-0000-0002")
    assert "not linked to another case" in explained.output
    assert "unlinked from ADU-0000-0001 by staf-rina" in explained.output
    assert "unlinked by staff" in explained.output  # the candidate's verdict
    result = run(config, "link", "ADU-0000-0002", "ADU-0000-0001")
    assert result.exit_code == 0, result.output
    assert primary_of(sessions, 2) == 1


def test_link_by_hand_moves_duplicates_along(installation):
    config, sessions = installation
    result = run(config, "link", "ADU-0000-0001", "ADU-0000-0003", "--actor", "staf")
    assert result.exit_code == 0, result.output
    assert "its duplicates moved along: ADU-0000-0002" in result.output
    assert primary_of(sessions, 1) == 3
    assert primary_of(sessions, 2) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["link", "ADU-0000-0001", "ADU-0000-0001"], "cannot be a duplicate of itself"),
        (["link", "ADU-0000-0001", "ADU-0000-0002"], "is its own duplicate"),
        (["unlink", "ADU-0000-0001"], "is not linked to any case"),
        (["explain", "ADU-9999-9999"], "No case ADU-9999-9999"),
    ],
)
def test_errors_are_clear_and_change_nothing(installation, args, message):
    config, sessions = installation
    result = run(config, *args)
    assert result.exit_code == 1
    assert message in result.output
    assert primary_of(sessions, 2) == 1
    assert primary_of(sessions, 1) is None
