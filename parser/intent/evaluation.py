"""How good a model is on held-back examples.

Numpy only, like scoring: the retrainer (``parser.intent_retraining``) decides with it, the
benchmark reports with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from parser.intent.classify import IntentClassifier
from parser.intent.examples_set import LabelledExample
from parser.intent.model import IntentModel


@dataclass(frozen=True, slots=True)
class Evaluation:
    precision: float
    recall: float
    f1: float
    count: int
    true_positives: int
    false_positives: int
    false_negatives: int


def confusion(predicted: Sequence[bool], actual: Sequence[bool]) -> Evaluation:
    tp = sum(1 for p, a in zip(predicted, actual, strict=True) if p and a)
    fp = sum(1 for p, a in zip(predicted, actual, strict=True) if p and not a)
    fn = sum(1 for p, a in zip(predicted, actual, strict=True) if a and not p)
    # No lead predicted: precision is vacuous — count it as 1.0 only when there were none to find.
    precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Evaluation(precision, recall, f1, len(actual), tp, fp, fn)


def evaluate(
    model: IntentModel | IntentClassifier,
    held_out: Sequence[LabelledExample],
    *,
    threshold: float | None = None,
) -> Evaluation:
    """Precision, recall and F1 of ``model`` at its threshold (or ``threshold``) on ``held_out``."""
    classifier = model if isinstance(model, IntentClassifier) else IntentClassifier(model)
    cut = classifier.threshold if threshold is None else threshold
    predicted = [classifier.score(e.text, e.bio) >= cut for e in held_out]
    return confusion(predicted, [e.lead for e in held_out])
