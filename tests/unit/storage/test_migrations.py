"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.tables  # noqa: F401
from storage.engine import make_engine
from storage.migrate import is_current, upgrade


def test_migrations_match_the_models(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    upgrade(engine)  # a second run is a no-op
    assert is_current(engine)
    with engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection), SQLModel.metadata
        )
    engine.dispose()
    assert diff == [], (
        "run `python -m storage.regen_migration` (before the first release)"
    )


def test_sqlite_pragmas(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()
