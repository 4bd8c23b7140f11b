"""``coolthing keywords test``: which keyword set each line of a file would match, and why, and
what the second stage says about a matched line (``lead``, ``score``, ``reason``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from core.intent import IntentPolicy
from parser.intent.classify import IntentClassifier
from parser.intent.defaults import load_default
from parser.matcher import Hit, KeywordSetRules, Matcher

STAGE_OFF = "the campaign's second stage is off: every keyword hit is a lead"


class IntentTrial:
    """Each keyword set's second stage as the parser would run it: the policy of the (first)
    campaign using the set, else the defaults (the general model); ``model`` and ``threshold``
    override every policy. Campaigns on the same model and threshold share a classifier."""

    def __init__(
        self,
        policies: Mapping[str, IntentPolicy],
        *,
        model: str | None = None,
        threshold: float | None = None,
    ) -> None:
        overrides: dict[str, object] = {}
        if model is not None:
            overrides["model"] = model
        if threshold is not None:
            overrides["threshold"] = threshold

        def overridden(policy: IntentPolicy) -> IntentPolicy:  # validated again: a clear error
            return IntentPolicy.model_validate(policy.model_dump() | overrides)

        self._policies = {name: overridden(p) for name, p in policies.items()}
        self._default = overridden(IntentPolicy())
        self._loaded: dict[tuple[str, float | None], IntentClassifier] = {}

    def verdict(self, set_name: str, text: str) -> dict[str, object]:
        policy = self._policies.get(set_name, self._default)
        if not policy.enabled:
            return {"lead": True, "score": None, "reason": STAGE_OFF}
        key = (policy.model, policy.threshold)
        if key not in self._loaded:
            self._loaded[key] = IntentClassifier(load_default(policy.model), threshold=key[1])
        found = self._loaded[key].classify(text)
        return {"lead": found.lead, "score": round(found.score, 4), "reason": found.reason}


def keywords_test(
    sets: Sequence[KeywordSetRules],
    set_name: str | None,
    lines: Iterable[str],
    intent: IntentTrial | None = None,
) -> Iterator[dict[str, object]]:
    """One result dict per line: ``{"text", "matched", "set", "keywords"}``, and for a matched
    line with ``intent`` given, the second stage's ``lead``, ``score`` and ``reason`` (the
    first matching set's campaign decides; unmatched lines never reach the stage).

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
    return _results(Matcher.compile(chosen), lines, intent, report_all=set_name is None)


def _results(
    matcher: Matcher, lines: Iterable[str], intent: IntentTrial | None, *, report_all: bool
) -> Iterator[dict[str, object]]:
    for line in lines:
        text = line.rstrip("\r\n")
        result = _result(text, matcher.match(text), report_all=report_all)
        if intent is not None and result["matched"]:
            result |= intent.verdict(str(result["set"]), text)
        yield result


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
