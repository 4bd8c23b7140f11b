"""The sandbox adapter of the login port: ``LoginFlow`` over the sandbox's ``/user/auth/*`` API
(``sandbox.login``), its refusal codes turned into the ``core.telegram_login`` errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp

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

REQUEST_TIMEOUT = 15.0  # seconds

_ERRORS: dict[str, tuple[type[LoginError], str]] = {
    "PHONE_NUMBER_INVALID": (BadPhone, "Telegram says this phone number is invalid"),
    "PHONE_NUMBER_BANNED": (BadPhone, "this phone number is banned from Telegram"),
    "PHONE_NUMBER_UNOCCUPIED": (BadPhone, "no Telegram account uses this phone number"),
    "PHONE_CODE_INVALID": (WrongCode, "the code is not the one Telegram sent; check it"),
    "PHONE_CODE_EMPTY": (WrongCode, "type the code Telegram sent"),
    "PHONE_CODE_EXPIRED": (CodeExpired, "the code expired or was tried too often: ask again"),
    "PASSWORD_HASH_INVALID": (WrongPassword, "the two-step verification password is wrong"),
}


def login_error(body: dict[str, Any]) -> LoginError:
    code = str(body.get("error") or "UNKNOWN")
    if code == "FLOOD_WAIT":
        return LoginFloodWait(int(body.get("seconds") or 1))
    kind, reason = _ERRORS.get(code, (LoginError, f"Telegram refused the login ({code})"))
    return kind(reason)


class SandboxLogin:
    """One login in progress against the sandbox."""

    def __init__(self, base_url: str, *, http: aiohttp.ClientSession | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._http = http
        self._owns_http = http is None
        self._phone: str | None = None
        self._hash: str | None = None

    async def send_code(self, phone: str) -> None:
        body = await self._call("/user/auth/send-code", {"phone": phone})
        self._phone, self._hash = phone, str(body["phone_code_hash"])

    async def sign_in(self, code: str) -> LoggedIn | PasswordNeeded:
        body = await self._call("/user/auth/sign-in", {**self._started(), "code": code.strip()})
        if body.get("password_needed"):
            return PasswordNeeded(hint=body.get("hint"))
        return LoggedIn(session=str(body["session"]), telegram_user_id=int(body["user_id"]))

    async def check_password(self, password: str) -> LoggedIn:
        body = await self._call("/user/auth/password", {**self._started(), "password": password})
        return LoggedIn(session=str(body["session"]), telegram_user_id=int(body["user_id"]))

    async def close(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.close()
            self._http = None

    def _started(self) -> dict[str, str]:
        if self._phone is None or self._hash is None:
            raise CodeExpired("ask Telegram for a code first")
        return {"phone": self._phone, "phone_code_hash": self._hash}

    async def _call(self, path: str, payload: dict[str, str]) -> dict[str, Any]:
        if self._http is None:
            self._http = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
        try:
            async with self._http.post(
                f"{self._base}{path}", json=payload, timeout=timeout
            ) as response:
                status = response.status
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise LoginUnavailable(
                f"the sandbox Telegram did not answer ({type(exc).__name__}); try again"
            ) from exc
        if status >= 500 or not isinstance(body, dict):
            raise LoginUnavailable(f"the sandbox Telegram answered HTTP {status}; try again")
        if not body.get("ok"):
            raise login_error(body)
        return body


if TYPE_CHECKING:  # mypy proves the adapter fits the port
    from core.telegram_login import LoginFlow

    _fits_the_port: type[LoginFlow] = SandboxLogin
