"""Realistic Russian and English chat messages and profiles for the simulated audience.

Templates use ``{a|b|c}`` for a random choice and ``{E}`` for an optional emoji. Each message has
a known kind: ``lead`` (matches a demo keyword set), ``excluded`` (a keyword AND a minus word) or
``chatter`` (neither), so tests can check the parser against the truth. Chatter avoids every word
that shares a Snowball stem with a keyword (develop*, design*, logo*, hire, курс …).

Demo keyword sets: web-dev [разработчик, программист, "сделать сайт", developer, "build a website"]
minus [вакансия, резюме, hiring]; design [дизайнер, логотип, "фирменный стиль", designer, logo]
minus [курс, course].
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["chatter", "lead", "excluded"]
_SLOT = re.compile(r"\{([^{}]*)\}")
EMOJI = ["🙂", "😅", "🔥", "👍", "🙏", "😂", "🤔", "🚀", "☕", "💪", "👀", "✨", "😊", "🤝"]

CHATTER_RU = [
    "Всем привет! {Кто|Может кто} знает, как настроить nginx под два домена?{E}",
    "Доброе утро, чат {E}",
    "Кто идёт на митап в четверг? Говорят, будет пицца",
    "{Подскажите|Посоветуйте}, какой ноутбук взять для работы до 100к?",
    "Спасибо, помогло!{E}",
    "У кого-нибудь ещё Telegram тормозит сегодня?",
    "{Ребят|Коллеги}, как вы ведёте учёт задач — Notion или Trello?",
    "Сегодня в Москве +3 и дождь, весна где-то заблудилась{E}",
    "Кто пробовал FastAPI в проде? Как по нагрузке?",
    "Ахах, классика {E}",
    "Согласен на все 100%",
    "Скиньте ссылку на вчерашний эфир, пожалуйста",
    "А есть тут кто из Казани? Хочу кофе выпить с местными",
    "Напоминаю: в пятницу созвон в 19:00 по Мск",
    "Какой хостинг сейчас норм по цене? Hetzner ещё живой?",
    "Почему у меня Docker съедает всю память, куда смотреть?",
    "{Лол|Жиза}, у меня так же было на прошлой неделе",
    "Кто-нибудь читал новую книгу Кнута? Стоит того?",
    "Подскажите хорошую кофейню рядом с Курской{E}",
    "Вопрос по Postgres: индекс не используется при LIKE '%abc', это нормально?",
    "Продам велосипед, почти новый, пишите в личку",
    "Ого, не знал, спасибо за инфу!",
    "Мы тоже перешли на Python 3.11, стало быстрее",
    "Как вам новый интерфейс у банка? Я запутался{E}",
    "С наступающими праздниками всех! {E}",
    "Есть кто в Питере? Собираемся в субботу на Петроградке",
    "Может кто подсказать бухгалтера для ИП на упрощёнке?",
    "Тестирую новую клавиатуру, печатается бодро",
    "Интересно, а сколько сейчас стоит реклама в телеграм-каналах?",
    "Хорошего всем дня!{E}",
]
CHATTER_EN = [
    "Morning everyone {E}",
    "Has anyone tried the new Postgres release? Any surprises?",
    "Thanks, that fixed it!{E}",
    "Anyone going to the meetup on Thursday?",
    "{Quick|Small} question: how do you all track tasks, Notion or Linear?",
    "lol same here {E}",
    "What laptop are you using for work these days?",
    "The weather in Berlin is awful today, stay dry folks",
    "Can someone share the link to yesterday's stream?",
    "Is Hetzner still the cheapest decent hosting?",
    "Docker keeps eating all my RAM, where should I look?",
    "Totally agree with the point above",
    "Any good coffee places near the office? {E}",
    "Reminder: call on Friday at 7pm CET",
    "We moved to Python 3.11 and everything got faster",
    "Selling a bike, almost new, DM me",
    "Happy holidays everyone!{E}",
    "Does anyone here run a small online shop? How do you handle shipping?",
    "Wow, didn't know that, thanks for sharing",
    "Which accounting app do you use for a small business?",
    "Anyone from Lisbon here? Let's grab a coffee {E}",
    "How much do ads in Telegram channels cost now?",
    "My internet has been flaky all week, anyone else?",
    "Have a great weekend everyone {E}",
    "Is it just me or is the new banking app confusing?",
]
CHATTER_MIXED = [
    "Всем hi! Кто на meetup в пятницу?{E}",
    "Кто юзает Notion for planning? Нормально?",
    "Thanks всем за помощь{E}",
]
LEAD = {
    ("web-dev", "ru"): [
        "Ищу {разработчика|программиста} для интернет-магазина, бюджет обсуждаем{E}",
        "Нужен {разработчик|программист} на Python, задача на пару недель",
        "Кто может сделать сайт для кофейни? Пишите в лс {E}",
        "Посоветуйте толкового {разработчика|программиста}, нужно доработать лендинг",
        "{Ребят|Друзья}, есть знакомые {разработчики|программисты}? Нужна CRM для салона",
        "Хочу сделать сайт для своей студии йоги, сколько это может стоить?",
        "Ищем {разработчиков|программистов} на проект, оплата сдельная {E}",
        "Нужно сделать сайт с каталогом, кто возьмётся? Срочно!!",
        "Подскажите {разработчика|программиста} на Bitrix, горит{E}",
    ],
    ("web-dev", "en"): [
        "Looking for a developer to build an online store, budget is flexible{E}",
        "Need a {Python|Django|React} developer for a two-week task",
        "Can anyone build a website for my bakery? DM me {E}",
        "Any good developers here? Need help with a landing page",
        "Who could build a website for a small dental clinic?",
        "Recommendations for freelance developers? Small project, paid",
    ],
    ("design", "ru"): [
        "Ищу дизайнера для {логотипа|упаковки}, пишите{E}",
        "Нужен логотип для кофейни, кто сделает недорого?",
        "Посоветуйте дизайнера, нужен фирменный стиль для студии",
        "Кто может разработать фирменный стиль для магазина? Бюджет есть {E}",
        "{Ребят|Друзья}, нужен дизайнер на пару баннеров",
        "Хочу обновить логотип, есть толковые дизайнеры в чате?",
    ],
    ("design", "en"): [
        "Looking for a designer for our new logo{E}",
        "Need a logo for a coffee shop, any recommendations?",
        "Any freelance designers here? Need a few banners {E}",
        "Who can make a logo and brand colors for a yoga studio?",
    ],
    ("web-dev", "mixed"): [
        "Нужен developer на React, срочно {E}",
        "Looking for a разработчик who speaks Russian, small project",
    ],
    ("design", "mixed"): [
        "Ищу designer для упаковки, budget ok{E}",
        "Need a дизайнер for a small cafe, пишите",
    ],
}
EXCLUDED = {
    ("web-dev", "ru"): [
        "Вакансия: {разработчик|программист} Python в финтех, удалёнка{E}",
        "Разместите моё резюме: {разработчик|программист} с опытом 5 лет",
        "Открыта вакансия {разработчика|программиста} в наш стартап",
    ],
    ("web-dev", "en"): [
        "We're hiring a senior developer, remote{E}",
        "Hiring: backend developer (Go), DM for details",
    ],
    ("design", "ru"): [
        "Новый курс для {дизайнеров|начинающих дизайнеров}, старт в понедельник{E}",
        "Бесплатный курс: как создать логотип за вечер",
    ],
    ("design", "en"): [
        "New course for designers, 50% off this week{E}",
        "Logo course starting Monday, early bird price",
    ],
}

FIRST_RU = [
    ("Анна", "anna", "f"), ("Мария", "maria", "f"), ("Елена", "elena", "f"),
    ("Ольга", "olga", "f"), ("Дарья", "dasha", "f"), ("Ирина", "irina", "f"),
    ("Алексей", "alexey", "m"), ("Дмитрий", "dmitry", "m"), ("Иван", "ivan", "m"),
    ("Сергей", "sergey", "m"), ("Михаил", "misha", "m"), ("Павел", "pavel", "m"),
]  # fmt: skip
LAST_RU = [
    ("Иванов", "ivanov"), ("Смирнов", "smirnov"), ("Кузнецов", "kuznetsov"),
    ("Попов", "popov"), ("Соколов", "sokolov"), ("Морозов", "morozov"),
    ("Волков", "volkov"), ("Лебедев", "lebedev"), ("Новиков", "novikov"),
]  # fmt: skip
FIRST_EN = ["Emma", "Olivia", "Sophie", "Liam", "Noah", "James", "Lucas", "Mia", "Ethan", "Grace"]
LAST_EN = ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Clarke", "Walker", "Young"]
BIO_RU = [
    "Люблю кофе и горы ☕",
    "Владелец кофейни в Казани",
    "Фотограф. Москва",
    "Маркетолог, пишу про малый бизнес",
    "Мама двоих детей и владелица пекарни",
    "Открываю студию йоги",
    "Путешествую и пишу об этом",
]
BIO_EN = [
    "Coffee, code and mountains",
    "Owner of a small bakery in Leeds",
    "Product manager at a fintech startup",
    "Photographer based in Lisbon 📷",
    "Running a yoga studio",
    "Marketing for small businesses",
]


class Template:
    """A parsed template: literals and choice lists, so filling one costs a few ``choice`` calls."""

    def __init__(self, source: str) -> None:
        self.parts: list[str | list[str]] = []
        position = 0
        for match in _SLOT.finditer(source):
            self.parts.append(source[position : match.start()])
            self.parts.append(match.group(1).split("|"))
            position = match.end()
        self.parts.append(source[position:])

    def fill(self, rng: random.Random) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            elif part == ["E"]:
                out.append(" " + rng.choice(EMOJI) if rng.random() < 0.35 else "")
            else:
                out.append(rng.choice(part))
        return "".join(out).replace("  ", " ").strip()


@dataclass(frozen=True, slots=True)
class Generated:
    text: str
    kind: Kind
    topic: str | None
    lang: str


def _compile(groups: dict[tuple[str, str], list[str]]) -> list[tuple[str, str, Template]]:
    return [(topic, lang, Template(s)) for (topic, lang), items in groups.items() for s in items]


class MessageGenerator:
    """Deterministic stream of messages for a seed; about ``lead_share`` are leads."""

    def __init__(
        self, seed: int = 0, *, lead_share: float = 0.17, excluded_share: float = 0.05
    ) -> None:
        self._rng = random.Random(seed)
        self._lead_share = lead_share
        self._keyword_share = lead_share + excluded_share
        chatter = [("ru", s) for s in CHATTER_RU] + [("en", s) for s in CHATTER_EN]
        chatter += [("mixed", s) for s in CHATTER_MIXED]
        self._chatter = [(lang, Template(s)) for lang, s in chatter]
        self._leads = _compile(LEAD)
        self._excluded = _compile(EXCLUDED)

    def next(self) -> Generated:
        rng = self._rng
        roll = rng.random()
        if roll < self._lead_share:
            topic, lang, template = rng.choice(self._leads)
            return Generated(template.fill(rng), "lead", topic, lang)
        if roll < self._keyword_share:
            topic, lang, template = rng.choice(self._excluded)
            return Generated(template.fill(rng), "excluded", topic, lang)
        lang, template = rng.choice(self._chatter)
        return Generated(template.fill(rng), "chatter", None, lang)


@dataclass(frozen=True, slots=True)
class PersonSpec:
    first_name: str
    last_name: str | None
    username: str | None
    bio: str | None
    lang: str


def make_person(rng: random.Random) -> PersonSpec:
    """A plausible profile: 60% Russian, some without last name, username or bio."""
    if rng.random() < 0.6:
        first, first_latin, gender = rng.choice(FIRST_RU)
        last, last_latin = rng.choice(LAST_RU)
        last = last + "а" if gender == "f" else last
        bio, lang = rng.choice(BIO_RU), "ru"
    else:
        first = first_latin = rng.choice(FIRST_EN)
        last = last_latin = rng.choice(LAST_EN)
        bio, lang = rng.choice(BIO_EN), "en"
    username = f"{first_latin.lower()}_{last_latin.lower()[:4]}{rng.randrange(10, 9999)}"
    return PersonSpec(
        first_name=first,
        last_name=last if rng.random() < 0.75 else None,
        username=username if rng.random() < 0.7 else None,
        bio=bio if rng.random() < 0.55 else None,
        lang=lang,
    )
