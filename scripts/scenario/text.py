"""Text templates: literal text, ``{name}`` variables, ``{a|b}`` ``{!a|b}`` ``{~a|b}`` choices.

``render`` turns a template into the line that is sent. Per-chat memory of ``{!…}`` (each option
once) and ``{~…}`` (a shuffle bag) lives with the caller, behind ``VariantHistory``: a choice is
known by ``Choice.key``, a hash of its own source text, so the history of a variation survives
edits elsewhere in the scene (and two identical variations share it, which is what an admin means).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from scripts.scenario.errors import VariationExhausted

MEMBER = "member"
SOMEONE = "someone"  # {member} where nobody was heard (a simulation, a preview)
ChoiceKind = Literal["random", "once", "shuffle"]


@dataclass(frozen=True, slots=True)
class Var:
    name: str  # lower case; "member" is the member the enclosing `when` heard


@dataclass(frozen=True, slots=True)
class Choice:
    kind: ChoiceKind
    options: tuple[Text, ...]
    key: str  # 12 hex chars of sha1 of the choice's own source text
    line: int
    column: int


Part = str | Var | Choice


@dataclass(frozen=True, slots=True)
class Text:
    parts: tuple[Part, ...] = ()

    def has_member(self) -> bool:
        return any(var.name == MEMBER for var in self.variables())

    def variables(self) -> Iterator[Var]:
        """Every variable in the template, in any option."""
        for part in self.parts:
            if isinstance(part, Var):
                yield part
            elif isinstance(part, Choice):
                for option in part.options:
                    yield from option.variables()

    def choices(self) -> Iterator[Choice]:
        """Every choice, outer ones before the ones nested in them."""
        for part in self.parts:
            if isinstance(part, Choice):
                yield part
                for option in part.options:
                    yield from option.choices()

    def is_empty(self) -> bool:
        return not self.parts

    def can_be_blank(self) -> bool:
        """Whether some choice of options renders only spaces (Telegram refuses that message);
        a variable is taken to have a value."""
        for part in self.parts:
            if isinstance(part, Var):
                return False
            if isinstance(part, str) and part.strip():
                return False
            if isinstance(part, Choice) and not any(o.can_be_blank() for o in part.options):
                return False
        return True

    def longest(self) -> int:
        """The most characters this template can render to, not counting variables' values."""
        total = 0
        for part in self.parts:
            if isinstance(part, str):
                total += len(part)
            elif isinstance(part, Choice):
                total += max(option.longest() for option in part.options)
        return total


class VariantHistory(Protocol):
    def used(self, key: str) -> Sequence[int]:
        """Option indexes of the choice ``key`` used in this chat, oldest first."""
        ...


class NoHistory:
    """A chat where nothing was said yet."""

    def used(self, key: str) -> Sequence[int]:
        return ()


@dataclass(frozen=True, slots=True)
class Rendered:
    text: str
    picks: tuple[tuple[str, int], ...]  # (choice key, option index), nested choices included


@dataclass(slots=True)
class _Render:
    rng: random.Random
    variables: Mapping[str, str]
    member: str | None
    history: VariantHistory
    out: list[str] = field(default_factory=list)
    picks: list[tuple[str, int]] = field(default_factory=list)

    def text(self, text: Text) -> None:
        for part in text.parts:
            if isinstance(part, str):
                self.out.append(part)
            elif isinstance(part, Var):
                self.out.append(self._value(part.name))
            else:
                index = self._pick(part)
                self.picks.append((part.key, index))
                self.text(part.options[index])

    def _value(self, name: str) -> str:
        if name == MEMBER:
            return self.member or SOMEONE
        return self.variables[name]

    def _pick(self, choice: Choice) -> int:
        count = len(choice.options)
        if choice.kind == "random":
            return self.rng.randrange(count)
        # Picks made earlier in this same line count too: the same variation twice in one line.
        used = [*self.history.used(choice.key), *(i for k, i in self.picks if k == choice.key)]
        if choice.kind == "once":
            fresh = [i for i in range(count) if i not in set(used)]
            if not fresh:
                raise VariationExhausted(choice.key, choice.line, choice.column)
            return self.rng.choice(fresh)
        return self.rng.choice(_left_in_bag(used, count))


def _left_in_bag(used: Sequence[int], count: int) -> list[int]:
    """The options not drawn since the bag was last emptied (every option drawn once)."""
    drawn: set[int] = set()
    for index in used:
        if 0 <= index < count:
            drawn.add(index)
            if len(drawn) == count:
                drawn = set()
    return [i for i in range(count) if i not in drawn]


def render(
    text: Text,
    *,
    rng: random.Random,
    variables: Mapping[str, str],
    member: str | None,
    history: VariantHistory,
) -> Rendered:
    """One concrete line; a variable missing from ``variables`` raises ``KeyError(name)``."""
    state = _Render(rng=rng, variables=variables, member=member, history=history)
    state.text(text)
    return Rendered(text="".join(state.out), picks=tuple(state.picks))


def typing_seconds(text: str) -> float:
    """How long "typing…" shows before a line: a person types about 7 characters a second on a
    phone, plus a moment to start; capped so that a long line does not stall the scene."""
    return min(12.0, 1.5 + len(text) / 7)
