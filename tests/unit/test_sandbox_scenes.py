"""The sandbox's parts for scenes, on a fake clock: typing that expires, the per-group sliding
window, and the lively audience's answers (deterministic for a seed)."""

from __future__ import annotations

import random

import pytest

from sandbox.limits import AccountLimiter, AccountLimitsConfig, SlidingWindow
from sandbox.lively import PRICE_QUESTIONS, LivelyAudience, LivelySettings
from sandbox.primitives import TypingBoard
from sandbox.state import Chat, Message, User, World


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_typing_lasts_six_seconds_per_call_and_a_new_call_extends_it() -> None:
    board: TypingBoard[int] = TypingBoard()
    board.start(-1, 7, now=0.0)
    board.start(-1, 8, now=2.0)

    assert board.active(-1, 5.9) == [7, 8]
    assert board.active(-1, 6.0) == [8]
    board.start(-1, 8, now=7.0)
    assert board.active(-1, 12.5) == [8]
    assert board.active(-1, 13.0) == []
    assert board.active(-2, 0.0) == []


def test_sending_ends_the_senders_typing_in_that_chat_only() -> None:
    clock = FakeClock()
    world = World(clock=clock)
    chat = world.add_chat("bakery_club", "Bakery")
    other = world.add_chat("quiet_club", "Quiet")
    account, _ = world.add_account("Host")
    world.typing.start(chat.id, account.user.id, clock.now)
    world.typing.start(other.id, account.user.id, clock.now)

    world.post(chat, account.user, "Fresh bread")

    assert world.typing.active(chat.id, clock.now) == []
    assert world.typing.active(other.id, clock.now) == [account.user.id]


def test_a_sliding_window_refuses_the_21st_until_the_oldest_is_a_minute_old() -> None:
    window = SlidingWindow(limit=20, window=60.0)
    for second in range(20):
        assert window.wait_time("k", float(second)) == 0.0
        window.count("k", float(second))

    assert window.wait_time("k", 30.0) == pytest.approx(30.0)
    assert window.wait_time("k", 59.5) == pytest.approx(0.5)
    assert window.wait_time("k", 60.0) == 0.0
    assert window.wait_time("other", 30.0) == 0.0


def test_the_group_limit_is_per_account_and_per_group() -> None:
    clock = FakeClock()
    limiter = AccountLimiter(AccountLimitsConfig(group_messages_per_minute=2), clock)
    for _ in range(2):
        limiter.count_group_message(1, -100)

    assert limiter.group_wait(1, -100) == pytest.approx(60.0)
    assert limiter.group_wait(2, -100) == 0.0
    assert limiter.group_wait(1, -200) == 0.0
    clock.now += 60
    assert limiter.group_wait(1, -100) == 0.0


def lively_world(seed: int, **settings: float) -> tuple[World, Chat, User, LivelyAudience]:
    world = World(clock=FakeClock())
    chat = world.add_chat("bakery_club", "Bakery")
    chat.lively = True
    account, _ = world.add_account("Host")
    made = LivelySettings(seed=seed, **settings)

    def person(rng: random.Random) -> User:
        return world.add_user(f"Member{rng.randrange(1000)}")

    return world, chat, account.user, LivelyAudience(world, person, made)


def asks(world: World, chat: Chat, host: User, text: str) -> Message:
    return world.post(chat, host, text)


def test_the_same_seed_gives_the_same_answers_by_the_same_members_after_the_same_pauses() -> None:
    plans = []
    for _ in range(2):
        world, chat, host, lively = lively_world(seed=3, probability=1)
        questions = [asks(world, chat, host, f"Question {n}?") for n in range(6)]
        plans.append(
            [
                (a.member.first_name, a.text, round(a.delay, 6))
                for q in questions
                if (a := lively.plan(q))
            ]
        )

    assert plans[0] == plans[1] and len(plans[0]) == 6
    assert all(2.0 <= delay <= 8.0 for _, _, delay in plans[0])


def test_only_questions_in_lively_chats_get_answers_and_the_share_follows_the_probability() -> None:
    world, chat, host, lively = lively_world(seed=1, probability=0.6)
    quiet = world.add_chat("quiet_club", "Quiet")
    questions = [asks(world, chat, host, f"Вопрос номер {n}?") for n in range(200)]

    answered = sum(lively.plan(q) is not None for q in questions)

    assert 100 <= answered <= 140
    assert lively.plan(asks(world, chat, host, "Just a statement.")) is None
    assert lively.plan(world.post(quiet, host, "Anyone here?")) is None


def test_answers_speak_the_questions_language_and_can_ask_the_price() -> None:
    world, chat, host, lively = lively_world(seed=2, probability=1, price_share=1, speed=4)

    ru = lively.plan(asks(world, chat, host, "Кто хочет попробовать новый торт?"))
    en = lively.plan(asks(world, chat, host, "Who wants to try the new cake?"))

    assert (
        ru is not None and ru.text in PRICE_QUESTIONS["ru"] and "сколько стоит" in ru.text.lower()
    )
    assert en is not None and en.text in PRICE_QUESTIONS["en"] and "how much" in en.text.lower()
    assert 0.5 <= ru.delay <= 2.0  # 2–8 s at speed 4


def test_a_member_who_spoke_in_the_chat_answers_rather_than_a_stranger() -> None:
    world, chat, host, lively = lively_world(seed=4, probability=1)
    anna = world.add_user("Anna")
    world.post(chat, anna, "hi all")

    answer = lively.plan(asks(world, chat, host, "Did you like it?"))

    assert answer is not None and answer.member is anna


def test_lively_settings_refuse_a_range_upside_down() -> None:
    with pytest.raises(ValueError, match="delay_max"):
        LivelySettings(delay_min=5, delay_max=2)
