"""The second stage's verdict on one message: lead or not, a probability, and why.

Scoring is numpy only — hashing and a sparse dot product over the message's few hundred features —
so the parser's process never imports scikit-learn (``parser.intent.training`` does, for training).
It runs only on keyword hits, so its cost per message is bounded by them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from parser.intent.features import BIO_SPAN_PREFIX, FeatureExtractor, Features
from parser.intent.model import IntentModel

REASON_SIGNALS = 3
# A signal against the verdict is named when it is at least this strong (in log-odds): the
# operator should see "под ключ −2.3" even when the rest of the message outweighed it.
_AGAINST_SHOWN = 1.0
_BIO = "bio"


@dataclass(frozen=True, slots=True)
class Signal:
    """Words of the message (or the bio) and their summed contribution in log-odds."""

    text: str
    weight: float

    def __str__(self) -> str:
        sign = "+" if self.weight >= 0 else "−"
        shown = self.text if self.text == _BIO else f"«{self.text}»"
        return f"{shown} {sign}{abs(self.weight):.1f}"


@dataclass(frozen=True, slots=True)
class Verdict:
    lead: bool
    score: float  # probability that the sender is a lead, 0–1
    reason: str  # the signals as a person reads them
    signals: tuple[Signal, ...]


class IntentClassifier:
    """One loaded model, ready to score messages (keep one per campaign and reuse it)."""

    def __init__(self, model: IntentModel, *, threshold: float | None = None) -> None:
        self.model = model
        self.threshold = model.threshold if threshold is None else threshold
        self._weights = model.weights()
        self._extractor = FeatureExtractor(model.features)

    def score(self, text: str, bio: str | None = None) -> float:
        """Only the probability: what the benchmarks and the threshold need."""
        features = self._extractor.extract(text, bio)
        return _sigmoid(self._logit(features))

    def classify(self, text: str, bio: str | None = None) -> Verdict:
        features = self._extractor.extract(text, bio)
        logit = self._logit(features)
        score = _sigmoid(logit)
        lead = score >= self.threshold
        signals = _decisive(self._contributions(features), lead=lead)
        return Verdict(lead=lead, score=score, reason=", ".join(map(str, signals)), signals=signals)

    def _logit(self, features: Features) -> float:
        # Values are one number per block (binary features, L2-normalised): sum, then scale.
        picked = self._weights[features.indices]
        split = features.text_unique
        logit = features.text_value * float(picked[:split].sum()) + self.model.intercept
        if split < picked.size:
            logit += features.bio_value * float(picked[split:].sum())
        return logit

    def _contributions(self, features: Features) -> dict[str, float]:
        """Summed contribution per span: a word's n-grams and unigram, a bigram, a bio word."""
        flat = np.array(features.flat, dtype=np.int64)
        scale = np.full(flat.size, features.bio_value)
        scale[: features.text_flat] = features.text_value
        group_of = np.repeat(np.arange(len(features.spans)), features.lengths)
        parts = self._weights[flat] * scale
        sums = np.bincount(group_of, weights=parts, minlength=len(features.spans))
        by_span: dict[str, float] = {}
        for span, part in zip(features.spans, sums.tolist(), strict=True):
            by_span[span] = by_span.get(span, 0.0) + part
        return by_span


def _decisive(contributions: dict[str, float], *, lead: bool) -> tuple[Signal, ...]:
    """The strongest spans toward the verdict, and the strongest against it when it is large.

    The bio's words are summed into one signal: it decided as a whole, and quoting someone's
    profile word by word helps no one.
    """
    merged: dict[str, float] = {}
    for span, weight in contributions.items():
        key = _BIO if span.startswith(BIO_SPAN_PREFIX) else span
        merged[key] = merged.get(key, 0.0) + weight
    direction = 1.0 if lead else -1.0
    ranked = sorted(merged.items(), key=lambda item: item[1] * direction, reverse=True)
    toward = [Signal(s, w) for s, w in ranked[:REASON_SIGNALS] if w * direction > 0]
    against = [Signal(s, w) for s, w in ranked[-1:] if -w * direction >= _AGAINST_SHOWN]
    chosen = toward[: REASON_SIGNALS - 1] + against if against else toward
    return tuple(chosen)


def _sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    z = math.exp(logit)
    return z / (1.0 + z)


def spans_in(signals: Iterable[Signal]) -> list[str]:
    """The quoted texts of signals (the bio excluded): what tests check against the message."""
    return [s.text for s in signals if s.text != _BIO]
