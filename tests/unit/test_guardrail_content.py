"""Payment requests, credentials, abuse and language (manager.guardrails.content)."""

from __future__ import annotations

import pytest

from manager.guardrails.content import abuse_findings, language_findings, payment_findings
from manager.guardrails.findings import Route


def payment_checks(text: str) -> list[str]:
    return [f.check for f in payment_findings(text)]


def abuse_checks(text: str) -> list[str]:
    return [f.check for f in abuse_findings(text)]


@pytest.mark.parametrize(
    "text",
    [
        "Переведите 5000 ₽ на карту, пожалуйста.",
        "Переведите, пожалуйста, предоплату на карту 4276 1234 5678 9012.",
        "Оплатите, пожалуйста, счёт сегодня.",
        "Скиньте на карту предоплату, и начнём.",
        "Нужно оплатить сейчас, иначе место уйдёт.",
        "Прошу перевести аванс до пятницы.",
        "Please send the money today.",
        "Pay now to secure the slot.",
        "Send $50 to my PayPal and we start.",
        "You need to pay the deposit first.",
        "Just transfer the payment to my card.",
        "Закинь бабки на карту, братан.",
        "Переведитe 100 руб на кaрту",  # Latin е and а in Russian words
    ],
)
def test_asking_the_lead_to_pay_now_is_a_payment_request(text: str) -> None:
    (finding,) = payment_findings(text)
    assert finding.check == "payment.request"
    assert finding.reason.startswith("asks the lead to pay: '")
    assert finding.route is Route.PERSON


@pytest.mark.parametrize(
    "text",
    [
        "Оплата по этапам, предоплата 50%.",
        "Крупные доработки — по этапам, предоплата 50%. Работаем и без предоплаты.",
        "Оплатить можно картой или по счёту, мы оплатим доставку сами.",
        "Payment: 50% upfront, the rest on delivery.",
        "Paid in two milestones of $600 (at the start and at launch). No prepayment needed.",
        "Pay per lesson or per pack; cancel up to 24 hours before a lesson at no charge.",
        "Пришлите ТЗ, и я оценю. Переведите макет в Figma, если удобно.",
        "Отправьте, пожалуйста, примеры сайтов, которые нравятся.",
    ],
)
def test_payment_terms_in_a_pitch_are_no_request(text: str) -> None:
    assert payment_checks(text) == []


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Пришлите номер вашей карты", "a card number"),
        ("send your card number and the CVV", "a card number"),
        ("Скажите трехзначный код с обратной стороны карты", "the card's CVV/CVC code"),
        ("What is the expiry date on your card?", "the card's expiry date"),
        ("Назовите код из СМС", "a confirmation code"),
        ("please send me the code from the SMS", "a confirmation code"),
        ("пришлите логин и пароль от онлайн-банка", "a password"),
        ("Tell me your Telegram password, please.", "a password"),
        ("your PIN code please", "a PIN"),
        ("Send me your seed phrase to verify the wallet", "a seed phrase or private key"),
        ("Нужен доступ к интернет-банку, пришлите логин от банка", "bank login details"),
    ],
)
def test_asking_for_credentials_names_what_is_asked(text: str, label: str) -> None:
    findings = payment_findings(text)
    assert any(f.reason.startswith(f"asks for {label}: '") for f in findings), findings
    assert {f.check for f in findings} == {"payment.credentials"}
    assert all(f.route is Route.PERSON for f in findings)


@pytest.mark.parametrize(
    "text",
    [
        "Please don't send me your password! A staff account is enough.",
        "Пароли нам присылать не нужно — просто добавьте нас в репозиторий.",
        "Нет-нет, пароль от своей админки не присылайте, пожалуйста.",
        "Создайте, пожалуйста, отдельного пользователя, а свой пароль оставите при себе.",
        "Авторизация нужна по e-mail и паролю или через Telegram?",
        "Да, вход по одноразовому коду из SMS делаем, с защитой от перебора.",
        "We never ask for your card number.",
    ],
)
def test_mentioning_credentials_without_asking_for_them_passes(text: str) -> None:
    assert payment_checks(text) == []


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("Ты идиот", "идиот"),
        ("you are an idiot", "idiot"),
        ("ИДИОТ", "идиот"),
        ("идиоt", "идиот"),  # a Latin t in a Russian word
        ("xуй", "хуй"),  # a Latin x
        ("What the fuck", "fuck"),
        ("i d i o t", "idiot"),
        ("f.u.c.k this", "fuck"),
        ("1d10t", "idiot"),
        ("@ss", "ass"),
        ("$h1t happens", "shit"),
        ("ну и пиздец", "пиздец"),
        ("заебал уже", "заебал"),
        ("иди нахуй", "нахуй"),
        ("ты сука", "сука"),
        ("Вы тупой?", "вы тупой"),
        ("ＩＤＩＯＴ", "idiot"),  # full-width letters
        ("id\u200biot", "idiot"),  # a zero-width space
        ("you are an idiοt", "idiot"),  # a Greek ο
    ],
)
def test_insults_and_obscenities_are_found_in_disguise(text: str, word: str) -> None:
    (finding,) = abuse_findings(text)
    assert finding.check == "abuse.insult"
    assert finding.reason == f"uses an insult or obscenity: '{word}'"
    assert finding.route is Route.PERSON


@pytest.mark.parametrize(
    "text",
    [
        "Застрахуйте риски: ассистент и класс — наш стандарт.",
        "Our assistant has the skills; we are based near Scunthorpe.",
        "Dickens, cocktail, analysis, shiitake, therapist, Hancock.",
        "Хулиган, вебинар, небо, себе, употреблять, ребята, требуется, сучковатый.",
        "There are no stupid questions — ask anything.",
        "Если вопросы появятся — пишите, я на связи.",
    ],
)
def test_words_containing_an_insult_are_not_insults(text: str) -> None:
    assert abuse_checks(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "СРОЧНО ПИШИТЕ МНЕ СЕЙЧАС ЖЕ",
        "THIS IS A VERY IMPORTANT OFFER FOR YOU",
        "Hello! PLEASE ANSWER QUICKLY today, we are waiting.",
        "Ответьте!!!",
    ],
)
def test_shouting_is_a_form_problem_for_a_retry(text: str) -> None:
    (finding,) = abuse_findings(text)
    assert finding.check == "abuse.shouting"
    assert finding.route is Route.RETRY


@pytest.mark.parametrize(
    "text",
    [
        "Делаем SEO и CRM, интеграция по API, UX/UI и MVP; работаем с ООО и ИП.",
        "We do SEO, CRM and REST API work, HTML/CSS and JSON too. IELTS prep as well.",
        "Это ОЧЕНЬ важно для запуска, давайте созвонимся.",
        "Hi! Great news!! The MVP is ready.",
    ],
)
def test_acronyms_and_one_emphasised_word_are_no_shouting(text: str) -> None:
    assert abuse_checks(text) == []


def test_a_draft_in_another_script_is_a_language_problem() -> None:
    (finding,) = language_findings("您好，我们可以为您建网站。", "hi, need a site")
    assert finding.check == "form.language"
    assert finding.route is Route.RETRY
    assert "another script (CJK)" in finding.reason


def test_an_english_draft_to_a_russian_lead_is_a_language_problem() -> None:
    (finding,) = language_findings(
        "Hello! We build websites in 2–4 weeks.", "Привет, нужен сайт для магазина, сколько стоит?"
    )
    assert finding.reason == "written in English, the lead wrote in Russian"


def test_a_russian_draft_to_an_english_lead_is_a_language_problem() -> None:
    (finding,) = language_findings(
        "Здравствуйте! Сделаем сайт за 2–4 недели.", "Hi, I need a website for my shop, how much?"
    )
    assert finding.reason == "written in Russian, the lead wrote in English"


@pytest.mark.parametrize(
    ("text", "lead"),
    [
        ("Здравствуйте, Анна! Сделаем на React и Node.js, 1C-Bitrix тоже.", "Нужен сайт на React"),
        ("Hi John! Happy to help with the Django app.", "I need a Django developer for a shop"),
        ("Hi John! Happy to help.", "Привет"),  # too few letters to tell the lead's language
        ("Привет! Поможем 🙂", ""),
        ("Olá! Ça va? Grüße aus München.", "Hello, I need a website for my shop"),
    ],
)
def test_a_draft_in_the_leads_language_passes(text: str, lead: str) -> None:
    assert language_findings(text, lead) == []


@pytest.mark.parametrize(
    "text",
    [
        "Здравствуйте, Олег! Увидел ваше сообщение в @freelance_ru. Делаем сайты и веб-сервисы под "
        "ключ за 2–4 недели, с поддержкой после запуска: Python, Django, React, Vue.js, Node.js, "
        "1C-Bitrix. Стоимость от 150 тыс. ₽, оплата по этапам, предоплата 50%. Актуально?",
        "Hi Anna, saw your post in @seo_chat. We do technical SEO audits from $300: a written "
        "report in 5 business days plus a 30-minute call. Payment: 50% upfront, the rest on "
        "delivery. Would Tuesday at 10:00 work? No need to send any passwords — a read-only "
        "Search Console account is enough.",
    ],
)
def test_legitimate_sales_messages_pass(text: str) -> None:
    assert payment_findings(text) == []
    assert abuse_findings(text) == []
    assert language_findings(text, text) == []
