"""Logging an account in by phone, Telegram-style: ask for a code, sign in with it, then give the
two-step verification password when the account has one; the answer is a new session.

User API (behind ``bots.login_sandbox``), no ``Authorization``:

- ``POST /user/auth/send-code {phone}`` → ``phone_code_hash``;
- ``POST /user/auth/sign-in {phone, phone_code_hash, code}`` → ``session`` and ``user_id``, or
  ``password_needed`` with the account's hint;
- ``POST /user/auth/password {phone, phone_code_hash, password}`` → ``session`` and ``user_id``.

Telegram delivers the code inside its app; here it is logged (the demo's console shows it) and
readable at ``GET /_sandbox/login-codes?phone=…`` (tests, and the panel's hint in sandbox mode).
``PUT /_sandbox/accounts/{user_id}/phone {phone, password}`` gives an account a phone and a 2FA
password. A phone no account has is signed up on its first login, as the Telegram app would do,
so a newcomer can add an account from the panel without scripting the sandbox first.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sandbox.errors import SandboxError
from sandbox.http import json_body, ok, parse, runtime
from sandbox.state import Account, PendingLogin, World

log = logging.getLogger("sandbox")

CODE_SECONDS = 300.0  # a code is good for five minutes
MAX_WRONG_CODES = 3  # then it expires and a new one must be asked for
CODES_PER_HOUR = 5  # more code requests for one phone within an hour meet a FloodWait
HOUR = 3600.0


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SendCode(_Body):
    phone: str = Field(min_length=1, max_length=32)


class SignIn(_Body):
    phone: str = Field(min_length=1, max_length=32)
    phone_code_hash: str = Field(min_length=1, max_length=128)
    code: str = Field(min_length=1, max_length=16)


class CheckPassword(_Body):
    phone: str = Field(min_length=1, max_length=32)
    phone_code_hash: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=256)


class PhoneSettings(_Body):
    phone: str = Field(min_length=1, max_length=32)
    password: str | None = Field(None, min_length=1, max_length=256, description="2FA password")


def _phone(raw: str) -> str:
    digits = raw.strip().replace(" ", "")
    if not (digits.startswith("+") and digits[1:].isdigit() and 7 <= len(digits) - 1 <= 15):
        raise SandboxError("PHONE_NUMBER_INVALID", "the phone number is invalid")
    return digits


def send_code(world: World, raw_phone: str) -> str:
    """A new code for ``phone``; returns its ``phone_code_hash``."""
    phone = _phone(raw_phone)
    account = _account_of(world, phone)
    if account is not None and account.banned:
        raise SandboxError("PHONE_NUMBER_BANNED", "the phone number is banned from Telegram")
    now = world.clock()
    asked = [t for t in world.code_requests.get(phone, []) if t > now - HOUR]
    if len(asked) >= CODES_PER_HOUR:
        raise SandboxError.flood_wait(max(1, int(asked[0] + HOUR - now)))
    world.code_requests[phone] = [*asked, now]
    for old in [h for h, p in world.logins.items() if p.phone == phone]:
        del world.logins[old]  # a new code replaces the one sent before
    code = f"{secrets.randbelow(100_000):05d}"
    phone_code_hash = secrets.token_hex(8)
    world.logins[phone_code_hash] = PendingLogin(phone, code, now + CODE_SECONDS)
    log.info("sandbox: the login code for %s is %s", phone, code)
    return phone_code_hash


def sign_in(world: World, body: SignIn) -> dict[str, Any]:
    pending = _pending(world, body.phone, body.phone_code_hash)
    if body.code.strip() != pending.code:
        pending.wrong_codes += 1
        if pending.wrong_codes >= MAX_WRONG_CODES:
            del world.logins[body.phone_code_hash]
        raise SandboxError("PHONE_CODE_INVALID", "the code is invalid")
    account = _account_of(world, pending.phone)
    if account is not None and account.password is not None:
        pending.code_accepted = True
        return {"password_needed": True, "hint": f"{len(account.password)} characters"}
    return _logged_in(world, body.phone_code_hash, account)


def check_password(world: World, body: CheckPassword) -> dict[str, Any]:
    pending = _pending(world, body.phone, body.phone_code_hash)
    account = _account_of(world, pending.phone)
    if not pending.code_accepted or account is None or account.password is None:
        raise SandboxError("BAD_REQUEST", "sign in with the code first")
    if body.password != account.password:
        raise SandboxError("PASSWORD_HASH_INVALID", "the password is invalid")
    return _logged_in(world, body.phone_code_hash, account)


def _pending(world: World, raw_phone: str, phone_code_hash: str) -> PendingLogin:
    pending = world.logins.get(phone_code_hash)
    if pending is None or pending.phone != _phone(raw_phone):
        raise SandboxError("PHONE_CODE_EXPIRED", "the code expired; ask for a new one")
    if world.clock() >= pending.expires_at:
        del world.logins[phone_code_hash]
        raise SandboxError("PHONE_CODE_EXPIRED", "the code expired; ask for a new one")
    return pending


def _account_of(world: World, phone: str) -> Account | None:
    user_id = world.phones.get(phone)
    return world.accounts.get(user_id) if user_id is not None else None


def _logged_in(world: World, phone_code_hash: str, account: Account | None) -> dict[str, Any]:
    pending = world.logins.pop(phone_code_hash)
    if account is None:  # signed up, as the Telegram app does for a new number
        account, session = world.add_account(f"Account {pending.phone[-4:]}")
        set_phone(world, account, pending.phone, None)
    else:
        session = world.new_session(account.user.id)
    return {"session": session, "user_id": account.user.id}


def set_phone(world: World, account: Account, phone: str, password: str | None) -> None:
    owner = world.phones.get(phone)
    if owner is not None and owner != account.user.id:
        raise SandboxError("BAD_REQUEST", f"phone {phone} belongs to account {owner}")
    if account.phone is not None:
        world.phones.pop(account.phone, None)
    account.phone, account.password = phone, password
    world.phones[phone] = account.user.id


# ---- HTTP ---------------------------------------------------------------------------------------


async def send_code_route(request: web.Request) -> web.Response:
    body = parse(SendCode, await json_body(request))
    return ok(phone_code_hash=send_code(runtime(request).world, body.phone))


async def sign_in_route(request: web.Request) -> web.Response:
    body = parse(SignIn, await json_body(request))
    return ok(**sign_in(runtime(request).world, body))


async def password_route(request: web.Request) -> web.Response:
    body = parse(CheckPassword, await json_body(request))
    return ok(**check_password(runtime(request).world, body))


async def login_code(request: web.Request) -> web.Response:
    """The code last sent to ``phone`` and still good (tests read it here)."""
    world = runtime(request).world
    phone = _phone(request.query.get("phone", ""))
    now = world.clock()
    codes = [p for p in world.logins.values() if p.phone == phone and p.expires_at > now]
    if not codes:
        raise SandboxError("NOT_FOUND", f"no login code was sent to {phone}")
    return ok(phone=phone, code=codes[-1].code)


async def account_phone(request: web.Request) -> web.Response:
    world = runtime(request).world
    raw = request.match_info["user_id"]
    account = world.accounts.get(int(raw)) if raw.isdigit() else None
    if account is None:
        raise SandboxError("NOT_FOUND", f"no account {raw}")
    body = parse(PhoneSettings, await json_body(request))
    set_phone(world, account, _phone(body.phone), body.password)
    return ok(user_id=account.user.id, phone=account.phone)


def routes() -> list[web.RouteDef]:
    return [
        web.post("/user/auth/send-code", send_code_route),
        web.post("/user/auth/sign-in", sign_in_route),
        web.post("/user/auth/password", password_route),
        web.get("/_sandbox/login-codes", login_code),
        web.put("/_sandbox/accounts/{user_id}/phone", account_phone),
    ]
