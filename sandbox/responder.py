"""How simulated users answer DMs. Pluggable: the world calls any ``Responder``.

The canned one answers in the sender's language after a short delay; a fixed share of users
(chosen per user from the seed) opt out with "stop" / "отписаться", some never answer.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Protocol

from sandbox.state import User

_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
REPLIES = {
    "ru": [
        "Здравствуйте! А сколько это будет стоить?",
        "Привет, да, актуально. Расскажите подробнее",
        "Спасибо, интересно. Можно примеры работ?",
        "Добрый день! Уже нашли, но спасибо",
        "А сроки какие?",
    ],
    "en": [
        "Hi! How much would that cost?",
        "Hey, yes, still looking. Tell me more",
        "Thanks, sounds interesting. Any portfolio?",
        "Hi, we already found someone, but thanks",
        "What timeline are we talking about?",
    ],
}
OPT_OUT = {
    "ru": ["отписаться", "Не пишите мне больше", "стоп"],
    "en": ["stop", "Please don't message me again", "unsubscribe"],
}


@dataclass(frozen=True)
class Reply:
    delay: float
    text: str


class Responder(Protocol):
    def reply(self, user: User, sender: User, text: str) -> Reply | None:
        """What ``user`` answers to ``text`` from ``sender``, and when; None for silence."""


class CannedResponder:
    def __init__(
        self,
        *,
        seed: int = 0,
        delay: tuple[float, float] = (1.0, 4.0),
        opt_out_share: float = 0.15,
        silent_share: float = 0.1,
    ) -> None:
        self.seed = seed
        self.delay = delay
        self.opt_out_share = opt_out_share
        self.silent_share = silent_share
        self._turns: dict[tuple[int, int], int] = {}

    def reply(self, user: User, sender: User, text: str) -> Reply | None:
        persona = random.Random(f"{self.seed}:{user.id}").random()
        if persona < self.silent_share:
            return None
        turn = self._turns[(user.id, sender.id)] = self._turns.get((user.id, sender.id), 0) + 1
        rng = random.Random(f"{self.seed}:{user.id}:{sender.id}:{turn}")
        lang = "ru" if _CYRILLIC.search(text) else "en"
        opts_out = persona < self.silent_share + self.opt_out_share
        answer = rng.choice(OPT_OUT[lang] if opts_out else REPLIES[lang])
        return Reply(rng.uniform(*self.delay), answer)
