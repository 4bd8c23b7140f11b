"""Phone and card numbers in a draft: a contact the campaign did not give, or a card to pay to.

A phone is recognised by its shape, not by a list of countries: ``+`` and 8–15 digits in any
grouping; 10–11 digits written as a phone (``8 999 123 45 67``, ``(415) 555-0134``,
``202-555-0143``, ``89991234567``); a 00 international prefix; or a local ``123-45-67`` /
``555-0134``. Prices (``150 000 ₽``, thousands grouped by threes), dates (``01.12.2026``),
times, years and durations are not phones. A card is 13–19 digits (in groups split by spaces or
dashes) that pass the Luhn check.
"""

from __future__ import annotations

import re

from manager.guardrails.findings import Finding, person
from manager.guardrails.policy import OutputPolicy, phone_digits
from manager.guardrails.text import nfkc

_SEP = r"[ \u00a0\u202f\u2009\-\u2010\u2011\u2012\u2013.()/]"
_RUN = re.compile(  # a charset first (for a fast scan), then what must come before and after it
    rf"[+(\d](?<![\w+.,/:][+(\d])(?:(?<=\+)\s?\(?\d|(?<=\()\d|(?<=\d))"
    rf"(?:\d|{_SEP}{{1,3}}(?=\(?\d))*\d(?!\d|[.,]\d)"
)
_NON_DIGIT = re.compile(r"\D")
_GROUP = re.compile(r"\d+")
_DATE = re.compile(r"(?:\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{4}-\d{2}-\d{2})(?!\d)")  # 01.12.2026
_THOUSANDS = re.compile(r"\d{1,3}(?:[ \u00a0\u202f\u2009,.]\d{3})+")
_LOCAL = re.compile(r"\d{3}-\d{2}-\d{2}|\d{3}-\d{4}")
_AFTER_PRICE = re.compile(
    r"\s?(?:[$€£₽¥%]|тыс|млн|руб|р\.|usd|eur|rub|долл|евро|dollars?|euros?)", re.IGNORECASE
)
_BEFORE_PRICE = re.compile(r"[$€£₽¥]\s?$")
_DIGITS_BEFORE = re.compile(r"\d(?:\D?\d){6}")  # a cheap pre-filter: seven digits near together


def number_findings(text: str, policy: OutputPolicy) -> list[Finding]:
    """``payment.card_number`` for card numbers and ``contact.phone`` for phones the campaign
    did not give."""
    plain = nfkc(text)
    if not _DIGITS_BEFORE.search(plain):
        return []
    findings: list[Finding] = []
    seen: set[str] = set()
    for match in _RUN.finditer(plain):
        written = match.group(0)
        if len(written) < 7:  # no phone or card is shorter
            continue
        digits = _NON_DIGIT.sub("", written)
        if len(digits) >= 13 and (cards := _cards(written)):
            findings += cards
            continue
        if not _is_phone(written, digits) or _priced(plain, match.start(), match.end()):
            continue
        digits = phone_digits(written)
        if digits in seen or _allowed(digits, policy.allowed_phones):
            continue
        seen.add(digits)
        findings.append(
            person(
                "contact.phone",
                f"phone number {written} is not one of the campaign's contacts",
            )
        )
    return findings


def _cards(run: str) -> list[Finding]:
    """Card numbers in a run of digit groups: consecutive groups of 13–19 digits in all that
    pass the Luhn check (so an expiry date or CVV written after the number does not hide it)."""
    groups = _GROUP.findall(run)
    for i in range(len(groups)):
        digits = ""
        for group in groups[i:]:
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 13 and _luhn(digits):
                return [
                    person("payment.card_number", f"contains a card number ending in {digits[-4:]}")
                ]
    return []


def _is_phone(written: str, digits: str) -> bool:
    if written.startswith("+"):
        return 8 <= len(digits) <= 15 and not _DATE.fullmatch(written[1:].strip())
    if written.startswith("00"):
        return 10 <= len(digits) <= 17
    if _LOCAL.fullmatch(written):
        return True
    if not 10 <= len(digits) <= 11 or _DATE.match(written) or _THOUSANDS.fullmatch(written):
        return False
    groups = _GROUP.findall(written)
    if len(groups) > 1 and all(len(g) == 4 for g in groups):
        return False  # years: 2024 2025 2026
    return len(groups) == 1 or all(len(g) <= 4 for g in groups[1:])


def _priced(text: str, start: int, end: int) -> bool:
    return bool(
        _AFTER_PRICE.match(text, end) or _BEFORE_PRICE.search(text[max(start - 3, 0) : start])
    )


def _allowed(digits: str, allowed: frozenset[str]) -> bool:
    """An allowed phone, also written without its country code (``999 555-01-23``)."""
    if digits in allowed:
        return True
    return len(digits) >= 10 and any(a.endswith(digits) for a in allowed)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0
