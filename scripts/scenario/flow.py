"""Checks that need the whole tree: unreachable steps and replies to lines not sent yet."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from scripts.scenario.errors import ErrorList
from scripts.scenario.program import Listen, Say, Step, Stop
from scripts.scenario.text import MEMBER


@dataclass(frozen=True, slots=True)
class _Flow:
    ids: Mapping[str, int]  # every id in the scene → its line
    columns: Mapping[int, int]  # a step's line → its column
    reply_columns: Mapping[int, int]
    roles: Collection[str]
    errors: ErrorList


def check_flow(
    steps: Sequence[Step],
    ids: Mapping[str, int],
    columns: Mapping[int, int],
    reply_columns: Mapping[int, int],
    roles: Collection[str],
    errors: ErrorList,
) -> None:
    _block(steps, frozenset(), _Flow(ids, columns, reply_columns, roles, errors))


def _block(steps: Sequence[Step], sent: frozenset[str], flow: _Flow) -> frozenset[str] | None:
    """The ids sent on every path through ``steps``; None when every path stops."""
    stopped: str | None = None  # why the rest of the block is unreachable
    for step in steps:
        if stopped is not None:
            flow.errors.add(step.line, flow.columns.get(step.line, 1), f"unreachable: {stopped}")
            return None
        if isinstance(step, Say):
            _check_reply(step, sent, flow)
            if step.id is not None:
                sent = sent | {step.id}
        elif isinstance(step, Stop):
            stopped = f"the scene stops at line {step.line}"
        elif isinstance(step, Listen):
            after = _listen(step, sent, flow)
            if after is None:
                stopped = f"every branch of the listen at line {step.line} stops"
            else:
                sent = after
    return None if stopped is not None else sent


def _listen(listen: Listen, sent: frozenset[str], flow: _Flow) -> frozenset[str] | None:
    outcomes: list[frozenset[str]] = []
    for clause in listen.clauses:
        after = _block(clause.steps, sent, flow)
        if after is not None:
            outcomes.append(after)
    if not any(clause.kind == "silent" for clause in listen.clauses):
        outcomes.append(sent)  # nobody matching wrote: the scene goes on after the `end`
    if not outcomes:
        return None
    return frozenset.intersection(*outcomes)


def _check_reply(say: Say, sent: frozenset[str], flow: _Flow) -> None:
    if say.reply is None or say.reply == MEMBER or say.reply in sent:
        return
    column = flow.reply_columns.get(say.line, say.column)
    defined_at = flow.ids.get(say.reply)
    if defined_at is None:
        message = f"no line has id {say.reply!r}"
        if say.reply in flow.roles:
            message += f" ({say.reply!r} is a role: a reply names a line's id)"
    elif defined_at >= say.line:
        message = (
            f"line {say.reply!r} comes later (line {defined_at}): a reply quotes an earlier line"
        )
    else:
        message = f"line {say.reply!r} may not have been sent before this line"
    flow.errors.add(say.line, column, message)
