"""Text normalisation shared by the detectors: what a draft says once its disguises are removed.

``fold`` is the comparison form: NFKC (full-width and compatibility forms), case folded, and
the Unicode TS #39 *skeleton* computed by ICU's spoof checker, so a Cyrillic ``а`` and a Latin
``a`` (or ``rn`` and ``m``) compare equal. Both sides of every
comparison are folded the same way, so Russian text works too: its skeleton looks odd but is
stable.
"""

from __future__ import annotations

import base64
import binascii
import re
import unicodedata

import icu

_SPOOF = icu.SpoofChecker()
_DIGITS = re.compile(r"\d+")
# The skeleton is NFD: marks follow their letter (ё is e + U+0308). Dropped, so a word stays one
# word and "Zalgo" stacks of marks disappear.
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_LETTER_RUN = re.compile(r"[^\W_]+")  # digits in a skeleton stand for letters (б → 6)
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2}[ :]?){8,}")
_ROT13 = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "nopqrstuvwxyzabcdefghijklmNOPQRSTUVWXYZABCDEFGHIJKLM",
)
_LEET = str.maketrans("4@3810$57", "aaebiosst")
_MIXED_DIGITS = re.compile(r"[a-zA-Z][0-9@$]|[0-9][a-zA-Z]")  # leetspeak is Latin; not "@name"


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def fold(text: str) -> str:
    """The comparison form of ``text``: NFKC, case folded, TS #39 skeleton (which also drops
    default-ignorable characters such as zero-width spaces and bidi controls), marks dropped."""
    skeleton: str = _SPOOF.getSkeleton(0, nfkc(text).casefold())
    return _MARKS.sub("", skeleton).casefold()


def words(text: str) -> list[str]:
    """Folded runs of letters. The text's own digits are separators, dropped before the skeleton
    (which would read ``1`` as ``l``): a numbered list ("1. You 2. are") leaves only its words.
    Digits the skeleton makes (Cyrillic ``б`` becomes ``6``) stay inside their word."""
    return _LETTER_RUN.findall(fold(_DIGITS.sub(" ", text)))


def letters(text: str) -> str:
    """The folded letters of ``text`` in order with no separators: spacing letters out or
    punctuation between words cannot break a match."""
    return "".join(words(text))


def has_leetspeak(text: str) -> bool:
    if not any(sign in text for sign in "0134578@$"):  # most drafts: one C-speed scan each
        return False
    return _MIXED_DIGITS.search(text) is not None


def unleet(text: str) -> str:
    """Digits and symbols read as the letters they stand for in leetspeak (``y0u 4r3``)."""
    return text.translate(_LEET)


def decoded_blobs(text: str) -> list[str]:
    """Readable text hidden in base64 or hex runs of ``text`` (each at least 8 bytes)."""
    found: list[str] = []
    for match in _BASE64.finditer(text):
        blob = match.group(0).replace("-", "+").replace("_", "/")
        try:
            found.append(_readable(base64.b64decode(blob + "=" * (-len(blob) % 4))))
        except (binascii.Error, ValueError):
            continue
    for match in _HEX.finditer(text):
        try:
            found.append(_readable(bytes.fromhex(re.sub(r"[ :]", "", match.group(0)))))
        except ValueError:
            continue
    return found


def _readable(raw: bytes) -> str:
    text = raw.decode("utf-8")  # a UnicodeDecodeError (a ValueError) when it is not text
    if sum(ch.isprintable() or ch.isspace() for ch in text) < 0.9 * len(text):
        raise ValueError("binary, not text")
    return text


def rot13(text: str) -> str:
    return text.translate(_ROT13)
