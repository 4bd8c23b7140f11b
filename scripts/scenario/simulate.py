"""One concrete, reproducible timeline of a scene, checked against each account's rate budget.

Nothing is sent and nothing is stored: a seeded ``random.Random`` resolves every variation and
pause, and invents the audience a listen waits for.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from scripts.scenario.audience import first_hearing, heard_message, member_name
from scripts.scenario.budget import Budget, Send, budget_problems
from scripts.scenario.durations import format_seconds
from scripts.scenario.errors import VariationExhausted
from scripts.scenario.program import (
    Clause,
    JumpTo,
    LeadAt,
    ListenAt,
    Say,
    SayAt,
    Scene,
    StopAt,
    WaitAt,
)
from scripts.scenario.text import NoHistory, Rendered, VariantHistory, render, typing_seconds

EntryKind = Literal["say", "wait", "listen", "heard", "silent", "lead", "stop"]


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: float  # seconds from the start; a line's is when it is sent, after its typing
    kind: EntryKind
    line: int
    role: str | None = None
    account: str | None = None  # for "heard": the invented member's name
    text: str | None = None  # for "heard": the member's message
    typing: float | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Timeline:
    entries: tuple[TimelineEntry, ...]
    problems: tuple[str, ...]
    duration: float


class _Memory:
    """The chat's history as given, plus what this simulated run picked so far."""

    def __init__(self, base: VariantHistory) -> None:
        self._base = base
        self._picked: dict[str, list[int]] = {}

    def used(self, key: str) -> Sequence[int]:
        return [*self._base.used(key), *self._picked.get(key, ())]

    def remember(self, rendered: Rendered) -> None:
        for key, index in rendered.picks:
            self._picked.setdefault(key, []).append(index)


@dataclass(slots=True)
class _Run:
    scene: Scene
    rng: random.Random
    cast: Mapping[str, str]
    variables: Mapping[str, str]
    memory: _Memory
    scale: float
    now: float = 0.0
    member: str | None = None
    entries: list[TimelineEntry] = field(default_factory=list)
    sends: list[Send] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def play(self) -> None:
        # Every jump and branch goes forward (the language has no loops), so this ends.
        program, pc = self.scene.program, 0
        while pc < len(program):
            instr = program[pc]
            pc += 1
            if isinstance(instr, SayAt):
                if not self.say(instr.say):
                    return
            elif isinstance(instr, WaitAt):
                self.wait(instr)
            elif isinstance(instr, ListenAt):
                pc = self.listen(instr)
            elif isinstance(instr, JumpTo):
                pc = instr.target
            elif isinstance(instr, LeadAt):
                detail = f"{self.member} is handed to campaign {instr.campaign!r} as a lead"
                self.entries.append(TimelineEntry(self.now, "lead", instr.line, detail=detail))
            else:
                self.stop(instr)
                return

    def say(self, say: Say) -> bool:
        try:
            rendered = render(
                say.text,
                rng=self.rng,
                variables=self.variables,
                member=self.member,
                history=self.memory,
            )
        except VariationExhausted as exc:
            self.problems.append(f"line {say.line}: the run would be refused: {exc}")
            return False
        self.memory.remember(rendered)
        typing = 0.0 if say.typing_off else say.typing
        if typing is None:
            typing = typing_seconds(rendered.text)
        typing *= self.scale
        self.now += typing
        account = self.cast.get(say.role, say.role)
        self.sends.append(Send(account, say.line, self.now))
        self.entries.append(
            TimelineEntry(
                self.now,
                "say",
                say.line,
                role=say.role,
                account=account,
                text=rendered.text,
                typing=typing,
                detail=self._say_detail(say, rendered),
            )
        )
        return True

    def _say_detail(self, say: Say, rendered: Rendered) -> str:
        choices = {choice.key: choice for choice in say.text.choices()}
        notes = [
            f"variant {index + 1} of {len(choices[key].options)} at "
            f"{choices[key].line}:{choices[key].column}"
            for key, index in rendered.picks
        ]
        if say.reply is not None:
            quoted = f"{self.member}'s message" if say.reply == "member" else repr(say.reply)
            notes.append(f"replies to {quoted}")
        if say.photo is not None:
            notes.append(f"photo {say.photo}")
        if say.sticker is not None:
            notes.append(f"sticker {say.sticker}")
        return "; ".join(notes)

    def wait(self, wait: WaitAt) -> None:
        seconds = self.rng.uniform(wait.low, wait.high) if wait.high > wait.low else wait.low
        drawn = seconds * self.scale
        if wait.high > wait.low:
            detail = f"{format_seconds(wait.low)}–{format_seconds(wait.high)} → {drawn:.1f}s"
        else:
            detail = format_seconds(drawn)
        self.entries.append(TimelineEntry(self.now, "wait", wait.line, detail=detail))
        self.now += drawn

    def listen(self, listen: ListenAt) -> int:
        timeout = listen.timeout * self.scale
        detail = f"up to {format_seconds(timeout)}"
        self.entries.append(TimelineEntry(self.now, "listen", listen.line, detail=detail))
        outcomes: list[int | None] = [pc for _, pc in listen.branches]
        outcomes.append(listen.silent)  # None: nobody writes and there is no `when silent`
        choice = self.rng.randrange(len(outcomes))
        if choice == len(listen.branches):
            self.now += timeout
            what = "nobody writes" + ("" if listen.silent is not None else "; no `when silent`")
            self.entries.append(
                TimelineEntry(self.now, "silent", listen.line, detail=f"simulated: {what}")
            )
            return listen.after if listen.silent is None else listen.silent
        aimed = listen.branches[choice][0]
        self.now += self.rng.uniform(0.1, 0.9) * timeout
        self.member = member_name(self.rng)
        message = heard_message(aimed, self.rng)
        clause, pc = first_hearing(listen, aimed, message)
        self.entries.append(
            TimelineEntry(
                self.now,
                "heard",
                clause.line,
                account=self.member,
                text=message,
                detail=_heard_detail(self.member, clause),
            )
        )
        return pc

    def stop(self, stop: StopAt) -> None:
        self.entries.append(TimelineEntry(self.now, "stop", stop.line, detail="the scene stops"))


def _heard_detail(member: str, clause: Clause) -> str:
    if clause.kind == "keywords":
        matched = f"keyword set {clause.keyword_set!r}"
        return f"simulated: {member} writes, {matched} matches (when at line {clause.line})"
    return f"simulated: {member} writes (when at line {clause.line})"


def simulate(
    scene: Scene,
    *,
    seed: int,
    cast: Mapping[str, str] | None = None,
    variables: Mapping[str, str] | None = None,
    budget: Budget = Budget(),  # noqa: B008 - frozen, so one shared default is safe
    history: VariantHistory | None = None,
    time_scale: float = 1.0,
) -> Timeline:
    """The same seed gives the same timeline. ``time_scale`` multiplies every wait, typing and
    timeout; the budget is scaled with them, so the problems found do not depend on it."""
    cast = dict(cast or {})
    problems = _cast_problems(scene, cast)
    values, missing = variable_values(scene, variables or {})
    problems += [f"variable {{{name}}} has no value and no default" for name in missing]
    run = _Run(
        scene=scene,
        rng=random.Random(seed),
        cast=cast,
        variables=values,
        memory=_Memory(history or NoHistory()),
        scale=time_scale,
    )
    run.play()
    problems += run.problems
    problems += budget_problems(run.sends, budget, time_scale)
    return Timeline(tuple(run.entries), tuple(problems), run.now)


def _cast_problems(scene: Scene, cast: Mapping[str, str]) -> list[str]:
    problems = [f"role {role} has no account" for role in scene.roles if role not in cast]
    problems += [
        f"the cast names role {role!r}, which the scene does not declare"
        for role in cast
        if role not in scene.roles
    ]
    players: dict[str, str] = {}
    for role in scene.roles:
        account = cast.get(role)
        if account is None:
            continue
        if account in players:
            problems.append(f"account {account} plays both {players[account]} and {role}")
        else:
            players[account] = role
    return problems


def variable_values(scene: Scene, given: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Each variable's value (given, else its default) and the names that have neither; those
    render as ``{name}`` so that the rest of the timeline can still be read."""
    values: dict[str, str] = {}
    missing: list[str] = []
    for name, default in scene.variables.items():
        value = given.get(name, default)
        if value is None:
            missing.append(name)
            value = "{" + name + "}"
        values[name] = value
    return values, missing
