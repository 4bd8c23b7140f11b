"""The compiled scene: the tree of steps the parser builds, and the flat program a run follows.

A run's position is an index (pc) into ``Scene.program``, which is what the coordinator stores
between lines: the tree is for reading, the program for resuming. Running off the end of the
program finishes the scene.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from parser.matcher import KeywordSetRules, Matcher
from scripts.scenario.text import Text

ClauseKind = Literal["words", "keywords", "anything", "silent"]


@dataclass(frozen=True, slots=True)
class Say:
    role: str
    text: Text
    line: int
    column: int
    id: str | None = None
    reply: str | None = None  # an id of an earlier line, or "member"
    photo: str | None = None
    sticker: str | None = None
    typing: float | None = None  # seconds; None: typing_seconds(text)
    typing_off: bool = False


@dataclass(frozen=True, slots=True)
class Wait:
    low: float  # seconds
    high: float
    line: int


@dataclass(frozen=True, slots=True)
class Clause:
    kind: ClauseKind
    words: tuple[str, ...]  # as written, for a words clause
    keyword_set: str | None  # for a keywords clause
    steps: tuple[Step, ...]
    line: int

    @property
    def hears(self) -> bool:
        """Whether a member's message chose this clause (so {member} and lead make sense)."""
        return self.kind != "silent"


@dataclass(frozen=True, slots=True)
class Listen:
    timeout: float  # seconds
    clauses: tuple[Clause, ...]
    line: int


@dataclass(frozen=True, slots=True)
class Stop:
    line: int


@dataclass(frozen=True, slots=True)
class Lead:
    campaign: str
    line: int


Step = Say | Wait | Listen | Stop | Lead


@dataclass(frozen=True, slots=True)
class SayAt:
    say: Say


@dataclass(frozen=True, slots=True)
class WaitAt:
    low: float
    high: float
    line: int


@dataclass(frozen=True, slots=True)
class ListenAt:
    timeout: float
    line: int
    branches: tuple[tuple[Clause, int], ...]  # clauses that hear a message → pc of first step
    silent: int | None  # pc of `when silent`'s first step
    after: int  # pc after the `end`


@dataclass(frozen=True, slots=True)
class JumpTo:
    target: int


@dataclass(frozen=True, slots=True)
class StopAt:
    line: int


@dataclass(frozen=True, slots=True)
class LeadAt:
    campaign: str
    line: int


Instr = SayAt | WaitAt | ListenAt | JumpTo | StopAt | LeadAt


@dataclass(frozen=True, slots=True)
class Scene:
    title: str | None
    roles: tuple[str, ...]
    variables: Mapping[str, str | None]  # name → default
    steps: tuple[Step, ...]
    keyword_sets: tuple[str, ...]
    campaigns: tuple[str, ...]
    program: tuple[Instr, ...]

    def lines(self) -> Iterator[Say]:
        """Every line of dialogue in source order, in every branch."""
        return _says(self.steps)


def _says(steps: Sequence[Step]) -> Iterator[Say]:
    for step in steps:
        if isinstance(step, Say):
            yield step
        elif isinstance(step, Listen):
            for clause in step.clauses:
                yield from _says(clause.steps)


def flatten(steps: Sequence[Step]) -> tuple[Instr, ...]:
    """Lay the tree out: each listen is followed by its clauses' blocks, each ending with a
    jump past the listen's ``end`` unless it ends with ``stop``."""
    program: list[Instr] = []
    _emit(steps, program)
    return tuple(program)


def _emit(steps: Sequence[Step], program: list[Instr]) -> None:
    for step in steps:
        if isinstance(step, Say):
            program.append(SayAt(step))
        elif isinstance(step, Wait):
            program.append(WaitAt(step.low, step.high, step.line))
        elif isinstance(step, Stop):
            program.append(StopAt(step.line))
        elif isinstance(step, Lead):
            program.append(LeadAt(step.campaign, step.line))
        else:
            _emit_listen(step, program)


def _emit_listen(listen: Listen, program: list[Instr]) -> None:
    at = len(program)
    program.append(JumpTo(-1))  # the ListenAt, once its targets are known
    starts: list[tuple[Clause, int]] = []
    jumps: list[int] = []
    for clause in listen.clauses:
        starts.append((clause, len(program)))
        _emit(clause.steps, program)
        if not (clause.steps and isinstance(clause.steps[-1], Stop)):
            jumps.append(len(program))
            program.append(JumpTo(-1))
    after = len(program)
    for jump in jumps:
        program[jump] = JumpTo(after)
    program[at] = ListenAt(
        timeout=listen.timeout,
        line=listen.line,
        branches=tuple((c, pc) for c, pc in starts if c.kind != "silent"),
        silent=next((pc for c, pc in starts if c.kind == "silent"), None),
        after=after,
    )


def clause_matcher(clause: Clause) -> Callable[[str], bool]:
    """Whether a member's message chooses this clause, by the parser's keyword matching.

    Keyword-set and silent clauses have no matcher here: the coordinator compiles the workspace's
    keyword sets from the database itself, and silence is the absence of a message.
    """
    if clause.kind == "anything":
        return lambda _text: True
    if clause.kind != "words":
        raise ValueError(f"a `when {clause.kind}` clause has no matcher of its own")
    rules = KeywordSetRules(
        set_id=0, name=f"when at line {clause.line}", keywords=clause.words, exclude=()
    )
    matcher = Matcher.compile([rules])
    return lambda text: bool(matcher.match(text))
