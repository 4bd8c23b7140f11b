"""Spread a campaign's target chats over its parser accounts.

A user account can sit in at most 500 channels and supergroups, and every join is what draws
FloodWaits, so the assignment is *stable* first and *balanced* second: a chat stays with its
current account while that account is still in the pool and under the cap; only new chats and the
chats of accounts that left the pool (banned, removed) are placed, each on the least-loaded
account. Existing chats are never rebalanced onto a newly added account. Chats that fit nowhere
are reported, never dropped silently.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

MAX_CHATS_PER_ACCOUNT = 500


@dataclass(frozen=True, slots=True)
class Move:
    """A chat that changed hands; ``to_account`` is None when no account could take it."""

    chat_id: int
    from_account: int
    to_account: int | None


@dataclass(frozen=True, slots=True)
class Assignment:
    by_account: dict[int, list[int]]  # every account in the pool, chats in input order
    moved: list[Move]
    unassigned: list[int]

    def owners(self) -> dict[int, int]:
        """chat id → account id; pass it back as ``current`` next time to keep things stable."""
        return {chat: account for account, chats in self.by_account.items() for chat in chats}


def assign_chats(
    chats: Sequence[int],
    accounts: Sequence[int],
    current: Mapping[int, int] | None = None,
    cap: int = MAX_CHATS_PER_ACCOUNT,
    carried: Mapping[int, int] | None = None,
) -> Assignment:
    """Assign ``chats`` to ``accounts``, keeping ``current`` (chat → account) where still valid.

    ``carried`` counts chats the accounts already listen in for other campaigns: they count
    towards the cap and the balance, so one account does not end up with every shared chat.

    Deterministic: ties go to the account listed first. Duplicates in the inputs are ignored.
    """
    if cap < 1:
        raise ValueError(f"cap must be at least 1, got {cap}")
    previous = current or {}
    pool = _unique(accounts)
    targets = _unique(chats)
    owner: dict[int, int] = {}
    load = {account: (carried or {}).get(account, 0) for account in pool}
    pending: list[int] = []
    for chat in targets:
        kept = previous.get(chat)
        if kept is not None and kept in load and load[kept] < cap:
            owner[chat] = kept
            load[kept] += 1
        else:
            pending.append(chat)
    moved, unassigned = _place(pending, pool, load, owner, previous, cap)
    by_account: dict[int, list[int]] = {account: [] for account in pool}
    for chat in targets:
        if chat in owner:
            by_account[owner[chat]].append(chat)
    return Assignment(by_account=by_account, moved=moved, unassigned=unassigned)


def _place(
    pending: list[int],
    pool: list[int],
    load: dict[int, int],
    owner: dict[int, int],
    previous: Mapping[int, int],
    cap: int,
) -> tuple[list[Move], list[int]]:
    """Put each pending chat on the least-loaded account (mutates ``load`` and ``owner``)."""
    heap = [(load[account], rank, account) for rank, account in enumerate(pool)]
    heap = [entry for entry in heap if entry[0] < cap]
    heapq.heapify(heap)
    moved: list[Move] = []
    unassigned: list[int] = []
    for chat in pending:
        target: int | None = None
        if heap:
            count, rank, target = heapq.heappop(heap)
            owner[chat] = target
            load[target] = count + 1
            if count + 1 < cap:
                heapq.heappush(heap, (count + 1, rank, target))
        else:
            unassigned.append(chat)
        was = previous.get(chat)
        if was is not None and was != target:
            moved.append(Move(chat_id=chat, from_account=was, to_account=target))
    return moved, unassigned


def _unique(items: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(items))
