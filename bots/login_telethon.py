"""The real adapter of the login port: Telethon's ``send_code_request`` / ``sign_in`` on a fresh
``StringSession``, through the account's proxy when it has one (an account that logs in from one
address and then works from another is a classic reason for a ban)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from telethon import errors
from telethon.tl.functions.account import GetPasswordRequest

from bots.proxy import ProxyConfig
from bots.telethon_client import build_telegram_client
from core.telegram_login import (
    BadPhone,
    CodeExpired,
    LoggedIn,
    LoginError,
    LoginFloodWait,
    LoginUnavailable,
    PasswordNeeded,
    WrongCode,
    WrongPassword,
)

T = TypeVar("T")

_REFUSALS: tuple[tuple[type[Exception], type[LoginError], str], ...] = (
    (errors.PhoneNumberInvalidError, BadPhone, "Telegram says this phone number is invalid"),
    (errors.PhoneNumberBannedError, BadPhone, "this phone number is banned from Telegram"),
    (
        errors.PhoneNumberUnoccupiedError,
        BadPhone,
        "no Telegram account uses this number: sign up in the Telegram app first",
    ),
    (errors.PhoneCodeInvalidError, WrongCode, "the code is not the one Telegram sent; check it"),
    (errors.PhoneCodeEmptyError, WrongCode, "type the code Telegram sent"),
    (errors.PhoneCodeExpiredError, CodeExpired, "the code expired: ask for a new one"),
    (errors.PasswordHashInvalidError, WrongPassword, "the two-step password is wrong"),
    (
        errors.PhoneNumberFloodError,
        BadPhone,
        "too many login attempts for this number: try again later",
    ),
)


def translate(exc: Exception) -> LoginError:
    """Telethon's refusal as the port's error; messages never repeat what was typed."""
    if isinstance(exc, errors.FloodWaitError):
        return LoginFloodWait(int(exc.seconds))
    for telethon_error, ours, reason in _REFUSALS:
        if isinstance(exc, telethon_error):
            return ours(reason)
    if isinstance(exc, ConnectionError | OSError | TimeoutError):
        return LoginUnavailable(f"Telegram could not be reached ({type(exc).__name__}); try again")
    return LoginError(f"Telegram refused the login ({type(exc).__name__})")


class TelethonLogin:
    """One login in progress: one ``TelegramClient`` from the code request to the session."""

    def __init__(self, *, api_id: int, api_hash: str, proxy: ProxyConfig | None = None) -> None:
        self._client: Any = build_telegram_client(
            session="", api_id=api_id, api_hash=api_hash, proxy=proxy
        )
        self._phone: str | None = None

    async def send_code(self, phone: str) -> None:
        if not self._client.is_connected():
            await self._guard(self._client.connect())
        await self._guard(self._client.send_code_request(phone))
        self._phone = phone

    async def sign_in(self, code: str) -> LoggedIn | PasswordNeeded:
        if self._phone is None:
            raise CodeExpired("ask Telegram for a code first")
        try:
            user = await self._client.sign_in(phone=self._phone, code=code.strip())
        except errors.SessionPasswordNeededError:
            return PasswordNeeded(hint=await self._hint())
        except Exception as exc:  # every refusal is translated for the admin
            raise translate(exc) from exc
        return self._logged_in(user)

    async def check_password(self, password: str) -> LoggedIn:
        user = await self._guard(self._client.sign_in(password=password))
        return self._logged_in(user)

    async def close(self) -> None:
        if self._client.is_connected():
            await self._client.disconnect()

    async def _hint(self) -> str | None:
        try:
            found = await self._client(GetPasswordRequest())
        except Exception:  # the hint is a courtesy; the password step works without it
            return None
        return str(found.hint) if found.hint else None

    def _logged_in(self, user: Any) -> LoggedIn:
        user_id = getattr(user, "id", None)
        return LoggedIn(
            session=str(self._client.session.save()),
            telegram_user_id=int(user_id) if user_id is not None else None,
        )

    @staticmethod
    async def _guard(call: Awaitable[T]) -> T:
        try:
            return await call
        except LoginError:
            raise
        except Exception as exc:  # every refusal is translated for the admin
            raise translate(exc) from exc


if TYPE_CHECKING:  # mypy proves the adapter fits the port
    from core.telegram_login import LoginFlow

    _fits_the_port: type[LoginFlow] = TelethonLogin
