"""Adding an account (or renewing a revoked one) by phone: the number, the code Telegram sends, the
two-step verification password when the account has one; the session that comes out is saved
through ``admin.setup.accounts.save_account`` like a pasted one.

The login in progress lives in this process's memory, one per signed-in user, for ten minutes:
Telegram ties the code to the connection that asked for it, so it cannot be parked in the
database. That assumes one admin process (``coolthing run admin`` serves with one worker); with
several, a login would have to come back to the process that started it.

The Telegram adapter is chosen as the account worker chooses its own (``bots.bootstrap``): the
sandbox's login API in the demo and tests, Telethon otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal

from admin.setup.accounts import AccountForm, Login, parse_account, save_account
from core.access import Actor
from core.db import Database
from core.security import SecretBox
from core.settings import Settings
from core.telegram_login import (
    LoggedIn,
    LoginError,
    LoginFlow,
    LoginUnavailable,
    PasswordNeeded,
    normalize_phone,
)

LOGIN_TTL = timedelta(minutes=10)
FlowFactory = Callable[[str | None], LoginFlow]  # the proxy URL to log in through, if any


def flow_factory(settings: Settings) -> FlowFactory:
    def make(proxy_url: str | None) -> LoginFlow:
        if settings.telegram_backend == "sandbox":
            from bots.login_sandbox import SandboxLogin

            return SandboxLogin(settings.sandbox_url)
        from bots.login_telethon import TelethonLogin
        from bots.proxy import ProxyUnsupportedError, parse_proxy_url

        if settings.telegram_api_id is None or settings.telegram_api_hash is None:
            raise LoginUnavailable(
                "logging in by phone needs COOLTHING_TELEGRAM_API_ID and "
                "COOLTHING_TELEGRAM_API_HASH (from my.telegram.org) in the admin's environment"
            )
        try:
            return TelethonLogin(
                api_id=settings.telegram_api_id,
                api_hash=settings.telegram_api_hash.get_secret_value(),
                proxy=parse_proxy_url(proxy_url) if proxy_url else None,
            )
        except (ProxyUnsupportedError, ValueError) as exc:  # never log in around the proxy
            raise _field_error("proxy", str(exc)) from None

    return make


@dataclass
class PendingLogin:
    """A login waiting for the admin's next step; ``form`` is the account as typed (its proxy
    stays in memory only as long as the login)."""

    flow: LoginFlow
    phone: str
    form: AccountForm
    account_id: int | None  # an existing account logging in again
    expires_at: datetime
    stage: Literal["code", "password"] = "code"
    hint: str | None = None

    def __repr__(self) -> str:
        return f"PendingLogin(phone=<hidden>, stage={self.stage}, account_id={self.account_id})"


class NoLogin(LoginError):
    """There is no login in progress for this user (never started, finished or expired)."""

    field = "code"


class LoginDesk:
    """The logins in progress of this process, keyed by the signed-in user's login."""

    def __init__(
        self, factory: FlowFactory, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self._factory = factory
        self._clock = clock or (lambda: datetime.now(UTC))
        self._pending: dict[str, PendingLogin] = {}

    def pending(self, user: str) -> PendingLogin | None:
        self._sweep()
        return self._pending.get(user)

    def _sweep(self) -> None:
        """Forget every expired login (and close its connection), whoever started it: a login
        nobody comes back to must not keep a connection to Telegram open."""
        now = self._clock()
        for user in [u for u, p in self._pending.items() if now >= p.expires_at]:
            self._drop(user)

    async def start(
        self, user: str, form: AccountForm, *, account_id: int | None, proxy: str | None
    ) -> PendingLogin:
        """Check the form as a save would, then ask Telegram for a code (a new start replaces
        this user's previous login). ``proxy`` is the one to log in through."""
        try:
            phone = normalize_phone(form.phone)
        except ValueError as exc:
            raise _field_error("phone", str(exc)) from None
        parse_account(replace(form, phone=phone))  # refuses a bad name, role, cap or proxy
        self._sweep()
        await self.cancel(user)
        flow = self._factory(proxy)
        try:
            await flow.send_code(phone)
        except BaseException:
            await flow.close()
            raise
        pending = PendingLogin(
            flow=flow,
            phone=phone,
            form=replace(form, phone=phone, session=""),
            account_id=account_id,
            expires_at=self._clock() + LOGIN_TTL,
        )
        self._pending[user] = pending
        return pending

    async def code(self, user: str, code: str) -> tuple[PendingLogin, LoggedIn | None]:
        """The code; ``None`` as the second item means the 2FA password comes next."""
        pending = self._current(user, "code")
        if not code.strip():
            raise _field_error("code", "type the code Telegram sent")
        answer = await pending.flow.sign_in(code)
        if isinstance(answer, PasswordNeeded):
            pending.stage, pending.hint = "password", answer.hint
            return pending, None
        return pending, answer

    async def password(self, user: str, password: str) -> tuple[PendingLogin, LoggedIn]:
        pending = self._current(user, "password")
        if not password:
            raise _field_error("password", "type the account's two-step verification password")
        return pending, await pending.flow.check_password(password)

    async def finish(self, user: str) -> None:
        """The session is saved: forget the login and close its connection."""
        await self.cancel(user)

    async def cancel(self, user: str) -> None:
        found = self._pending.pop(user, None)
        if found is not None:
            await found.flow.close()

    def _current(self, user: str, stage: str) -> PendingLogin:
        pending = self.pending(user)
        if pending is None:
            raise NoLogin("no login in progress (it expires after 10 minutes): start again")
        if pending.stage != stage:
            wanted = "the code" if pending.stage == "code" else "the two-step password"
            raise _field_error(stage, f"Telegram is waiting for {wanted}")
        return pending

    def _drop(self, user: str) -> None:
        found = self._pending.pop(user, None)
        if found is not None:  # closing talks to Telegram: not worth waiting for here
            task = asyncio.get_running_loop().create_task(found.flow.close())
            _closing.add(task)
            task.add_done_callback(_closing.discard)


async def complete_login(
    db: Database,
    box: SecretBox,
    actor: Actor,
    desk: LoginDesk,
    pending: PendingLogin,
    logged_in: LoggedIn,
) -> int:
    """Save the account with the new session (one transaction, audited); the login ends either
    way. Returns the account's id."""
    try:
        spec = parse_account(pending.form)
        login = Login(logged_in.session, logged_in.telegram_user_id)
        async with db.transaction() as session:
            saved = await save_account(
                session, actor, spec, box, account_id=pending.account_id, login=login
            )
            return saved.id
    finally:
        await desk.finish(actor.login)


_closing: set[asyncio.Task[None]] = set()  # keeps close() tasks alive until they finish


def _field_error(field: str, reason: str) -> LoginError:
    error = LoginError(reason)
    error.field = field
    return error
