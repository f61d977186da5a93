"""SQL for a batch of rows by id, planned once and safe beside other workers
(used by the outbox drain and by the loading of a batch's cases)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import ARRAY, Integer, and_, any_, bindparam, func, select
from sqlalchemy.sql.elements import ColumnElement


def among(dialect: str, column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
    """``column IN ids`` for a batch's ids.

    On PostgreSQL as ``column = ANY(<one array parameter>)``: the statement's
    text is then the same for every batch, so it is parsed and planned once
    (psycopg prepares repeated statements) instead of once per batch for an
    ``IN (…)`` list of a new length."""
    values = sorted(set(ids))
    if dialect == "postgresql":
        return cast(
            "ColumnElement[bool]",
            column == any_(bindparam(None, values, type_=ARRAY(Integer))),
        )
    return cast("ColumnElement[bool]", column.in_(values))


def among_locked(
    dialect: str, table: Any, ids: Iterable[int], *conditions: Any
) -> ColumnElement[bool]:
    """The rows of ``table`` with an id in ``ids`` that meet ``conditions``,
    for an UPDATE that may meet another worker's UPDATE of the same rows.

    On PostgreSQL the rows are locked in id order first: two transactions
    that lock overlapping rows in the same order wait for each other instead
    of deadlocking, and a row changed meanwhile is checked again. SQLite
    has a single writer."""
    chosen = and_(among(dialect, table.c.id, ids), *conditions)
    if dialect != "postgresql":
        return chosen
    in_order = select(table.c.id).where(chosen).order_by(table.c.id).with_for_update()
    return cast(
        "ColumnElement[bool]",
        table.c.id == any_(func.array(in_order.scalar_subquery())),
    )
