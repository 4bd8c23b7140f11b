"""The output checks as they were before issue 10 (``manager/checks.py`` then), kept unchanged
as the baseline of ``python -m bench.guardrails``. Not used by the product.

Checks on an LLM draft before it may be sent: every reason it must not go out.

``check_output`` returns human-readable reasons (an empty list means the draft may be sent). The
rules, all configurable through ``OutputPolicy``:

- not empty, and within the length bounds (characters of the stripped text);
- links only to allowed hosts: ``scheme://`` URLs (the real host, so ``https://ok.com@evil.com``
  is evil.com), ``www.`` and bare domains (``evil.com``, ``t.me/x``, the domain of an e-mail
  address), also written with ``[.]`` or full-width dots; subdomains of an allowed host pass.
  A bare domain is recognised by a known generic TLD or any two-letter (country) one, so a
  draft mentioning ``Node.js`` is held too: a false alarm costs an approval, a missed link a ban;
- ``@username`` mentions other than the allowed ones;
- no leak of the system prompt or the template: a run of ``leak_window`` (8) consecutive
  normalised words (NFKC, case-folded, punctuation dropped) shared with the rendered system prompt
  or a literal part of the template (text between Jinja tags, so a run never spans a variable).
  Runs that also occur in ``allowed_quotes`` (say, the campaign's offer, which the model may quote)
  do not count;
- not identical or nearly identical (``difflib`` ratio of the normalised texts at or above
  ``near_duplicate_ratio``) to a previous message;
- no data-block marker and no role markers (``system:``, ``assistant:`` at a line start,
  ``<|im_start|>``, ``[INST]``, ``</data>``-like tags);
- optionally, refusal or meta text ("As an AI", "I cannot help with that", "как языковая модель").
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from core.untrusted_data import DATA_CLOSE, DATA_OPEN

_GENERIC_TLDS = frozenset(
    "com net org info biz io co me app dev xyz site online store shop top club pro tech link "
    "live space website blog news today cloud ai gg tv cc ws su рф рус онлайн сайт бел укр".split()
)
_URL = re.compile(r"(?i)\b(?:https?|ftp|tg)://[^\s<>\"'«»]+|\bwww\.[^\s<>\"'«»]+")
_DOMAIN = re.compile(
    r"(?<![\w.\-/:])((?:[^\W_](?:[\w\-]{0,61}[^\W_])?\.)+([^\W\d_]{2,63}|xn--[\w\-]{1,59}))"
    r"(?![\w\-]|\.[^\W_])"
)
_OBFUSCATED_DOT = re.compile(r"\s*[\[\(\{]\s*(?:\.|dot|точка)\s*[\]\)\}]\s*", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w.@])@([A-Za-z][A-Za-z0-9_]{3,31})(?![\w]|\.[^\W_])")
_TEMPLATE_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_WORD = re.compile(r"\w+")
_ROLE_MARKERS = (
    re.compile(
        r"(?im)^\s*[#*>\[\(]*\s*(system|assistant|user|developer|human|ai|"
        r"система|ассистент|пользователь)\s*[\]\)]*\s*:"
    ),
    re.compile(r"(?i)(?<!\w)(system|система)\s*:"),
    re.compile(r"(?i)<\|?\s*/?\s*(im_start|im_end|system|assistant|user|data|instructions?)\b"),
    re.compile(r"(?i)\[/?(INST|SYS)\]|<<\s*/?SYS\s*>>|###\s*(instruction|system)"),
)
_META = re.compile(
    r"(?i)\bas an? (ai|a\.i\.|artificial intelligence|language model|llm|chatbot|assistant)\b"
    r"|\bI(?:'m| am) (?:just )?(?:an? )?(ai|language model|large language model|chatbot)\b"
    r"|\bI (?:cannot|can't|can not|am unable to|won't) (?:help|assist|comply|do that|provide|share|"
    r"reveal|fulfil|fulfill|create|write)\b"
    r"|\bI'm sorry,? but I\b"
    r"|\b(system prompt|my instructions|my prompt)\b"
    r"|(?<!\w)как (ии|искусственный интеллект|языковая модель|нейросеть|ассистент)(?!\w)"
    r"|(?<!\w)я (?:не могу|не в состоянии) (?:помочь|выполнить|это сделать|раскрыть|поделиться)"
    r"|(?<!\w)(системн\w* промпт\w*|мои инструкции|моих инструкций)(?!\w)"
)


class OutputPolicy(BaseModel):
    """What a draft must satisfy; the defaults allow no links and no mentions."""

    model_config = ConfigDict(frozen=True)

    min_length: int = 10
    max_length: int = 1000
    allowed_link_hosts: frozenset[str] = frozenset()
    allowed_mentions: frozenset[str] = frozenset()
    leak_window: int = 8
    near_duplicate_ratio: float = 0.9
    flag_meta_text: bool = True

    @field_validator("allowed_link_hosts")
    @classmethod
    def _normalise_hosts(cls, hosts: frozenset[str]) -> frozenset[str]:
        return frozenset(_normalise_host(h.strip().removeprefix("*.")) for h in hosts if h.strip())

    @field_validator("allowed_mentions")
    @classmethod
    def _normalise_mentions(cls, names: frozenset[str]) -> frozenset[str]:
        return frozenset(n.strip().removeprefix("@").casefold() for n in names if n.strip())

    @model_validator(mode="after")
    def _consistent(self) -> OutputPolicy:
        if not 0 <= self.min_length <= self.max_length:
            raise ValueError("need 0 <= min_length <= max_length")
        if self.leak_window < 3:
            raise ValueError("leak_window below 3 words would flag ordinary phrases")
        if not 0 < self.near_duplicate_ratio <= 1:
            raise ValueError("near_duplicate_ratio must be in (0, 1]")
        return self


def check_output(
    text: str,
    *,
    policy: OutputPolicy,
    system_prompt: str,
    template_source: str,
    previous: Sequence[str],
    allowed_quotes: Sequence[str] = (),
) -> list[str]:
    """Every reason ``text`` must not be sent; an empty list means it may be."""
    stripped = text.strip()
    if not stripped:
        return ["the message is empty"]
    reasons: list[str] = []
    if len(stripped) < policy.min_length:
        reasons.append(f"too short: {len(stripped)} characters, at least {policy.min_length}")
    if len(stripped) > policy.max_length:
        reasons.append(f"too long: {len(stripped)} characters, at most {policy.max_length}")
    reasons.extend(
        f"link to {host} is not allowed"
        for host in sorted(link_hosts(stripped))
        if not host_allowed(host, policy.allowed_link_hosts)
    )
    reasons.extend(
        f"mention of @{name} is not allowed"
        for name in sorted(mentions(stripped))
        if name.casefold() not in policy.allowed_mentions
    )
    if _leaks(stripped, policy.leak_window, system_prompt, template_source, allowed_quotes):
        reasons.append("repeats the system prompt or the template")
    reasons.extend(_repeats(stripped, previous, policy.near_duplicate_ratio))
    reasons.extend(_markers(stripped))
    if policy.flag_meta_text and (meta := _META.search(stripped)):
        reasons.append(f"refusal or meta text: {meta.group(0)!r}")
    return reasons


def _normalise_host(host: str) -> str:
    host = host.strip().rstrip(".").casefold()
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def host_allowed(host: str, allowed: Iterable[str]) -> bool:
    """True when ``host`` is an allowed host or a subdomain of one."""
    host = _normalise_host(host)
    return any(host == a or host.endswith("." + a) for a in allowed)


def _deobfuscate(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).replace("。", ".")
    return _OBFUSCATED_DOT.sub(".", folded)


def link_hosts(text: str) -> set[str]:
    """Hosts of every link in ``text``: URLs, ``www.`` links, bare domains, e-mail domains."""
    plain = _deobfuscate(text)
    hosts: set[str] = set()
    for match in _URL.finditer(plain):
        url = match.group(0)
        if url.casefold().startswith("tg://"):
            hosts.add("t.me")
            continue
        if url.casefold().startswith("www."):
            url = "http://" + url
        try:
            host = urlsplit(url).hostname
        except ValueError:
            host = None
        hosts.add(_normalise_host(host) if host else url)
    for match in _DOMAIN.finditer(plain):
        tld = match.group(2).casefold()
        if len(tld) == 2 or tld in _GENERIC_TLDS or tld.startswith("xn--"):
            hosts.add(_normalise_host(match.group(1)))
    return hosts


def mentions(text: str) -> set[str]:
    """Telegram ``@username`` mentions in ``text`` (not e-mail addresses)."""
    return {m.group(1) for m in _MENTION.finditer(unicodedata.normalize("NFKC", text))}


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def _ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _leaks(
    text: str, window: int, system_prompt: str, template_source: str, allowed: Sequence[str]
) -> bool:
    secret: set[tuple[str, ...]] = _ngrams(_words(system_prompt), window)
    for literal in _TEMPLATE_TAG.split(template_source):
        secret |= _ngrams(_words(literal), window)
    shared = _ngrams(_words(text), window) & secret
    for quote in allowed:
        shared -= _ngrams(_words(quote), window)
    return bool(shared)


def _normalised(text: str) -> str:
    return " ".join(_words(text))


def _repeats(text: str, previous: Sequence[str], ratio: float) -> list[str]:
    mine = _normalised(text)
    for earlier in previous:
        theirs = _normalised(earlier)
        if mine == theirs:
            return ["identical to a previous message"]
        matcher = difflib.SequenceMatcher(None, mine, theirs, autojunk=False)
        if matcher.real_quick_ratio() >= ratio and matcher.ratio() >= ratio:
            return [f"nearly identical to a previous message ({matcher.ratio():.0%} the same)"]
    return []


def _markers(text: str) -> list[str]:
    reasons: list[str] = []
    folded = unicodedata.normalize("NFKC", text)
    if DATA_OPEN in folded or DATA_CLOSE in folded or re.search(r"(?i)lead[\s_]*data", folded):
        reasons.append("contains the data-block marker")
    for pattern in _ROLE_MARKERS:
        if found := pattern.search(folded):
            reasons.append(f"contains a role marker: {found.group(0).strip()!r}")
            break
    return reasons
