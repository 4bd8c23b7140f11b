"""The second stage's verdict on one message: lead or not, a probability, and why.

Scoring is plain Python over per-word numbers, so the parser's process never imports
scikit-learn (``parser.intent.training`` does, for training). The model is linear and each
feature group is normalised by the square root of its occurrence count (``features.py``), so a
message's logit is

    b + Σ S(word) / sqrt(Σ N(word)) + (Σ U(stem) + Σ B(bigram)) / sqrt(words + bigrams)

(the same again for the bio), where a word's n-gram weight sum ``S``, n-gram count ``N``, stem
weight ``U`` and bigram halves depend on the word alone: they are cached per token, so a message of
known words costs one C-level pass of dict lookups and sums, and equals the dot product over the
features training sees (``logit_uncached``; the tests compare both). The reason comes from the same
per-word terms. It runs only on keyword hits, so its cost is bounded by them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import compress, islice, repeat
from operator import add, getitem, mul
from typing import NamedTuple

from parser.intent.features import (
    CHAR,
    OPENING,
    WORD,
    FeatureExtractor,
    FeatureSettings,
    bigram_halves,
    char_grams,
    feature_hash,
)
from parser.intent.model import IntentModel
from parser.stemming import StemCache, normalize_word, shared_stem_cache, tokenize

REASON_SIGNALS = 3
# A signal against the verdict is named when it is at least this strong (in log-odds): the
# operator should see "под ключ −2.3" even when the rest of the message outweighed it.
_AGAINST_SHOWN = 1.0
_BIO = "bio"
_BIO_SPAN = " bio"  # a span no word can be (words never hold a space)
# Tokens cached per block: the vocabulary is heavy-tailed, and a refill costs only hashing.
_CACHE_SIZE = 100_000
_POSITIONS = range(8)  # word i of the message reads its opening weight i

# Per raw token: normalised word, n-gram weight sum, n-gram count, stem weight, bigram halves,
# the stem's weights as the message's first, second … word.
_Word = tuple[str, float, int, float, int, int, tuple[float, ...]]
# A reason's span: a word, two words (a bigram) or the bio; spans and their shares side by side.
_Span = str | tuple[str, str]
_Spans = tuple[list[_Span], list[float]]


class Signal(NamedTuple):
    """Words of the message (or the bio) and their summed contribution in log-odds.

    A named tuple rather than a frozen dataclass: a verdict makes up to three, and a frozen
    dataclass's construction costs several times more.
    """

    text: str
    weight: float
    bio: bool = False  # the sender's bio as a whole (its text is then just "bio")

    def __str__(self) -> str:
        sign = "+" if self.weight >= 0 else "−"
        shown = _BIO if self.bio else f"«{self.text}»"
        return f"{shown} {sign}{abs(self.weight):.1f}"


@dataclass(frozen=True, slots=True)
class Verdict:
    lead: bool
    score: float  # probability that the sender is a lead, 0–1
    reason: str  # the signals as a person reads them
    signals: tuple[Signal, ...]


class _Block:
    """One block (the message's or the bio's) of a model: its weights and its per-token cache."""

    def __init__(
        self, weights: dict[int, float], settings: FeatureSettings, bits: int, offset: int
    ) -> None:
        self._settings = settings
        self._bits = bits
        size = 1 << bits
        # Slot in the block → weight, every slot twice (slot and slot + size): a bigram's two
        # halves add up to below 2 · size, and looking the sum up as it is spares a modulo.
        local = {i - offset: w for i, w in weights.items() if offset <= i < offset + size}
        self._weights = {**local, **{i + size: w for i, w in local.items()}}
        self._tokens: dict[str, _Word] = {}
        self._empty: set[str] = set()  # tokens with no word left once normalised (rare)

    def _weight(self, feature: str) -> float:
        return self._weights.get(feature_hash(feature, self._bits), 0.0)

    def _word(self, token: str, stems: StemCache) -> _Word | None:
        word = normalize_word(token)
        if not word:
            return None
        stem = stems[token] or word
        grams = char_grams(word, self._settings)
        chars = sum(self._weight(CHAR + g) for g in grams)
        opening = tuple(
            self._weight(OPENING.format(i) + stem) for i in range(self._settings.opening_words)
        )
        left, right = bigram_halves(stem, self._bits)
        return word, chars, len(grams), self._weight(WORD + stem), left, right, opening

    def words(self, text: str, stems: StemCache) -> list[_Word]:
        tokens = tokenize(text)
        if self._empty and not self._empty.isdisjoint(tokens):
            tokens = [t for t in tokens if t not in self._empty]
        try:
            return list(map(self._tokens.__getitem__, tokens))  # one C-level pass, usually
        except KeyError:
            pass
        found: list[_Word] = []
        for token in tokens:
            entry = self._tokens.get(token)
            if entry is None:
                entry = self._word(token, stems)
                if entry is None:
                    self._empty.add(token)
                    continue
                if len(self._tokens) >= _CACHE_SIZE:
                    self._tokens.clear()
                self._tokens[token] = entry
            found.append(entry)
        return found

    def logit(self, text: str, stems: StemCache, spans: _Spans | None) -> float:
        """This block's share of the logit; with ``spans``, each word's and bigram's share too.

        A word (or bigram) seen twice is one span with both occurrences' shares.
        """
        words = self.words(text, stems)
        if not words:
            return 0.0
        names, chars, grams, unigrams, lefts, rights, opening = zip(*words, strict=True)
        total_grams = sum(grams)
        char_scale = total_grams**-0.5 if total_grams else 0.0
        pairs: list[float | None] = []
        if self._settings.word_bigrams:
            slots = map(add, lefts, islice(rights, 1, None))
            pairs = list(map(self._weights.get, slots))  # None: a bigram without a weight
        openers = list(map(getitem, opening[: self._settings.opening_words], _POSITIONS))
        stem_scale = (len(words) + len(pairs) + len(openers)) ** -0.5
        total: float = sum(chars) * char_scale
        total += (sum(unigrams) + sum(filter(None, pairs)) + sum(openers)) * stem_scale
        if spans is not None:
            keys, shares = spans
            char_shares = map(mul, chars, repeat(char_scale))
            mine = list(map(add, char_shares, map(mul, unigrams, repeat(stem_scale))))
            for i, weight in enumerate(openers):
                mine[i] += weight * stem_scale
            pair_spans = list(compress(range(len(pairs)), pairs))
            if len(set(names)) < len(names) or len(set(pair_spans)) < len(pair_spans):
                merged: dict[_Span, float] = {}
                for name, share in zip(names, mine, strict=True):
                    merged[name] = merged.get(name, 0.0) + share
                for i in pair_spans:
                    key = (names[i], names[i + 1])
                    merged[key] = merged.get(key, 0.0) + pairs[i] * stem_scale
                keys += merged
                shares += merged.values()
            else:
                keys += names
                shares += mine
                keys += [(names[i], names[i + 1]) for i in pair_spans]
                shares += [pairs[i] * stem_scale for i in pair_spans]
        return total


class IntentClassifier:
    """One loaded model, ready to score messages.

    Keep one per model and reuse it (campaigns on the same model can share one): it holds the
    model's non-zero weights and a per-token cache that makes the next message of known words cheap.
    """

    def __init__(
        self, model: IntentModel, *, threshold: float | None = None, stems: StemCache | None = None
    ) -> None:
        self.model = model
        self.threshold = model.threshold if threshold is None else threshold
        self._stems = stems if stems is not None else shared_stem_cache()
        settings = model.features
        weights = model.sparse_weights()
        self._text = _Block(weights, settings, settings.text_bits, 0)
        self._bio = _Block(weights, settings, settings.bio_bits, 1 << settings.text_bits)

    def logit(self, text: str, bio: str | None = None) -> float:
        logit = self.model.intercept + self._text.logit(text, self._stems, None)
        if bio:
            logit += self._bio.logit(bio, self._stems, None)
        return logit

    def logit_uncached(self, text: str, bio: str | None = None) -> float:
        """The dot product over the features training sees: what ``logit`` must equal."""
        features = FeatureExtractor(self.model.features, self._stems).extract(text, bio)
        weights = self.model.weights()
        return self.model.intercept + float(weights[features.indices] @ features.values)

    def score(self, text: str, bio: str | None = None) -> float:
        """Only the probability: what the benchmarks and the threshold need."""
        return _sigmoid(self.logit(text, bio))

    def classify(self, text: str, bio: str | None = None) -> Verdict:
        spans: _Spans = ([], [])
        logit = self.model.intercept + self._text.logit(text, self._stems, spans)
        if bio:
            bio_logit = self._bio.logit(bio, self._stems, None)
            logit += bio_logit
            spans[0].append(_BIO_SPAN)
            spans[1].append(bio_logit)
        score = _sigmoid(logit)
        lead = score >= self.threshold
        signals = _decisive(*spans, lead=lead)
        return Verdict(lead=lead, score=score, reason=", ".join(map(str, signals)), signals=signals)


def _decisive(keys: list[_Span], shares: list[float], *, lead: bool) -> tuple[Signal, ...]:
    """The strongest spans toward the verdict, and the strongest against it when it is large.

    The bio is one signal: it decided as a whole, and quoting someone's profile word by word helps
    no one.
    """
    if not keys:
        return ()
    ordered = sorted(shares, reverse=lead)  # floats alone: a C-level sort, then find the few
    picked: list[int] = []
    for share in ordered[:REASON_SIGNALS]:
        if share * (1 if lead else -1) <= 0:
            break
        picked.append(_index(shares, share, picked))
    last = ordered[-1]
    if -last * (1 if lead else -1) >= _AGAINST_SHOWN:
        picked = picked[: REASON_SIGNALS - 1] + [_index(shares, last, picked)]
    return tuple(_signal(keys[i], shares[i]) for i in picked)


def _index(shares: list[float], share: float, taken: list[int]) -> int:
    """Where ``share`` is in ``shares``, skipping places already taken (equal shares)."""
    at = shares.index(share)
    while at in taken:
        at = shares.index(share, at + 1)
    return at


def _signal(span: _Span, weight: float) -> Signal:
    if isinstance(span, tuple):
        return Signal(" ".join(span), weight)
    return Signal(_BIO, weight, bio=True) if span == _BIO_SPAN else Signal(span, weight)


def _sigmoid(logit: float) -> float:
    if logit >= 0:
        return 1.0 / (1.0 + math.exp(-logit))
    z = math.exp(logit)
    return z / (1.0 + z)


def spans_in(signals: Iterable[Signal]) -> list[str]:
    """The quoted texts of signals (the bio excluded): what tests check against the message."""
    return [s.text for s in signals if not s.bio]
