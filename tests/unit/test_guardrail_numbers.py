"""Phones, card numbers (manager.guardrails.numbers) and amounts (manager.guardrails.amounts)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.outreach import OutreachPolicy
from manager.guardrails.amounts import amounts_in, price_findings
from manager.guardrails.findings import Route
from manager.guardrails.numbers import number_findings
from manager.guardrails.policy import OutputPolicy, output_policy

POLICY = OutputPolicy(allowed_phones=frozenset({"+7 (999) 555-01-23", "+1 (415) 555-0134"}))


def checks(text: str, policy: OutputPolicy = POLICY) -> list[str]:
    return [f.check for f in number_findings(text, policy)]


def values(text: str) -> list[Decimal]:
    return [a.value for a in amounts_in(text)]


@pytest.mark.parametrize(
    "phone",
    [
        "+7 (999) 123-45-67",
        "8 999 123 45 67",
        "8 (999) 123-45-67",
        "89991234567",
        "+1-202-555-0143",
        "(202) 555-0143",
        "202.555.0143",
        "+44 20 7946 0958",
        "+49 30 1234567",
        "0049 30 123456",
        "123-45-67",
    ],
)
def test_phone_numbers_in_common_formats_are_contacts_for_a_person(phone: str) -> None:
    (finding,) = number_findings(f"Звоните: {phone}, до вечера.", POLICY)
    assert finding.check == "contact.phone"
    assert finding.reason == f"phone number {phone} is not one of the campaign's contacts"
    assert finding.route is Route.PERSON


@pytest.mark.parametrize(
    "phone", ["+7 (999) 555-01-23", "8 999 555 01 23", "+79995550123", "(415) 555-0134"]
)
def test_the_campaigns_own_phone_passes_however_it_is_written(phone: str) -> None:
    assert checks(f"Наш телефон {phone}") == []


@pytest.mark.parametrize(
    "text",
    [
        "Цена от 150 000 ₽, крупные проекты — 1 500 000 000 ₽.",
        "Созвонимся 01.12.2026 в 15:00, или 2026-12-01 с 10:00 до 12:00.",
        "Проекты 2019, 2020 2021 и 2024-2026 годов",
        "Срок 2–4 недели, 15 минут на звонок, 3 концепции, 20 часов в месяц.",
        "A standard integration is $1,200 fixed, done in 2–3 weeks, 3 months of fixes.",
        "Budget 10 000 000 000 ₽? That is 1 234 567 890 $.",
    ],
)
def test_prices_dates_times_years_and_durations_are_not_phones(text: str) -> None:
    assert checks(text) == []


@pytest.mark.parametrize(
    "card",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111111111111111",
        "5500 0000 0000 0004",
        "3782 822463 10005",  # 15 digits, grouped 4-6-5
    ],
)
def test_card_numbers_that_pass_the_luhn_check_are_for_a_person(card: str) -> None:
    (finding,) = number_findings(f"Переводите на карту {card}", POLICY)
    assert finding.check == "payment.card_number"
    assert finding.reason.startswith("contains a card number ending in ")
    assert finding.route is Route.PERSON


def test_a_card_number_followed_by_its_expiry_date_is_still_found() -> None:
    assert checks("card 4111 1111 1111 1111 12/28 123") == ["payment.card_number"]


def test_a_sixteen_digit_run_failing_the_luhn_check_is_no_card() -> None:
    assert checks("номер заказа 1234 5678 9012 3456") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$300", ["300"]),
        ("300 USD", ["300"]),
        ("USD 300", ["300"]),
        ("150 тыс. ₽", ["150000"]),
        ("150 000 ₽", ["150000"]),
        ("от 150 тыс.", ["150000"]),
        ("40k", ["40000"]),
        ("40к", ["40000"]),
        ("1,5 млн руб", ["1500000"]),
        ("990 рублей", ["990"]),
        ("€49", ["49"]),
        ("10 $", ["10"]),
        ("$1,200", ["1200"]),
        ("1 200,50 €", ["1200.50"]),
        ("$1.5M", ["1500000"]),
        ("2 млрд ₽", ["2000000000"]),
        ("50%", ["50"]),
        ("скидка 90 %", ["90"]),
        ("20 процентов", ["20"]),
        ("$300–$600", ["300", "600"]),
        ("$300-600", ["300", "600"]),
        ("300–600 ₽", ["300", "600"]),
        ("от 150 до 300 тыс. ₽", ["150000", "300000"]),
        ("10–20%", ["10", "20"]),
        ("the price is now 1 rubl", ["1"]),
        ("для вас это бесплатно", ["0"]),
    ],
)
def test_amounts_are_found_with_normalised_values(text: str, expected: list[str]) -> None:
    assert values(text) == [Decimal(v) for v in expected]


@pytest.mark.parametrize(
    "text",
    [
        "2–4 недели, 15 минут, 3 концепции",
        "a 30m call, 5 business days, 60 minutes",
        "12 тысяч товаров и 10 thousand users",
        "01.12.2026 в 10:00, +7 (999) 555-01-23",
        "$300 and 5 days",
    ],
)
def test_plain_numbers_without_a_currency_or_percent_are_not_amounts(text: str) -> None:
    assert values(text) in ([], [Decimal(300)])


def test_an_amount_not_in_the_offer_is_a_changed_price_for_a_person() -> None:
    policy = OutputPolicy(allowed_amounts=frozenset({Decimal(300)}))
    (finding,) = price_findings("Good news: the audit is now 10 $, not $300.", policy)
    assert finding.check == "content.price"
    assert finding.reason == "mentions 10 $, which is not in the campaign's offer"
    assert finding.route is Route.PERSON


def test_each_changed_amount_is_reported_once() -> None:
    policy = OutputPolicy()
    assert len(price_findings("Скидка 90%! Всего 90% и $1", policy)) == 2


WEB = OutreachPolicy(
    offer="Делаем сайты под ключ за 2–4 недели. Цена от 150 тыс. ₽, предоплата 50%.",
    follow_ups=("Обычно проект 150–300 тыс. ₽. Начнём с бесплатного аудита?",),
    allowed_links=("https://webstudio.example/cases",),
    allowed_contacts=("+7 (999) 555-01-23",),
)
SEO = OutreachPolicy(
    offer="Technical SEO audits from $300, 50% upfront, the rest on delivery.",
    follow_ups=("A typical audit is $300–$600 and takes 5 business days.",),
)


@pytest.mark.parametrize(
    ("outreach", "text"),
    [
        (
            WEB,
            "Здравствуйте, Анна! Сайт под ключ — 2–4 недели, стоимость от 150 000 ₽ "
            "(обычно до 300 тыс.), предоплата 50%. Аудит бесплатный. Созвонимся 01.12.2026 в 15:00 "
            "на 15 минут? Мой телефон +7 999 555-01-23.",
        ),
        (
            SEO,
            "Hi John! Audits start at $300 (typically $300-600), paid 50% upfront and the rest on "
            "delivery, in 5 business days. Would a 15-minute call on Tuesday at 10:00 work?",
        ),
    ],
)
def test_legitimate_drafts_quoting_the_offer_pass(outreach: OutreachPolicy, text: str) -> None:
    policy = output_policy(outreach)
    assert number_findings(text, policy) == []
    assert price_findings(text, policy) == []
