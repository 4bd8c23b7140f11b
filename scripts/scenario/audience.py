"""The members a simulated listen invents: a name and a message the clause would hear."""

from __future__ import annotations

import random

from scripts.scenario.program import Clause

NAMES = ("Alex", "Maria", "Sam", "Olga", "Chen", "Priya", "Lucas", "Amira", "Tom", "Yuki")
_ASKING = ("what about {}?", "and {}?", "hi! {} — anyone?", "so, {}?")
_CHATTING = ("nice, thanks!", "hello everyone", "interesting 👀", "can I ask something?")


def member_name(rng: random.Random) -> str:
    return rng.choice(NAMES)


def heard_message(clause: Clause, rng: random.Random) -> str:
    """For a words clause, a message containing one of its keywords, so that it matches."""
    if clause.kind == "words" and clause.words:
        return rng.choice(_ASKING).format(rng.choice(clause.words))
    if clause.kind == "keywords":
        return f"(a message matching keyword set {clause.keyword_set!r})"
    return rng.choice(_CHATTING)
