"""Compiled scenes by (scenario, version): parsed once per process, since versions never change."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.scene_models import ScenarioVersion
from scripts.scenario import ScenarioInvalid, Scene, parse_scene


class SceneNotPlayable(Exception):
    """A stored version no longer parses (the language got stricter): the run cannot go on."""


class SceneCache:
    def __init__(self) -> None:
        self._scenes: dict[tuple[int, int], Scene] = {}

    async def get(self, session: AsyncSession, scenario_id: int, version: int) -> Scene:
        key = (scenario_id, version)
        scene = self._scenes.get(key)
        if scene is None:
            source = await session.scalar(
                select(ScenarioVersion.source).where(
                    ScenarioVersion.scenario_id == scenario_id, ScenarioVersion.version == version
                )
            )
            if source is None:
                raise SceneNotPlayable(f"scenario {scenario_id} has no version {version}")
            try:
                scene = parse_scene(source)
            except ScenarioInvalid as exc:
                raise SceneNotPlayable(f"version {version} does not parse: {exc}") from None
            self._scenes[key] = scene
        return scene
