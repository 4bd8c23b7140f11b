"""What the parser reports, and the one failure a render can have."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_ERRORS = 100  # past that, more errors help nobody: one line says how many were left out


@dataclass(frozen=True, slots=True)
class ScenarioError:
    """A problem at a 1-based line and column, in words meant for the admin writing the scene."""

    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.message}"


class ScenarioInvalid(ValueError):
    """``parse_scene``'s refusal: every error, sorted by position."""

    def __init__(self, errors: Iterable[ScenarioError]) -> None:
        self.errors = list(errors)
        super().__init__("\n".join(str(error) for error in self.errors))


class VariationExhausted(Exception):
    """Every option of a ``{!a|b}`` variation was already used in this chat: the run is refused."""

    def __init__(self, key: str, line: int, column: int) -> None:
        self.key = key
        self.line = line
        self.column = column
        super().__init__(
            f"every option of the variation at line {line}, column {column} "
            "was already used in this chat"
        )


class ErrorList:
    """Collects errors from every stage; ``sorted`` gives them as the API reports them."""

    def __init__(self) -> None:
        self._errors: set[ScenarioError] = set()
        self._lines: set[int] = set()

    def add(self, line: int, column: int, message: str) -> None:
        self._errors.add(ScenarioError(line, max(column, 1), message))
        self._lines.add(line)

    def has_line(self, line: int) -> bool:
        return line in self._lines

    def __bool__(self) -> bool:
        return bool(self._errors)

    def sorted(self) -> list[ScenarioError]:
        ordered = sorted(self._errors, key=lambda e: (e.line, e.column, e.message))
        if len(ordered) <= MAX_ERRORS:
            return ordered
        first_left_out = ordered[MAX_ERRORS]
        left_out = len(ordered) - MAX_ERRORS
        summary = ScenarioError(
            first_left_out.line,
            first_left_out.column,
            f"… and {left_out} more error{'s' if left_out > 1 else ''} from here on",
        )
        return [*ordered[:MAX_ERRORS], summary]
