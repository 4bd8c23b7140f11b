"""Database: SQLAlchemy 2 async models, Alembic migrations, and a caller-owned unit of work."""

from core.db.session import Database

__all__ = ["Database"]
