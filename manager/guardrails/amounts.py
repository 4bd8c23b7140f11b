"""Money amounts and percentages in a draft, and the check that they are the campaign's own.

An amount is a number with a currency (``$300``, ``300 USD``, ``990 рублей``, ``€49``), a
multiplier (``40k``, ``150 тыс.``, ``1,5 млн``) or a percent sign (``50%``, ``скидка 90%``).
A bare number (``2–4 недели``, ``15 минут``, ``3 концепции``) is not an amount. In a range
(``300–600 ₽``, ``от 150 до 300 тыс. ₽``, ``$300-600``) both ends are amounts, the bare end
taking the unit of the other. A spelled-out multiplier alone is a count, not money
(``12 тысяч товаров``). "Free" (``бесплатно``, ``for free``, ``at no cost``) is the amount 0.
Values are normalised: ``150 тыс.`` is 150000, ``1,5 млн`` is 1500000, ``$1,200`` is 1200, a
percentage is its number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from manager.guardrails.findings import Finding, person
from manager.guardrails.policy import OutputPolicy
from manager.guardrails.text import nfkc

_SPACES = " \u202f\u2009"  # a space, narrow no-break and thin spaces (NFKC made no-break plain)
_NUMBER = (  # the first digit is matched before, so the scan for a start is a fast digit search
    rf"\d{{0,2}}(?:[{_SPACES}]\d{{3}})+(?:,\d{{1,2}})?(?!\d)"  # 150 000, 1 200,50
    r"|\d{0,2}(?:,\d{3})+(?:\.\d{1,2})?(?![\d,])"  # 1,200 and 1,200.50
    r"|\d{0,2}(?:\.\d{3})+(?:,\d{1,2})?(?![\d.])"  # 1.200 and 1.200,50
    r"|\d*(?:[.,]\d+)?"  # 300, 1,5, 1.5
)
_MULTIPLIER = (
    r"(?:(?<=\d)(?:k|к|m|м)(?![^\W\d_])"  # 40k, 40к, 1.5m: only right after the digits
    r"|\s?(?:тыс(?:яч[аи]?)?\.?|тысяч|thousand|млн\.?|миллион(?:а|ов)?|million|mln|bn"
    r"|млрд\.?|миллиард(?:а|ов)?|billion)(?![^\W\d_]))"
)
_CURRENCY_AFTER = (
    r"[$€£₽¥₴₸]|(?:руб(?:л[а-яё]*|\.)?|р\.|usd|eur|rub|rubl\w*|rur|gbp|uah|kzt|долл(?:ар(?:ов|а|ы)?|\.)?"
    r"|евро|euros?|dollars?|bucks|грн|гривен|гривн[аы]?|тенге|у\.\s?е\.)(?![^\W\d_])"
)
_PERCENT = r"%|процент(?:ов|а|ы)?(?![^\W\d_])|percent(?![^\W\d_])|per\s?cent(?![^\W\d_])"
_AMOUNT = re.compile(
    rf"(?P<num>\d(?<![\w.,]\d)(?:{_NUMBER}))"
    rf"(?P<mul>{_MULTIPLIER})?"
    rf"(?:\s?(?P<cur>{_CURRENCY_AFTER})|\s?(?P<pct>{_PERCENT}))?",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"(?:[$€£₽¥₴₸]|(?<![^\W\d_])(?:usd|eur|rub|gbp))\s?$", re.IGNORECASE)
_FREE = re.compile(
    r"(?<![^\W\d_])(?:бесплатн\w*|даром|безвозмездн\w*|for free|free of charge"
    r"|at no (?:cost|charge)|no charge|costs nothing|ничего не стоит)(?![^\W\d_])",
    re.IGNORECASE,
)
_FREE_CUES = ("бесплат", "даром", "безвозмезд", "free", "no c", "nothing", "не стоит")
_NOT_MONEY_ALONE = re.compile(
    r"[mм]|тысяч[аи]?|thousand|миллион\w*|million|миллиард\w*|billion", re.I
)
_RANGE = re.compile(r"\s?[-–—]\s?|\s(?:до|to)\s", re.IGNORECASE)
_THOUSANDS_COMMA = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_THOUSANDS_DOT = re.compile(r"\d{1,3}(?:\.\d{3})+(?:,\d+)?")
_FACTORS = {"k": 1_000, "к": 1_000, "т": 1_000, "t": 1_000, "m": 1_000_000, "м": 1_000_000}
_BILLIONS = ("млрд", "миллиард", "billion", "bn")


class _Hit(NamedTuple):
    start: int
    end: int
    number: str
    multiplier: str
    prefix: bool  # a currency sign or code before the number
    unit: bool  # a currency, a percent sign or a money multiplier


@dataclass(frozen=True, slots=True)
class Amount:
    """A money amount or percentage: its normalised ``value`` and the ``text`` it was written as."""

    value: Decimal
    text: str


def amounts_in(text: str) -> list[Amount]:
    """Every amount in ``text``, in order (a range gives both ends)."""
    plain = nfkc(text)
    hits = [_hit(plain, match) for match in _AMOUNT.finditer(plain)]
    found: list[Amount] = []
    for i, hit in enumerate(hits):
        nxt = hits[i + 1] if i + 1 < len(hits) else None
        prev = hits[i - 1] if i > 0 else None
        if hit.unit:
            value, start, end = _value(hit.number, hit.multiplier), hit.start, hit.end
        elif nxt is not None and nxt.unit and _joined(plain, hit, nxt):
            value = _value(hit.number, hit.multiplier or nxt.multiplier)  # 300–600 ₽, 2–4 тыс.
            start, end = hit.start, nxt.end
        elif prev is not None and prev.prefix and _joined(plain, prev, hit):
            value = _value(hit.number, hit.multiplier or prev.multiplier)  # $300-600
            start, end = prev.start, hit.end
        else:
            continue
        if value is not None:
            found.append(Amount(value=value, text=plain[start:end].strip()))
    lowered = plain.casefold()
    if any(cue in lowered for cue in _FREE_CUES):  # "free" is a price too: zero
        found += (Amount(value=Decimal(0), text=m.group(0)) for m in _FREE.finditer(plain))
    return found


def price_findings(text: str, policy: OutputPolicy) -> list[Finding]:
    """``content.price`` for each amount the campaign's offer and templates do not contain: a
    changed price or discount is a promise nobody made."""
    findings: list[Finding] = []
    seen: set[Decimal] = set()
    for amount in amounts_in(text):
        if amount.value in policy.allowed_amounts or amount.value in seen:
            continue
        seen.add(amount.value)
        findings.append(
            person(
                "content.price",
                f"mentions {amount.text}, which is not in the campaign's offer",
            )
        )
    return findings


def _hit(plain: str, match: re.Match[str]) -> _Hit:
    before = _PREFIX.search(plain[max(match.start() - 5, 0) : match.start()])
    multiplier = match.group("mul") or ""
    # "40k" and "150 тыс." are money; "5m" alone is as likely metres or minutes, and a
    # spelled-out word as likely a count ("12 тысяч товаров", "10 thousand users")
    money_multiplier = bool(multiplier) and not _NOT_MONEY_ALONE.fullmatch(multiplier.strip())
    return _Hit(
        start=match.start() - (len(before.group(0)) if before else 0),
        end=match.end(),
        number=match.group("num"),
        multiplier=multiplier,
        prefix=before is not None,
        unit=bool(before or match.group("cur") or match.group("pct") or money_multiplier),
    )


def _joined(text: str, left: _Hit, right: _Hit) -> bool:
    """True when only a range connector (a dash, "до", "to") stands between two amounts."""
    return _RANGE.fullmatch(text, left.end, right.start) is not None


def _value(number: str, multiplier: str) -> Decimal | None:
    digits = number
    for space in _SPACES:
        digits = digits.replace(space, "")
    if _THOUSANDS_COMMA.fullmatch(digits):
        digits = digits.replace(",", "")  # 1,200 and 1,200.50
    elif _THOUSANDS_DOT.fullmatch(digits):
        digits = digits.replace(".", "").replace(",", ".")  # 1.200 and 1.200,50
    else:
        digits = digits.replace(",", ".")  # 1,5
    try:
        value = Decimal(digits)
    except InvalidOperation:
        return None
    word = multiplier.strip().casefold()
    if word.startswith(_BILLIONS):
        return value * 1_000_000_000
    return value * _FACTORS.get(word[:1], 1) if word else value
