"""The database layer: tables, engine, migrations.

The names below are imported on first use (PEP 562): Alembic alone takes
longer to import than ``dengar status`` takes to run, and a database at the
newest schema never needs it (``storage.schema_head``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storage.engine import is_sqlite, make_engine, safe_url, session_factory
    from storage.migrate import upgrade

_WHERE = {
    "is_sqlite": "storage.engine",
    "make_engine": "storage.engine",
    "safe_url": "storage.engine",
    "session_factory": "storage.engine",
    "upgrade": "storage.migrate",
}

__all__ = ["is_sqlite", "make_engine", "safe_url", "session_factory", "upgrade"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'storage' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value
