"""Lead intent, the parser's second stage, against keyword matching alone, in the same run.

Run ``python -m bench.intent``. Over the held-out split of the labelled set
(``parser/intent/examples``: every message contains a keyword of its campaign kind), per kind and
overall: precision, recall and F1 of

- **baseline**: the parser's keyword matcher alone (a hit is a lead) — recall 1.0 on this set by
  construction, precision the share of leads;
- **ours**: the keyword matcher, then the kind's shipped intent model at its threshold;

and the second stage's speed on one core (CPU time of this thread): messages per second, µs per
message warm (word cache filled by a first pass) and cold (a fresh classifier), what it adds to
the parser per keyword hit, and the import time it adds to a process. The last line printed is one
JSON object for the CI record.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from bench.parser import INJECT_SHARE
from parser.intent.classify import IntentClassifier
from parser.intent.defaults import load_default
from parser.intent.evaluation import Evaluation, confusion
from parser.intent.examples_set import LabelledExample, load_examples, load_kinds, split
from parser.matcher import KeywordSetRules, Matcher
from parser.stemming import StemCache

GOAL = 0.9
REPEATS = 20  # passes over the ~200 held-out messages for a stable rate


def cpu_us_per_call(fn: Callable[[], object], calls: int) -> float:
    start = time.thread_time()
    fn()
    return (time.thread_time() - start) / calls * 1e6


def import_seconds() -> float:
    """Wall time of importing the scoring path in a fresh interpreter (numpy included)."""
    code = (
        "import sys,time;t=time.perf_counter();"
        "import parser.intent.classify, parser.intent.defaults;"
        "d=time.perf_counter()-t;assert 'sklearn' not in sys.modules;print(d)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return float(out)


def row(scored: Evaluation) -> dict[str, float | int]:
    return {
        "precision": round(scored.precision, 3),
        "recall": round(scored.recall, 3),
        "f1": round(scored.f1, 3),
        "n": scored.count,
    }


def main() -> None:
    kinds = load_kinds()
    rules = [
        KeywordSetRules(set_id=i, name=k.name, keywords=k.keywords, exclude=k.exclude)
        for i, k in enumerate(kinds)
    ]
    matcher = Matcher.compile(rules, cache=StemCache())
    ours_pred: list[bool] = []
    base_pred: list[bool] = []
    actual: list[bool] = []
    per_kind: dict[str, tuple[Evaluation, Evaluation, float]] = {}  # ours, baseline, threshold
    held: list[tuple[IntentClassifier, LabelledExample]] = []
    by_lang: dict[str, tuple[list[bool], list[bool]]] = {}  # language → (ours, truth)
    for i, kind in enumerate(kinds):
        classifier = IntentClassifier(load_default(kind.name))
        _, test = split(load_examples(kind.name))
        hit = [any(h.set_id == i for h in matcher.match(e.text)) for e in test]
        ours = [
            h and classifier.classify(e.text, e.bio).lead for h, e in zip(hit, test, strict=True)
        ]
        truth = [e.lead for e in test]
        per_kind[kind.name] = (confusion(ours, truth), confusion(hit, truth), classifier.threshold)
        ours_pred += ours
        base_pred += hit
        actual += truth
        held += [(classifier, e) for e in test]
        for said, e in zip(ours, test, strict=True):
            pair = by_lang.setdefault(e.lang, ([], []))
            pair[0].append(said)
            pair[1].append(e.lead)
    ours_all, base_all = confusion(ours_pred, actual), confusion(base_pred, actual)
    speed = measure_speed(held, matcher)
    print("lead intent: keyword hit, then the kind's shipped model (held-out split)")
    print(
        f"{'kind':<18} {'ours P':>7} {'ours R':>7} {'ours F1':>8} {'kw P':>6} {'kw R':>6} {'n':>4}"
    )
    for name, (o, b, _) in per_kind.items():
        print(
            f"{name:<18} {o.precision:>7.3f} {o.recall:>7.3f} {o.f1:>8.3f} "
            f"{b.precision:>6.3f} {b.recall:>6.3f} {o.count:>4}"
        )
    print(
        f"{'all':<18} {ours_all.precision:>7.3f} {ours_all.recall:>7.3f} {ours_all.f1:>8.3f} "
        f"{base_all.precision:>6.3f} {base_all.recall:>6.3f} {ours_all.count:>4}"
    )
    per_lang = {lang: confusion(said, truth) for lang, (said, truth) in sorted(by_lang.items())}
    for lang, scored in per_lang.items():
        print(
            f"{lang:<18} {scored.precision:>7.3f} {scored.recall:>7.3f} {scored.f1:>8.3f} "
            f"{'':>6} {'':>6} {scored.count:>4}"
        )
    for key, value in speed.items():
        print(f"{key}: {value}")
    goal_met = ours_all.precision >= GOAL and ours_all.recall >= GOAL
    print(
        json.dumps(
            {
                "bench": "intent",
                "ours": round(ours_all.precision, 3),
                "baseline": round(base_all.precision, 3),
                "ratio": round(ours_all.precision / base_all.precision, 2),
                "unit": "precision",
                "recall": round(ours_all.recall, 3),
                "f1": round(ours_all.f1, 3),
                "baseline_recall": round(base_all.recall, 3),
                "held_out": ours_all.count,
                "goal_met": goal_met,
                **speed,
                "per_lang": {lang: row(scored) for lang, scored in per_lang.items()},
                "per_kind": {
                    name: {
                        **row(o),
                        "baseline_precision": round(b.precision, 3),
                        "threshold": round(threshold, 3),
                    }
                    for name, (o, b, threshold) in per_kind.items()
                },
            }
        )
    )


def measure_speed(
    held: Sequence[tuple[IntentClassifier, LabelledExample]], matcher: Matcher
) -> dict[str, float]:
    def classify_all(pairs: Sequence[tuple[IntentClassifier, LabelledExample]]) -> None:
        for classifier, e in pairs:
            classifier.classify(e.text, e.bio)

    # Cold: fresh classifiers (empty word caches; the stem cache is the process's, as in the
    # parser, and already warm from the matcher).
    fresh = {id(c): IntentClassifier(c.model) for c, _ in held}
    cold_us = cpu_us_per_call(lambda: classify_all([(fresh[id(c)], e) for c, e in held]), len(held))
    warm_us = min(cpu_us_per_call(lambda: classify_all(held), len(held)) for _ in range(3))
    many = list(held) * REPEATS
    warm_us = min(warm_us, cpu_us_per_call(lambda: classify_all(many), len(many)))

    def score_all(pairs: Sequence[tuple[IntentClassifier, LabelledExample]]) -> None:
        for classifier, e in pairs:
            classifier.score(e.text, e.bio)

    score_us = cpu_us_per_call(lambda: score_all(many), len(many))
    texts = [e.text for _, e in held] * REPEATS
    match_us = cpu_us_per_call(lambda: [matcher.match(t) for t in texts], len(texts))
    # bench.parser's messages carry a keyword INJECT_SHARE of the time: the second stage runs on
    # those only, so the parser's loss is share × stage / (matching + share × stage).
    added = INJECT_SHARE * warm_us
    return {
        "msgs_per_s": round(1e6 / warm_us),
        "us_per_msg": round(warm_us, 1),
        "us_per_msg_cold": round(cold_us, 1),
        "score_only_us_per_msg": round(score_us, 1),  # without the reason
        "per_hit_us": round(warm_us, 1),
        "matcher_us_per_msg": round(match_us, 1),
        "parser_drop_at_hit_share": round(added / (match_us + added), 3),
        "hit_share": INJECT_SHARE,
        "import_s": round(import_seconds(), 3),
    }


if __name__ == "__main__":
    main()
