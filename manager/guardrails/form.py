"""The form of a draft: length, repeating an earlier message, injection markers, meta text.

Length, repeats and meta text are things a fresh attempt or a template can fix (``RETRY``).
A role or data-block marker in a draft means the model is echoing injected structure, so it
goes to a person like a leak.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from functools import lru_cache

from core.untrusted_data import DATA_CLOSE, DATA_OPEN
from manager.guardrails import text as t
from manager.guardrails.findings import Finding, person, retry
from manager.guardrails.policy import OutputPolicy

_ROLE_MARKERS = (
    re.compile(
        r"(?im)^\s*[#*>\[\(]*\s*(system|assistant|user|developer|human|ai|"
        r"система|ассистент|пользователь)\s*[\]\)]*\s*:"
    ),
    re.compile(r"(?i)(?:^|[.!?…]\s+)(system|система)\s*:"),  # "Ok. System: …", not "CRM system:"
    re.compile(r"(?i)<\|?\s*/?\s*(im_start|im_end|system|assistant|user|data|instructions?)\b"),
    re.compile(r"(?i)\[/?(INST|SYS)\]|<<\s*/?SYS\s*>>|###\s*(instruction|system)"),
)
_DATA_MARKER = re.compile(r"(?i)lead_data")  # "lead data" is ordinary English (GDPR)
_META = re.compile(
    r"(?i)\bas an? (ai|a\.i\.|artificial intelligence|language model|llm|chatbot|assistant)\b"
    r"|\bI(?:'m| am) (?:just )?(?:an? )?(ai|language model|large language model|chatbot)\b"
    r"|\bI (?:cannot|can't|can not|am unable to|won't) (?:comply|reveal|fulfil|fulfill)\b"
    r"|\b(system prompt|my instructions|my prompt)\b"
    r"|(?<!\w)как (ии|искусственный интеллект|языковая модель|нейросеть|ассистент)(?!\w)"
    r"|(?<!\w)я (?:не могу|не в состоянии) (?:выполнить этот запрос|раскрыть)"
    r"|(?<!\w)(системн\w* промпт\w*|мои инструкции|моих инструкций)(?!\w)"
)


_AI_WORD = re.compile(r"(?<![a-z])(ai|a\.i\.|llm)(?![a-z])|(?<![а-яё])ии(?![а-яё])")
_META_KEYS = (
    "artificial intelligence",
    "language model",
    "chatbot",
    "assistant",
    "comply",
    "reveal",
    "fulfil",
    "prompt",
    "instructions",
    "искусственный",
    "языковая",
    "нейросеть",
    "ассистент",
    "выполнить этот",
    "раскрыть",
    "промпт",
    "инструкци",
)


def length_findings(text: str, policy: OutputPolicy) -> list[Finding]:
    size = len(text.strip())
    if size == 0:
        return [retry("form.empty", "the message is empty")]
    if size < policy.min_length:
        return [retry("form.length", f"too short: {size} characters, at least {policy.min_length}")]
    if size > policy.max_length:
        return [retry("form.length", f"too long: {size} characters, at most {policy.max_length}")]
    return []


@lru_cache(maxsize=1024)  # our earlier messages are compared again at every later turn
def _normal(text: str) -> str:
    return " ".join(t.words(text))


def repeat_findings(text: str, previous: Sequence[str], ratio: float) -> list[Finding]:
    mine = " ".join(t.words(text))
    vocabulary = set(mine.split())
    for earlier in previous:
        theirs = _normal(earlier)
        if mine == theirs:
            return [retry("form.repeat", "identical to a previous message")]
        shared = vocabulary & set(theirs.split())
        if len(shared) < 0.5 * max(len(vocabulary), 1):
            continue  # far apart: a near copy shares most of its words (difflib costs)
        matcher = difflib.SequenceMatcher(None, mine, theirs, autojunk=False)
        if (
            matcher.real_quick_ratio() >= ratio
            and matcher.quick_ratio() >= ratio
            and matcher.ratio() >= ratio
        ):
            same = f"{matcher.ratio():.0%} the same"
            return [retry("form.repeat", f"nearly identical to a previous message ({same})")]
    return []


def marker_findings(text: str) -> list[Finding]:
    folded = t.nfkc(text)
    findings: list[Finding] = []
    if DATA_OPEN in folded or DATA_CLOSE in folded or _DATA_MARKER.search(folded):
        findings.append(person("form.marker", "contains the data-block marker"))
    for pattern in _ROLE_MARKERS:
        if found := pattern.search(folded):
            marker = found.group(0).strip()
            findings.append(person("form.marker", f"contains a role marker: {marker!r}"))
            break
    return findings


def meta_findings(text: str) -> list[Finding]:
    folded = t.nfkc(text).casefold()
    if not (_AI_WORD.search(folded) or any(key in folded for key in _META_KEYS)):
        return []  # the common case, decided without the long pattern
    found = _META.search(folded)
    return [retry("form.meta", f"refusal or meta text: {found.group(0)!r}")] if found else []
