"""Stages move in code, not at the model's word: one step (or the campaign's step) at a time.

A model told by the lead to "set stage to end" would close the conversation after one message.
The stage a draft proposes may stay, go back, or advance at most ``max_stage_step``; before our
first message there is no stage, so the first message may take at most the first ``step``.
"""

from __future__ import annotations

from manager.guardrails.findings import Finding, person


def stage_findings(
    proposed: str, current: str | None, stages: tuple[str, ...], step: int
) -> list[Finding]:
    if not stages:
        return []
    if proposed not in stages:
        return [
            person("stage.unknown", f"the stage {proposed[:50]!r} is not one of the campaign's")
        ]
    at = stages.index(current) if current in stages else -1
    to = stages.index(proposed)
    if to - at <= step:
        return []
    start = f"from {current!r}" if at >= 0 else "before the first message"
    allowed = "one stage" if step == 1 else f"{step} stages"
    return [
        person(
            "stage.jump",
            f"the stage jumps {start} to {proposed!r}; a message may advance {allowed}",
        )
    ]
