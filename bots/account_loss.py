"""Losing an account: which Telegram errors mean it, how the loss is recorded and announced once,
and the latch that stops the worker and fails the sends that come after it.

A PeerFlood is not a loss: it limits writing to strangers for a while (``bots.account_health``),
the account keeps reading and may still answer people who wrote to it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.account_health import add_event
from core.db.models import Account
from core.events import AccountBanned, AccountRevoked, Event, SendFailure
from core.outbox import add_to_outbox
from core.telegram import AccountBannedError, SessionRevokedError, TelegramError


@dataclass(frozen=True)
class AccountLoss:
    """Why the account may not be used any more, and what a send refused for it reports."""

    status: Literal["banned", "revoked"]
    reason: str
    failure: SendFailure

    @classmethod
    def of(cls, error: TelegramError) -> AccountLoss | None:
        if isinstance(error, AccountBannedError):
            return cls("banned", str(error) or "banned", "banned")
        if isinstance(error, SessionRevokedError):
            return cls("revoked", str(error) or "session revoked", "revoked")
        return None

    def event(self, account_id: int) -> AccountBanned | AccountRevoked:
        kind = AccountBanned if self.status == "banned" else AccountRevoked
        return kind(account_id=account_id, reason=self.reason)


class LossLatch:
    """The account's loss, set once: the worker stops on it, later sends fail with it."""

    def __init__(self) -> None:
        self.loss: AccountLoss | None = None
        self._set = asyncio.Event()

    def set(self, loss: AccountLoss) -> None:
        if self.loss is None:
            self.loss = loss
            self._set.set()

    async def wait(self) -> AccountLoss:
        await self._set.wait()
        assert self.loss is not None  # noqa: S101 - set() sets both
        return self.loss


async def record_loss(session: AsyncSession, account_id: int, loss: AccountLoss) -> None:
    """Mark the account, announce it and add it to the account's history, in the caller's
    transaction; only once, even when concurrent sends run into the same ban."""
    marked = await session.scalar(
        update(Account)
        .where(Account.id == account_id, Account.status != loss.status)
        .values(status=loss.status, status_reason=loss.reason)
        .returning(Account.id)
    )
    if marked is not None:
        await add_to_outbox(session, Event.of(loss.event(account_id)))
        add_event(session, account_id, loss.status, loss.reason)


class AccountGone(TelegramError):
    """The account was lost (by another send, or the worker) before this send went out."""

    def __init__(self, loss: AccountLoss) -> None:
        super().__init__(f"account {loss.status}: {loss.reason}")
        self.loss = loss
