"""Passwords: argon2id hashes that verify, decoys for unknown users, and hashing that leaves the
event loop free (a sign-in must not stall the panel's live pages)."""

from __future__ import annotations

import asyncio

from admin.access.passwords import check_strength, hash_password, verify_password


async def test_a_hash_verifies_its_password_only() -> None:
    stored = await hash_password("a long secret")
    assert stored.startswith("$argon2id$")
    assert await verify_password(stored, "a long secret")
    assert not await verify_password(stored, "another secret")


async def test_an_unknown_user_or_a_broken_hash_is_refused_without_an_error() -> None:
    assert not await verify_password(None, "not a password anyone has")
    assert not await verify_password("$argon2id$garbage", "a long secret")


async def test_the_event_loop_keeps_serving_while_a_password_is_hashed() -> None:
    ticks = 0

    async def serve_others() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0)
            ticks += 1

    other = asyncio.create_task(serve_others())
    await asyncio.gather(*(hash_password(f"secret number {n}") for n in range(4)))
    other.cancel()
    assert ticks > 10, "the hash ran on the event loop: every other request waited for it"


def test_weak_passwords_are_refused_with_the_reason() -> None:
    assert check_strength("short", login="alice") == "the password needs at least 10 characters"
    assert check_strength("Alice12345", login="alice12345") == "the password must not be the login"
    assert check_strength("x" * 257, login="a") == "the password may have at most 256 characters"
    assert check_strength("a long secret", login="alice") is None
