"""A line of dialogue's options: ``[id q, reply x, photo URL, sticker REF, typing 3s]``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from scripts.scenario.durations import DurationError, parse_duration
from scripts.scenario.errors import ErrorList
from scripts.scenario.lexer import Piece
from scripts.scenario.text import MEMBER
from scripts.scenario.textparse import NAME

MAX_TYPING = 60.0  # seconds: longer looks broken, and the worker's send contract stops there
OPTION_NAMES = ("id", "reply", "photo", "sticker", "typing")
_URL = re.compile(r"https://[^\s/]+\.[^\s/]+(/\S*)?")
_FILE_NAME = re.compile(r"[\w][\w.-]*\.[A-Za-z0-9]+")


@dataclass(slots=True)
class SayOptions:
    id: str | None = None
    id_column: int = 0
    reply: str | None = None
    reply_column: int = 0
    photo: str | None = None
    sticker: str | None = None
    typing: float | None = None
    typing_off: bool = False


def parse_options(pieces: tuple[Piece, ...], line: int, errors: ErrorList) -> SayOptions:
    options = SayOptions()
    seen: set[str] = set()
    for piece in pieces:
        word = piece.text.split(maxsplit=1)[0] if piece.text else ""
        rest = piece.text[len(word) :].lstrip()
        name = word.lower()
        argument = Piece(rest, piece.column + len(piece.text) - len(rest))
        if not name:
            errors.add(line, piece.column, "an option is empty: remove the extra comma")
        elif name not in OPTION_NAMES:
            errors.add(
                line,
                piece.column,
                f"unknown option {piece.text!r}: the options are id NAME, reply NAME, "
                "reply member, photo REF, sticker REF, typing DURATION and typing off",
            )
        elif name in seen:
            errors.add(line, piece.column, f"option {name!r} is given twice")
        else:
            seen.add(name)
            _apply(options, name, argument, line, errors)
    if options.photo is not None and options.sticker is not None:
        errors.add(line, pieces[0].column, "a line carries a photo or a sticker, not both")
    return options


def _apply(options: SayOptions, name: str, argument: Piece, line: int, errors: ErrorList) -> None:
    if not argument.text:
        errors.add(line, argument.column, f"option {name!r} needs a value")
    elif name in ("id", "reply"):
        label = _label(argument, line, errors, allow_member=name == "reply")
        if name == "id":
            options.id, options.id_column = label, argument.column
        else:
            options.reply, options.reply_column = label, argument.column
    elif name in ("photo", "sticker"):
        reference = _reference(argument, line, errors)
        if name == "photo":
            options.photo = reference
        else:
            options.sticker = reference
    elif argument.text.lower() == "off":
        options.typing_off = True
    else:
        try:
            typing = parse_duration(argument.text)
        except DurationError as exc:
            errors.add(line, argument.column + exc.offset, exc.reason)
        else:
            if typing > MAX_TYPING:
                errors.add(line, argument.column, '"typing…" shows for at most 1m')
            options.typing = typing


def _label(argument: Piece, line: int, errors: ErrorList, *, allow_member: bool) -> str | None:
    label = argument.text.lower()
    if label == MEMBER:
        if allow_member:
            return MEMBER
        errors.add(line, argument.column, "'member' is built in: choose another id")
        return None
    if not NAME.fullmatch(argument.text):
        errors.add(
            line,
            argument.column,
            f"{argument.text!r} cannot be an id: a letter, then letters, digits, _ or -",
        )
        return None
    return label


def _reference(argument: Piece, line: int, errors: ErrorList) -> str | None:
    reference = argument.text
    if _URL.fullmatch(reference) or _FILE_NAME.fullmatch(reference):
        return reference
    if reference.lower().startswith("http://"):
        reason = "use an https:// link"
    else:
        reason = "write an https:// link or a file name like screen.png"
    errors.add(line, argument.column, f"{reference!r} is not a file: {reason}")
    return None
