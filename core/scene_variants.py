"""Which options of a scene's once-per-chat and shuffled variations a chat has seen, oldest first,
read once for a caller: the scripts service drawing a line or checking a start, the admin
simulating a run in that chat. A variation is known by its content key, so identical variations
share their history across scenes (``docs/scenarios.md``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.scene_models import SceneVariantUse


class SeenVariants:
    """A chat's variant history (``scripts.scenario.VariantHistory``)."""

    def __init__(self, uses: Mapping[str, Sequence[int]]) -> None:
        self._uses = uses

    def used(self, key: str) -> Sequence[int]:
        return self._uses.get(key, ())


async def seen_variants(session: AsyncSession, chat_id: int, keys: Iterable[str]) -> SeenVariants:
    """The history of the variations ``keys`` in the chat, in one query (none for no keys)."""
    wanted = sorted(set(keys))
    uses: dict[str, list[int]] = {}
    if wanted:
        rows = await session.execute(
            select(SceneVariantUse.choice_key, SceneVariantUse.variant)
            .where(SceneVariantUse.chat_id == chat_id, SceneVariantUse.choice_key.in_(wanted))
            .order_by(SceneVariantUse.id)
        )
        for key, variant in rows:
            uses.setdefault(key, []).append(variant)
    return SeenVariants(uses)
