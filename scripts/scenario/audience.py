"""The members a simulated listen invents: a name and a message the clause would hear."""

from __future__ import annotations

import random

from scripts.scenario.program import Clause, ListenAt, clause_matcher

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
        return "(a message the keyword set matches)"
    return rng.choice(_CHATTING)


def first_hearing(listen: ListenAt, aimed: Clause, message: str) -> tuple[Clause, int]:
    """The clause a run would choose for ``message``, written for ``aimed``: clauses are tried in
    order, so an earlier words clause that also matches wins, as it would in a real run."""
    for clause, pc in listen.branches:
        if clause is aimed or clause.kind == "anything":
            return clause, pc
        if clause.kind == "words" and clause_matcher(clause)(message):
            return clause, pc
    raise ValueError("the aimed clause is not one of the listen's")
