"""One worker per account: log in, sit in the assigned chats, turn what it sees into events.

The worker is the only code that talks to Telegram. It publishes what the account hears (chat
messages in batches for the parser, DMs and scene chatter one by one: ``bots.incoming_publisher``;
the resume cursor moves only past confirmed messages, so a killed worker loses nothing), and
follows ``command.join_chats`` and ``command.send`` (see ``bots.sender``) for its own account.
Account-level failures (ban, revoked session) are recorded with their event through the outbox and
stop the worker, after the sends in flight have finished or failed; FloodWait is waited out, and
each one is written to the account (``flood_until`` and an ``account_events`` row), as is a login
that cannot get through the account's proxy (without its credentials).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import partial
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError

from bots.account_health import add_event, record_flood_wait
from bots.account_loss import AccountLoss, LossLatch, record_loss
from bots.incoming_publisher import IncomingPublisher
from bots.proxy import ProxyConfig
from bots.sender import FLOOD_WAIT_HOLD, PEER_FLOOD_COOLDOWN, SETTLE_SECONDS, Sender
from core.bus import Bus, PermanentError, decode_payload
from core.chatref import normalize_chat_ref
from core.db import Database
from core.db.models import Account, Chat, ChatAssignment
from core.db.scene_models import SceneMember
from core.events import Event, JoinChats, Profile, SendMessage
from core.our_accounts import OurAccounts
from core.outbox import OutboxRelay
from core.telegram import (
    AccountBannedError,
    AccountClient,
    ChatLimitReached,
    ChatNotFound,
    FloodWait,
    IncomingMessage,
    SessionRevokedError,
    TelegramError,
    TelegramUnavailable,
)
from core.topology import account_bindings, account_queue

log = logging.getLogger(__name__)

ClientFactory = Callable[[Account], AccountClient]
ProxyOf = Callable[[Account], ProxyConfig | None]  # the proxy the client connects through
T = TypeVar("T")
Command = TypeVar("Command", JoinChats, SendMessage)


class AccountUnusable(Exception):
    """The account cannot work any more (banned, revoked); the worker stops."""


class AccountWorker:
    def __init__(
        self,
        *,
        account_id: int,
        db: Database,
        bus: Bus,
        relay: OutboxRelay,
        client_factory: ClientFactory,
        join_interval: float = 3.0,
        send_settle: float = SETTLE_SECONDS,
        flood_wait_hold: float = FLOOD_WAIT_HOLD,
        peer_flood_cooldown: timedelta = PEER_FLOOD_COOLDOWN,
        proxy_of: ProxyOf | None = None,
        chat_batch_delay: float = 0.02,
    ) -> None:
        self.account_id = account_id
        self._db = db
        self._bus = bus
        self._relay = relay
        self._client_factory = client_factory
        self._join_interval = join_interval
        self._send_settle = send_settle
        self._flood_wait_hold = flood_wait_hold
        self._peer_flood_cooldown = peer_flood_cooldown
        self._proxy_of = proxy_of
        self._client: AccountClient | None = None
        self._sender: Sender | None = None
        self._loss = LossLatch()
        self._wanted: list[str] = []
        self._joined: dict[str, int] = {}  # configured ref → Telegram chat id
        self._refs: dict[int, str] = {}  # the reverse, for every incoming message
        self._chats_changed = asyncio.Event()
        self.me: Profile | None = None
        self._publisher: IncomingPublisher | None = None  # owns the resume cursor
        self._saved_cursor: str | None = None
        self._stopping = False
        self._chat_batch_delay = chat_batch_delay

    async def run(self) -> None:
        """Work until cancelled or until the account becomes unusable."""
        try:
            account = await self._load_account()
        except AccountUnusable as exc:
            log.warning("account not started: %s", exc)
            return
        client = self._client = self._client_factory(account)
        try:
            self.me = await self._call(self._connecting(client, self._proxy(account)))
            self._saved_cursor = account.updates_cursor
            if account.telegram_user_id != self.me.user_id:
                await self._note_user_id(self.me.user_id)
            self._publisher = IncomingPublisher(
                account_id=self.account_id,
                bus=self._bus,
                ours=OurAccounts(self._db),  # a scripts account's scene partners: not audience
                chat_ref_of=self._chat_ref,
                scene_account=account.role == "scripts",
                batch_delay=self._chat_batch_delay,
            )
            log.info("account %s online as user %s", account.name, self.me.user_id)
            self._wanted = await self._assigned_chats()
            self._chats_changed.set()
            self._sender = Sender(
                account_id=self.account_id,
                db=self._db,
                relay=self._relay,
                client=client,
                retry=self._retry,
                loss=self._loss,
                settle_seconds=self._send_settle,
                flood_wait_hold=self._flood_wait_hold,
                peer_flood_cooldown=self._peer_flood_cooldown,
            )
            await self._bus.subscribe(
                account_queue(self.account_id),
                account_bindings(self.account_id),
                self.on_command,
            )
            async with asyncio.TaskGroup() as group:
                group.create_task(self._keep_chats())
                group.create_task(self._pump())
                group.create_task(self._keep_cursor())
                group.create_task(self._stop_when_lost())
        except* AccountUnusable:
            log.warning("account %s stopped: it can no longer be used", account.name)
        finally:
            self._stopping = True  # a send still running gives up instead of retrying forever
            if self._sender is not None:
                # Sends in flight end as sent or failed: one cut off by the disconnect would
                # stay "sending", and the manager leaves such a message where it is.
                await self._sender.finish(self._send_settle)
            await client.disconnect()
            await self._save_cursor()

    async def on_command(self, event: Event) -> None:
        if event.name == JoinChats.NAME:
            self._wanted = list(self._command(event, JoinChats).chat_refs)
            self._chats_changed.set()
        elif event.name == SendMessage.NAME:
            command = self._command(event, SendMessage)
            if self._sender is None:  # commands arrive only after run() subscribed
                raise RuntimeError("the worker has not started")
            if command.scene is not None:
                await self._be_in(command.scene.chat_ref)
            await self._sender.send(command, cause=event.id)
        else:
            raise PermanentError(f"account worker does not handle {event.name}")

    def _command(self, event: Event, kind: type[Command]) -> Command:
        command = decode_payload(event, kind)
        if command.account_id != self.account_id:
            wrong = f"command for account {command.account_id} reached {self.account_id}"
            raise PermanentError(wrong)
        return command

    async def _stop_when_lost(self) -> None:
        """A send can lose the account (PeerFlood, ban) outside this worker's tasks."""
        loss = await self._loss.wait()
        raise AccountUnusable(loss.reason)

    async def _pump(self) -> None:
        # A stream that raised is finished; _call retries by opening a new one, which resumes from
        # the client's cursor.
        assert self._client is not None and self._publisher is not None  # noqa: S101 - run() set them
        client, publisher = self._client, self._publisher
        await self._call(lambda: publisher.run(client.incoming()))

    async def _note_user_id(self, user_id: int) -> None:
        """Who the account is on Telegram: the scripts service tells our own lines from the
        members' by it (an account imported from a workspace file does not know it yet)."""
        async with self._db.transaction() as session:
            await session.execute(
                update(Account)
                .where(Account.id == self.account_id)
                .values(telegram_user_id=user_id)
            )

    async def _keep_cursor(self, every: float = 2.0) -> None:
        """Persist the resume point now and then: a restarted worker re-reads at most this much
        (republished messages are deduplicated downstream) and misses nothing."""
        while True:
            await asyncio.sleep(every)
            try:
                await self._save_cursor()
            except (SQLAlchemyError, OSError) as exc:  # a database restart: the next save will do
                log.warning("cursor of account %s not saved: %s", self.account_id, exc)

    async def _save_cursor(self) -> None:
        cursor = self._publisher.cursor if self._publisher is not None else None
        if cursor is None or cursor == self._saved_cursor:
            return
        async with self._db.transaction() as session:
            await session.execute(
                update(Account).where(Account.id == self.account_id).values(updates_cursor=cursor)
            )
        self._saved_cursor = cursor

    def _chat_ref(self, message: IncomingMessage) -> str | None:
        """The chat as configured (so the parser finds its campaigns), also for messages heard
        before this worker's own join of it returned."""
        known = self._refs.get(message.chat_id)
        if known is not None or message.is_private or not message.chat_ref:
            return known
        try:
            return normalize_chat_ref(message.chat_ref)
        except ValueError:
            return message.chat_ref

    async def _keep_chats(self) -> None:
        """Join and leave until the joined chats are the wanted ones; joins are paced."""
        while True:
            await self._chats_changed.wait()
            self._chats_changed.clear()
            await self._sync_chats()

    async def _sync_chats(self) -> None:
        client = self._client
        assert client is not None  # noqa: S101 - set in run()
        for ref in [r for r in self._joined if r not in self._wanted]:
            chat_id = self._joined.pop(ref)
            self._refs.pop(chat_id, None)
            await self._call(partial(client.leave_chat, chat_id))
        for ref in [r for r in self._wanted if r not in self._joined]:
            if self._chats_changed.is_set():
                return  # the wanted list changed meanwhile; start over with the new one
            try:
                info = await self._call(partial(client.join_chat, ref))
            except ChatNotFound:
                log.warning("chat %s not found; skipped", ref)
                continue
            except ChatLimitReached:
                log.error("account %s is in 500 chats; %s not joined", self.account_id, ref)
                return
            self._joined[ref] = info.chat_id
            self._refs[info.chat_id] = ref
            await self._pause()

    async def _be_in(self, ref: str) -> None:
        """A scene's line goes to a chat this account may not have joined yet (cast a moment
        ago): join it now, and keep it among the wanted chats so the next sync does not leave."""
        if ref not in self._wanted:
            self._wanted.append(ref)
        if ref in self._joined or self._client is None:
            return
        try:
            info = await self._call(partial(self._client.join_chat, ref))
        except (ChatNotFound, ChatLimitReached) as exc:
            log.warning("scene chat %s not joined: %s", ref, type(exc).__name__)
            return  # the send fails with Telegram's own reason, and the run says it
        self._joined[ref] = info.chat_id
        self._refs[info.chat_id] = ref

    async def _pause(self) -> None:
        if self._join_interval > 0:
            await asyncio.sleep(self._join_interval * random.uniform(0.7, 1.3))

    async def _call(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a client call: wait out FloodWait and retry; stop for good on ban or revoke."""
        try:
            return await self._retry(make)
        except (AccountBannedError, SessionRevokedError) as exc:
            loss = AccountLoss.of(exc)
            assert loss is not None  # noqa: S101 - both are losses
            async with self._db.transaction() as session:
                await record_loss(session, self.account_id, loss)
            self._relay.poke()
            self._loss.set(loss)
            raise AccountUnusable(loss.reason) from exc

    async def _retry(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run a client call, waiting out FloodWait and an unreachable Telegram in between."""
        while True:
            try:
                return await make()
            except FloodWait as wait:
                log.warning("flood wait %ss on account %s", wait.seconds, self.account_id)
                await self._note_flood_wait(wait.seconds)
                await asyncio.sleep(wait.seconds + random.uniform(0.5, 2.0))
            except TelegramUnavailable as exc:
                if self._stopping:
                    # The client is gone: the command goes back to the queue (its key stays
                    # "sending", so the next worker reconciles before sending).
                    raise
                log.warning("telegram unreachable for account %s: %s", self.account_id, exc)
                await asyncio.sleep(random.uniform(1.0, 3.0))

    async def _note_flood_wait(self, seconds: int) -> None:
        """The wait goes into the account's history; the wait itself never depends on that."""
        try:
            async with self._db.transaction() as session:
                await record_flood_wait(session, self.account_id, seconds)
        except SQLAlchemyError:
            log.exception("flood wait of account %s not recorded", self.account_id)

    def _proxy(self, account: Account) -> ProxyConfig | None:
        if self._proxy_of is None or account.proxy_secret is None:
            return None
        try:
            return self._proxy_of(account)
        except ValueError:  # a stored proxy that no longer parses: the client refuses it itself
            return None

    def _connecting(
        self, client: AccountClient, proxy: ProxyConfig | None
    ) -> Callable[[], Awaitable[Profile]]:
        """``client.connect``; the first failure to get through the account's proxy is added to
        the account's history (one per start, not one per retry)."""
        if proxy is None:
            return client.connect
        reported = False

        async def connect() -> Profile:
            nonlocal reported
            try:
                return await client.connect()
            except (TelegramError, OSError) as exc:  # OSError: a transport error left raw
                if not reported and _unreachable(exc):
                    reported = True
                    await self._note_proxy_failure(proxy, exc)
                raise

        return connect

    async def _note_proxy_failure(self, proxy: ProxyConfig, error: Exception) -> None:
        detail = proxy.failure_detail(error)
        log.warning("account %s: %s", self.account_id, detail)
        try:
            async with self._db.transaction() as session:
                add_event(session, self.account_id, "proxy", detail)
        except SQLAlchemyError:
            log.exception("proxy failure of account %s not recorded", self.account_id)

    async def _assigned_chats(self) -> list[str]:
        """The parser's assignments, and the own chats the scripts service cast it in."""
        async with self._db.session() as session:
            assigned = select(ChatAssignment.chat_id).where(
                ChatAssignment.account_id == self.account_id
            )
            cast = select(SceneMember.chat_id).where(SceneMember.account_id == self.account_id)
            rows = await session.scalars(
                select(Chat.ref).where(Chat.id.in_(assigned.union(cast))).order_by(Chat.id)
            )
            return list(rows)

    async def _load_account(self) -> Account:
        async with self._db.session() as session:
            account = await session.get(Account, self.account_id)
        if account is None:
            raise AccountUnusable(f"account {self.account_id} does not exist")
        if account.status != "active":
            raise AccountUnusable(f"account {account.name} is {account.status}")
        return account


def _unreachable(error: Exception) -> bool:
    """Telegram could not be reached: said by the adapter, or a transport error underneath (the
    Telethon adapter keeps those as plain ``TelegramError`` so no account is marked on a guess)."""
    return isinstance(error, TelegramUnavailable | OSError) or isinstance(error.__cause__, OSError)
