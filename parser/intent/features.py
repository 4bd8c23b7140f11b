"""Hashed features of a message (and its sender's bio) for the intent model: numpy only.

Features, each hashed with a stable hash (CRC-32: Python's ``hash`` changes between processes)
into a fixed-size space:

- character n-grams (2–5 by default) of each normalised word padded with spaces, so ``ищу``
  gives `` и``, ``ищ``, `` ищу`` … and n-grams never cross a word boundary — they carry Russian
  inflections and typos that whole words miss;
- word unigrams and bigrams (two hashes' sum, see ``BIGRAM_MIX``) of the words' stems
  (``parser.stemming``: the same tokens, the same normalisation and the same stem cache the
  keyword matcher uses);
- the stems of the first words (``opening_words``) once more, tagged by position;
- the bio's features, in their own block after the message's, so "ищу" in a bio ("ищу клиентов")
  and in a message ("ищу разработчика") learn different weights.

A feature's value is how often it occurs, divided by the square root of all occurrences in its
group (the message's n-grams, the message's stems, the bio's n-grams, the bio's stems), so a long
message does not outvote a short one. That normalisation is what makes scoring cheap: every word
contributes ``S(word) / sqrt(N)`` where ``S`` (its n-grams' summed weights) and its n-gram count
depend on the word alone — the classifier caches them per word (``classify.py``), exactly equal to
the dot product over these features that training sees.
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
CHAR, WORD, LEFT, RIGHT = "c:", "w:", "l:", "r:"
OPENING = "o{}:"  # the stem of the message's first, second … word: "сдам …" and "сниму …" open
# differently, wherever else the same words occur
# A bigram's slot is (MIX · hash(left stem) + hash(right stem)) mod the block's size: an odd
# multiplier keeps it a good hash, and scoring adds two numbers cached per word instead of
# building and hashing a string per pair of words.
BIGRAM_MIX = 0x9E3779B1


class FeatureSettings(BaseModel):
    """How a model's features were made: scoring must use exactly the settings it was trained on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text_bits: int = Field(default=18, ge=10, le=24)
    bio_bits: int = Field(default=16, ge=8, le=22)
    char_min: int = Field(default=2, ge=1, le=8)
    char_max: int = Field(default=5, ge=1, le=8)
    word_bigrams: bool = True
    opening_words: int = Field(default=2, ge=0, le=5)  # first words also counted by position

    @property
    def size(self) -> int:
        """Length of the weight vector: the message's block, then the bio's."""
        return (1 << self.text_bits) + (1 << self.bio_bits)


def feature_hash(text: str, bits: int) -> int:
    return zlib.crc32(text.encode("utf-8")) & ((1 << bits) - 1)


def bigram_halves(stem: str, bits: int) -> tuple[int, int]:
    """A stem's two halves of a bigram slot: as the left word, and as the right one."""
    mask = (1 << bits) - 1
    return (BIGRAM_MIX * feature_hash(LEFT + stem, bits)) & mask, feature_hash(RIGHT + stem, bits)


def char_grams(word: str, settings: FeatureSettings) -> list[str]:
    """The word's character n-grams with repeats (a repeat counts twice), space-padded."""
    padded = f" {word} "
    return [
        gram
        for n in range(settings.char_min, settings.char_max + 1)
        for i in range(len(padded) - n + 1)
        if (gram := padded[i : i + n]) != " "
    ]


def words_and_stems(text: str, stems: StemCache) -> list[tuple[str, str]]:
    """(normalised word, stem) per token of ``text``; a token with nothing left is dropped."""
    pairs: list[tuple[str, str]] = []
    for token in tokenize(text):
        word = normalize_word(token)
        if word:
            pairs.append((word, stems[token] or word))
    return pairs


@dataclass(frozen=True, slots=True)
class Features:
    """A message's active features (unique, ascending) and their values: training's rows."""

    indices: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


class FeatureExtractor:
    """Turns text into ``Features`` for one ``FeatureSettings`` (training's path, uncached)."""

    def __init__(self, settings: FeatureSettings, stems: StemCache | None = None) -> None:
        self.settings = settings
        self.stems = stems if stems is not None else shared_stem_cache()

    def _groups(self, text: str, bits: int) -> tuple[list[int], list[int]]:
        """Hashes of ``text``'s n-grams and of its stem uni/bigrams, with repeats."""
        pairs = words_and_stems(text, self.stems)
        chars = [
            feature_hash(CHAR + g, bits)
            for word, _ in pairs
            for g in char_grams(word, self.settings)
        ]
        stems = [feature_hash(WORD + stem, bits) for _, stem in pairs]
        if self.settings.word_bigrams:
            halves = [bigram_halves(stem, bits) for _, stem in pairs]
            mask = (1 << bits) - 1
            stems += [(a[0] + b[1]) & mask for a, b in zip(halves, halves[1:], strict=False)]
        opening = pairs[: self.settings.opening_words]
        stems += [
            feature_hash(OPENING.format(i) + stem, bits) for i, (_, stem) in enumerate(opening)
        ]
        return chars, stems

    def extract(self, text: str, bio: str | None = None) -> Features:
        s = self.settings
        values: dict[int, float] = {}
        blocks = [(text, s.text_bits, 0)]
        if bio:
            blocks.append((bio, s.bio_bits, 1 << s.text_bits))
        for part, bits, offset in blocks:
            for group in self._groups(part, bits):
                scale = len(group) ** -0.5 if group else 0.0
                for index in group:
                    values[offset + index] = values.get(offset + index, 0.0) + scale
        indices = np.array(sorted(values), dtype=np.int64)
        return Features(
            indices=indices, values=np.array([values[i] for i in indices.tolist()], np.float64)
        )

    def extract_many(self, items: Sequence[tuple[str, str | None]]) -> list[Features]:
        return [self.extract(text, bio) for text, bio in items]
