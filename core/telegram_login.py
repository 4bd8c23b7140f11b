"""The port to Telegram's login: a phone number, the code Telegram sends, and the two-step
verification password when the account has one, ending with a session string the account worker
can use. Adapters: Telethon (real, ``bots.login_telethon``) and the sandbox
(``bots.login_sandbox``).

One ``LoginFlow`` is one login in progress: Telegram ties the code to the connection that asked
for it, so the same object must see ``send_code``, ``sign_in`` and ``check_password``.
Adapters turn their library's refusals into the ``LoginError`` family below, whose messages are
written for the admin who typed the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")  # E.164: a country code and up to 15 digits
_PUNCTUATION = re.compile(r"[\s()\-.]")


def normalize_phone(raw: str) -> str:
    """``+7 (999) 123-45-67`` → ``+79991234567``; ``ValueError`` says what is wrong."""
    phone = _PUNCTUATION.sub("", raw.strip())
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not phone:
        raise ValueError("write the phone number with its country code, like +7 999 123-45-67")
    if not phone.startswith("+"):
        raise ValueError("start the number with + and the country code, like +7 999 123-45-67")
    if not _PHONE.match(phone):
        raise ValueError(f"{raw.strip()!r} is not a phone number (+, country code, 7-15 digits)")
    return phone


class LoginError(Exception):
    """A login step refused; ``field`` is the input the admin should change (phone, code,
    password), or None when nothing they type would help (Telegram unreachable)."""

    field: str | None = None


class BadPhone(LoginError):
    """Telegram refuses the number: malformed, banned, or no account uses it."""

    field = "phone"


class WrongCode(LoginError):
    """The code is not the one Telegram sent."""

    field = "code"


class CodeExpired(LoginError):
    """The code expired or was tried too often: ask for a new one."""

    field = "code"


class WrongPassword(LoginError):
    """The two-step verification password is not the account's."""

    field = "password"


class LoginFloodWait(LoginError):
    """Telegram asks to wait before trying to log in again."""

    field = "phone"

    def __init__(self, seconds: int) -> None:
        minutes = max(1, (seconds + 59) // 60)
        super().__init__(
            f"Telegram asks to wait {seconds} s (about {minutes} min) before the next attempt"
        )
        self.seconds = seconds


class LoginUnavailable(LoginError):
    """Telegram (or the sandbox) did not answer; nothing was changed, try again later."""


@dataclass(frozen=True)
class PasswordNeeded:
    """The code was right; the account has two-step verification. ``hint`` is its own hint."""

    hint: str | None = None


@dataclass(frozen=True)
class LoggedIn:
    """A new session for the account; ``session`` is a secret (store it encrypted)."""

    session: str
    telegram_user_id: int | None

    def __repr__(self) -> str:
        return f"LoggedIn(session=<hidden>, telegram_user_id={self.telegram_user_id})"


class LoginFlow(Protocol):
    """One login in progress, step by step."""

    async def send_code(self, phone: str) -> None:
        """Ask Telegram to send a login code to ``phone`` (normalized, E.164)."""

    async def sign_in(self, code: str) -> LoggedIn | PasswordNeeded: ...

    async def check_password(self, password: str) -> LoggedIn: ...

    async def close(self) -> None:
        """Drop the connection; a flow is not used after this."""
