"""The scene-aware audience: in a lively chat, members answer our accounts' questions.

When an account's message in a chat created with ``lively: true`` ends with "?", a member of the
chat may answer it a few seconds later, quoting it, in the question's language; some answers ask
the price, so a scene's keyword branch ("how much", "сколько стоит") has something to fire on.
Whether, who, what and how long after are drawn from the seed, the chat and the message id, so a
seeded demo or test plays the same way every time; only the wall clock moves.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sandbox.state import Chat, Message, User, World

log = logging.getLogger("sandbox.lively")
RECENT = 50  # messages of the chat looked at for who its members are
REGULARS = 3  # members made up for a chat where nobody has spoken yet
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)

ANSWERS = {
    "ru": [
        "Да, интересно! Расскажите подробнее",
        "Я бы попробовал",
        "Хороший вопрос, тоже хочу знать",
        "У меня такое было, понравилось",
        "А где можно посмотреть?",
        "Звучит неплохо 👍",
    ],
    "en": [
        "Yes, sounds interesting! Tell us more",
        "I'd give it a try",
        "Good question, I'd like to know too",
        "Had something like that, liked it",
        "Where can I see it?",
        "Sounds good 👍",
    ],
}
PRICE_QUESTIONS = {
    "ru": ["А сколько стоит?", "Сколько стоит?", "Интересно, а сколько стоит?"],
    "en": ["How much is it?", "how much is it? 🙂", "Nice, how much is it?"],
}


class LivelySettings(BaseModel):
    """``PUT /_sandbox/lively``: how members of lively chats answer questions."""

    model_config = ConfigDict(extra="forbid")

    probability: float = Field(0.6, ge=0, le=1, description="share of questions answered")
    price_share: float = Field(0.35, ge=0, le=1, description="answers that ask the price")
    delay_min: float = Field(2.0, ge=0, le=600, description="seconds, before speed")
    delay_max: float = Field(8.0, ge=0, le=600)
    speed: float = Field(1.0, gt=0, le=10_000, description="delays are divided by this")
    seed: int = 0

    @model_validator(mode="after")
    def _ordered(self) -> LivelySettings:
        if self.delay_max < self.delay_min:
            raise ValueError("delay_max: must not be below delay_min")
        return self


@dataclass(frozen=True)
class Answer:
    member: User
    text: str
    delay: float  # seconds after the question


def language(text: str) -> str:
    return "ru" if _CYRILLIC.search(text) else "en"


def is_question(text: str) -> bool:
    return text.rstrip().endswith("?")


class LivelyAudience:
    """Answers questions in lively chats; ``new_person`` makes a member when a chat has none."""

    def __init__(
        self,
        world: World,
        new_person: Callable[[random.Random], User],
        settings: LivelySettings | None = None,
    ) -> None:
        self.world = world
        self.settings = settings or LivelySettings()
        self._new_person = new_person
        self._regulars: dict[int, list[User]] = {}
        self.answered = 0  # answers posted since start, for the status endpoint

    def status(self) -> dict[str, object]:
        return {"settings": self.settings.model_dump(), "answered": self.answered}

    def plan(self, message: Message) -> Answer | None:
        """Whether and how a member answers ``message`` (an account's, in a lively chat)."""
        chat = message.chat
        if chat is None or not chat.lively or not is_question(message.text):
            return None
        config = self.settings
        rng = random.Random(f"lively:{config.seed}:{chat.id}:{message.message_id}")
        if rng.random() >= config.probability:
            return None
        lang = language(message.text)
        pool = PRICE_QUESTIONS if rng.random() < config.price_share else ANSWERS
        text = rng.choice(pool[lang])
        delay = rng.uniform(config.delay_min, config.delay_max) / config.speed
        return Answer(self._member(chat, rng), text, delay)

    def heard(self, message: Message) -> None:
        """Schedule the answer to an account's message, if it gets one."""
        answer = self.plan(message)
        if answer is None:
            return
        loop = asyncio.get_running_loop()
        typing_for = min(self.world.typing.seconds / self.settings.speed, answer.delay)
        loop.call_later(answer.delay - typing_for, self._typing, message, answer.member)
        loop.call_later(answer.delay, self._answer, message, answer)

    def _typing(self, question: Message, member: User) -> None:
        if question.chat is not None:
            self.world.typing.start(question.chat.id, member.id, self.world.clock())

    def _answer(self, question: Message, answer: Answer) -> None:
        chat = question.chat
        if chat is None or self.world.chats.get(chat.id) is not chat:
            return
        # A question deleted meanwhile is answered without the quote, as in Telegram.
        quoted = None if question.deleted else question
        self.world.post(chat, answer.member, answer.text, reply_to=quoted)
        self.answered += 1

    def _member(self, chat: Chat, rng: random.Random) -> User:
        """Someone who spoke in the chat lately (not an account or bot), else one of a few
        regulars made for the chat."""
        recent = chat.history.read(chat.history.end - RECENT, RECENT)[1]
        speakers = {m.sender.id: m.sender for m in recent}
        people = [
            user
            for uid, user in sorted(speakers.items())
            if not user.is_bot and uid not in self.world.accounts
        ]
        if people:
            return rng.choice(people)
        regulars = self._regulars.get(chat.id)
        if regulars is None:
            made = random.Random(f"lively-people:{self.settings.seed}:{chat.id}")
            regulars = self._regulars[chat.id] = [self._new_person(made) for _ in range(REGULARS)]
        return rng.choice(regulars)
