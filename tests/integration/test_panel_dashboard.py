"""The dashboard on a seeded world: the funnel a user would check (messages scanned, leads, first
DMs, replies, opt-outs) overall and per campaign, the reply rate per prompt version, tokens, each
account's sends against its cap and its FloodWaits; flags for an anomaly and none for steady
data."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.db.models import (
    Account,
    AccountEvent,
    Campaign,
    Chat,
    ChatDailyCount,
    Conversation,
    ConversationMessage,
    Lead,
)
from manager import daily_counts
from tests.integration.conftest import World, sign_in

JOBS, ELSEWHERE = -100, -999  # the campaigns' chat, and a chat no campaign reads
DAYS = 21  # this week and the 14 days before it


def _moment(today: date, days_ago: int, now: datetime) -> datetime:
    """A moment on the day ``days_ago`` before today, never later than now."""
    start = datetime.combine(today, time(), tzinfo=UTC)
    return start - timedelta(days=days_ago) + (now - start) / 2


async def seed(db: Database, *, anomaly: bool) -> None:
    """Campaign "web": 10 first DMs a day for 21 days from manager-1 (prompts a1 and b2, five
    each), 3 a day answered (2 of a1, 1 of b2) — none this week when ``anomaly``; two opt-outs
    this week; 100 messages a day read in its chat (and 50 in a chat of no campaign); FloodWaits
    of manager-1 every other day — 12 this week and 3 PeerFloods when ``anomaly``. Campaign
    "other": two leads this week, no DMs."""
    now = datetime.now(UTC)
    today = now.date()
    async with db.transaction() as session:
        ids = {r[0]: r[1] for r in await session.execute(select(Campaign.name, Campaign.id))}
        accounts = {r[0]: r[1] for r in await session.execute(select(Account.name, Account.id))}
        manager = accounts["manager-1"]
        await session.execute(update(Account).where(Account.id == manager).values(daily_cap=40))
        await session.execute(update(Chat).where(Chat.ref == "@jobs").values(telegram_chat_id=JOBS))
        counts = [
            {
                "telegram_chat_id": chat,
                "day": today - timedelta(days=n),
                "messages": m,
                "matched": 5,
            }
            for n in range(30)
            for chat, m in ((JOBS, 100), (ELSEWHERE, 50))
        ]
        await session.execute(insert(ChatDailyCount), counts)
        leads, user = [], 1000
        for n in range(DAYS):
            for _ in range(10):
                user += 1
                leads.append(_lead(ids["web"], user, _moment(today, n, now)))
        for k in range(2):
            leads.append(_lead(ids["other"], 9000 + k, _moment(today, 1, now)))
        leads.append(_lead(ids["web"], 9100, now - timedelta(days=40)))
        made = await session.execute(
            insert(Lead).returning(Lead.id, Lead.first_seen_at, sort_by_parameter_order=True), leads
        )
        lead_rows = [(r[0], r[1]) for r in made]
        web_leads = lead_rows[: DAYS * 10]
        conversations, opted_at = [], []
        for index, (lead_id, seen) in enumerate(web_leads):
            n, k = divmod(index, 10)
            opted = n < 7 and k == 9 and n in (1, 2)
            if opted:
                opted_at.append(seen)
            conversations.append(
                {
                    "campaign_id": ids["web"],
                    "lead_id": lead_id,
                    "account_id": manager,
                    "telegram_user_id": 1001 + index,
                    "status": "opted_out" if opted else "active",
                    "turns": 1,
                    "updated_at": seen,
                }
            )
        conversation_ids = list(
            await session.scalars(
                insert(Conversation).returning(Conversation.id, sort_by_parameter_order=True),
                conversations,
            )
        )
        messages, sent = [], []
        for index, conversation_id in enumerate(conversation_ids):
            n, k = divmod(index, 10)
            at = _moment(today, n, now)
            version = "a1" if k < 5 else "b2"
            messages.append(_first(conversation_id, manager, at, version))
            sent.append((conversation_id, ids["web"], at, version))
            answered = k in (0, 1, 5) and not (anomaly and n < 7)
            if answered:  # on the day of the DM, and never later than now
                messages.append(
                    _reply(
                        conversation_id, manager, at + min((now - at) / 10, timedelta(minutes=1))
                    )
                )
        await session.execute(insert(ConversationMessage), messages)
        await _count_as_the_manager_does(session, ids["web"], messages, sent, opted_at)
        regular = [n for n in range(0, DAYS, 2) if not (anomaly and n < 7)]
        events = [_event(manager, "flood_wait", 30, _moment(today, n, now)) for n in regular]
        if anomaly:
            burst = ["flood_wait"] * 12 + ["peer_flood"] * 3
            events += [
                _event(manager, k, 60, _moment(today, n % 7, now)) for n, k in enumerate(burst)
            ]
        await session.execute(insert(AccountEvent), events)


async def _count_as_the_manager_does(
    session: AsyncSession,
    campaign: int,
    messages: list[dict[str, object]],
    sent: list[tuple[int, int, datetime, str]],
    opted_at: list[datetime],
) -> None:
    """The daily counts the manager keeps for these rows: each first DM written (its tokens),
    then reported sent (answered already: the answers are in), and each opt-out on its day."""
    for message in messages:
        if message["direction"] == "out":
            written = ConversationMessage(**message)
            await daily_counts.message_written(session, campaign, written, now=written.created_at)
    await daily_counts.first_dms_sent(session, sent)
    for at in opted_at:
        await daily_counts.opted_out(session, [campaign], now=at)


def _event(account: int, kind: str, seconds: int, at: datetime) -> dict[str, object]:
    return {"account_id": account, "kind": kind, "seconds": seconds, "at": at}


def _lead(campaign: int, user: int, seen: datetime) -> dict[str, object]:
    return {
        "campaign_id": campaign,
        "telegram_user_id": user,
        "profile": {"first_name": "Анна"},
        "chat_id": JOBS,
        "chat_ref": "@jobs",
        "message_id": user,
        "text": "Ищу разработчика",
        "keywords": ["разработчик"],
        "status": "contacted",
        "first_seen_at": seen,
        "last_seen_at": seen,
    }


def _first(conversation: int, account: int, at: datetime, version: str) -> dict[str, object]:
    return {
        "conversation_id": conversation,
        "direction": "out",
        "slot": 0,
        "kind": "first",
        "text": "Здравствуйте!",
        "status": "sent",
        "account_id": account,
        "template_version": version,
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "cost": 0.001,
        "created_at": at,
        "sent_at": at,
    }


def _reply(conversation: int, account: int, at: datetime) -> dict[str, object]:
    return {
        "conversation_id": conversation,
        "direction": "in",
        "slot": 1,
        "kind": "reply",
        "text": "Да, интересно",
        "status": "received",
        "account_id": account,
        "created_at": at,
    }


def _number(html: str, testid: str) -> int:
    found = re.search(rf'data-testid="{testid}">([\d,]+)<', html)
    assert found is not None, f"no {testid} on the page"
    return int(found.group(1).replace(",", ""))


def _row(html: str, attribute: str, value: str) -> str:
    found = re.search(rf'<tr data-{attribute}="{re.escape(value)}".*?</tr>', html, re.S)
    assert found is not None, f"no row {attribute}={value}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0))).strip()


async def _campaign_id(world: World, name: str) -> int:
    async with world.db.session() as session:
        found = await session.scalar(select(Campaign.id).where(Campaign.name == name))
    assert found is not None
    return found


async def test_the_funnel_overall_and_per_campaign_shows_what_happened_this_week(
    browser: httpx.AsyncClient, panel_world: World
) -> None:
    await seed(panel_world.db, anomaly=False)
    await sign_in(browser, "viewer")

    page = (await browser.get("/?days=7")).text
    assert _number(page, "total-scanned") == 7 * 150  # every chat read, a campaign's or not
    assert _number(page, "total-leads") == 72
    assert _number(page, "total-first_dms") == 70
    assert _number(page, "total-replies") == 21
    assert _number(page, "total-opt_outs") == 2
    assert "7,000 prompt + 1,400 completion tokens, $0.0700" in page
    assert _row(page, "version", "a1") == "web a1 35 14 40.0%"
    assert _row(page, "version", "b2") == "web b2 35 7 20.0%"
    assert "10 / 40" in _row(page, "account", "manager-1")  # its own ceiling under the campaign's
    assert "0 / 1000" in _row(page, "account", "manager-2")
    assert "4 · 120 s" in _row(page, "account", "manager-1")  # FloodWaits this week, seconds
    assert 'data-testid="no-flags"' in page  # steady: nothing marked

    web = await _campaign_id(panel_world, "web")
    other = await _campaign_id(panel_world, "other")
    page = (await browser.get(f"/?days=7&campaign={web}")).text
    assert _number(page, "total-scanned") == 7 * 100  # only the campaign's chat
    assert _number(page, "total-leads") == 70
    page = (await browser.get(f"/?days=7&campaign={other}")).text
    assert _number(page, "total-leads") == 2
    assert _number(page, "total-first_dms") == 0
    assert 'data-version="a1"' not in page

    page = (await browser.get("/?days=30")).text  # the three weeks, not the lead of 40 days ago
    assert _number(page, "total-leads") == DAYS * 10 + 2
    assert _number(page, "total-first_dms") == DAYS * 10


async def test_an_anomaly_is_flagged_with_its_numbers(
    browser: httpx.AsyncClient, panel_world: World
) -> None:
    await seed(panel_world.db, anomaly=True)
    await sign_in(browser, "viewer")
    page = (await browser.get("/?days=7")).text
    assert 'data-testid="no-flags"' not in page
    flags = dict(re.findall(r'data-flag="(\w+)" data-subject="([\w-]+)"', page))
    assert flags == {"reply_rate": "web", "flood_wait": "manager-1", "peer_flood": "manager-1"}
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert "reply rate 0.0% this week (70 first DMs) against 30.0% ± 0.0" in text
    assert "FloodWaits: 1.7 a day this week (12 events) against 0.5 ± 0.5" in text
    assert 'class="table-warning"' in page  # the account's row is marked too


async def test_a_missing_campaign_is_the_panels_404_and_an_odd_range_the_default(
    browser: httpx.AsyncClient, panel_world: World
) -> None:
    await sign_in(browser, "viewer")
    answer = await browser.get("/?campaign=999")
    assert answer.status_code == 404 and "text/html" in answer.headers["content-type"]
    answer = await browser.get("/?days=12")
    assert answer.status_code == 200
    assert 'class="btn btn-primary active" data-testid="days-30"' in answer.text


async def test_the_numbers_refetch_alone_for_the_live_feed(
    browser: httpx.AsyncClient, panel_world: World
) -> None:
    await sign_in(browser, "viewer")
    await panel_world.lead(5001)
    fragment = await browser.get(
        "/?days=7", headers={"HX-Request": "true", "HX-Target": "dashboard-live"}
    )
    assert "<html" not in fragment.text
    assert _number(fragment.text, "total-leads") == 1


@pytest.mark.parametrize("login", ["operator"])
async def test_anyone_signed_in_sees_it_at_the_start(
    browser: httpx.AsyncClient, panel_world: World, login: str
) -> None:
    assert (await browser.get("/")).status_code in (303, 307)  # signed out: to the sign-in form
    await sign_in(browser, login)
    page = await browser.get("/")
    assert page.status_code == 200 and 'data-testid="funnel"' in page.text
