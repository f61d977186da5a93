"""Is the database at the newest schema? Answered without importing Alembic.

Alembic takes longer to import than a light command (``dengar status``)
takes to run; the newest revision is read from the migration scripts'
``revision``/``down_revision`` lines and compared with ``alembic_version``.
Only when they differ does the caller import Alembic and migrate.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

VERSIONS = Path(__file__).with_name("migrations") / "versions"
_REVISION = re.compile(r"^revision\b[^=]*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\b[^=]*=\s*(.+)$", re.M)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


@lru_cache(maxsize=1)
def head_revisions() -> frozenset[str]:
    """The revisions no other script builds on (one, unless branches)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in VERSIONS.glob("*.py"):
        source = script.read_text(encoding="utf-8")
        found = _REVISION.search(source)
        if found is None:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(source)
        if down is not None:
            parents.update(_QUOTED.findall(down.group(1)))
    return frozenset(revisions - parents)


def is_at_head(engine: Engine) -> bool:
    """True when ``alembic_version`` holds exactly the newest revision(s);
    False for a new, older or unreadable database (migrate to find out)."""
    # here: `dengar status` reads head_revisions() without SQLAlchemy
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            current = frozenset(str(row[0]) for row in rows)
    except SQLAlchemyError:
        return False
    return bool(current) and current == head_revisions()
