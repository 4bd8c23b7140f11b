"""Training an intent model with scikit-learn: the only module that imports it.

scikit-learn has no type stubs and takes about a second to import, so it stays here behind a
narrow typed function; scoring (``parser.intent.classify``) never needs it. Training is bounded
(at most ``MAX_EXAMPLES`` examples, the newest kept; at most ``MAX_ITER`` solver iterations) so a
background retrainer cannot run away, and deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from parser.intent.evaluation import evaluate
from parser.intent.examples_set import LabelledExample, fingerprint
from parser.intent.features import FeatureExtractor, FeatureSettings
from parser.intent.model import IntentModel, TrainingInfo, build_model

MAX_EXAMPLES = 5_000
MAX_ITER = 200
REGULARISATION_C = 100.0  # values are counts over sqrt(occurrences) (~0.1–0.3): weights must grow
# The threshold is picked on out-of-fold scores of the training examples (never the held-out
# ones): the one with the best F1 within [_MIN, _MAX] (in steps of 0.01). Folds keep every copy
# of a message together — a kind's own examples are repeated (``defaults.OWN_WEIGHT``), and a copy
# in the fold that trains would make its twin look easy.
_MIN_THRESHOLD = 0.25
_MAX_THRESHOLD = 0.65
_FOLDS = 5
_DEFAULT_THRESHOLD = 0.5


def train(
    examples: Sequence[LabelledExample],
    *,
    seed: int,
    kind: str = "campaign",
    settings: FeatureSettings | None = None,
    held_out: Sequence[LabelledExample] = (),
) -> IntentModel:
    """A model trained on ``examples``; its metadata carries its numbers on ``held_out``."""
    settings = settings or FeatureSettings()
    examples = list(examples)[-MAX_EXAMPLES:]
    labels = np.asarray([e.lead for e in examples], dtype=np.int64)
    if len(set(labels.tolist())) < 2:
        raise ValueError("training needs examples of both leads and non-leads")
    matrix = _matrix(FeatureExtractor(settings), examples)
    weights, intercept = _fit(matrix, labels, seed=seed)
    ids: dict[str, int] = {}
    groups = np.asarray([ids.setdefault(e.text, len(ids)) for e in examples], dtype=np.int64)
    threshold = _pick_threshold(matrix, labels, groups, seed=seed)
    info = TrainingInfo(
        kind=kind,
        examples=len(examples),
        leads=int(labels.sum()),
        seed=seed,
        examples_sha256=fingerprint(examples),
        created_at=datetime.now(UTC),
    )
    model = build_model(
        features=settings, weights=weights, intercept=intercept, threshold=threshold, training=info
    )
    if not held_out:
        return model
    scored = evaluate(model, held_out)
    numbers = {"held_out": len(held_out), "precision": scored.precision, "recall": scored.recall}
    info = info.model_copy(update={**numbers, "f1": scored.f1})
    return build_model(
        features=settings, weights=weights, intercept=intercept, threshold=threshold, training=info
    )


def _matrix(extractor: FeatureExtractor, examples: Sequence[LabelledExample]) -> Any:
    from scipy.sparse import csr_matrix

    rows = [extractor.extract(e.text, e.bio) for e in examples]
    indptr = np.cumsum([0] + [r.indices.size for r in rows])
    indices = np.concatenate([r.indices for r in rows]) if rows else np.zeros(0, np.int64)
    values = np.concatenate([r.values for r in rows]) if rows else np.zeros(0)
    matrix = csr_matrix(
        (values, indices, indptr), shape=(len(rows), extractor.settings.size), dtype=np.float64
    )
    # liblinear walks each row's features in index order: unsorted rows made it spin for minutes.
    matrix.sort_indices()
    return matrix


def _classifier(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    # liblinear: exact and deterministic for a seed on sparse input; balanced classes so that a
    # campaign whose operators mostly said "not a lead" does not learn to say no to everyone.
    return LogisticRegression(
        C=REGULARISATION_C,
        class_weight="balanced",
        solver="liblinear",
        max_iter=MAX_ITER,
        random_state=seed,
    )


def _fit(
    matrix: Any, labels: npt.NDArray[np.int64], *, seed: int
) -> tuple[npt.NDArray[np.float64], float]:
    classifier = _classifier(seed)  # sklearn is untyped: Any stays inside this module
    classifier.fit(matrix, labels)
    coef = np.asarray(classifier.coef_, dtype=np.float64)[0]
    intercept = float(classifier.intercept_[0])
    return coef, intercept


def _pick_threshold(
    matrix: Any, labels: npt.NDArray[np.int64], groups: npt.NDArray[np.int64], *, seed: int
) -> float:
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict

    distinct_leads = len(set(groups[labels == 1].tolist()))
    distinct_others = len(set(groups[labels == 0].tolist()))
    folds = min(_FOLDS, distinct_leads, distinct_others)
    if folds < 2:
        return _DEFAULT_THRESHOLD
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = cross_val_predict(
        _classifier(seed), matrix, labels, groups=groups, cv=splitter, method="predict_proba"
    )
    scores = np.asarray(predicted, dtype=np.float64)[:, 1]
    lead = labels == 1
    best, best_f1 = _DEFAULT_THRESHOLD, -1.0
    for cut in np.round(np.arange(_MIN_THRESHOLD, _MAX_THRESHOLD + 1e-9, 0.01), 2).tolist():
        kept = scores >= cut
        tp = int(np.sum(kept & lead))
        f1 = 2 * tp / (2 * tp + int(np.sum(kept & ~lead)) + int(np.sum(~kept & lead)))
        if f1 > best_f1 + 1e-12:  # ties keep the lower cut: recall first
            best, best_f1 = float(cut), f1
    return best
