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
    """A message's active features (unique, ascending), and where each came from for reasons.

    ``flat`` lists every feature of every span in order (a word's n-grams and unigram, a bigram, a
    bio word; ``lengths`` per span), kept as plain lists: only a verdict's reason needs them, so
    scoring pays no array work for them. A feature shared by two words counts in both spans
    there — fine for naming signals, never used for the score.
    """

    indices: npt.NDArray[np.int64]  # the message's unique features first, then the bio's
    text_unique: int  # how many of ``indices`` are the message's
    flat: list[int]
    lengths: list[int]
    spans: list[str]  # one per span: words of the message, BIO_SPAN_PREFIX + a bio word
    text_flat: int  # how many of ``flat`` are the message's (the rest are the bio's)
    text_value: float
    bio_value: float

    @property
    def values(self) -> npt.NDArray[np.float64]:
        """Each index's value (training needs them; scoring sums weights per block instead)."""
        values = np.full(self.indices.size, self.bio_value)
        values[: self.text_unique] = self.text_value
        return values


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

    def _block(self, text: str, bits: int) -> tuple[list[int], list[str], list[int]]:
        """Every feature hash of ``text`` in span order, the spans, and each span's length."""
        words: list[str] = []
        stems: list[str] = []
        for token in tokenize(text):
            word = normalize_word(token)
            if word:
                words.append(word)
                stems.append(self._stems[token] or word)
        hashes: list[int] = []
        spans: list[str] = []
        lengths: list[int] = []
        for word, stem in zip(words, stems, strict=True):
            word_hashes = self._word_hashes(word, stem, bits)
            hashes.extend(word_hashes)
            spans.append(word)
            lengths.append(len(word_hashes))
        if self.settings.word_bigrams:
            for i in range(len(stems) - 1):
                hashes.append(_hash(f"{_BIGRAM}{stems[i]} {stems[i + 1]}", bits))
                spans.append(f"{words[i]} {words[i + 1]}")
                lengths.append(1)
        return hashes, spans, lengths

    def extract(self, text: str, bio: str | None = None) -> Features:
        s = self.settings
        flat, spans, lengths = self._block(text, s.text_bits)
        # A set over a few hundred ints beats np.unique's fixed cost; order does not matter.
        unique = list(set(flat))
        text_value = len(unique) ** -0.5 if unique else 0.0
        text_unique, text_flat, bio_value = len(unique), len(flat), 0.0
        if bio:
            offset = 1 << s.text_bits
            bio_hashes, bio_spans, bio_lengths = self._block(bio, s.bio_bits)
            bio_unique = list({offset + h for h in bio_hashes})
            bio_value = len(bio_unique) ** -0.5 if bio_unique else 0.0
            unique += bio_unique
            flat = flat + [offset + h for h in bio_hashes]
            spans += [f"{BIO_SPAN_PREFIX}{span}" for span in bio_spans]
            lengths += bio_lengths
        return Features(
            indices=np.array(unique, dtype=np.int64),
            text_unique=text_unique,
            flat=flat,
            lengths=lengths,
            spans=spans,
            text_flat=text_flat,
            text_value=text_value,
            bio_value=bio_value,
        )

    def extract_many(self, items: Sequence[tuple[str, str | None]]) -> list[Features]:
        return [self.extract(text, bio) for text, bio in items]
