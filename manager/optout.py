"""Opt-out detection: does a lead's reply mean "never write to me again"?

A missed opt-out costs a spam complaint (and, after a few, the account); a false one costs a single
lead. So the detector leans towards silence, but it matches whole words on normalised text so that
"don't stop the project", "stop-loss" or "нестандартный" do not trip it.

Normalisation (the same for the message and for every phrase):

- Unicode NFKC, case-folded, ``ё`` read as ``е``;
- apostrophes inside a word are dropped (``don't`` -> ``dont``), a hyphen between letters is kept,
  so ``stop-loss`` stays one word and is not ``stop``;
- everything else that is not a letter or a digit (punctuation, emoji) separates words;
- every run of one repeated letter is squeezed to one letter (``стоооп`` -> ``стоп``,
  ``stopppp`` -> ``stop``); phrases are squeezed the same way, so they still match themselves.

Matching rule:

- a phrase of two or more words matches anywhere in the message as a contiguous run of whole words
  ("пожалуйста, не пишите мне больше" contains "не пишите");
- a one-word phrase ("stop", "хватит", "спам") is ambiguous in a long message, so it matches only in
  a short one (at most ``max_short_words`` words, 6 by default) and only when the word right before
  it is not a negation ("don't stop", "не спам"). A one-word opt-out inside a long message needs a
  multi-word phrase in the list ("хочу отписаться", "unsubscribe me"); the conversation model's
  ``opted_out`` flag is the second line of defence.

"Not interested" / "не интересно" is a no, not an opt-out: the conversation ends politely but the
lead is not put on the do-not-contact list, so it is not in the defaults.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

DEFAULT_OPT_OUT_PHRASES: tuple[str, ...] = (
    # English
    "stop",
    "unsubscribe",
    "unsubscribe me",
    "opt out",
    "opt-out",
    "opt me out",
    "remove me",
    "leave me alone",
    "do not contact",
    "don't contact me",
    "do not write",
    "don't write",
    "do not message me",
    "don't message me",
    "stop messaging",
    "stop writing",
    "stop texting",
    "stop spamming",
    "stop sending",
    "spam",
    # Russian
    "отписаться",
    "хочу отписаться",
    "как отписаться",
    "отписаться от",
    "отпишите",
    "отпишите меня",
    "не пишите",
    "не пишите мне",
    "больше не пишите",
    "не пиши",
    "не пиши мне",
    "хватит",
    "хватит писать",
    "хватит спамить",
    "стоп",
    "спам",
    "это спам",
    "не беспокойте",
    "отстаньте",
    "отстань",
    "перестаньте писать",
    "удалите меня",
)

NEGATIONS: frozenset[str] = frozenset(
    {"не", "ни", "dont", "not", "never", "cant", "wont", "didnt", "doesnt", "isnt"}
)
"""Words that, right before a one-word phrase, turn it into ordinary speech ("don't stop")."""

_APOSTROPHES = re.compile(r"(?<=\w)['’ʼ`´](?=\w)")
_NON_WORD = re.compile(r"[^\w-]+|_+")
_LOOSE_HYPHENS = re.compile(r"(?<!\w)-+|-+(?!\w)")
_REPEATS = re.compile(r"(\w)\1+")


def normalise_words(text: str) -> tuple[str, ...]:
    """Split text into normalised, squeezed words, as described in the module docstring."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")
    joined = _APOSTROPHES.sub("", folded)
    spaced = _LOOSE_HYPHENS.sub(" ", _NON_WORD.sub(" ", joined))
    return tuple(_REPEATS.sub(r"\1", word) for word in spaced.split())


class OptOutDetector:
    """Tells whether a reply is an opt-out, using an editable list of phrases."""

    def __init__(
        self, phrases: Iterable[str] = DEFAULT_OPT_OUT_PHRASES, *, max_short_words: int = 6
    ) -> None:
        if max_short_words < 1:
            raise ValueError(f"max_short_words must be at least 1, got {max_short_words}")
        single: set[str] = set()
        multi: set[tuple[str, ...]] = set()
        for index, phrase in enumerate(phrases):
            words = normalise_words(phrase)
            if not words:
                raise ValueError(
                    f"opt-out phrase #{index} ({phrase!r}) has no words after normalisation; "
                    "remove it from the list"
                )
            if len(words) == 1:
                single.add(words[0])
            else:
                multi.add(words)
        if not single and not multi:
            raise ValueError("the opt-out phrase list is empty")
        self._single = frozenset(single)
        self._multi = frozenset(multi)
        self._lengths = sorted({len(words) for words in multi})
        self._max_short_words = max_short_words

    def is_opt_out(self, text: str) -> bool:
        """True when the reply asks us to stop writing (see the module docstring for the rule)."""
        words = normalise_words(text)
        return self._has_phrase(words) or self._is_short_command(words)

    def _has_phrase(self, words: tuple[str, ...]) -> bool:
        for length in self._lengths:
            for start in range(len(words) - length + 1):
                if words[start : start + length] in self._multi:
                    return True
        return False

    def _is_short_command(self, words: tuple[str, ...]) -> bool:
        if len(words) > self._max_short_words:
            return False
        for position, word in enumerate(words):
            if word in self._single and (position == 0 or words[position - 1] not in NEGATIONS):
                return True
        return False
