"""The scene's header: ``title:``, ``roles:`` and ``vars:``."""

from __future__ import annotations

from collections.abc import Iterator

from scripts.scenario.errors import ErrorList
from scripts.scenario.lexer import RESERVED, Piece
from scripts.scenario.textparse import NAME


def check_name(piece: Piece, line: int, what: str, errors: ErrorList) -> str | None:
    """The lower-case name, or None after reporting why it cannot be a ``what``."""
    name = piece.text
    if not name:
        errors.add(line, piece.column, f"a {what} name is missing")
        return None
    if not NAME.fullmatch(name):
        errors.add(
            line,
            piece.column,
            f"{name!r} cannot be a {what} name: a letter, then letters, digits, _ or -, "
            "at most 32 characters",
        )
        return None
    if name.lower() == "member":
        errors.add(line, piece.column, "{member} is built in: the member a `when` heard")
        return None
    if name.lower() in RESERVED:
        errors.add(line, piece.column, f"{name!r} is a word of the language, not a {what} name")
        return None
    return name.lower()


def split_commas(value: Piece) -> Iterator[Piece]:
    """The comma-separated items of ``value``, each stripped, with its column."""
    start = 0
    for part in value.text.split(","):
        stripped = part.lstrip()
        yield Piece(stripped.rstrip(), value.column + start + len(part) - len(stripped))
        start += len(part) + 1


def parse_roles(value: Piece, line: int, errors: ErrorList) -> list[str]:
    roles: list[str] = []
    if not value.text:
        errors.add(line, value.column, "`roles:` needs a role at least: `roles: host, guest`")
        return roles
    for item in split_commas(value):
        name = check_name(item, line, "role", errors)
        if name is None:
            continue
        if name in roles:
            errors.add(line, item.column, f"role {name!r} is declared twice")
        else:
            roles.append(name)
    return roles


def parse_vars(value: Piece, line: int, errors: ErrorList) -> dict[str, str | None]:
    """name → default (None: the run must give a value). A default runs to the next comma."""
    variables: dict[str, str | None] = {}
    if not value.text:
        errors.add(line, value.column, "`vars:` needs at least one name, e.g. `vars: product`")
        return variables
    for item in split_commas(value):
        raw_name, equals, default = item.text.partition("=")
        name_text = raw_name.rstrip()
        name = check_name(Piece(name_text, item.column), line, "variable", errors)
        if name is None:
            continue
        if name in variables:
            errors.add(line, item.column, f"variable {name!r} is declared twice")
        else:
            variables[name] = default.strip() if equals else None
    return variables
