"""Hashed features of a message (and its sender's bio) for the intent model: numpy only.

A message becomes a short list of (feature index, value) pairs. Features, each hashed with a
stable hash (CRC-32: Python's ``hash`` changes between processes) into a fixed-size space:

- character n-grams (2–5 by default) of each normalised word padded with spaces, so ``ищу``
  gives `` и``, ``ищ``, `` ищу`` … and n-grams never cross a word boundary — they carry Russian
  inflections and typos that whole words miss;
- word unigrams and bigrams of the words' stems (``parser.stemming``: the same tokens, the same
  normalisation and the same stem cache the keyword matcher uses);
- the bio's features, in their own block after the message's, so "ищу" in a bio ("ищу клиентов")
  and in a message ("ищу разработчика") learn different weights.

Each block's binary vector is L2-normalised, so a long message does not outvote a short one.
Every feature also remembers the words it came from (its *span*), which is how a verdict's reason
quotes the message as a person reads it.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from parser.stemming import StemCache, normalize_word, shared_stem_cache, tokenize

# Prefixes keep the kinds of feature apart in one hash space ("w:" the word "ab", "c:" its n-gram).
_CHAR, _WORD, _BIGRAM = "c:", "w:", "b:"
_WORD_CACHE_SIZE = 50_000
BIO_SPAN_PREFIX = "bio:"


class FeatureSettings(BaseModel):
    """How a model's features were made: scoring must use exactly the settings it was trained on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text_bits: int = Field(default=18, ge=10, le=24)
    bio_bits: int = Field(default=16, ge=8, le=22)
    char_min: int = Field(default=2, ge=1, le=8)
    char_max: int = Field(default=5, ge=1, le=8)
    word_bigrams: bool = True

    @property
    def size(self) -> int:
        """Length of the weight vector: the message's block, then the bio's."""
        return (1 << self.text_bits) + (1 << self.bio_bits)


@dataclass(frozen=True, slots=True)
class Features:
    """A message's active features: parallel arrays, plus each feature's span for reasons."""

    indices: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    spans: tuple[str, ...]  # the words a feature came from, BIO_SPAN_PREFIX for the bio's


def _hash(text: str, bits: int) -> int:
    return zlib.crc32(text.encode("utf-8")) & ((1 << bits) - 1)


class FeatureExtractor:
    """Turns text into ``Features`` for one ``FeatureSettings``; caches each word's n-grams."""

    def __init__(self, settings: FeatureSettings, stems: StemCache | None = None) -> None:
        self.settings = settings
        self._stems = stems if stems is not None else shared_stem_cache()
        # word → its char n-gram and unigram hashes (before the block offset): vocabulary is
        # heavy-tailed, so most words of a message are hashed once per process.
        self._word_cache: dict[tuple[str, str, int], tuple[int, ...]] = {}

    def _word_hashes(self, word: str, stem: str, bits: int) -> tuple[int, ...]:
        key = (word, stem, bits)
        cached = self._word_cache.get(key)
        if cached is not None:
            return cached
        s = self.settings
        padded = f" {word} "
        grams = {
            padded[i : i + n]
            for n in range(s.char_min, s.char_max + 1)
            for i in range(len(padded) - n + 1)
        }
        grams.discard(" ")
        hashes = tuple(
            sorted({_hash(_CHAR + g, bits) for g in grams} | {_hash(_WORD + stem, bits)})
        )
        if len(self._word_cache) >= _WORD_CACHE_SIZE:
            self._word_cache.clear()  # crude bound; a refill costs only hashing
        self._word_cache[key] = hashes
        return hashes

    def _block(self, text: str, bits: int) -> tuple[dict[int, str], list[str]]:
        """Hash → the first span it came from, for one block of text."""
        tokens = tokenize(text)
        words: list[str] = []
        stems: list[str] = []
        for token in tokens:
            word = normalize_word(token)
            if word:
                words.append(word)
                stems.append(self._stems[token] or word)
        spans: dict[int, str] = {}
        for word, stem in zip(words, stems, strict=True):
            for h in self._word_hashes(word, stem, bits):
                spans.setdefault(h, word)
        if self.settings.word_bigrams:
            for i in range(len(stems) - 1):
                h = _hash(f"{_BIGRAM}{stems[i]} {stems[i + 1]}", bits)
                spans.setdefault(h, f"{words[i]} {words[i + 1]}")
        return spans, words

    def extract(self, text: str, bio: str | None = None) -> Features:
        s = self.settings
        text_spans, _ = self._block(text, s.text_bits)
        indices: list[int] = list(text_spans)
        values: list[float] = [len(text_spans) ** -0.5] * len(text_spans) if text_spans else []
        spans: list[str] = list(text_spans.values())
        if bio:
            bio_spans, _ = self._block(bio, s.bio_bits)
            offset = 1 << s.text_bits
            indices.extend(offset + h for h in bio_spans)
            if bio_spans:
                values.extend([len(bio_spans) ** -0.5] * len(bio_spans))
            spans.extend(f"{BIO_SPAN_PREFIX}{span}" for span in bio_spans.values())
        return Features(
            indices=np.asarray(indices, dtype=np.int64),
            values=np.asarray(values, dtype=np.float64),
            spans=tuple(spans),
        )

    def extract_many(self, items: Sequence[tuple[str, str | None]]) -> list[Features]:
        return [self.extract(text, bio) for text, bio in items]
