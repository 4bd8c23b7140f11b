"""Load a YAML file into a pydantic model, with errors that name the file, line and field.

YAML is composed into nodes first so every value keeps the line it came from; pydantic's error
locations are then mapped back to those lines. Duplicate keys, which YAML would silently accept, are
errors too.

Loading is bounded: a file over ``MAX_BYTES`` is refused before it is parsed, aliases are refused
(so nothing can expand: no "billion laughs", no self-referencing node), so are more than
``MAX_NODES`` values and nesting deeper than ``MAX_DEPTH`` (before the composer's recursion gets
anywhere near Python's limit), and text holding control characters (PostgreSQL refuses NUL in
text) is refused with its line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
Path_ = tuple[str | int, ...]

MAX_BYTES = 1024 * 1024  # hundreds of times a real file; any file under it loads in <4 s, <50 MB
MAX_NODES = 50_000  # values and keys: 1,000 accounts and their campaigns are ~20,000
MAX_DEPTH = 32  # a workspace nests 5 deep; composing recurses ~3 frames a level
MAX_REPORTED = 20  # problems of one kind listed before the rest are summed up

# Characters YAML itself refuses in a file (its "printable" set, inverted) ...
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# ... and what text may not hold once escapes ("\u0000", "\e") are read: only tab and line breaks.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


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
    """Plain data from YAML plus the 1-based line of every value by its path (for a mapping's
    entry, the line of its key)."""

    file: str
    data: object
    lines: dict[Path_, int]
    problems: list[SpecProblem] = field(default_factory=list)  # values that could not be read
    bad_paths: set[Path_] = field(default_factory=set)  # ... and where they are

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


def _too_large(file: str, line: int, size: int) -> SpecProblem:
    reason = f"the file is {size:,} bytes, over the {MAX_BYTES:,}-byte limit (reached on this line)"
    return SpecProblem(file, line, "", reason)


def read_text(path: Path) -> str:
    """Read a UTF-8 file of at most ``MAX_BYTES``, never more than that into memory."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_BYTES + 1)
            if len(raw) > MAX_BYTES:
                size = os.fstat(stream.fileno()).st_size
                line = raw.count(b"\n", 0, MAX_BYTES) + 1
                raise SpecError([_too_large(str(path), line, max(size, len(raw)))])
    except OSError as exc:
        reason = f"cannot read: {exc.strerror or exc}"
        raise SpecError([SpecProblem(str(path), None, "", reason)]) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SpecError([SpecProblem(str(path), line, "", "not UTF-8 text")]) from None


def load_yaml(text: str, file: str) -> LocatedData:
    """Read YAML into located data; SpecError for anything wrong in it, all at once."""
    located = read_yaml(text, file)
    if located.problems:
        raise SpecError(_capped(located.problems, file, "problems"))
    return located


def read_yaml(text: str, file: str) -> LocatedData:
    """Like ``load_yaml``, but a value that cannot be read (a duplicate key, control characters,
    an impossible date) is left in ``problems`` so ``validate`` reports it with the rest."""
    if len(text) > MAX_BYTES // 4:  # a UTF-8 character is at most 4 bytes
        encoded = text.encode("utf-8", "surrogatepass")
        if len(encoded) > MAX_BYTES:
            over_on = encoded.count(b"\n", 0, MAX_BYTES) + 1
            raise SpecError([_too_large(file, over_on, len(encoded))])
    if unprintable := _unprintable(text, file):
        raise SpecError(unprintable)
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        reason = f"bad YAML: {_plain(str(exc.problem or exc))}"
        raise SpecError([SpecProblem(file, line, "", reason)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem(file, None, "", f"bad YAML: {exc}")]) from None
    finally:
        loader.dispose()
    converter = _Converter(file)
    data = converter.convert(root, ()) if root is not None else {}
    return LocatedData(file, data, converter.lines, converter.problems, converter.bad_paths)


def _unprintable(text: str, file: str) -> list[SpecProblem]:
    """One problem per line holding a character YAML refuses (NUL, other controls), for the
    first ``MAX_REPORTED`` such lines."""
    problems: list[SpecProblem] = []
    line, position = 1, 0
    while match := _UNPRINTABLE.search(text, position):
        if len(problems) == MAX_REPORTED:
            problems.append(SpecProblem(file, None, "", "and more lines like these"))
            break
        line += text.count("\n", position, match.start())
        column = match.start() - text.rfind("\n", 0, match.start())
        reason = f"{_describe(match.group())} in column {column}; remove it"
        problems.append(SpecProblem(file, line, "", reason))
        position = text.find("\n", match.start()) + 1
        if position == 0:
            break
        line += 1
    return problems


def _capped(problems: list[SpecProblem], file: str, what: str) -> list[SpecProblem]:
    if len(problems) <= MAX_REPORTED:
        return problems
    more = SpecProblem(file, None, "", f"and {len(problems) - MAX_REPORTED:,} more {what}")
    return [*problems[:MAX_REPORTED], more]


def _describe(char: str) -> str:
    if "\ud800" <= char <= "\udfff":
        return f"U+{ord(char):04X}, half of a surrogate pair, which is not text"
    return f"the control character U+{ord(char):04X}"


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader refusing aliases, too many nodes and deep nesting (the scanner for
    brackets, the composer for everything)."""

    _depth = 0
    _nodes = 0

    def fetch_flow_collection_start(self, TokenClass: type[yaml.Token]) -> None:
        # the scanner keeps a possible key per open bracket and rechecks them all on every token
        if self.flow_level >= MAX_DEPTH:
            problem = f"nested more than {MAX_DEPTH} levels deep"
            raise yaml.scanner.ScannerError(None, None, problem, self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in the stub
        mark = event.start_mark if isinstance(event.start_mark, yaml.error.Mark) else None
        if isinstance(event, yaml.AliasEvent):
            problem = (
                f"an alias ('*{event.anchor}'): aliases are not supported, write the value out"
                " (quote text that starts with '*')"
            )
            raise yaml.composer.ComposerError(None, None, problem, mark)
        if self._depth >= MAX_DEPTH:
            problem = f"nested more than {MAX_DEPTH} levels deep"
            raise yaml.composer.ComposerError(None, None, problem, mark)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            problem = f"more than {MAX_NODES:,} values and keys; split the file in several"
            raise yaml.composer.ComposerError(None, None, problem, mark)
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_COLLECTION_TAGS = {yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, "tag:yaml.org,2002:seq"}
_KINDS = {"int": "a number", "float": "a number", "timestamp": "a date", "bool": "true or false"}


class _Converter:
    """Turns composed nodes into plain data, remembering each value's line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.lines: dict[Path_, int] = {}
        self.problems: list[SpecProblem] = []
        self.bad_paths: set[Path_] = set()
        self._loader = yaml.SafeLoader("")

    def _problem(self, node: yaml.Node, path: Path_, reason: str) -> None:
        self.problems.append(SpecProblem(self.file, _line(node), format_path(path), reason))
        self.bad_paths.add(path)

    def convert(self, node: yaml.Node, path: Path_) -> object:
        self.lines[path] = _line(node)
        if not isinstance(node, yaml.ScalarNode) and node.tag not in _COLLECTION_TAGS:
            self._problem(node, path, f"the tag '{node.tag}' is not supported")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(v, (*path, i)) for i, v in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: Path_) -> object:
        try:
            value = self._loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            self._problem(node, path, f"bad YAML: {exc.problem}")
            return None
        except ValueError:  # an implicit date or number YAML recognised but cannot build
            kind = _KINDS.get(str(node.tag).rpartition(":")[2], "a value")
            shown = f"{node.value[:40]}…" if len(node.value) > 40 else node.value
            self._problem(node, path, f"'{shown}' is not valid as {kind}; quote it if it is text")
            return None
        if isinstance(value, bytes):
            self._problem(node, path, "binary values are not supported")
            return None
        if isinstance(value, str) and (bad := _CONTROL.search(value)):
            reason = f"contains {_describe(bad.group())}; only tabs and line breaks may be in text"
            self._problem(node, path, reason)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, object]:
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_node, path, "a key must be plain text, not a list or mapping")
                continue
            key = str(self._scalar(key_node, path))
            if key in out:
                self._problem(key_node, (*path, key), "duplicate key")
            out[key] = self.convert(value_node, (*path, key))
            self.lines[(*path, key)] = _line(key_node)
        return out


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


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


def validate(model: type[M], located: LocatedData, also: Sequence[SpecProblem] = ()) -> M:
    """Validate located data as ``model``; every pydantic error becomes a SpecProblem, reported
    with the problems found while reading and ``also`` (the caller's own checks), by line."""
    problems = [*located.problems, *also]
    try:
        result = model.model_validate(located.data)
    except ValidationError as exc:
        problems += [
            _problem(located, err) for err in exc.errors() if not _under_bad(located, err["loc"])
        ]
    if problems:
        ordered = sorted(problems, key=lambda p: p.line or 0)
        raise SpecError(_capped(ordered, located.file, "problems"))
    return result


def _under_bad(located: LocatedData, loc: tuple[str | int, ...]) -> bool:
    """An error in a value already reported as unreadable is a consequence, not news."""
    return any(loc[:end] in located.bad_paths for end in range(len(loc) + 1))


def _problem(located: LocatedData, err: object) -> SpecProblem:
    assert isinstance(err, dict)  # noqa: S101 - pydantic's ErrorDetails is a TypedDict
    path = tuple(p for p in err["loc"] if isinstance(p, str | int))
    reason = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        reason = "unknown field"
    return located.problem(path, reason)
