"""Which parser account listens in which chat.

Each campaign's chats are spread over its active parser accounts (at most 500 per account, the
Telegram cap) and moved off accounts that were banned or revoked. Accounts whose chat list changed
get a ``command.join_chats`` through the outbox, in the same transaction as the new assignment.
"""

from __future__ import annotations

import logging
from collections import Counter

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.sharding import assign_chats
from core.bus import Bus
from core.db import Database
from core.db.models import Account, Campaign, Chat, ChatAssignment
from core.events import Event, JoinChats, account_routing_key
from core.outbox import OutboxRelay, add_to_outbox
from core.topology import declare_account_queue

log = logging.getLogger(__name__)


class ChatAssigner:
    def __init__(self, db: Database, bus: Bus, relay: OutboxRelay) -> None:
        self._db = db
        self._bus = bus
        self._relay = relay

    async def rebalance(self) -> dict[int, list[int]]:
        """Recompute assignments; returns account id → chat ids for accounts that changed. Each
        changed account's queue is declared before its command commits, so a worker that never
        ran gets it when it starts instead of the command being unroutable."""
        async with self._db.transaction() as session:
            changed = await rebalance(session)
            for account_id in changed:
                await declare_account_queue(self._bus, account_id)
        if changed:
            self._relay.poke()
        return changed


async def rebalance(session: AsyncSession) -> dict[int, list[int]]:
    current = {a.chat_id: a.account_id for a in (await session.scalars(select(ChatAssignment)))}
    wanted = await _wanted(session, current)
    changed_accounts = {
        account
        for chat in current.keys() | wanted.keys()
        for account in (current.get(chat), wanted.get(chat))
        if account is not None and current.get(chat) != wanted.get(chat)
    }
    if not changed_accounts:
        return {}
    await session.execute(delete(ChatAssignment))
    session.add_all(ChatAssignment(chat_id=c, account_id=a) for c, a in wanted.items())
    refs = {c.id: c.ref for c in (await session.scalars(select(Chat)))}
    changed: dict[int, list[int]] = {}
    for account_id in sorted(changed_accounts):
        chats = sorted(c for c, a in wanted.items() if a == account_id)
        changed[account_id] = chats
        command = JoinChats(account_id=account_id, chat_refs=[refs[c] for c in chats])
        key = account_routing_key(account_id, command.NAME)
        await add_to_outbox(session, Event.of(command), routing_key=key)
    log.info("chat assignments changed", extra={"accounts": sorted(changed)})
    return changed


async def _wanted(session: AsyncSession, current: dict[int, int]) -> dict[int, int]:
    """Chat id → account id for every chat of every active parser campaign."""
    usable = set(
        (
            await session.scalars(
                select(Account.id).where(Account.role == "parser", Account.status == "active")
            )
        ).all()
    )
    campaigns = (
        await session.scalars(
            select(Campaign)
            .where(Campaign.status == "active", Campaign.mode == "parser")
            .order_by(Campaign.id)
        )
    ).all()
    wanted: dict[int, int] = {}
    for campaign in campaigns:
        accounts = sorted(
            link.account_id
            for link in campaign.account_links
            if link.role == "parser" and link.account_id in usable
        )
        chats = [chat.id for chat in campaign.chats if chat.id not in wanted]
        keep = {c: a for c, a in current.items() if c in chats and a in accounts}
        carried = Counter(wanted.values())
        result = assign_chats(chats, accounts, keep, carried=carried)
        if result.unassigned:
            log.warning(
                "chats left without a listener",
                extra={"campaign": campaign.name, "chats": result.unassigned},
            )
        wanted.update({c: a for a, cs in result.by_account.items() for c in cs})
    return wanted
