"""Realistic Russian and English chat messages and profiles for the simulated audience.

Templates use ``{a|b|c}`` for a random choice and ``{E}`` for an optional emoji. Each message has
a known kind: ``lead`` (a buyer's message matching a demo keyword set), ``lookalike`` (matches a
keyword set but its author does not want to buy: a seller, a job seeker … — ``corpus_roles``),
``excluded`` (a keyword AND a minus word) or ``chatter`` (neither), and the role of whoever says
it, so tests can check the parser's keyword match and its lead intent against the truth.
Chatter avoids every word sharing a Snowball stem with a keyword (develop*, design*, logo*, hire,
курс …).

Demo keyword sets: web-dev [разработчик, программист, "сделать сайт", developer, "build a website"]
minus [вакансия, резюме, hiring]; design [дизайнер, логотип, "фирменный стиль", designer, logo]
minus [курс, course].
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from sandbox.corpus_roles import BIOS, CROWD_PATTERN, LOOKALIKE, Role

Kind = Literal["chatter", "lead", "lookalike", "excluded"]
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
        "We're looking for a developer to build an online store for our {tea|candle|pet food} "
        "shop. What would it cost? DM me{E}",
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
        "Looking for a designer: we need a new logo for our {café|bakery}, it's a paid job{E}",
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
# (topic, lang) → role → templates with a minus word: the parser drops them before intent.
EXCLUDED: dict[tuple[str, str], dict[Role, list[str]]] = {
    ("web-dev", "ru"): {
        "recruiter": [
            "Вакансия: {разработчик|программист} Python в финтех, удалёнка{E}",
            "Открыта вакансия {разработчика|программиста} в наш стартап",
        ],
        "job_seeker": ["Разместите моё резюме: {разработчик|программист} с опытом 5 лет"],
    },
    ("web-dev", "en"): {
        "recruiter": [
            "We're hiring a senior developer, remote{E}",
            "Hiring: backend developer (Go), DM for details",
        ],
    },
    ("design", "ru"): {
        "seller": [
            "Новый курс для {дизайнеров|начинающих дизайнеров}, старт в понедельник{E}",
            "Бесплатный курс: как создать логотип за вечер",
        ],
    },
    ("design", "en"): {
        "seller": [
            "New course for designers, 50% off this week{E}",
            "Logo course starting Monday, early bird price",
        ],
    },
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
    role: Role  # who says it; "chatter" for chatter, which anyone may say


Compiled = list[tuple[str, str, Template]]


def _compile(groups: dict[tuple[str, str], list[str]]) -> Compiled:
    return [(topic, lang, Template(s)) for (topic, lang), items in groups.items() for s in items]


def _by_role(groups: dict[tuple[str, str], dict[Role, list[str]]]) -> dict[Role, Compiled]:
    compiled: dict[Role, Compiled] = {}
    for (topic, lang), roles in groups.items():
        for role, items in roles.items():
            compiled.setdefault(role, []).extend((topic, lang, Template(s)) for s in items)
    return compiled


class MessageGenerator:
    """Deterministic stream of messages for a seed: about ``lead_share`` are buyers' keyword
    hits, ``lookalike_share`` other roles' keyword hits, ``excluded_share`` hits with a minus word.

    ``roles`` is the crowd (how many people of each role): only present roles speak, lookalike
    roles in proportion to their people. A kind whose roles are all absent yields chatter.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        lead_share: float = 0.17,
        lookalike_share: float = 0.08,
        excluded_share: float = 0.05,
        roles: Mapping[Role, int] | None = None,
    ) -> None:
        self._rng = random.Random(seed)
        crowd = {role: n for role, n in (roles or CROWD_PATTERN).items() if n > 0}
        self._lead_share = lead_share
        self._lookalike_share = lead_share + lookalike_share
        self._keyword_share = lead_share + lookalike_share + excluded_share
        chatter = [("ru", s) for s in CHATTER_RU] + [("en", s) for s in CHATTER_EN]
        chatter += [("mixed", s) for s in CHATTER_MIXED]
        self._chatter = [(lang, Template(s)) for lang, s in chatter]
        self._leads = _compile(LEAD) if "buyer" in crowd else []
        lookalikes = _by_role(LOOKALIKE)
        self._lookalike_roles = [r for r in lookalikes if r in crowd]
        self._lookalike_weights = [crowd[r] for r in self._lookalike_roles]
        self._lookalikes = lookalikes
        self._excluded = [
            (role, entry)
            for role, entries in _by_role(EXCLUDED).items()
            if role in crowd
            for entry in entries
        ]

    def next(self) -> Generated:
        rng = self._rng
        roll = rng.random()
        if roll < self._lead_share and self._leads:
            topic, lang, template = rng.choice(self._leads)
            return Generated(template.fill(rng), "lead", topic, lang, "buyer")
        if self._lead_share <= roll < self._lookalike_share and self._lookalike_roles:
            role = rng.choices(self._lookalike_roles, self._lookalike_weights)[0]
            topic, lang, template = rng.choice(self._lookalikes[role])
            return Generated(template.fill(rng), "lookalike", topic, lang, role)
        if self._lookalike_share <= roll < self._keyword_share and self._excluded:
            role, (topic, lang, template) = rng.choice(self._excluded)
            return Generated(template.fill(rng), "excluded", topic, lang, role)
        lang, template = rng.choice(self._chatter)
        return Generated(template.fill(rng), "chatter", None, lang, "chatter")


@dataclass(frozen=True, slots=True)
class PersonSpec:
    first_name: str
    last_name: str | None
    username: str | None
    bio: str | None
    lang: str
    role: Role


ADVERTISERS: frozenset[Role] = frozenset({"seller", "agency", "recruiter"})


def make_person(rng: random.Random, role: Role = "chatter") -> PersonSpec:
    """A plausible profile for ``role``: 60% Russian, some without last name, username or bio
    (those who advertise mostly fill their bio in)."""
    if rng.random() < 0.6:
        first, first_latin, gender = rng.choice(FIRST_RU)
        last, last_latin = rng.choice(LAST_RU)
        last = last + "а" if gender == "f" else last
        lang = "ru"
    else:
        first = first_latin = rng.choice(FIRST_EN)
        last = last_latin = rng.choice(LAST_EN)
        lang = "en"
    bio = rng.choice(BIOS[role][lang])
    username = f"{first_latin.lower()}_{last_latin.lower()[:4]}{rng.randrange(10, 9999)}"
    return PersonSpec(
        first_name=first,
        last_name=last if rng.random() < 0.75 else None,
        username=username if rng.random() < 0.7 else None,
        bio=bio if rng.random() < (0.8 if role in ADVERTISERS else 0.55) else None,
        lang=lang,
        role=role,
    )
