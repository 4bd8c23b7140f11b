"""A ready-made demo world: public chats (lively: members answer our accounts' questions, for
scenes), parser and manager accounts, the notifier bot and an operator who has pressed /start.
For ``coolthing demo``, in-process, instead of a dozen HTTP calls.

Sessions are derived from ``session_prefix`` and the account's username, so a demo database that
outlives the in-memory sandbox still holds valid sessions after a restart (a fresh world with
unknown sessions would otherwise get every account marked revoked).
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox import botworld
from sandbox.state import World

DEMO_CHATS = [
    ("python_ru", "Python по-русски"),
    ("webdev_chat", "Web developers chat"),
    ("design_ru", "Дизайн и брендинг"),
    ("freelance_ru", "Фриланс: заказы и вопросы"),
    ("startups_en", "Startup founders"),
]
PARSER_NAMES = [("Parser", "One"), ("Parser", "Two"), ("Parser", "Three"), ("Parser", "Four")]
MANAGER_NAMES = [("Алина", "Менеджер"), ("Kate", "Manager"), ("Олег", "Продажи")]


@dataclass(frozen=True)
class SeededAccount:
    user_id: int
    username: str
    session: str


@dataclass(frozen=True)
class DemoSeed:
    chat_refs: list[str]
    parsers: list[SeededAccount]
    managers: list[SeededAccount]
    bot_id: int
    bot_token: str
    operator_id: int


def seed_demo(
    world: World,
    *,
    parsers: int = 2,
    managers: int = 1,
    bot_token: str | None = None,
    bot_username: str = "coolthing_notifier_bot",
    operator_id: int = 700_000_001,
    session_prefix: str = "demo-session",
) -> DemoSeed:
    """Fill an empty world; ``bot_token`` is the notifier's configured token, if any."""
    chats = [world.add_chat(ref, title) for ref, title in DEMO_CHATS]
    for chat in chats:
        chat.lively = True  # only accounts' questions get answers: outreach is unaffected
    refs = [str(chat.ref) for chat in chats]
    made = [
        _account(world, f"parser{n + 1}", PARSER_NAMES[n % len(PARSER_NAMES)], session_prefix)
        for n in range(parsers)
    ]
    sellers = [
        _account(world, f"manager{n + 1}", MANAGER_NAMES[n % len(MANAGER_NAMES)], session_prefix)
        for n in range(managers)
    ]
    bot = botworld.register_bot(world, bot_username, "CoolThing", bot_token)
    operator = world.add_user("Operator", user_id=operator_id, username="demo_operator")
    botworld.user_writes(world, bot, operator, "/start", None)
    return DemoSeed(refs, made, sellers, bot.id, bot.token, operator.id)


def _account(world: World, username: str, name: tuple[str, str], prefix: str) -> SeededAccount:
    session = f"{prefix}-{username}"
    account, _ = world.add_account(
        name[0], last_name=name[1], username=f"ct_{username}", session=session
    )
    return SeededAccount(account.user.id, f"ct_{username}", session)
