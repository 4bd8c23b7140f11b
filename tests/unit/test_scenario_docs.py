"""docs/scenarios.md stays true: its scenes parse (the broken one fails as shown), and the
simulate output it shows is what the command prints."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from coolthing.scenario_cmd import scenario_app
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


def test_the_simulate_output_shown_is_what_the_command_prints(tmp_path: Path) -> None:
    [qa] = [block for block in scene_blocks() if block.startswith("title: Product Q&A")]
    (tmp_path / "qa.scene").write_text(qa, encoding="utf-8")
    text = DOC.read_text("utf-8")
    command = re.search(r"^\$ coolthing scenario simulate (.*?)\n(\+.*?)\n```", text, re.S | re.M)
    assert command is not None
    args = command.group(1).replace("\\\n", " ").split()
    args[0] = str(tmp_path / "qa.scene")
    result = CliRunner().invoke(scenario_app, ["simulate", *args])
    assert result.exit_code == 0
    assert result.output.rstrip("\n") == command.group(2)
