"""Read-only SQL through the database driver alone, for ``dengar status``.

Importing SQLAlchemy takes longer than the whole of ``dengar status`` may
(bench/cli.py, target 0.5 s). Its counts are a few constant queries, so they
go straight to the DB-API driver: sqlite3 for SQLite, psycopg for PostgreSQL.
:func:`open_reader` answers None when it cannot (another database, a file
that does not exist yet): the caller then opens the database with SQLAlchemy
(which also creates and migrates it) and reads through :class:`SessionReader`,
so the queries are the same either way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_S = 30.0


class SqlReader(Protocol):
    """Runs one constant, parameter-free SELECT and returns its rows."""

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """All rows of ``sql``."""
        ...


class SessionReader:
    """A :class:`SqlReader` on an open SQLAlchemy session (web pages, tests)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """All rows of ``sql``, as the driver returns them."""
        result = self.session.connection().exec_driver_sql(sql)
        return [tuple(row) for row in result.all()]


class DbapiReader:
    """A :class:`SqlReader` on a bare DB-API connection."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """All rows of ``sql``."""
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql)
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()

    def close(self) -> None:
        """Close the connection."""
        self.connection.close()


def open_reader(url: str) -> DbapiReader | None:
    """A driver connection for ``url``; None when only SQLAlchemy can open it."""
    parts = urlsplit(url)
    backend, _, driver = parts.scheme.partition("+")
    if backend == "sqlite" and driver in ("", "pysqlite") and not parts.query:
        # sqlite:///relative.db and sqlite:////absolute.db, as SQLAlchemy reads them
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if not path or not Path(path).is_file():
            return None
        import sqlite3

        return DbapiReader(sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_S))
    if backend in ("postgresql", "postgres") and driver in ("", "psycopg"):
        import psycopg

        conninfo = parts._replace(scheme="postgresql").geturl()
        connection = psycopg.connect(conninfo, autocommit=True)
        return DbapiReader(connection)
    return None


def as_utc(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite hands back text without
    a zone, which Dengar always writes in UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
