"""Fault injection: tests make an account hit FloodWait, PeerFlood, a ban, a revoked session or a
chat it may not write to, exactly when they want, instead of provoking the real limits.

Bots have their own queue (``BotFaults``, on each bot): the next N calls of one Bot API method,
or of any, answer 429 with a ``retry_after``, answer 500, or hang for a while.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.errors import SandboxError

if TYPE_CHECKING:
    from sandbox.state import World

Operation = Literal["send", "join", "any"]


@dataclass
class PendingFault:
    code: Literal["FLOOD_WAIT", "PEER_FLOOD"]
    operation: Operation
    remaining: int
    seconds: int | None = None

    def error(self) -> SandboxError:
        if self.code == "FLOOD_WAIT":
            return SandboxError.flood_wait(self.seconds or 1)
        return SandboxError("PEER_FLOOD", "the account may not write to strangers for a while")


@dataclass
class Faults:
    pending: dict[int, list[PendingFault]] = field(default_factory=dict)
    forbidden: dict[int, set[int] | None] = field(default_factory=dict)  # None: every account
    private: set[int] = field(default_factory=set)  # users refusing DMs (privacy settings)

    def check(self, account_id: int, operation: Literal["send", "join"]) -> None:
        """Raise the first queued fault matching ``operation`` and count it down."""
        queue = self.pending.get(account_id, [])
        for fault in queue:
            if fault.operation in (operation, "any"):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.remove(fault)
                raise fault.error()

    def write_forbidden(self, chat_id: int, account_id: int) -> bool:
        if chat_id not in self.forbidden:
            return False
        accounts = self.forbidden[chat_id]
        return accounts is None or account_id in accounts

    def clear(self, account_id: int | None) -> None:
        if account_id is None:
            self.pending.clear()
            self.forbidden.clear()
            self.private.clear()
            return
        self.pending.pop(account_id, None)
        for chat_id, accounts in list(self.forbidden.items()):
            if accounts is not None:
                accounts.discard(account_id)
                if not accounts:
                    del self.forbidden[chat_id]


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FloodWaitFault(_Fault):
    kind: Literal["flood_wait"]
    account: int
    seconds: int = Field(gt=0)
    count: int = Field(1, ge=1, description="how many of the next matching calls fail")
    operation: Operation = "send"


class PeerFloodFault(_Fault):
    kind: Literal["peer_flood"]
    account: int
    count: int = Field(1, ge=1)


class AccountFault(_Fault):
    kind: Literal["ban", "unban", "revoke"]
    account: int


class ForbidWritesFault(_Fault):
    kind: Literal["forbid_writes"]
    chat: int | str
    account: int | None = Field(None, description="only this account; every account when absent")


class PrivacyFault(_Fault):
    kind: Literal["privacy"]
    user: int | str = Field(description="this user refuses DMs (USER_PRIVACY_RESTRICTED)")


class ClearFaults(_Fault):
    kind: Literal["clear"]
    account: int | None = Field(None, description="only this account's faults; all when absent")


FaultRequest = Annotated[
    FloodWaitFault | PeerFloodFault | AccountFault | ForbidWritesFault | PrivacyFault | ClearFaults,
    Field(discriminator="kind"),
]


def apply_fault(world: World, fault: FaultRequest) -> dict[str, object]:
    """Apply one fault request; unknown accounts, chats or users are a 404."""
    faults = world.faults
    if isinstance(fault, FloodWaitFault | PeerFloodFault | AccountFault):
        account = world.accounts.get(fault.account)
        if account is None:
            raise SandboxError("NOT_FOUND", f"no account {fault.account}")
        if isinstance(fault, FloodWaitFault):
            queued = PendingFault("FLOOD_WAIT", fault.operation, fault.count, fault.seconds)
            faults.pending.setdefault(fault.account, []).append(queued)
        elif isinstance(fault, PeerFloodFault):
            queued = PendingFault("PEER_FLOOD", "send", fault.count)
            faults.pending.setdefault(fault.account, []).append(queued)
        elif fault.kind == "revoke":
            return {"revoked": world.revoke_sessions(fault.account)}
        else:
            account.banned = fault.kind == "ban"
    elif isinstance(fault, ForbidWritesFault):
        chat = world.chat(fault.chat)
        if chat is None:
            raise SandboxError("NOT_FOUND", f"no chat {fault.chat!r}")
        if fault.account is None:
            faults.forbidden[chat.id] = None
        elif (accounts := faults.forbidden.setdefault(chat.id, set())) is not None:
            accounts.add(fault.account)
    elif isinstance(fault, PrivacyFault):
        user = world.user(fault.user)
        if user is None:
            raise SandboxError("NOT_FOUND", f"no user {fault.user!r}")
        faults.private.add(user.id)
    else:
        faults.clear(fault.account)
        for account in world.accounts.values():
            if fault.account in (None, account.user.id):
                account.banned = False
    return {}


# --- bot faults: the Bot API failing for one bot, per method ---------------------------------

BotFaultKind = Literal["retry_after", "server_error", "hang"]


@dataclass
class PendingBotFault:
    kind: BotFaultKind
    method: str | None  # lower-case Bot API method name; None matches every method
    remaining: int
    seconds: float = 0
    chat_id: str | None = None  # only calls with this chat_id (as the call writes it)


@dataclass
class BotFaults:
    """Faults queued for one bot's next Bot API calls, the oldest matching one first."""

    pending: list[PendingBotFault] = field(default_factory=list)

    def take(self, method: str, chat_id: object = None) -> PendingBotFault | None:
        """The fault this call of ``method`` (any case) meets, counted down; None if none."""
        method = method.lower()
        for fault in self.pending:
            if fault.method in (None, method) and fault.chat_id in (None, str(chat_id)):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.pending.remove(fault)
                return fault
        return None


class _BotFault(_Fault):
    method: str | None = Field(
        None, min_length=1, description="a Bot API method (sendMessage); every method when absent"
    )
    count: int = Field(1, ge=1, description="how many of the next matching calls fail")
    chat_id: int | str | None = Field(
        None, description="only calls to this chat (its id, or @username if the bot uses that)"
    )


class RetryAfterFault(_BotFault):
    """Answer 429 Too Many Requests with ``retry_after`` = ``seconds`` (TelegramRetryAfter)."""

    kind: Literal["retry_after"]
    seconds: int = Field(ge=1)


class ServerErrorFault(_BotFault):
    """Answer 500 Internal Server Error (aiogram's TelegramServerError)."""

    kind: Literal["server_error"]


class HangFault(_BotFault):
    """Hold the call ``seconds`` before answering it normally: a slow or stuck Telegram."""

    kind: Literal["hang"]
    seconds: float = Field(gt=0, le=600)


class ClearBotFaults(_Fault):
    kind: Literal["clear"]


BotFaultRequest = Annotated[
    RetryAfterFault | ServerErrorFault | HangFault | ClearBotFaults, Field(discriminator="kind")
]


def apply_bot_fault(faults: BotFaults, fault: BotFaultRequest) -> int:
    """Queue (or clear) bot faults; returns how many are queued afterwards."""
    if isinstance(fault, ClearBotFaults):
        faults.pending.clear()
    else:
        seconds = float(fault.seconds) if isinstance(fault, RetryAfterFault | HangFault) else 0.0
        method = fault.method.lower() if fault.method else None
        chat = None if fault.chat_id is None else str(fault.chat_id)
        faults.pending.append(PendingBotFault(fault.kind, method, fault.count, seconds, chat))
    return len(faults.pending)
