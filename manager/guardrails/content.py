"""What a draft says: payment requests, requests for credentials, abuse, and the wrong language.

The text is compared in a normal form: NFKC, case folded, ``ё`` as ``е``, invisible characters
dropped, and a word that mixes Latin and Cyrillic look-alikes written in its main script
(``xуй`` is ``хуй``, ``idiоt`` with a Cyrillic о is ``idiot``). Insults also match through
leetspeak (``1d10t``) and letters spaced out (``i d i o t``), but only from the start of a
word, so ``застрахуйте``, ``assistant`` and ``Scunthorpe`` are no insults. The word lists live
in ``lexicon.py``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from manager.guardrails import lexicon
from manager.guardrails.findings import Finding, person, retry
from manager.guardrails.text import fold, nfkc, unleet

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
_MIXED = re.compile(r"[a-z][а-я]|[а-я][a-z]")
_INVISIBLE_OR_MIXED = re.compile(rf"{_INVISIBLE.pattern}|{_MIXED.pattern}")
_WORD = re.compile(r"[^\W\d_]+")
_LATIN_LETTER = re.compile(r"[a-z]")
_CYRILLIC_LETTER = re.compile(r"[а-я]")
_TO_CYRILLIC = str.maketrans("aeopcxykmhtb", "аеорсхукмнтв")
_TO_LATIN = str.maketrans("аеорсхукмнтвіј", "aeopcxykmhtbij")
_PUNCT = "!\"#%&'()*+,-./:;<=>?[\\]^_`{}~«»—–…“”„‘’·"  # not "$@|": leetspeak letters
_LEET_CHARS = re.compile(r"[\d$@|!]")
_NOT_A_WORD_START = re.compile(r"[^\W\d_]")
_PAYMENT_KEYS = lexicon.PAYMENT_REQUEST_KEYS | lexicon.CREDENTIAL_KEYS


def _stem_index(stems: list[str]) -> dict[str, tuple[str, ...]]:
    index: dict[str, list[str]] = {}
    for stem in stems:
        index.setdefault(stem[:3], []).append(stem)
    return {key: tuple(values) for key, values in index.items()}


_INSULT_STEMS = _stem_index(
    [
        p + r
        for p in ("", *lexicon.RU_PREFIXES)
        for r in lexicon.OBSCENE_ROOTS_RU
        if not (p == "с" and r.startswith("еб"))  # "с" + "ебе" is "себе"
    ]
    + [*lexicon.INSULT_STEMS_RU, *lexicon.INSULT_STEMS_EN]
)
_INSULT_KEYS = frozenset(_INSULT_STEMS)
_INSULT_WORDS = frozenset(lexicon.INSULT_EXACT_RU + lexicon.INSULT_EXACT_EN)
_INSULTING = re.compile(
    rf"{lexicon.YOU_ARE}(?:{'|'.join(lexicon.INSULTING_ADJECTIVES)})(?![^\W\d_])"
)
_REQUEST = re.compile("|".join(f"(?:{p})" for p in lexicon.PAYMENT_REQUEST))
_CREDENTIAL_LABELS = tuple(lexicon.CREDENTIALS)
_CREDENTIALS = re.compile(
    "|".join(
        f"(?P<c{i}>{'|'.join(patterns)})" for i, patterns in enumerate(lexicon.CREDENTIALS.values())
    )
)
_ASK = re.compile(lexicon.ASK)
_CLAUSE_ENDS = (".", "!", "?", "\n", ";", " — ", ", а ", ", но ", ", but ")
_ASK_AFTER = re.compile(r"[^.!\n]{0,30}?(?:\?|please|пожалуйста)")
_NEGATION = re.compile(lexicon.NEGATION)
_UPPER_WORD = re.compile(r"[^\W\d_]{4,}")
_CAPS_GAP = re.compile(r"[\s,.:;!?\-–—\"'«»()]*")
_BANGS = re.compile(r"!{3,}")
_CYRILLIC_CAPITALS = re.compile("[\u0400-\u042f]")
_ASCII_NOT_LETTERS = bytes(b for b in range(128) if not chr(b).isalpha())
_ASCII_NOT_CAPITALS = bytes(b for b in range(128) if not chr(b).isupper())
_NOT_LATIN_BYTES = bytes(
    b for b in range(256) if not (chr(b).isalpha() and b < 128 or 0xC3 <= b <= 0xC9)
)
_NOT_CYRILLIC_LEADS = bytes(b for b in range(256) if not 0xD0 <= b <= 0xD4)  # U+0400..U+052F
# Lead bytes of characters that may be letters of another script: Greek, Armenian, Hebrew,
# Arabic..., Indic, CJK (not U+2000..U+2FFF, punctuation and symbols, nor emoji).
_NOT_OTHER_LEADS = bytes(
    b for b in range(256) if not (0xCA <= b <= 0xCF or 0xD5 <= b <= 0xE1 or 0xE3 <= b <= 0xED)
)
_OTHER_SCRIPT = re.compile(r"[^\W\d_a-zA-Z\u00c0-\u024f\u0400-\u052f]")


def payment_findings(text: str) -> list[Finding]:
    """``payment.request`` when the draft asks the lead to pay or transfer money now, and
    ``payment.credentials`` for each kind of secret it asks for (card number, CVV, code...)."""
    normal, words, keys = _prepared(text)
    request: re.Match[str] | None = None
    labels: dict[str, str] = {}
    for key, pos in _word_starts(normal, words, keys & _PAYMENT_KEYS):
        if not request and key in lexicon.PAYMENT_REQUEST_KEYS:
            request = _REQUEST.match(normal, pos)
        if key in lexicon.CREDENTIAL_KEYS and (match := _CREDENTIALS.match(normal, pos)):
            if match.lastgroup and _asked(match):
                labels.setdefault(_CREDENTIAL_LABELS[int(match.lastgroup[1:])], _quote(match))
    findings = (
        [person("payment.request", f"asks the lead to pay: {_quote(request)}")] if request else []
    )
    findings += [
        person("payment.credentials", f"asks for {label}: {quote}")
        for label, quote in labels.items()
    ]
    return findings


def abuse_findings(text: str) -> list[Finding]:
    """``abuse.insult`` for insults and obscenities (a person decides), ``abuse.shouting`` for a
    draft mostly in capitals or with "!!!" (a retry fixes it)."""
    findings: list[Finding] = []
    normal, words, keys = _prepared(text)
    if word := _insult(normal, words, keys):
        findings.append(person("abuse.insult", f"uses an insult or obscenity: '{word}'"))
    if shouting := _shouting(nfkc(text)):
        findings.append(retry("abuse.shouting", shouting))
    return findings


def language_findings(text: str, lead_text: str) -> list[Finding]:
    """``form.language`` when a draft is in another script than Latin or Cyrillic, or not in the
    language the lead wrote in (Russian or English, told apart by their alphabets)."""
    total, latin, cyrillic = _script_counts(text)
    if total and total - latin - cyrillic > 0.1 * total:
        other = _OTHER_SCRIPT.search(text)
        script = unicodedata.name(other.group(0), "?").split()[0] if other else "another"
        share = round(100 * (total - latin - cyrillic) / total)
        reason = f"{share}% of the letters are in another script ({script}), not Latin or Cyrillic"
        return [retry("form.language", reason)]
    if not lead_text or not total:
        return []
    _, lead_latin, lead_cyrillic = _script_counts(lead_text)
    if lead_cyrillic >= 20 and cyrillic == 0:
        return [retry("form.language", "written in English, the lead wrote in Russian")]
    if lead_cyrillic == 0 and lead_latin >= 20 and cyrillic > latin:
        return [retry("form.language", "written in Russian, the lead wrote in English")]
    return []


@lru_cache(maxsize=16)  # the payment and abuse checks read the same draft one after the other
def _prepared(text: str) -> tuple[str, tuple[str, ...], frozenset[str]]:
    """The normal form of ``text``, its words (split at spaces, punctuation stripped) and their
    keys (first three letters) for the look-ups."""
    normal = nfkc(text).casefold().replace("ё", "е")
    if not normal.isascii():
        if _INVISIBLE_OR_MIXED.search(normal):  # one scan for the usual draft with neither
            normal = _INVISIBLE.sub("", normal)
            if _MIXED.search(normal):
                normal = _WORD.sub(_one_script, normal)
        if normal.encode("utf-8").translate(None, _NOT_OTHER_LEADS):
            normal = _WORD.sub(_skeleton, normal)  # Greek ο in "idiοt", and other look-alikes
    words = tuple([token.strip(_PUNCT) for token in normal.split()])
    return normal, words, frozenset([word[:3] for word in words])


def _skeleton(match: re.Match[str]) -> str:
    """A word with letters of another script than Latin or Cyrillic, in its TS #39 skeleton
    (which maps look-alikes to Latin), when that makes it Latin; else the word as it is."""
    word = match.group(0)
    if word.isascii() or _CYRILLIC_LETTER.search(word):
        return word
    skeleton = fold(word)
    return skeleton if skeleton.isascii() else word


def _one_script(match: re.Match[str]) -> str:
    word = match.group(0)
    latin = len(_LATIN_LETTER.findall(word))
    cyrillic = len(_CYRILLIC_LETTER.findall(word))
    if not (latin and cyrillic):
        return word
    return word.translate(_TO_CYRILLIC if cyrillic >= latin else _TO_LATIN)


def _word_starts(
    normal: str, words: tuple[str, ...], keys: frozenset[str]
) -> Iterator[tuple[str, int]]:
    """Each word with one of the ``keys`` (its first three letters) and every place it begins a
    word in ``normal``: the long patterns are tried only there, far cheaper than a scan."""
    if not keys:
        return
    for word in dict.fromkeys(word for word in words if word[:3] in keys):
        pos = normal.find(word)
        while pos >= 0:
            if pos == 0 or not _NOT_A_WORD_START.match(normal, pos - 1):
                yield word[:3], pos
            pos = normal.find(word, pos + 1)


def _asked(match: re.Match[str]) -> bool:
    """True when the sentence around ``match`` asks for it: "send your password", "your PIN
    code, please?"; not when it says not to: "please don't send me your password"."""
    text = match.string
    start = max(
        (i + len(mark) for mark in _CLAUSE_ENDS if (i := text.rfind(mark, 0, match.start())) >= 0),
        default=0,
    )
    if _NEGATION.search(text, start, match.start()):
        return False
    if _ASK.search(text, max(start, match.start() - 60), match.start()):
        return True
    after = _ASK_AFTER.match(text, match.end())
    return after is not None and not _NEGATION.search(after.group(0))


def _quote(match: re.Match[str]) -> str:
    text = match.string
    start = text.rfind(" ", 0, max(match.start() - 1, 0)) + 1  # the word before, for context
    end = text.find(" ", match.end() + 1)
    quoted = " ".join(text[start : end if end >= 0 else len(text)].split())
    return f"'{quoted[:80]}'"


def _insult(normal: str, words: tuple[str, ...], keys: frozenset[str]) -> str | None:
    """The first insult in the draft: whole words and stems first (set look-ups), then words
    in disguise, then insulting phrases."""
    if not _INSULT_WORDS.isdisjoint(words):
        return next(word for word in words if word in _INSULT_WORDS)
    if not _INSULT_KEYS.isdisjoint(keys):
        for word in words:
            if (stems := _INSULT_STEMS.get(word[:3])) and word.startswith(stems):
                return word
    for candidate in _disguised(words):
        if _is_insult(candidate):
            return candidate
    for match in _INSULTING.finditer(normal):
        if match.start() == 0 or not _NOT_A_WORD_START.match(normal, match.start() - 1):
            return match.group(0)
    return None


def _disguised(words: tuple[str, ...]) -> Iterator[str]:
    """Words written in disguise: single letters in a row ("i d i o t"), letters between dots
    ("f.u.c.k"), leetspeak ("1d10t", "@ss"), and the parts of hyphenated words."""
    spaced: list[str] = []
    for i in [i for i, word in enumerate(words) if len(word) < 2 or not word.isalpha()]:
        word = words[i]
        if "://" in word:  # a link: the links check reads those
            continue
        if len(word) == 1 and word.isalpha():
            if spaced and words[i - 1] != spaced[-1]:
                spaced = []
            spaced.append(word)
            if len(spaced) >= 3:
                yield "".join(spaced)
            continue
        parts = _WORD.findall(word)
        yield from parts
        if len(parts) > 1 and all(len(part) == 1 for part in parts):
            yield "".join(parts)
        if parts and _LEET_CHARS.search(word):
            yield "".join(_WORD.findall(unleet(word).replace("|", "l").replace("!", "i")))


def _is_insult(word: str) -> bool:
    if word in _INSULT_WORDS:
        return True
    stems = _INSULT_STEMS.get(word[:3])
    return stems is not None and word.startswith(stems)


def _shouting(text: str) -> str | None:
    if bangs := _BANGS.search(text):
        return f"shouting: '{bangs.group(0)}'"
    ascii_text = text.encode("ascii", "ignore")
    upper = len(ascii_text.translate(None, _ASCII_NOT_CAPITALS))
    if not text.isascii():
        upper += len(_CYRILLIC_CAPITALS.findall(text))
    if upper < 12:  # neither rule can hold with fewer capitals
        return None
    letters = sum(map(str.isalpha, text))
    acronym_letters = sum(
        len(m.group(0)) for m in _WORD.finditer(text) if m.group(0) in lexicon.ACRONYMS
    )
    counted = letters - acronym_letters
    if counted >= 20 and upper - acronym_letters >= 0.6 * counted:
        return f"written mostly in capitals: {upper - acronym_letters} of {counted} letters"
    run: list[str] = []
    end = 0
    for match in _UPPER_WORD.finditer(text):
        word = match.group(0)
        if not word.isupper():
            run = []
            continue
        if word in lexicon.ACRONYMS:
            continue
        if run and not _CAPS_GAP.fullmatch(text, end, match.start()):
            run = []
        run.append(word)
        end = match.end()
        if len(run) >= 3:
            return f"shouting in capitals: '{' '.join(run)}'"
    return None


def _script_counts(text: str) -> tuple[int, int, int]:
    """Letters in all, Latin letters and Cyrillic letters of ``text``, counted on its UTF-8
    bytes (the lead bytes of multi-byte characters), many times faster than a regex; letters
    are counted one by one only when some character may be of another script."""
    if text.isascii():
        latin = len(text.encode("ascii").translate(None, _ASCII_NOT_LETTERS))
        return latin, latin, 0
    raw = text.encode("utf-8")
    latin = len(raw.translate(None, _NOT_LATIN_BYTES))  # ASCII letters and U+00C0..U+024F
    cyrillic = len(raw.translate(None, _NOT_CYRILLIC_LEADS))
    if raw.translate(None, _NOT_OTHER_LEADS):
        return sum(map(str.isalpha, text)), latin, cyrillic
    return latin + cyrillic, latin, cyrillic
