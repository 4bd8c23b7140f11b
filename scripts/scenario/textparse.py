"""Reads a line's text into a ``Text`` template, reporting every error at its column."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass

from scripts.scenario.errors import ErrorList
from scripts.scenario.text import MEMBER, Choice, ChoiceKind, Part, Text, Var

MAX_DEPTH = 16  # variations nested deeper are a typo, and the reader recurses once per level
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
_ESCAPES = {"{": "{", "}": "}", "|": "|", "\\": "\\", "n": "\n"}
NOT_A_VARIATION = "a variation needs two or more options separated by |; {name} is a variable"
_KINDS: dict[str, ChoiceKind] = {"!": "once", "~": "shuffle"}


@dataclass(frozen=True, slots=True)
class TextScope:
    """What a text may refer to where it stands."""

    variables: Collection[str]  # declared in `vars:`, lower case
    member_ok: bool  # inside a `when` clause that heard someone


def parse_text(raw: str, *, line: int, column: int, scope: TextScope, errors: ErrorList) -> Text:
    """``raw`` starts at 1-based ``column`` of ``line``."""
    reader = _Reader(raw, line, column, scope, errors)
    options, _ = reader.options(0, 0)
    # At the top level a | is plain text, so there is exactly one option.
    return _text(options[0])


def _text(parts: list[Part]) -> Text:
    merged: list[Part] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif part != "":
            merged.append(part)
    return Text(tuple(merged))


class _Reader:
    def __init__(
        self, raw: str, line: int, column: int, scope: TextScope, errors: ErrorList
    ) -> None:
        self.raw = raw
        self.line = line
        self.column = column
        self.scope = scope
        self.errors = errors

    def error(self, at: int, message: str) -> None:
        self.errors.add(self.line, self.column + at, message)

    def options(self, i: int, depth: int) -> tuple[list[list[Part]], int]:
        """Options from ``i`` up to the ``}`` closing this depth (its index), or the text's end."""
        raw = self.raw
        options: list[list[Part]] = [[]]
        literal: list[str] = []
        while i < len(raw):
            char = raw[i]
            if char == "\\":
                escaped = _ESCAPES.get(raw[i + 1 : i + 2])
                if escaped is None:
                    self.error(i, r"a \ must be followed by {, }, |, \ or n (write \\ for a \)")
                    i += 1
                else:
                    literal.append(escaped)
                    i += 2
                continue
            if char not in "{}|" or (char == "|" and not depth):
                literal.append(char)
                i += 1
                continue
            options[-1].append("".join(literal))
            literal = []
            if char == "{":
                part, i = self.group(i, depth + 1)
                if part is not None:
                    options[-1].append(part)
            elif char == "|":
                options.append([])
                i += 1
            elif depth:
                return options, i
            else:
                self.error(i, r"this } closes nothing (write \} for a brace)")
                i += 1
        options[-1].append("".join(literal))
        return options, len(raw)

    def group(self, start: int, depth: int) -> tuple[Part | None, int]:
        """The braces opening at ``start``: a choice or a variable, and the index after them."""
        if depth > MAX_DEPTH:
            self.error(start, f"variations nest at most {MAX_DEPTH} deep")
            return None, self.skip_group(start)
        kind = _KINDS.get(self.raw[start + 1 : start + 2], "random")
        first = start + 1 + (kind != "random")
        options, end = self.options(first, depth)
        if end >= len(self.raw):
            self.error(start, r"this { is never closed (write \{ for a brace)")
            return None, end
        if len(options) >= 2:
            source = self.raw[start : end + 1]
            key = hashlib.sha1(source.encode("utf-8", "replace"), usedforsecurity=False)
            return Choice(
                kind=kind,
                options=tuple(_text(option) for option in options),
                key=key.hexdigest()[:12],
                line=self.line,
                column=self.column + start,
            ), end + 1
        inside = self.raw[first:end]
        if kind == "random" and NAME.fullmatch(inside):
            return self.variable(inside.lower(), start), end + 1
        self.error(start, NOT_A_VARIATION)
        return None, end + 1

    def skip_group(self, start: int) -> int:
        """The index after the ``}`` closing the braces at ``start`` (without recursing)."""
        depth, i = 0, start
        while i < len(self.raw):
            char = self.raw[i]
            if char == "\\":
                i += 1
            elif char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if not depth:
                    return i + 1
            i += 1
        return len(self.raw)

    def variable(self, name: str, at: int) -> Var | None:
        if name == MEMBER:
            if self.scope.member_ok:
                return Var(MEMBER)
            self.error(
                at,
                "{member} is the member a `when` heard: use it only in the steps of a when "
                "clause that heard someone (not `when silent`)",
            )
            return None
        if name in self.scope.variables:
            return Var(name)
        declared = ", ".join(sorted(self.scope.variables))
        hint = f"declared variables: {declared}" if declared else "no variables are declared"
        self.error(at, f"unknown variable {{{name}}}: {hint} (add it to `vars:`)")
        return None
