"""The demo seed builds a usable world and the same sessions every time."""

from __future__ import annotations

from sandbox import accounts
from sandbox.seed import seed_demo
from sandbox.state import World


def test_the_demo_seed_is_usable_and_its_sessions_are_stable_across_worlds() -> None:
    first = seed_demo(World(), parsers=3, managers=2, bot_token="123456789:demo-token-abc")
    world = World()
    again = seed_demo(world, parsers=3, managers=2, bot_token="123456789:demo-token-abc")

    assert again == first
    assert len(again.parsers) == 3 and len(again.managers) == 2 and again.bot_id == 123456789
    parser = accounts.authenticate(world, f"Session {again.parsers[0].session}")
    for ref in again.chat_refs:
        accounts.join(world, parser, ref)
    assert world.bots[again.bot_id].started == {again.operator_id}
    assert all(chat.lively for chat in world.chats.values())
