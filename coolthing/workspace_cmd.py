"""`coolthing workspace apply|export`: the file tools run against the configured database."""

from __future__ import annotations

from pathlib import Path

from admin.workspace.apply import ApplySummary, apply_workspace, read_workspace
from admin.workspace.export import export_workspace
from core.db import Database
from core.security import load_secret_box
from core.settings import Settings


async def apply_file(settings: Settings, path: Path) -> ApplySummary:
    """Validate the whole file, then apply it in one transaction (all or nothing)."""
    spec, located = read_workspace(path)
    box = load_secret_box(settings)
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            return await apply_workspace(session=session, spec=spec, located=located, box=box)
    finally:
        await db.close()


async def export_text(settings: Settings) -> str:
    db = Database(settings.database_url)
    try:
        async with db.session() as session:
            return await export_workspace(session)
    finally:
        await db.close()
