"""Load a YAML file into a pydantic model, with errors that name the file, line and field.

YAML is composed into nodes first so every value keeps the line it came from; pydantic's error
locations are then mapped back to those lines. Duplicate keys, which YAML would silently accept, are
errors too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class SpecProblem:
    file: str
    line: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


class SpecError(Exception):
    """One or more problems in a file; ``str()`` gives one line per problem."""

    def __init__(self, problems: Sequence[SpecProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class LocatedData:
    """Plain data from YAML plus the 1-based line of every value by its path."""

    file: str
    data: object
    lines: dict[Path_, int]

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path`` or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def problem(self, path: Path_, reason: str) -> SpecProblem:
        return SpecProblem(self.file, self.line_of(path), format_path(path), reason)


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_yaml(text: str, file: str) -> LocatedData:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        reason = f"bad YAML: {_plain(str(exc.problem or exc))}"
        raise SpecError([SpecProblem(file, line, "", reason)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(file, None, "", f"bad YAML: {exc}")]) from None
    converter = _Converter(file)
    data = converter.convert(root, ()) if root is not None else {}
    if converter.problems:
        raise SpecError(converter.problems)
    return LocatedData(file, data, converter.lines)


class _Converter:
    """Turns composed nodes into plain data, remembering each value's line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.problems: list[SpecProblem] = []
        self._loader = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, path: Path_) -> object:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(v, (*path, i)) for i, v in enumerate(node.value)]
        return self._loader.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, object]:
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            key = str(self._loader.construct_object(key_node, deep=True))
            if key in out:
                line = key_node.start_mark.line + 1
                field = format_path((*path, key))
                self.problems.append(SpecProblem(self.file, line, field, "duplicate key"))
            out[key] = self.convert(value_node, (*path, key))
        return out


_HINTS = (
    ("expected <block end>", "the indentation does not line up with the lines above"),
    ("mapping values are not allowed", "a ':' where none was expected (quote text with ': ')"),
    ("found character '\\t'", "a tab; indent with spaces"),
    ("found undefined alias", "an '*' alias with no '&' anchor (quote text starting with '*')"),
    ("could not find expected ':'", "a line without 'key: value' inside a mapping"),
)


def _plain(problem: str) -> str:
    """PyYAML's parser wording, said the way a person fixing the file needs it."""
    return next((hint for marker, hint in _HINTS if marker in problem), problem.strip())


def validate(model: type[M], located: LocatedData) -> M:
    """Validate located data as ``model``; every pydantic error becomes a SpecProblem."""
    try:
        return model.model_validate(located.data)
    except ValidationError as exc:
        raise SpecError([_problem(located, err) for err in exc.errors()]) from None


def _problem(located: LocatedData, err: object) -> SpecProblem:
    assert isinstance(err, dict)  # noqa: S101 - pydantic's ErrorDetails is a TypedDict
    path = tuple(p for p in err["loc"] if isinstance(p, str | int))
    reason = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        reason = "unknown field"
    return located.problem(path, reason)
