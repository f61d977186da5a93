"""Apply Alembic migrations; run on ``dengar init`` and ``dengar run``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).with_name("migrations")
# the advisory lock workers migrate under on PostgreSQL ("Dengar" in ASCII)
MIGRATION_LOCK = 0x44656E676172


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config pointing at our scripts (and engine, if given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option(
            "sqlalchemy.url",
            engine.url.render_as_string(hide_password=False).replace("%", "%%"),
        )
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest schema; a no-op when it is there."""
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Workers started together would each find no schema and create
            # it; the second failed ("alembic_version already exists"). The
            # lock lasts to the end of this transaction, DDL included: one
            # migrates, the others then find the schema current. (SQLite's
            # BEGIN IMMEDIATE serialises them already.)
            lock = text("SELECT pg_advisory_xact_lock(:key)")
            connection.execute(lock, {"key": MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


def is_current(engine: Engine) -> bool:
    """True when the database is at the newest schema."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
    return current == head
