"""``coolthing keywords test``: which keyword set each line of a file would match, and why."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from parser.matcher import Hit, KeywordSetRules, Matcher


def keywords_test(
    sets: Sequence[KeywordSetRules], set_name: str | None, lines: Iterable[str]
) -> Iterator[dict[str, object]]:
    """One result dict per line: ``{"text", "matched", "set", "keywords"}``.

    Without ``set_name`` every set is tried and, when several match, ``"sets"`` lists them all
    (``"set"`` is the first, in the order given). Chat scopes are ignored. An unknown ``set_name``
    raises ValueError at once, before any line is read.
    """
    if set_name is None:
        chosen = list(sets)
    else:
        chosen = [s for s in sets if s.name == set_name]
        if not chosen:
            known = ", ".join(dict.fromkeys(s.name for s in sets)) or "none"
            raise ValueError(f"unknown keyword set {set_name!r}; known: {known}")
    return _results(Matcher.compile(chosen), lines, report_all=set_name is None)


def _results(
    matcher: Matcher, lines: Iterable[str], *, report_all: bool
) -> Iterator[dict[str, object]]:
    for line in lines:
        text = line.rstrip("\r\n")
        yield _result(text, matcher.match(text), report_all=report_all)


def _result(text: str, hits: list[Hit], *, report_all: bool) -> dict[str, object]:
    if not hits:
        return {"text": text, "matched": False, "set": None, "keywords": []}
    first = hits[0]
    result: dict[str, object] = {
        "text": text,
        "matched": True,
        "set": first.set_name,
        "keywords": list(first.keywords),
    }
    # One set may be used by several campaigns: name it once.
    names = list(dict.fromkeys(hit.set_name for hit in hits))
    if report_all and len(names) > 1:
        result["sets"] = names
    return result
