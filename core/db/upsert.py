"""INSERT … ON CONFLICT DO NOTHING for both dialects we run on.

Statements are built once per (dialect, table, returning) and executed with parameters: on hot
paths (a lead per matching message) building the construct each time costs more than the insert.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from core.db.models import Base


@cache
def _statement(dialect: str, model: type[Base], returning: Any) -> Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(model).on_conflict_do_nothing()
    return statement.returning(returning) if returning is not None else statement


async def insert_ignore(
    session: AsyncSession, model: type[Base], values: dict[str, Any], *, returning: Any = None
) -> Any:
    """Insert a row unless it conflicts with a unique key; returns ``returning`` of a new row or
    None when the row already existed."""
    statement = _statement(session.get_bind().dialect.name, model, returning)
    result = await session.execute(statement, values)
    return result.scalar() if returning is not None else None
