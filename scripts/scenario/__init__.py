"""The scenario language of scripts mode: text → a checked ``Scene`` the run coordinator plays.

See ``docs/scenarios.md`` for the language. ``check_scene`` never raises and reports every error
with its line and column; ``parse_scene`` raises ``ScenarioInvalid`` with the same errors.
"""

from __future__ import annotations

from scripts.scenario.budget import Budget
from scripts.scenario.errors import (
    ErrorList,
    ScenarioError,
    ScenarioInvalid,
    VariationExhausted,
)
from scripts.scenario.parser import build_scene
from scripts.scenario.program import (
    Clause,
    Instr,
    JumpTo,
    Lead,
    LeadAt,
    Listen,
    ListenAt,
    Say,
    SayAt,
    Scene,
    Step,
    Stop,
    StopAt,
    Wait,
    WaitAt,
    clause_matcher,
)
from scripts.scenario.simulate import Timeline, TimelineEntry, simulate, variable_values
from scripts.scenario.text import (
    Choice,
    NoHistory,
    Part,
    Rendered,
    Text,
    Var,
    VariantHistory,
    render,
    typing_seconds,
)


def check_scene(source: str) -> tuple[Scene | None, list[ScenarioError]]:
    """The scene, or None and every error sorted by position (at most 100, then a count)."""
    errors = ErrorList()
    scene = build_scene(source, errors)
    return scene, errors.sorted()


def parse_scene(source: str) -> Scene:
    """The scene; raises ``ScenarioInvalid`` with every error."""
    scene, errors = check_scene(source)
    if scene is None:
        raise ScenarioInvalid(errors)
    return scene


__all__ = [
    "Budget",
    "Choice",
    "Clause",
    "Instr",
    "JumpTo",
    "Lead",
    "LeadAt",
    "Listen",
    "ListenAt",
    "NoHistory",
    "Part",
    "Rendered",
    "Say",
    "SayAt",
    "Scene",
    "ScenarioError",
    "ScenarioInvalid",
    "Step",
    "Stop",
    "StopAt",
    "Text",
    "Timeline",
    "TimelineEntry",
    "Var",
    "VariantHistory",
    "VariationExhausted",
    "Wait",
    "WaitAt",
    "check_scene",
    "clause_matcher",
    "parse_scene",
    "render",
    "simulate",
    "typing_seconds",
    "variable_values",
]
