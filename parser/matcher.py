"""Keyword matching for lead detection: every active keyword set compiled into one matcher.

A keyword of one word matches by stem (see ``parser.stemming``); a keyword of several words is a
phrase whose stems must follow each other in order in the message's word sequence (punctuation and
emoji between them do not count as words). ``exclude`` holds minus words/phrases with the same
semantics: one of them in a message vetoes that set (only that set) for that message.

``Matcher`` indexes every word keyword by its stem and every phrase by its first stem, so a
message costs one cache lookup per word plus a set intersection, whatever the number of rules;
only the stems the message actually shares with the rules are looked at further. Rules scoped to
chats live in one index per chat, so rules listening elsewhere cost nothing. ``NaiveMatcher`` is
the obvious implementation, kept as the benchmark's baseline and the tests' oracle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from parser.stemming import StemCache, normalize_word, shared_stem_cache, stem_tokens, tokenize

Phrase = tuple[str, ...]
# (rule number, keyword number or _EXCLUDE, stems after the first one)
_Pattern = tuple[int, int, Phrase]
_EXCLUDE = -1


@dataclass(frozen=True, slots=True)
class KeywordSetRules:
    """One keyword set as used by one campaign: the matcher's input."""

    set_id: int
    name: str
    keywords: Sequence[str]
    exclude: Sequence[str]
    campaign_id: int | None = None
    chat_ids: frozenset[int] | None = None  # None or empty: every chat


@dataclass(frozen=True, slots=True)
class Hit:
    """A (campaign, set) that matched: its matched keywords as written, in set order."""

    set_id: int
    set_name: str
    campaign_id: int | None
    keywords: tuple[str, ...]


def normalize_keyword(raw: str) -> str:
    """The canonical form of a keyword (lower-case words joined by one space).

    Raises ValueError with a message meant for a person when the keyword can never match.
    """
    return " ".join(normalize_word(token) for token in _keyword_tokens(raw))


def _keyword_tokens(raw: str) -> list[str]:
    if not raw.strip():
        raise ValueError("a keyword is empty: write a word or a phrase")
    if not any(ch.isalpha() for ch in raw):
        raise ValueError(f"keyword {raw!r} has no letters")
    tokens = tokenize(raw)
    if not any(any(ch.isalpha() for ch in normalize_word(t)) for t in tokens):
        raise ValueError(
            f"keyword {raw!r} has no words to match: links and @mentions are ignored in messages"
        )
    return tokens


def _compile_phrase(raw: str, set_name: str, stem: Callable[[list[str]], Phrase]) -> Phrase:
    try:
        tokens = _keyword_tokens(raw)
    except ValueError as exc:
        raise ValueError(f"keyword set {set_name!r}: {exc}") from None
    return stem(tokens)


@dataclass(frozen=True, slots=True)
class _Rule:
    source: KeywordSetRules
    keywords: tuple[Phrase, ...]
    exclude: tuple[Phrase, ...]

    @classmethod
    def of(cls, rules: KeywordSetRules, stem: Callable[[list[str]], Phrase]) -> _Rule:
        return cls(
            source=rules,
            keywords=tuple(_compile_phrase(k, rules.name, stem) for k in rules.keywords),
            exclude=tuple(_compile_phrase(k, rules.name, stem) for k in rules.exclude),
        )

    def hit(self, keyword_numbers: Iterable[int]) -> Hit:
        written = self.source.keywords
        return Hit(
            set_id=self.source.set_id,
            set_name=self.source.name,
            campaign_id=self.source.campaign_id,
            keywords=tuple(written[k] for k in sorted(keyword_numbers)),
        )


def _in_scope(rules: KeywordSetRules, chat_id: int | None) -> bool:
    return chat_id is None or not rules.chat_ids or chat_id in rules.chat_ids


def _phrase_starts(stems: Phrase, first: str) -> list[int]:
    """Positions just after each occurrence of ``first`` (where the rest of a phrase must be)."""
    # A word usually occurs once in a message: find it in C before walking the tuple in Python.
    at = stems.index(first)
    if stems.count(first) == 1:
        return [at + 1]
    return [i + 1 for i, stem in enumerate(stems) if stem == first]


class _Index:
    """First stem → patterns starting with it, for the rules of one scope."""

    __slots__ = ("patterns",)

    def __init__(self) -> None:
        self.patterns: dict[str, list[_Pattern]] = {}

    def add_rule(self, number: int, rule: _Rule) -> _Index:
        for keyword_number, phrase in enumerate(rule.keywords):
            self._add(phrase, (number, keyword_number, phrase[1:]))
        for phrase in rule.exclude:
            self._add(phrase, (number, _EXCLUDE, phrase[1:]))
        return self

    def _add(self, phrase: Phrase, pattern: _Pattern) -> None:
        self.patterns.setdefault(phrase[0], []).append(pattern)

    def scan(
        self, stems: Phrase, present: Iterable[str], found: dict[int, int], vetoed: set[int]
    ) -> None:
        """Record what this scope's rules see in ``stems``.

        ``present``: the stems of the message that start some pattern. ``found``: rule number →
        bit mask of its matched keywords. ``vetoed``: rules one of whose minus words occurs.
        """
        for first in present:
            patterns = self.patterns.get(first)
            if patterns is None:
                continue
            starts: list[int] | None = None
            for number, keyword_number, rest in patterns:
                if rest:
                    if starts is None:
                        starts = _phrase_starts(stems, first)
                    width = len(rest)
                    if not any(stems[p : p + width] == rest for p in starts):
                        continue
                if keyword_number == _EXCLUDE:
                    vetoed.add(number)
                else:
                    found[number] = found.get(number, 0) | 1 << keyword_number


class Matcher:
    """All active keyword sets in one index; ``match`` costs O(words in the message)."""

    _HIT_CACHE_SIZE = 65_536

    def __init__(self, rules: Sequence[_Rule], cache: StemCache) -> None:
        self._rules = rules
        self._cache = cache
        self._everywhere = _Index()
        self._by_chat: dict[int, _Index] = {}
        for number, rule in enumerate(rules):
            chat_ids = rule.source.chat_ids
            if not chat_ids:
                self._everywhere.add_rule(number, rule)
            for chat_id in chat_ids or ():
                self._by_chat.setdefault(chat_id, _Index()).add_rule(number, rule)
        # One set lookup per word tells whether the word can start anything, in any scope: most
        # messages stop there.
        self._firsts = frozenset(first for rule in rules for first in _first_stems(rule))
        self._all_chats: _Index | None = None
        # Hits are immutable and repeat (the same keyword of the same set), so they are shared.
        self._hits: dict[tuple[int, int], Hit] = {}

    @classmethod
    def compile(cls, sets: Iterable[KeywordSetRules], *, cache: StemCache | None = None) -> Matcher:
        """Compile ``sets``; raises ValueError naming the set of a keyword that can never match.

        ``cache`` defaults to the process-wide stem cache, which a recompiled matcher reuses warm.
        """
        stem_cache = shared_stem_cache() if cache is None else cache
        return cls([_Rule.of(s, stem_cache.stems) for s in sets], stem_cache)

    def match(self, text: str, chat_id: int | None = None) -> list[Hit]:
        """Hits for ``text`` seen in ``chat_id``, in the order the sets were given.

        ``chat_id=None`` ignores scopes: every set is tried (the CLI's ``keywords test`` does that).
        """
        stems = self._cache.stems(tokenize(text))
        present = self._firsts.intersection(stems)
        if not present:
            return []
        found: dict[int, int] = {}
        vetoed: set[int] = set()
        if chat_id is None:
            self._all_chats_index().scan(stems, present, found, vetoed)
        else:
            self._everywhere.scan(stems, present, found, vetoed)
            scoped = self._by_chat.get(chat_id)
            if scoped is not None:
                scoped.scan(stems, present, found, vetoed)
        if not found:
            return []
        return [
            self._hit(number, mask)
            for number, mask in sorted(found.items())
            if number not in vetoed
        ]

    def _hit(self, number: int, mask: int) -> Hit:
        hit = self._hits.get((number, mask))
        if hit is None:
            if len(self._hits) >= self._HIT_CACHE_SIZE:
                self._hits.clear()
            rule = self._rules[number]
            hit = rule.hit(k for k in range(len(rule.keywords)) if mask >> k & 1)
            self._hits[number, mask] = hit
        return hit

    def _all_chats_index(self) -> _Index:
        # Built on first use only: production always passes a chat id.
        if self._all_chats is None:
            index = _Index()
            for number, rule in enumerate(self._rules):
                index.add_rule(number, rule)
            self._all_chats = index
        return self._all_chats


def _first_stems(rule: _Rule) -> Iterator[str]:
    for phrase in rule.keywords + rule.exclude:
        yield phrase[0]


def _occurs(stems: Phrase, phrase: Phrase) -> bool:
    width = len(phrase)
    return any(stems[i : i + width] == phrase for i in range(len(stems) - width + 1))


class NaiveMatcher:
    """The baseline: stems every word with no cache and tries every rule one by one."""

    def __init__(self, rules: Sequence[_Rule]) -> None:
        self._rules = rules

    @classmethod
    def compile(cls, sets: Iterable[KeywordSetRules]) -> NaiveMatcher:
        return cls([_Rule.of(s, stem_tokens) for s in sets])

    def match(self, text: str, chat_id: int | None = None) -> list[Hit]:
        stems = stem_tokens(tokenize(text))
        hits: list[Hit] = []
        for rule in self._rules:
            if not _in_scope(rule.source, chat_id):
                continue
            if any(_occurs(stems, phrase) for phrase in rule.exclude):
                continue
            matched = [n for n, phrase in enumerate(rule.keywords) if _occurs(stems, phrase)]
            if matched:
                hits.append(rule.hit(matched))
        return hits
