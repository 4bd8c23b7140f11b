"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106's recommended profile).

A hash or a check costs ~50 ms of a core and 64 MB: it runs in a thread (argon2-cffi lets go of
the GIL), so a sign-in never stalls the panel's other requests, and at most two at once, so a
burst of sign-ins queues instead of taking the box's memory.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 takes any length; a cap keeps one request from costing much
# Its own two threads: a queue that works whatever event loop asks (the CLI's, the panel's).
_hashing = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _decoy() -> str:
    return _hasher().hash("not a password anyone has")


def check_strength(password: str, *, login: str) -> str | None:
    """Why ``password`` is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"the password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"the password may have at most {MAX_LENGTH} characters"
    if password.strip().lower() == login.lower():
        return "the password must not be the login"
    return None


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_hashing, _hasher().hash, password)


async def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches; an unknown user is checked against a decoy hash, so a
    wrong login costs the same time as a wrong password and tells nothing."""
    return await asyncio.get_running_loop().run_in_executor(_hashing, _verify, stored, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher().verify(stored or _decoy(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
