"""Words of a message: tokenising, per-word normalisation, Snowball stemming (ru, en) with a cache.

Decisions, the same for keywords and messages (so both sides always agree):

- a token is a run of letters and digits (``\\w`` without ``_``); everything else separates words,
  so punctuation and emoji are ignored, ``веб-разработчик`` is the two words ``веб`` ``разработчик``
  (keyword "разработчик" finds it, keyword "веб-разработчик" is the phrase "веб разработчик"), and
  ``snake_case`` is two words;
- digits stay in tokens and are words of their own (``1С``, ``python3``, ``iphone 15``);
- links, e-mail addresses and @mentions are dropped before tokenising: they are addresses, not
  what the author wrote (``@python_jobs`` must not match "python");
- a word is NFKC-normalised (fancy Unicode letters become plain ones), lower-cased, ``ё`` becomes
  ``е`` and stress marks are dropped;
- the stemmer is picked per word by its script: Cyrillic → Russian Snowball, Latin → English
  Snowball; a word mixing both scripts (usually a homoglyph trick) or in another script is kept
  unstemmed, because NLTK's Russian stemmer mangles Latin letters.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable

# Combining marks are part of a word (stress marks, a decomposed й), `_` is not: see tokenize().
_TOKEN_RE = re.compile(r"[\w\u0300-\u036f]+")
_NOT_WORD_RE = re.compile(r"[\W_]+")
_NOISE_RE = re.compile(
    r"(?:https?://|www\.|t\.me/)\S+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|@\w+",
    re.IGNORECASE,
)
_CYRILLIC_RE = re.compile(r"[\u0400-\u04ff]")
_LATIN_RE = re.compile(r"[a-z\u00c0-\u024f]")

DEFAULT_CACHE_SIZE = 200_000


# The last two texts tokenised and their tokens: the parser tokenises a message with a keyword hit
# again right after the matcher did (the intent stage), with the sender's bio in between when there
# is one; tokenising is most of what either step costs.
_Memo = tuple[str, tuple[str, ...]]
_recent: tuple[_Memo, _Memo] = (("", ()), ("", ()))


def tokenize(text: str) -> list[str]:
    """Split ``text`` into raw word tokens (not yet normalised)."""
    global _recent
    last, before = _recent  # one read: another thread may replace it meanwhile
    # The same object, so the same text: identity is enough, and cheaper than comparing.
    if text is last[0]:
        return list(last[1])
    if text is before[0]:
        return list(before[1])
    raw = text
    # The substring checks are much cheaper than running the noise regex over every message.
    if "@" in text or "://" in text or "www." in text or "t.me/" in text:
        text = _NOISE_RE.sub(" ", text)
    if "_" in text:
        text = text.replace("_", " ")
    tokens: list[str] = _TOKEN_RE.findall(text)
    _recent = ((raw, tuple(tokens)), last)
    return tokens


def normalize_word(token: str) -> str:
    """NFKC, lower case, ё → е, then only letters and digits (stress marks and the like go)."""
    word = unicodedata.normalize("NFKC", token).lower().replace("ё", "е")
    # NFKC can bring in non-word characters ("⑴" → "(1)"); dropping them keeps a normalised
    # keyword tokenising back into exactly its own words.
    return _NOT_WORD_RE.sub("", word)


@functools.cache
def _snowball(language: str) -> Callable[[str], str]:
    # NLTK is imported on first use: its import takes 0.3–0.5 s that other commands need not pay.
    # It also imports scipy and scikit-learn when they are installed (optional imports in
    # nltk.metrics and nltk.classify: +1 s); stemming needs neither, so they are hidden from it.
    hidden = [name for name in ("scipy", "sklearn") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # None makes `import name` fail
    try:
        from nltk.stem.snowball import SnowballStemmer
    finally:
        for name in hidden:
            sys.modules.pop(name, None)

    stem: Callable[[str], str] = SnowballStemmer(language).stem
    return stem


def stem_token(token: str) -> str:
    """The stem of one raw token, without any cache ("" for a token with nothing left in it)."""
    word = normalize_word(token)
    cyrillic = _CYRILLIC_RE.search(word) is not None
    latin = _LATIN_RE.search(word) is not None
    if cyrillic and not latin:
        return _snowball("russian")(word)
    if latin and not cyrillic:
        return _snowball("english")(word)
    return word


def stem_tokens(tokens: Iterable[str]) -> tuple[str, ...]:
    """Stems of ``tokens`` without any cache, empty ones dropped (the naive baseline uses it)."""
    return tuple(s for s in map(stem_token, tokens) if s)


class StemCache(dict[str, str]):
    """Raw token → stem, bounded, in front of the (slow, pure-Python) Snowball stemmers.

    A hit is a plain C-level dict lookup. Bounding works in two generations: when the young one is
    full it becomes the old one, and a word still in use is promoted back on its next miss. That
    keeps the heavy head of the vocabulary warm (close to LRU) without per-hit bookkeeping; at most
    ``max_size`` entries are held.
    """

    def __init__(self, max_size: int = DEFAULT_CACHE_SIZE) -> None:
        super().__init__()
        if max_size < 2:
            raise ValueError("stem cache max_size must be at least 2")
        self._generation_size = max_size // 2
        self._old: dict[str, str] = {}
        self.misses = 0

    def __missing__(self, token: str) -> str:
        stem = self._old.get(token)
        if stem is None:
            self.misses += 1
            stem = stem_token(token)
        if len(self) >= self._generation_size:
            self._old = dict(self)
            self.clear()
        self[token] = stem
        return stem

    def stems(self, tokens: Iterable[str]) -> tuple[str, ...]:
        stems = tuple(map(self.__getitem__, tokens))
        # A token of stray combining marks normalises to nothing; it must not split a phrase.
        return tuple(s for s in stems if s) if "" in stems else stems

    def reset(self) -> None:
        """Forget everything (benchmarks use it to measure a cold start)."""
        self.clear()
        self._old = {}
        self.misses = 0


@functools.cache
def shared_stem_cache() -> StemCache:
    """The process-wide cache: it outlives a matcher, so a config reload starts warm."""
    return StemCache()
