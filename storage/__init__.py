"""The database layer: tables, engine, migrations."""

from storage.engine import is_sqlite, make_engine, safe_url, session_factory
from storage.migrate import upgrade

__all__ = ["is_sqlite", "make_engine", "safe_url", "session_factory", "upgrade"]
