"""INSERT … ON CONFLICT DO NOTHING (and DO UPDATE adding to counters) for both dialects we run on.

Statements are built once per (dialect, table, returning) and executed with parameters: on hot
paths (a lead per matching message) building the construct each time costs more than the insert.
Many rows go in one statement (SQLAlchemy's "insertmanyvalues"), on the Core table so that no ORM
bookkeeping runs per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, cast

from sqlalchemy import Row, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from core.db.models import Base


@cache
def _statement(dialect: str, model: type[Base], returning: str | None) -> Insert:
    # The Core table, not the mapped class: an ORM-enabled insert runs the ORM's bulk-insert
    # bookkeeping and loads its RETURNING row through the ORM, ~200 µs of CPU a statement.
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, model.__table__)
    statement = insert(table).on_conflict_do_nothing()
    return statement.returning(table.c[returning]) if returning is not None else statement


@cache
def _many_statement(dialect: str, model: type[Base], returning: tuple[str, ...]) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, model.__table__)
    statement = insert(table).on_conflict_do_nothing()
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


async def insert_ignore(
    session: AsyncSession, model: type[Base], values: dict[str, Any], *, returning: Any = None
) -> Any:
    """Insert a row unless it conflicts with a unique key; returns ``returning`` (a mapped
    column, ``Lead.id``) of a new row or None when the row already existed."""
    column = None if returning is None else str(returning.key)
    statement = _statement(session.get_bind().dialect.name, model, column)
    result = await session.execute(statement, values)
    return result.scalar() if returning is not None else None


async def insert_ignore_many(
    session: AsyncSession,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    *,
    returning: tuple[str, ...] = (),
) -> list[Row[Any]]:
    """Insert the rows that conflict with no unique key, in one statement; ``returning`` columns
    of the rows made (in no promised order). Every row must name the same columns."""
    if not rows:
        return []
    statement = _many_statement(session.get_bind().dialect.name, model, returning)
    result = await session.execute(statement, list(rows))
    return list(result.all()) if returning else []


@cache
def _adding_statement(
    dialect: str, model: type[Base], key: tuple[str, ...], add: tuple[str, ...]
) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = cast(Table, model.__table__)
    statement = insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in key],
        set_={name: table.c[name] + statement.excluded[name] for name in add},
    )


async def upsert_adding(
    session: AsyncSession,
    model: type[Base],
    rows: Sequence[dict[str, Any]],
    *,
    key: tuple[str, ...],
    add: tuple[str, ...],
) -> None:
    """Insert the rows; where one exists under ``key``, add the row's ``add`` columns to it (a
    counter kept per key, in one statement for many rows). Rows must not repeat a key."""
    if not rows:
        return
    statement = _adding_statement(session.get_bind().dialect.name, model, key, add)
    await session.execute(statement, list(rows))
