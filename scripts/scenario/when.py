"""A listen's ``when`` line: ``"word", "a phrase"``, ``keywords NAME``, ``anything``, ``silent``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from parser.matcher import normalize_keyword
from scripts.scenario.errors import ErrorList
from scripts.scenario.lexer import Piece
from scripts.scenario.program import Clause, ClauseKind, Step

_OPENING_QUOTES = '"“'
_CLOSING_QUOTES = '"”'
MAX_NAME = 64  # a keyword set's or campaign's name, as the workspace allows
FORMS = 'a `when` is followed by "words", keywords NAME, anything or silent'


@dataclass(slots=True)
class ClauseDraft:
    kind: ClauseKind
    line: int
    words: tuple[str, ...] = ()
    keyword_set: str | None = None
    steps: list[Step] = field(default_factory=list)

    @property
    def hears(self) -> bool:
        return self.kind != "silent"

    def clause(self) -> Clause:
        return Clause(self.kind, self.words, self.keyword_set, tuple(self.steps), self.line)


def parse_when(
    argument: Piece, line: int, column: int, earlier: Sequence[ClauseDraft], errors: ErrorList
) -> ClauseDraft:
    """The clause (even a wrong one, so that its steps have a home), errors reported."""
    text = argument.text
    head = text.split(maxsplit=1)[0].lower() if text else ""
    draft: ClauseDraft
    if text.lower() in ("anything", "silent"):
        draft = ClauseDraft("anything" if text.lower() == "anything" else "silent", line)
    elif head == "keywords":
        rest = text[len(head) :].lstrip()
        name = _name(Piece(rest, argument.column + len(text) - len(rest)), line, errors)
        draft = ClauseDraft("keywords", line, keyword_set=name)
    elif text[:1] in _OPENING_QUOTES:
        draft = ClauseDraft("words", line, words=_words(argument, line, errors))
    else:
        errors.add(line, argument.column, FORMS)
        return ClauseDraft("words", line)  # its steps are still read, for their errors
    _check_order(draft, column, earlier, errors)
    return draft


def _name(piece: Piece, line: int, errors: ErrorList) -> str | None:
    name = piece.text.strip('"“”').strip()
    if not name:
        errors.add(line, piece.column, "`when keywords` needs a keyword set's name")
        return None
    if len(name) > MAX_NAME:
        errors.add(line, piece.column, f"a keyword set's name is at most {MAX_NAME} characters")
        return None
    return name


def _words(argument: Piece, line: int, errors: ErrorList) -> tuple[str, ...]:
    text, words, at = argument.text, [], 0
    while at < len(text):
        if text[at] not in _OPENING_QUOTES:
            errors.add(line, argument.column + at, 'write each keyword in quotes: "price", "cost"')
            break
        close = next((i for i in range(at + 1, len(text)) if text[i] in _CLOSING_QUOTES), -1)
        if close < 0:
            errors.add(line, argument.column + at, "this quote is never closed")
            break
        word = text[at + 1 : close].strip()
        try:
            normalize_keyword(word)
        except ValueError as exc:
            errors.add(line, argument.column + at, str(exc))
        else:
            words.append(word)
        at = _after_comma(text, close + 1)
        if at < 0:
            errors.add(line, argument.column + close + 1, "separate the keywords with commas")
            break
    return tuple(words)


def _after_comma(text: str, at: int) -> int:
    """Where the next keyword starts after ``at`` (the text's end if none); -1: no comma."""
    rest = text[at:].lstrip()
    if not rest:
        return len(text)
    if not rest.startswith(","):
        return -1
    after = rest[1:].lstrip()
    return len(text) - len(after) if after else len(text)


def _check_order(
    draft: ClauseDraft, column: int, earlier: Sequence[ClauseDraft], errors: ErrorList
) -> None:
    anything = next((c for c in earlier if c.kind == "anything"), None)
    if draft.kind in ("words", "keywords") and anything is not None:
        errors.add(
            draft.line,
            column,
            f"unreachable: `when anything` at line {anything.line} already takes every message",
        )
    elif draft.kind in ("anything", "silent"):
        same = next((c for c in earlier if c.kind == draft.kind), None)
        if same is not None:
            errors.add(
                draft.line,
                column,
                f"a listen has one `when {draft.kind}` (already at line {same.line})",
            )
