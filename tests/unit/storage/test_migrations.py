"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import threading
import time

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import storage.tables  # noqa: F401
from storage.engine import make_engine
from storage.migrate import MIGRATION_LOCK, is_current, upgrade


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


def test_workers_starting_together_migrate_one_after_another(postgres_url: str) -> None:
    # a worker that finds another migrating waits for it, then finds the
    # schema current (before: "alembic_version already exists", and the
    # second worker of a fresh scale-out exited)
    holder = make_engine(postgres_url)
    engines = [make_engine(postgres_url) for _ in range(3)]
    errors: list[BaseException] = []

    def start(engine: Engine) -> None:
        try:
            upgrade(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with holder.begin() as connection:
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
        )
        threads = [threading.Thread(target=start, args=(e,)) for e in engines]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        assert all(thread.is_alive() for thread in threads)  # waiting
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert all(is_current(engine) for engine in engines)
    for engine in (holder, *engines):
        engine.dispose()
