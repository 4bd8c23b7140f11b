"""Accounts as people read them: a searchable page of them, each with a state that tells a
connection problem from a ban, and one account's health (recent events, campaigns, warm-up day,
today's cap and sends).

The state comes from what the account worker records (``accounts.status``, ``flood_until``,
``peer_flood_until``, ``account_events``), in this order: banned; revoked (a new login is needed);
paused by an admin; proxy unreachable; waiting out a FloodWait until …; PeerFlood-limited
until …; active. "Proxy unreachable" is the latest ``proxy`` event when nothing newer shows the
connection working: no later event of another kind (a FloodWait is an answer from Telegram) and
no message the account sent after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.reads.paging import PAGE_SIZE, capped_count
from core.db.models import (
    Account,
    AccountEvent,
    Campaign,
    CampaignAccount,
    ChatAssignment,
    ConversationMessage,
)
from core.outreach import OutreachPolicy
from manager.pacing import AccountCaps, day_start, load_zone, new_dm_allowance

RECENT_EVENTS = 20


@dataclass(frozen=True)
class AccountState:
    kind: str  # active, paused, flood_wait, peer_flood, banned, revoked, proxy
    until: datetime | None = None
    reason: str | None = None

    @property
    def healthy(self) -> bool:
        return self.kind == "active"


def _aware(moment: datetime | None) -> datetime | None:
    return _utc(moment) if moment is not None else None


def account_state(
    account: Account,
    proxy_problem: AccountEvent | None,
    *,
    now: datetime,
) -> AccountState:
    if account.status in ("banned", "revoked"):
        return AccountState(account.status, reason=account.status_reason)
    if account.status == "paused":
        return AccountState("paused")
    if proxy_problem is not None:
        return AccountState("proxy", reason=proxy_problem.detail)
    flood, peer = _aware(account.flood_until), _aware(account.peer_flood_until)
    if flood is not None and flood > now:
        return AccountState("flood_wait", until=flood)
    if peer is not None and peer > now:
        return AccountState("peer_flood", until=peer)
    return AccountState("active")


async def proxy_problems(session: AsyncSession, account_ids: list[int]) -> dict[int, AccountEvent]:
    """The accounts whose latest ``proxy`` event has nothing newer showing a working connection."""
    if not account_ids:
        return {}
    proxy_at = await _latest_event(session, account_ids, proxy=True)
    if not proxy_at:
        return {}
    working = await _latest_event(session, list(proxy_at), proxy=False)
    sent = await session.execute(
        select(ConversationMessage.account_id, func.max(ConversationMessage.sent_at))
        .where(ConversationMessage.account_id.in_(list(proxy_at)))
        .group_by(ConversationMessage.account_id)
    )
    for account_id, at in sent:
        if at is not None and account_id is not None:
            working[account_id] = max(_utc(at), working.get(account_id, _utc(at)))
    stuck = [a for a, at in proxy_at.items() if a not in working or working[a] < at]
    problems: dict[int, AccountEvent] = {}
    for account_id in stuck:
        event = await session.scalar(
            select(AccountEvent)
            .where(AccountEvent.account_id == account_id, AccountEvent.kind == "proxy")
            .order_by(AccountEvent.at.desc(), AccountEvent.id.desc())
            .limit(1)
        )
        if event is not None:
            problems[account_id] = event
    return problems


async def _latest_event(
    session: AsyncSession, account_ids: list[int], *, proxy: bool
) -> dict[int, datetime]:
    kind = AccountEvent.kind == "proxy" if proxy else AccountEvent.kind != "proxy"
    rows = await session.execute(
        select(AccountEvent.account_id, func.max(AccountEvent.at))
        .where(AccountEvent.account_id.in_(account_ids), kind)
        .group_by(AccountEvent.account_id)
    )
    return {int(account_id): _utc(at) for account_id, at in rows}


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class AccountRow:
    account: Account
    state: AccountState
    campaigns: list[str]  # names of the campaigns it works for
    chats: int


@dataclass(frozen=True)
class AccountPage:
    rows: list[AccountRow]
    total: int
    search: str
    offset: int
    more: bool = False


async def account_page(
    session: AsyncSession, search: str = "", offset: int = 0, *, limit: int = PAGE_SIZE
) -> AccountPage:
    """Accounts by name, filtered by a part of the name or phone."""
    where = []
    if search.strip():
        pattern = f"%{search.strip()}%"
        where.append(or_(Account.name.ilike(pattern), Account.phone.ilike(pattern)))
    total, more = await capped_count(session, select(Account.id).where(*where), offset)
    accounts = list(
        await session.scalars(
            select(Account).where(*where).order_by(Account.name).limit(limit).offset(offset)
        )
    )
    ids = [a.id for a in accounts]
    campaigns = await _campaign_names(session, ids)
    chats = await _chat_counts(session, ids)
    problems = await proxy_problems(session, ids)
    now = datetime.now(UTC)
    rows = [
        AccountRow(
            a,
            account_state(a, problems.get(a.id), now=now),
            campaigns.get(a.id, []),
            chats.get(a.id, 0),
        )
        for a in accounts
    ]
    return AccountPage(rows, total, search, offset, more)


async def _campaign_names(session: AsyncSession, ids: list[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    rows = await session.execute(
        select(CampaignAccount.account_id, Campaign.name)
        .join(Campaign, Campaign.id == CampaignAccount.campaign_id)
        .where(CampaignAccount.account_id.in_(ids))
        .order_by(Campaign.name)
    )
    names: dict[int, list[str]] = {}
    for account_id, name in rows:
        if name not in names.setdefault(account_id, []):
            names[account_id].append(name)
    return names


async def _chat_counts(session: AsyncSession, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = await session.execute(
        select(ChatAssignment.account_id, func.count())
        .where(ChatAssignment.account_id.in_(ids))
        .group_by(ChatAssignment.account_id)
    )
    return {int(a): int(n) for a, n in rows}


@dataclass(frozen=True)
class CampaignUse:
    campaign_id: int
    name: str
    status: str
    role: str
    cap_today: int | None  # new DMs it may send today for this campaign (manager role)
    warmup_days: int


@dataclass(frozen=True)
class AccountView:
    account: Account
    state: AccountState
    events: list[AccountEvent]
    campaigns: list[CampaignUse]
    age_days: int  # whole days since it was added: the warm-up ramp's day
    sent_today: int  # first DMs sent since midnight UTC
    chats: int


async def account_view(session: AsyncSession, account_id: int) -> AccountView | None:
    account = await session.get(Account, account_id)
    if account is None:
        return None
    now = datetime.now(UTC)
    created = _aware(account.created_at) or now
    problems = await proxy_problems(session, [account.id])
    events = list(
        await session.scalars(
            select(AccountEvent)
            .where(AccountEvent.account_id == account.id)
            .order_by(AccountEvent.at.desc(), AccountEvent.id.desc())
            .limit(RECENT_EVENTS)
        )
    )
    links = await session.execute(
        select(Campaign, CampaignAccount.role)
        .join(CampaignAccount, CampaignAccount.campaign_id == Campaign.id)
        .where(CampaignAccount.account_id == account.id)
        .order_by(Campaign.name)
    )
    uses = [_use(campaign, role, account, created, now) for campaign, role in links]
    sent = await session.scalar(
        select(func.count())
        .select_from(ConversationMessage)
        .where(
            ConversationMessage.account_id == account.id,
            ConversationMessage.kind == "first",
            ConversationMessage.status == "sent",
            ConversationMessage.sent_at >= day_start(now, load_zone("UTC")),
        )
    )
    chats = await session.scalar(
        select(func.count())
        .select_from(ChatAssignment)
        .where(ChatAssignment.account_id == account.id)
    )
    return AccountView(
        account=account,
        state=account_state(account, problems.get(account.id), now=now),
        events=events,
        campaigns=uses,
        age_days=max(0, (now - created) // timedelta(days=1)),
        sent_today=int(sent or 0),
        chats=int(chats or 0),
    )


def _use(
    campaign: Campaign, role: str, account: Account, created: datetime, now: datetime
) -> CampaignUse:
    policy = OutreachPolicy.model_validate(campaign.outreach or {})
    cap = None
    if role == "manager":
        caps = AccountCaps(
            new_dms_per_day=policy.new_dms_per_day,
            messages_per_minute=policy.messages_per_minute,
            warmup_days=policy.warmup_days,
            warmup_start_dms=policy.warmup_start_dms,
        )
        cap = new_dm_allowance(caps, created, now)
        if account.daily_cap is not None:  # the account's own ceiling wins when lower
            cap = min(cap, account.daily_cap)
    return CampaignUse(campaign.id, campaign.name, campaign.status, role, cap, policy.warmup_days)
