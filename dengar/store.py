"""The database alone, for commands that only read it (``status``, ``queue``).

``App.open`` builds every channel, sink and the pipeline (with its
classifier and duplicate index): right for ``run``, seconds too slow for a
command that counts rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from config.settings import Settings
from storage.engine import make_engine, session_factory
from storage.schema_head import is_at_head


@dataclass
class Store:
    """Settings, engine and sessions of one installation."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Store:
        """Connect; migrate first when the schema is not the newest."""
        engine = make_engine(settings.database_url)
        if migrate and not is_at_head(engine):
            from storage.migrate import upgrade

            upgrade(engine)
        return cls(settings=settings, engine=engine, sessions=session_factory(engine))

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()
