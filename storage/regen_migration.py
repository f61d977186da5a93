"""Regenerate the initial migration from the tables.

Only while Dengar has no release: after the first one, add a new revision
with ``alembic revision --autogenerate`` instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from storage.engine import make_engine
from storage.migrate import MIGRATIONS, alembic_config


def main() -> None:
    """Delete and rebuild ``0001_initial_schema.py``."""
    for old in (MIGRATIONS / "versions").glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
        command.revision(
            alembic_config(engine),
            message="initial schema",
            autogenerate=True,
            rev_id="0001",
        )


if __name__ == "__main__":
    main()
