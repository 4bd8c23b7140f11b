"""Leaks of the instructions: the system prompt, the template, our own scaffolding, the canary.

An obedient model does not quote its prompt verbatim when asked not to get caught: it numbers
the words, puts a filler word between them, swaps letters for look-alikes, reverses, encodes or
quotes a few words only. So both sides are folded (``text.fold``: NFKC, case, TS #39 skeleton),
digits and separators dropped, and a draft leaks when a stretch of at least ``leak_chars``
letters follows the instructions — not counting text the draft may quote (the offer, the
templates, the lead's own words). Stretches are found word by word (chains of adjacent word
pairs of the instructions; cheap, and enough for the plain text, the text with lone filler words
or a repeated filler dropped, the words in reverse order, and — for drafts whose words are not
the instructions' — reversed letters, ROT13, Russian transliterated to Latin, leetspeak), and
letter by letter (overlapping ``SHINGLE``-letter pieces, forwards, reversed, ROT13,
transliterated) only when the words look taken apart: letters spaced out, run together or split.
Text decoded from base64 or hex is read the same way.

Each system prompt also carries a fresh random *canary* (``new_canary``): consonants only, so no
real word contains it. Any form of it in a draft (after the same unfolding) is a leak, whatever
else the draft says; it is what catches a draft quoting only the first few words of the prompt.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii

from manager.guardrails import text as t
from manager.guardrails.findings import Finding, person

SHINGLE = 10
CANARY_LETTERS = "bcdfghjkpqstvxz"  # folded to themselves; no vowels, so never a word
CANARY_LENGTH = 12
_FILLER_MIN_REPEATS = 3


def new_canary() -> str:
    return "".join(secrets.choice(CANARY_LETTERS) for _ in range(CANARY_LENGTH))


FORWARD, BACKWARD, ROT13, TRANSLIT = 1, 2, 4, 8
_VIEWS = {FORWARD: "", BACKWARD: " (reversed)", ROT13: " (ROT13)", TRANSLIT: " (transliterated)"}


@dataclass(frozen=True)
class Index:
    """The instructions, ready for comparison: every shingle of their folded letters with the
    ways a draft may show it (as is, reversed, ROT13, transliterated from Russian), their words,
    and pairs of adjacent words (for drafts that put filler between or reverse the order)."""

    shingles: dict[str, int]
    words: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    translit_pairs: frozenset[tuple[str, str]]


def _shingles(stream: str) -> Iterator[str]:
    return (stream[i : i + SHINGLE] for i in range(len(stream) - SHINGLE + 1))


@lru_cache(maxsize=128)  # a campaign's instructions are indexed once, not per draft
def index(texts: tuple[str, ...]) -> Index:
    shingles: dict[str, int] = {}
    words: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    translit_pairs: set[tuple[str, str]] = set()
    for text in texts:
        said = t.words(text)
        stream = "".join(said)
        words.update(said)
        pairs.update(_pairs(said))
        views = [(stream, FORWARD), (stream[::-1], BACKWARD), (t.rot13(stream), ROT13)]
        if any("а" <= ch <= "я" for ch in text.casefold()):
            latin = t.words(anyascii(text))
            views.append(("".join(latin), TRANSLIT))
            translit_pairs.update(_pairs(latin))
        for view, bit in views:
            for piece in _shingles(view):
                shingles[piece] = shingles.get(piece, 0) | bit
    return Index(shingles, frozenset(words), frozenset(pairs), frozenset(translit_pairs))


def _pairs(words: Sequence[str]) -> Iterator[tuple[str, str]]:
    return zip(words, words[1:], strict=False)


@dataclass(frozen=True)
class Instructions:
    """What a draft must not reveal. ``texts``: the rendered system prompt (canary removed),
    the template's literal text and the scaffolding we add; ``quotes``: text a draft may repeat."""

    texts: tuple[str, ...]
    canary: str | None = None
    quotes: tuple[str, ...] = ()


@lru_cache(maxsize=1024)  # the offer and templates recur in every draft of a campaign
def _quote_forms(text: str, translit: bool) -> tuple[str, frozenset[tuple[str, str]]]:
    """A quote's folded letters and adjacent word pairs (of its Latin transliteration when
    ``translit``; computed only when a draft needs it, since folding costs)."""
    said = t.words(anyascii(text) if translit else text)
    return "".join(said), frozenset(_pairs(said))


@lru_cache(maxsize=256)
def _all_pairs(texts: tuple[str, ...], translit: bool) -> frozenset[tuple[str, str]]:
    return frozenset().union(*(_quote_forms(text, translit)[1] for text in texts))


class _Quotes:
    """What a draft may repeat, compared only where it shares a piece with the instructions;
    the word pairs of all quotes are gathered once (cached while the quotes recur)."""

    def __init__(self, quotes: Sequence[str]) -> None:
        self._texts = tuple(q for q in quotes if q.strip())

    def has_piece(self, piece: str, bit: int) -> bool:
        plain = piece[::-1] if bit == BACKWARD else t.rot13(piece) if bit == ROT13 else piece
        return any(plain in _quote_forms(q, bit == TRANSLIT)[0] for q in self._texts)

    def pairs(self, *, translit: bool = False) -> frozenset[tuple[str, str]]:
        return _all_pairs(self._texts, translit)


def leak_findings(text: str, instructions: Instructions, *, leak_chars: int) -> list[Finding]:
    """A finding when ``text`` (or anything hidden in it) shows the canary or a long run of the
    instructions; at most one of each kind."""
    secret = index(instructions.texts)
    quotes = _Quotes(instructions.quotes)
    findings: list[Finding] = []
    candidates = [text, *t.decoded_blobs(text)]
    if instructions.canary and any(_shows_canary(c, instructions.canary) for c in candidates):
        findings.append(
            person("leak.canary", "contains the secret marker planted in the instructions")
        )
    for candidate in candidates:
        how = _leak(candidate, secret, quotes, leak_chars)
        if how is not None:
            decoded = " (hidden in encoded text)" if candidate is not text else ""
            findings.append(
                person("leak.instructions", f"repeats the instructions{decoded}: {how}")
            )
            break
    return findings


def _shows_canary(text: str, canary: str) -> bool:
    stream = _letters(text)
    if canary in stream or canary in stream[::-1] or canary in t.rot13(stream):
        return True
    return t.has_leetspeak(text) and canary in t.letters(t.unleet(text))


def _leak(text: str, secret: Index, quotes: _Quotes, limit: int) -> str | None:
    """How ``text`` repeats the instructions (the first disguise that shows it), or None.

    Word by word first: chains of adjacent word pairs of the instructions, cheap and enough for
    most disguises (numbers, look-alikes, filler, reversal, ROT13, transliteration, leetspeak).
    Letter by letter only when the words themselves look taken apart (letters spaced out, words
    run together or split), since that costs a pass over every letter."""
    words = _words(text)
    for how, sequence, translit in _word_views(text, words, secret):
        run = _pair_run(
            sequence, secret.translit_pairs if translit else secret.pairs, quotes, translit
        )
        if run >= limit:
            return f"{run} letters in a row{how}"
    if not _taken_apart(words):
        return None
    for bit, run in _letter_runs(_letters(text), secret, quotes, limit).items():
        if run >= limit:
            return f"{run} letters in a row{_VIEWS[bit]}"
    return None


def _word_views(
    text: str, words: list[str], secret: Index
) -> Iterator[tuple[str, list[str], bool]]:
    """(disguise, the draft's words as the instructions would read, transliterated or not)."""
    yield "", words, False
    kept = _without_fillers(words, secret.words)
    if len(kept) < len(words):
        yield " (with filler words removed)", kept, False
    filler = _repeated_filler(kept)
    if filler is not None:
        yield f" (with the filler {filler!r} removed)", [w for w in kept if w != filler], False
    yield " (words in reverse order)", kept[::-1], False
    # Reversed letters, ROT13 and transliteration leave words the instructions do not have: a
    # draft whose words mostly are theirs is none of these (the ordinary case, skipped).
    if sum(w in secret.words for w in words) >= 0.3 * len(words):
        return
    yield " (reversed)", [w[::-1] for w in reversed(words)], False
    if any("a" <= ch <= "z" for w in words[:20] for ch in w):
        yield " (ROT13)", t.rot13(" ".join(words)).split(" "), False
        if secret.translit_pairs:
            yield " (transliterated)", words, True
    if t.has_leetspeak(text):
        yield " (leetspeak)", t.words(t.unleet(text)), False


def _taken_apart(words: list[str]) -> bool:
    """Letters spaced out ("Y o u a r e"), words run together, or split by hyphens."""
    if not words:
        return False
    short = sum(1 for w in words if len(w) <= 2)
    return short > 0.4 * len(words) or max(len(w) for w in words) > 24


@lru_cache(maxsize=8)  # a draft is read by the canary check and then by the leak check
def _words(text: str) -> list[str]:
    return t.words(text)


def _letters(text: str) -> str:
    return "".join(_words(text))


def _letter_runs(stream: str, secret: Index, quotes: _Quotes, limit: int) -> dict[int, int]:
    """For each way of reading, the longest stretch of ``stream`` covered by shingles of the
    instructions that the quotes do not have. One pass; runs are only measured for a way of
    reading with enough hits to reach ``limit``."""
    table = secret.shingles
    hits = [
        (i, bits)
        for i in range(len(stream) - SHINGLE + 1)
        if (bits := table.get(stream[i : i + SHINGLE]))
    ]
    if len(hits) + SHINGLE - 1 < limit:
        return {}
    runs: dict[int, int] = {}
    for bit in _VIEWS:
        mine = [i for i, bits in hits if bits & bit]
        if len(mine) + SHINGLE - 1 >= limit:
            runs[bit] = _longest(stream, mine, bit, quotes)
    return runs


def _longest(stream: str, hits: list[int], bit: int, quotes: _Quotes) -> int:
    best, start, end = 0, -1, -1
    for i in hits:
        if quotes.has_piece(stream[i : i + SHINGLE], bit):
            continue
        if i > end:  # a gap: a new run starts here
            start = i
        end = i + SHINGLE
        best = max(best, end - start)
    return best


def _pair_run(
    words: Sequence[str], pairs: frozenset[tuple[str, str]], quotes: _Quotes, translit: bool
) -> int:
    """Letters in the longest chain of words each following the previous as in the
    instructions (and not as in a quote)."""
    best = run = 0
    quoted: frozenset[tuple[str, str]] | None = None
    for pair in _pairs(words):
        if pair in pairs and quoted is None:
            quoted = quotes.pairs(translit=translit)
        if pair in pairs and quoted is not None and pair not in quoted:
            run = run + len(pair[1]) if run else len(pair[0]) + len(pair[1])
            best = max(best, run)
        else:
            run = 0
    return best


def _without_fillers(words: list[str], known: frozenset[str]) -> list[str]:
    """``words`` with each lone unknown word between known ones dropped (an inserted filler);
    two or more unknown words in a row are ordinary text and break the chain."""
    kept: list[str] = []
    unknown = 0
    for word in words:
        if word in known:
            if unknown > 1:
                kept.append(_BREAK)
            kept.append(word)
            unknown = 0
        else:
            unknown += 1
    return kept


_BREAK = "|"  # never a word of the instructions: a chain cannot cross it


def _repeated_filler(words: Sequence[str]) -> str | None:
    """The most frequent word when it repeats like an inserted filler (``the``, ``banana``)."""
    if len(words) < 2 * _FILLER_MIN_REPEATS:
        return None
    word, count = Counter(words).most_common(1)[0]
    return word if count >= _FILLER_MIN_REPEATS and word != _BREAK else None
