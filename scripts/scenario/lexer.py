"""Splits a scene into its meaningful lines and says what kind of line each one is."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

KEYWORDS = frozenset({"wait", "listen", "when", "end", "stop", "lead", "title", "roles", "vars"})
RESERVED = KEYWORDS | {"member"}
STEP_KEYWORDS = ("wait", "listen", "when", "end", "stop", "lead")
_HEADER = re.compile(r"(title|roles|vars)[ \t]*:", re.IGNORECASE)
_KEYWORD = re.compile(r"(wait|listen|when|end|stop|lead)(?=\s|$)", re.IGNORECASE)
_ROLE = re.compile(r"[^\s\[\]:{}|\\]+")


@dataclass(frozen=True, slots=True)
class SourceLine:
    number: int  # 1-based
    column: int  # 1-based column of the first character of ``body``
    body: str  # the line without its indentation and trailing spaces


@dataclass(frozen=True, slots=True)
class Piece:
    """Some text of a line and the 1-based column it starts at."""

    text: str
    column: int


@dataclass(frozen=True, slots=True)
class HeaderLine:
    name: str  # title, roles or vars
    value: Piece


@dataclass(frozen=True, slots=True)
class KeywordLine:
    keyword: str  # one of STEP_KEYWORDS
    argument: Piece  # what follows the keyword, stripped (may be empty)


@dataclass(frozen=True, slots=True)
class SayLine:
    role: Piece
    options: tuple[Piece, ...]  # each option stripped, as written between the commas
    text: Piece


@dataclass(frozen=True, slots=True)
class BadLine:
    column: int
    reason: str


Statement = HeaderLine | KeywordLine | SayLine | BadLine

UNREADABLE = (
    "cannot read this line: a line of dialogue is `ROLE: text` or `ROLE [options]: text`; "
    "the other steps are wait, listen, when, end, stop and lead"
)


def source_lines(source: str) -> Iterator[SourceLine]:
    """Every line that is not blank or a ``//`` comment."""
    for number, raw in enumerate(source.split("\n"), start=1):
        body = raw.strip()
        if body and not body.startswith("//"):
            yield SourceLine(number, len(raw) - len(raw.lstrip()) + 1, body)


def classify(line: SourceLine) -> Statement:
    body, column = line.body, line.column
    header = _HEADER.match(body)
    if header:
        return HeaderLine(header.group(1).lower(), _rest(body, header.end(), column))
    keyword = _KEYWORD.match(body)
    if keyword:
        return KeywordLine(keyword.group(1).lower(), _rest(body, keyword.end(), column))
    return _say(body, column)


def _rest(body: str, start: int, column: int) -> Piece:
    """``body[start:]`` without its surrounding spaces, with its column."""
    rest = body[start:]
    stripped = rest.lstrip()
    return Piece(stripped.rstrip(), column + start + len(rest) - len(stripped))


def _say(body: str, column: int) -> Statement:
    role = _ROLE.match(body)
    if role is None:
        return BadLine(column, UNREADABLE)
    at = _skip_spaces(body, role.end())
    options: tuple[Piece, ...] = ()
    if body.startswith("[", at):
        close = body.find("]", at)
        if close < 0:
            return BadLine(column + at, "this [ is never closed: write `ROLE [reply x]: text`")
        options = _split_options(body[at + 1 : close], column + at + 1)
        at = _skip_spaces(body, close + 1)
    if not body.startswith(":", at):
        return BadLine(column, UNREADABLE)
    return SayLine(Piece(role.group(), column), options, _rest(body, at + 1, column))


def _skip_spaces(body: str, at: int) -> int:
    while at < len(body) and body[at].isspace():
        at += 1
    return at


def _split_options(inside: str, column: int) -> tuple[Piece, ...]:
    pieces: list[Piece] = []
    start = 0
    for part in inside.split(","):
        pieces.append(_rest(part, 0, column + start))
        start += len(part) + 1
    if len(pieces) == 1 and not pieces[0].text:
        return ()
    return tuple(pieces)
