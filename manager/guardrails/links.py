"""Links and contacts in a draft that the campaign did not give.

A link is found by its structure, never by a list of endings: a ``scheme://`` URL (its real
host: ``https://ok.com@evil.com`` is evil.com), ``www.``, ``tg://`` and ``t.me`` /
``telegram.me`` (host t.me), and any bare name under a public suffix of the Public Suffix List
(``evil.click``, ``сайт.рф``, ``xn--...``; ``Node.js`` is no link since ``js`` is no suffix).
Disguised dots count: ``evil . click``, ``evil[.]click``, ``evil(dot)click``, ``evil dot click``,
``evil точка ru`` and full-width or ideographic dots. A dot in brackets is a link whatever
follows it, and a spelled-out ``dot`` between two Latin names is one too (``evil dot example``).
Look-alike letters in a suffix are folded (``evil.clіck`` with a Cyrillic і is evil.click).

E-mail addresses (also ``name at domain dot com``, ``name (at) domain``, ``name собака
domain``) and ``@username`` mentions are checked against the campaign's own contacts.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from publicsuffixlist import PublicSuffixList

from manager.guardrails.findings import Finding, person
from manager.guardrails.policy import OutputPolicy, normalise_host
from manager.guardrails.text import fold, nfkc

_PSL = PublicSuffixList(accept_unknown=False)

_BRACKET_DOT = "\ue000"  # "[.]", "(dot)": a dot in disguise, a link whatever the suffix
_SPELLED_DOT = "\ue001"  # " dot ", " точка ": a link under a public suffix or between Latin names
_SPACED_DOT = "\ue002"  # " . ": a link under a public suffix only
_MARKS = _BRACKET_DOT + _SPELLED_DOT + _SPACED_DOT
_DOTS = f"[.{_MARKS}]"
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
_MARKED = re.compile(f"[{_MARKS}]")
_TRIGGER = re.compile(  # a charset first, for the fast scan; then what must surround it
    rf"[@:.{_MARKS}](?:(?<=:)(?=//)|(?<=[.{_MARKS}])(?=[^\W_])|(?<=@))"
)
_UNMARK = str.maketrans(dict.fromkeys(_MARKS, "."))

_BRACKETED = re.compile(
    r"\s*[\[({<]\s*(?:\.|dot|точка|тчк)\s*[\])}>]\s*", re.IGNORECASE
)  # fmt: skip
_SPELLED = re.compile(r"(?<=[^\W_])\s+(?:dot|точка|тчк)\s+(?=[^\W_])", re.IGNORECASE)
_SPACED = re.compile(r"(?<=[^\W_])\s+\.\s*(?=[^\W_])")
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_HOST = rf"{_LABEL}(?:{_DOTS}{_LABEL})+"
_AT_BRACKETED = re.compile(r"\s*[\[({<]\s*(?:at|собака|собачка)\s*[\])}>]\s*", re.IGNORECASE)
_AT_SPELLED = re.compile(
    rf"(?<=[\w.+-])\s+(?:собака|собачка)\s+(?={_HOST})"
    rf"|(?<=[\w.+-])\s+at\s+(?={_LABEL}(?:{_DOTS}{_LABEL})*[{_BRACKET_DOT}{_SPELLED_DOT}])",
    re.IGNORECASE,
)
_URL = re.compile(
    rf"(?<![\w.])(?:[a-z][a-z0-9+.\-]{{1,15}}://|www{_DOTS})[^\s<>\"'«»()\[\]]+", re.IGNORECASE
)
_EMAIL = re.compile(rf"(?<![\w.+-])[\w.+-]+@{_HOST}")
_DOMAIN = re.compile(
    rf"(?<![\w.\-{_MARKS}])(?P<host>{_HOST})(?![\w-]|{_DOTS}[^\W_])(?P<path>/[^\s<>\"'«»]*)?"
)
_MENTION = re.compile(r"(?<![\w.+\-@])@([^\W\d_]\w{4,31})(?!\w)")
_ASCII_LABELS = re.compile(r"[a-z0-9.-]+")
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)
_NON_LATIN = re.compile(r"[^\W\da-z_]", re.IGNORECASE)
_TELEGRAM = frozenset({"t.me", "telegram.me", "telegram.dog"})
_NOT_LINKS = frozenset({"asp.net", "ado.net", "vb.net", "socket.io"})  # technology names


def link_findings(text: str, policy: OutputPolicy) -> list[Finding]:
    """``link.off_list``, ``contact.email`` and ``contact.mention`` for every link, address and
    mention the campaign did not give."""
    plain = nfkc(text).replace("。", ".")
    if _INVISIBLE.search(plain):
        plain = _INVISIBLE.sub("", plain)
    hosts: dict[str, str] = {}  # normalised host -> as written
    emails: dict[str, None] = {}
    mentions: dict[str, str] = {}  # folded -> as written
    for token in _interesting_tokens(_disguised_dots(plain)):
        for match in _URL.finditer(token):
            _add(hosts, _url_host(match.group(0).translate(_UNMARK)))
        token = _URL.sub(" ", token)
        if "@" in token:
            emails.update(dict.fromkeys(m.group(0) for m in _EMAIL.finditer(token)))
            token = _EMAIL.sub(" ", token)
            for match in _MENTION.finditer(token):
                mentions.setdefault(match.group(1).casefold(), match.group(1))
        for match in _DOMAIN.finditer(token):
            if _is_link(match.group("host")):
                _add(hosts, match.group("host").translate(_UNMARK))
    return [
        *(
            person("link.off_list", f"link to {written} is not on the campaign's list")
            for host, written in hosts.items()
            if not _allowed(host, policy.allowed_link_hosts)
        ),
        *(
            person(
                "contact.email", f"e-mail address {address} is not one of the campaign's contacts"
            )
            for address in dict.fromkeys(e.translate(_UNMARK).casefold() for e in emails)
            if address not in policy.allowed_emails
        ),
        *(
            person("contact.mention", f"mention of @{name} is not one of the campaign's contacts")
            for folded, name in mentions.items()
            if folded not in policy.allowed_mentions
        ),
    ]


def _interesting_tokens(marked: str) -> list[str]:
    """The space-separated tokens that may hold a link, address or mention: those with an
    ``@``, a ``://``, or a dot between two letters or digits. Scanning for these few
    characters first keeps the full patterns off ordinary words."""
    joined = " ".join(marked.split())
    tokens: list[str] = []
    starts: set[int] = set()
    for match in _TRIGGER.finditer(joined):
        i = match.start()
        if joined[i] not in "@:" and not (i and joined[i - 1].isalnum()):
            continue
        start = joined.rfind(" ", 0, i) + 1
        if start not in starts:
            starts.add(start)
            end = joined.find(" ", i)
            tokens.append(joined[start : end if end >= 0 else len(joined)])
    return tokens


def _disguised_dots(plain: str) -> str:
    """``plain`` with each disguised dot (and "at") replaced by a marker, only when a cue for it
    is there: the substitutions are the expensive part of the check."""
    lowered = plain.casefold()
    marked = plain
    if "[" in plain or "(" in plain or "{" in plain or "<" in plain:
        marked = _AT_BRACKETED.sub("@", _BRACKETED.sub(_BRACKET_DOT, marked))
    if "dot" in lowered or "точк" in lowered or "тчк" in lowered:
        marked = _SPELLED.sub(_SPELLED_DOT, marked)
    if " ." in marked:
        marked = _SPACED.sub(_SPACED_DOT, marked)
    if "собак" in lowered or (" at " in lowered and _MARKED.search(marked)):
        marked = _AT_SPELLED.sub("@", marked)
    return marked


def _url_host(url: str) -> str:
    lowered = url.casefold()
    if lowered.startswith("tg:"):
        return "t.me"
    if lowered.startswith("www."):
        url = "http://" + url
    try:
        host = urlsplit(url).hostname
    except ValueError:  # a malformed IPv6 literal or port: still a link
        host = None
    return host or url


def _is_link(host: str) -> bool:
    """A bare name is a link when it ends in a public suffix, or its dot was disguised."""
    if _BRACKET_DOT in host:
        return True
    plain = host.translate(_UNMARK).casefold()
    if plain in _NOT_LINKS:
        return False
    if _public_suffix(plain):
        return True
    return _SPELLED_DOT in host and _ASCII_LABELS.fullmatch(plain) is not None


def _public_suffix(host: str) -> bool:
    tld = host.rsplit(".", 1)[-1]
    if not any(ch.isalpha() for ch in tld):
        return False
    if _PSL.publicsuffix(host) is not None:
        return True
    if _LATIN.search(host) and _NON_LATIN.search(host):  # look-alike letters: еvil.clіck
        return _PSL.publicsuffix(fold(host)) is not None
    return False


def _add(hosts: dict[str, str], written: str) -> None:
    host = normalise_host(written)
    if host in _TELEGRAM:
        host = written = "t.me"
    shown = written.strip().rstrip(".").casefold()
    hosts.setdefault(host, shown if shown == host else f"{shown} ({host})")


def _allowed(host: str, allowed: frozenset[str]) -> bool:
    """An allowed host or a subdomain of one."""
    return any(host == a or host.endswith("." + a) for a in allowed)
