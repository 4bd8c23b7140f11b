"""Offline message templates: ``{a|b|c}`` variations and ``{name}``-style fields.

A group with a ``|`` is a variation and ``expand`` picks one option (options may nest:
``{Hi|Hello {there|friend}}``). A single word in braces without a ``|`` is a field; ``expand``
leaves it for ``fill``, which runs afterwards so that a lead's name can never be read as spintax.
An empty field value takes its separator with it ("Hi, {name}!" → "Hi!"). Other braces without a
``|`` stay as they are in ``expand``; ``validate_template`` refuses them, as most likely typos.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

FIELDS = frozenset({"name", "username", "offer", "chat"})
MAX_DEPTH = 20  # deeper nesting is a typo, and the parser recurses once per level

_FIELD = re.compile(r"\{(\w+)\}")
_IDENTIFIER = re.compile(r"^\w+$")
_SENTENCE_END = ".!?\n"
_CLOSING_PUNCTUATION = ",.!?;:)"
_AFTER_START = re.compile(r"[ \t]*[,!.?;:]?[ \t]*")


class SpintaxError(ValueError):
    """A template that cannot be used: the 0-based character position and the reason."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(position, reason)
        self.position = position
        self.reason = reason

    def __str__(self) -> str:
        return f"at position {self.position}: {self.reason}"


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class _Group:
    """Braces: a variation when there are several options, else literal braces (or a field)."""

    options: tuple[tuple[_Node, ...], ...]
    position: int


_Node = str | _Field | _Group


def _parse(text: str, start: int, depth: int) -> tuple[list[list[_Node]], int]:
    """Options of the sequence from ``start`` up to its closing brace (or the end at depth 0),
    and the index of that brace."""
    options: list[list[_Node]] = [[]]
    literal: list[str] = []
    i = start
    while i < len(text):
        char = text[i]
        if char not in "{}|" or (char == "|" and not depth):
            literal.append(char)
            i += 1
            continue
        if literal:
            options[-1].append("".join(literal))
            literal = []
        if char == "{":
            node, i = _group(text, i, depth + 1)
            options[-1].append(node)
        elif char == "|":
            options.append([])
            i += 1
        elif depth:
            return options, i
        else:
            raise SpintaxError(i, "'}' without a matching '{'")
    if depth:
        raise SpintaxError(start - 1, "'{' is never closed")
    if literal:
        options[-1].append("".join(literal))
    return options, i


def _group(text: str, open_at: int, depth: int) -> tuple[_Node, int]:
    """The group opening at ``open_at`` and the index after its closing brace."""
    if depth > MAX_DEPTH:
        raise SpintaxError(open_at, f"braces nested deeper than {MAX_DEPTH} levels")
    options, close_at = _parse(text, open_at + 1, depth)
    only = options[0]
    if len(options) == 1 and len(only) == 1 and isinstance(only[0], str):
        if _IDENTIFIER.match(only[0]):
            return _Field(only[0], open_at), close_at + 1
    return _Group(tuple(tuple(option) for option in options), open_at), close_at + 1


def _tree(text: str) -> list[_Node]:
    options, _ = _parse(text, 0, 0)
    return options[0]


def _render(nodes: tuple[_Node, ...] | list[_Node], rng: random.Random) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Field):
            out.append("{" + node.name + "}")
        elif len(node.options) == 1:
            out.append("{" + _render(node.options[0], rng) + "}")
        else:
            out.append(_render(rng.choice(node.options), rng))
    return "".join(out)


def expand(text: str, rng: random.Random) -> str:
    """Pick one option of every ``{a|b}`` group; fields stay for ``fill``."""
    return _render(_tree(text), rng)


def validate_template(text: str) -> None:
    """Raise ``SpintaxError`` for unbalanced braces, an unknown field or braces with no options."""
    _validate(_tree(text))


def _validate(nodes: tuple[_Node, ...] | list[_Node]) -> None:
    for node in nodes:
        if isinstance(node, _Field):
            if node.name not in FIELDS:
                raise SpintaxError(node.position, _unknown(node.name))
        elif isinstance(node, _Group):
            if len(node.options) == 1:
                raise SpintaxError(
                    node.position,
                    "braces without '|': write {a|b} for variations or a field like {name}",
                )
            for option in node.options:
                _validate(option)


def _unknown(name: str) -> str:
    return f"unknown field {{{name}}} (known: {', '.join(sorted(FIELDS))})"


def fill(text: str, fields: Mapping[str, str]) -> str:
    """Replace ``{name}``, ``{username}``, ``{offer}``, ``{chat}``; a missing value is empty."""
    out = ""
    last = 0
    capitalise = False  # an empty field started a sentence: its next word now does
    for match in _FIELD.finditer(text):
        name = match.group(1)
        if name not in FIELDS:
            raise SpintaxError(match.start(), _unknown(name))
        chunk, capitalise = _capitalise(text[last : match.start()], capitalise)
        out += chunk
        value = fields.get(name, "").strip()
        last = match.end()
        if value:
            out += value
            capitalise = False
        else:
            out, last, starts = _collapse(out, text, last)
            capitalise = capitalise or starts
    return out + _capitalise(text[last:], capitalise)[0]


def _capitalise(chunk: str, pending: bool) -> tuple[str, bool]:
    if not pending or not chunk:
        return chunk, pending
    return chunk[0].upper() + chunk[1:], False


def _collapse(head: str, text: str, after: int) -> tuple[str, int, bool]:
    """Drop an empty field with its separator: the one before it, or at the start of a
    sentence the one after it (the next word then starts the sentence)."""
    if head.rstrip(" \t").endswith("@"):
        head = head.rstrip(" \t")[:-1]  # "@{username}" goes as a whole
    bare = head.rstrip(" \t")
    if not bare or bare[-1] in _SENTENCE_END:
        rest = _AFTER_START.match(text, after)
        return head if bare else "", rest.end() if rest else after, True
    next_char = text[after : after + 1]
    if next_char and next_char not in " \t" and next_char not in _CLOSING_PUNCTUATION:
        return head, after, False  # glued to a word: nothing to collapse
    if bare.endswith(",") and (not next_char or next_char in _CLOSING_PUNCTUATION):
        bare = bare[:-1].rstrip(" \t")  # "Hi, {name}!" → "Hi!"
    return bare, after, False
