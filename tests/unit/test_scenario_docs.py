"""docs/scenarios.md stays true: its example scenes parse (the one shown broken fails as shown)."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.scenario import check_scene, simulate

DOC = Path(__file__).parents[2] / "docs" / "scenarios.md"
BROKEN = "title: Broken on purpose"


def scene_blocks() -> list[str]:
    return re.findall(r"```scene\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_every_example_scene_in_the_docs_parses_and_simulates() -> None:
    blocks = [block for block in scene_blocks() if not block.startswith(BROKEN)]
    assert len(blocks) >= 6
    for block in blocks:
        scene, errors = check_scene(block)
        assert errors == [], block
        assert scene is not None
        cast = {role: f"acct_{role}" for role in scene.roles}
        values = dict.fromkeys(scene.variables, "x")
        for seed in range(5):
            timeline = simulate(scene, seed=seed, cast=cast, variables=values)
            assert [p for p in timeline.problems if "the budget is" not in p] == [], block


def test_the_broken_example_gives_the_errors_the_docs_show() -> None:
    [block] = [block for block in scene_blocks() if block.startswith(BROKEN)]
    _, errors = check_scene(block)
    shown = re.findall(r"^broken\.scene:(\d+):(\d+): (.*)$", DOC.read_text("utf-8"), re.MULTILINE)
    assert [(str(e.line), str(e.column), e.message) for e in errors] == shown
