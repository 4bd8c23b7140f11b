"""A big installation for ``bench.panel``, written with PostgreSQL's COPY (asyncpg's
``copy_records_to_table``) after a fresh schema and the migrations.

50 accounts (10 parsers, 40 managers), 500 chats, 5 campaigns of 100 chats each, 100,000 leads
spread over the last year with 300,000 hits (three each), 20,000 conversations with 200,000
messages (ten each) in mixed statuses: a few hundred awaiting approval (the last message is a
held draft), a few hundred handed to a person, a few thousand active, most finished; first DMs
written with one of two prompt versions. For the dashboard: a year of the parser's daily counts for
every chat (500 chats × 365 days), the manager's campaign daily counts of those conversations and
messages, and a year of account events (FloodWaits and PeerFloods, about
20,000). Seeded from a fixed random seed, so every run sees the same data.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from core.db import Database
from core.db.migrate import upgrade

SEED = 11
ACCOUNTS, PARSERS = 50, 10
CHATS = 500
CAMPAIGNS = 5
LEADS = 100_000
HITS_PER_LEAD = 3
CONVERSATIONS = 20_000
MESSAGES_PER_CONVERSATION = 10
COUNT_DAYS = 365  # daily counts per chat
ACCOUNT_EVENTS = 20_000
YEAR = timedelta(days=365)
KEYWORDS = [
    "developer",
    "designer",
    "website",
    "online shop",
    "telegram bot",
    "mobile app",
    "seo",
    "landing page",
    "crm",
    "chatbot",
    "wordpress",
    "copywriter",
    "marketing",
    "python",
    "react",
    "1c",
    "shopify",
    "logo",
    "parser",
    "automation",
]
FILTER_KEYWORD = "telegram bot"  # about one lead in ten carries it
LEAD_STATUSES = [("new", 60), ("contacted", 20), ("replied", 10), ("opted_out", 3), ("skipped", 7)]
# conversation statuses by how many of the 20,000 have them (the rest: finished)
CONVERSATION_STATUSES = {
    "awaiting_approval": 300,
    "handoff": 200,
    "active": 2500,
    "drafting": 100,
    "waiting": 1400,
    "opted_out": 800,
    "rejected": 400,
    "expired": 600,
    "skipped": 300,
    "failed": 200,
}


SERIAL_TABLES = (
    "accounts", "chats", "keyword_sets", "campaigns", "leads", "lead_hits", "conversations",
    "conversation_messages", "account_events",
)  # fmt: skip


@dataclass
class Seeded:
    """What the benchmark needs to know about the data, and how many rows each table got."""

    campaign_ids: list[int]
    conversation_ids: list[int]  # a few with exactly MESSAGES_PER_CONVERSATION messages
    rows: dict[str, int] = field(default_factory=dict)


async def fresh_schema(db: Database) -> None:
    """Drop the public schema and run every migration, as ``bench.outreach`` starts each run."""
    async with db.engine.begin() as connection:
        await connection.execute(text("drop schema public cascade"))
        await connection.execute(text("create schema public"))
    await upgrade(db)


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _spread(rng: random.Random, now: datetime) -> datetime:
    """A moment in the last year, denser in recent months (an installation that grows)."""
    return now - YEAR * float(rng.random() ** 1.5)


def _weighted(rng: random.Random, pairs: Sequence[tuple[str, int]], count: int) -> list[str]:
    names, weights = zip(*pairs, strict=True)
    return rng.choices(names, weights=weights, k=count)


async def _copy(
    connection: Any,  # asyncpg's Connection (asyncpg ships no type hints)
    table: str,
    columns: Sequence[str],
    rows: Iterator[tuple[Any, ...]],
) -> int:
    records = list(rows)
    await connection.copy_records_to_table(table, records=records, columns=list(columns))
    return len(records)


def _small_tables(now: datetime) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    accounts = [
        (
            n,
            f"{'parser' if n <= PARSERS else 'manager'}-{n}",
            "parser" if n <= PARSERS else "manager",
        )
        for n in range(1, ACCOUNTS + 1)
    ]
    campaign_chats = [
        (c, chat) for c in range(1, CAMPAIGNS + 1) for chat in range(c, CHATS + 1, CAMPAIGNS)
    ]
    managers = [a for a, _, role in accounts if role == "manager"]
    links = [(c, a, "manager") for c in range(1, CAMPAIGNS + 1) for a in managers[c - 1 :: 5]]
    links += [(c, a, "parser") for c in range(1, CAMPAIGNS + 1) for a in range(1, PARSERS + 1)]
    return {
        "accounts": (
            ["id", "name", "role", "status", "session_secret", "created_at"],
            [
                (n, name, role, "active", "bench-not-a-secret", now - YEAR)
                for n, name, role in accounts
            ],
        ),
        "chats": (
            ["id", "ref", "title", "telegram_chat_id"],
            [
                (n, f"bench_chat_{n}", f"Bench chat {n}", -1_000_000_000 - n)
                for n in range(1, CHATS + 1)
            ],
        ),
        "keyword_sets": (
            ["id", "name", "keywords", "exclude"],
            [(1, "everything", _dump(KEYWORDS), _dump([]))],
        ),
        "campaigns": (
            ["id", "name", "mode", "status", "outreach", "created_at"],
            [
                (
                    n,
                    f"campaign-{n}",
                    "outreach",
                    "active",
                    _dump({"approval": n % 2 == 1}),
                    now - YEAR,
                )
                for n in range(1, CAMPAIGNS + 1)
            ],
        ),
        "campaign_chats": (["campaign_id", "chat_id"], campaign_chats),
        "campaign_keyword_sets": (
            ["campaign_id", "keyword_set_id"],
            [(c, 1) for c in range(1, CAMPAIGNS + 1)],
        ),
        "campaign_accounts": (["campaign_id", "account_id", "role"], links),
    }


LEAD_COLUMNS = [
    "id", "campaign_id", "telegram_user_id", "username", "profile", "chat_id", "chat_ref",
    "message_id", "text", "link", "keywords", "hits", "status", "first_seen_at", "last_seen_at",
]  # fmt: skip
HIT_COLUMNS = ["id", "lead_id", "chat_id", "message_id", "text", "link", "keywords", "seen_at"]


@dataclass(frozen=True)
class LeadFacts:
    campaign_id: int
    user_id: int
    username: str
    first_seen_at: datetime


def _leads(
    rng: random.Random, now: datetime
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[LeadFacts]]:
    statuses = _weighted(rng, LEAD_STATUSES, LEADS)
    leads, hits, facts = [], [], []
    for n in range(1, LEADS + 1):
        campaign = (n - 1) % CAMPAIGNS + 1
        chat = rng.randrange(campaign, CHATS + 1, CAMPAIGNS)
        words = rng.sample(KEYWORDS, rng.choice((1, 1, 2)))
        first = _spread(rng, now)
        seen = sorted(first + (now - first) * rng.random() * 0.2 for _ in range(HITS_PER_LEAD - 1))
        user, username = 5_000_000_000 + n, f"lead_{n}"
        profile = {
            "user_id": user,
            "username": username,
            "first_name": f"Lead{n}",
            "last_name": "Bench",
        }
        body = f"Hi all, looking for {' and '.join(words)} for our project #{n}, budget flexible"
        message = 1_000_000 + n * HITS_PER_LEAD
        link = f"https://t.me/bench_chat_{chat}/{message}"
        leads.append((
            n, campaign, user, username, _dump(profile), -1_000_000_000 - chat,
            f"bench_chat_{chat}",
            message, body, link, _dump(words), HITS_PER_LEAD, statuses[n - 1], first,
            seen[-1] if seen else first,
        ))  # fmt: skip
        for k, at in enumerate([first, *seen]):
            hit_id = (n - 1) * HITS_PER_LEAD + k + 1
            hits.append(
                (hit_id, n, -1_000_000_000 - chat, message + k, body, link, _dump(words), at)
            )
        facts.append(LeadFacts(campaign, user, username, first))
    return leads, hits, facts


CONVERSATION_COLUMNS = [
    "id", "campaign_id", "lead_id", "account_id", "telegram_user_id", "username", "status",
    "stage", "turns", "reason", "created_at", "updated_at",
]  # fmt: skip
MESSAGE_COLUMNS = [
    "id", "conversation_id", "direction", "slot", "kind", "text", "status", "idempotency_key",
    "account_id", "telegram_message_id", "stage", "template_version", "writer", "prompt_tokens",
    "completion_tokens", "cost", "created_at", "sent_at",
]  # fmt: skip


def _conversations(
    rng: random.Random, now: datetime, facts: list[LeadFacts]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    statuses = [s for s, count in CONVERSATION_STATUSES.items() for _ in range(count)]
    statuses += ["finished"] * (CONVERSATIONS - len(statuses))
    rng.shuffle(statuses)
    lead_ids = rng.sample(range(1, LEADS + 1), CONVERSATIONS)
    conversations, messages = [], []
    for n, (lead_id, status) in enumerate(zip(lead_ids, statuses, strict=True), start=1):
        lead = facts[lead_id - 1]
        account = PARSERS + 1 + ((lead.campaign_id - 1) + 5 * rng.randrange(8))
        started = lead.first_seen_at + timedelta(minutes=rng.randint(1, 60))
        gap = min((now - started) / (MESSAGES_PER_CONVERSATION + 1), timedelta(hours=6))
        version = rng.choice(("v1", "v2"))  # an A/B of two prompts
        at = started
        for k in range(MESSAGES_PER_CONVERSATION):
            at += gap * rng.random()
            out = k % 2 == 0
            last = k == MESSAGES_PER_CONVERSATION - 1
            held = last and status == "awaiting_approval"
            row_id = (n - 1) * MESSAGES_PER_CONVERSATION + k + 1
            messages.append((
                row_id, n, "out" if out else "in", k if out else 9_000_000 + row_id,
                "first" if k == 0 else "turn",
                f"{'Our' if out else 'Their'} message {k} in conversation {n}",
                "pending_approval" if held else ("sent" if out else "received"),
                f"bench-{row_id}" if out else None, account if out else None,
                None if held else 50_000_000 + row_id, "qualify" if out else None,
                version if out else None, "llm:bench" if out else None, 400 if out else 0,
                60 if out else 0, 0.0004 if out else 0.0, at, None if held or not out else at,
            ))  # fmt: skip
        conversations.append((
            n, lead.campaign_id, lead_id, account, lead.user_id, lead.username, status, "qualify",
            MESSAGES_PER_CONVERSATION // 2, None, started, at,
        ))  # fmt: skip
    return conversations, messages


CAMPAIGN_COUNT_COLUMNS = [
    "campaign_id", "day", "template_version", "first_dms", "replies", "opt_outs",
    "prompt_tokens", "completion_tokens", "cost",
]  # fmt: skip


def _campaign_counts(
    conversations: list[tuple[Any, ...]], messages: list[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    """The manager's daily counts for the seeded conversations, as it would have kept them (and
    migration 0011 counts them): first DMs sent on their UTC day per prompt version, replied when
    the conversation has an answer, opt-outs on their last change, tokens on the day written."""
    campaign_of = {row[0]: row[1] for row in conversations}
    answered = {row[1] for row in messages if row[2] == "in"}
    counts: dict[tuple[int, Any, str], list[float]] = {}

    def add(campaign: int, at: datetime, version: str | None, n: int, value: float) -> None:
        key = (campaign, at.astimezone(UTC).date(), version or "")
        counts.setdefault(key, [0, 0, 0, 0, 0, 0.0])[n] += value

    for row in messages:
        message = dict(zip(MESSAGE_COLUMNS, row, strict=True))
        campaign, version = campaign_of[message["conversation_id"]], message["template_version"]
        sent = message["sent_at"]
        if message["kind"] == "first" and message["status"] == "sent" and sent is not None:
            add(campaign, sent, version, 0, 1)
            add(campaign, sent, version, 1, int(message["conversation_id"] in answered))
        for n, name in enumerate(("prompt_tokens", "completion_tokens", "cost"), start=3):
            if message[name]:
                add(campaign, message["created_at"], version, n, message[name])
    for row in conversations:
        if row[6] == "opted_out":
            add(row[1], row[11], None, 2, 1)
    for (campaign, day, version), values in sorted(counts.items()):
        yield (campaign, day, version, *(int(v) for v in values[:5]), values[5])


COUNT_COLUMNS = ["telegram_chat_id", "day", "messages", "matched"]
EVENT_COLUMNS = ["id", "account_id", "kind", "seconds", "until", "detail", "at"]


def _daily_counts(rng: random.Random, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Every chat, every day of the year: what the parser read and matched there."""
    today = now.date()
    for chat in range(1, CHATS + 1):
        busy = rng.randint(20, 800)  # messages on a usual day in this chat
        for n in range(COUNT_DAYS):
            messages = max(0, int(rng.gauss(busy, busy / 4)))
            yield -1_000_000_000 - chat, today - timedelta(days=n), messages, messages // 50


def _account_events(rng: random.Random, now: datetime) -> Iterator[tuple[Any, ...]]:
    """FloodWaits (most) and PeerFloods over the year, spread over every account."""
    for n in range(1, ACCOUNT_EVENTS + 1):
        at = now - YEAR * rng.random()
        if rng.random() < 0.9:
            seconds = rng.choice((5, 30, 60, 300, 3600))
            yield (
                n,
                rng.randint(1, ACCOUNTS),
                "flood_wait",
                seconds,
                at + timedelta(seconds=seconds),
                None,
                at,
            )
        else:
            yield (
                n,
                rng.randint(PARSERS + 1, ACCOUNTS),
                "peer_flood",
                None,
                at + timedelta(days=1),
                None,
                at,
            )


async def seed(url: str) -> Seeded:
    """Fresh schema, migrations, then every row; sequences set past the ids written."""
    db = Database(url)
    try:
        await fresh_schema(db)
        async with db.engine.connect() as sqlalchemy_connection:
            raw = await sqlalchemy_connection.get_raw_connection()
            return await _fill(raw.driver_connection)
    finally:
        await db.close()


async def _fill(connection: Any) -> Seeded:
    """Every row through asyncpg's COPY on ``connection``, in one transaction."""
    rng, now = random.Random(SEED), datetime.now(UTC)
    rows: dict[str, int] = {}
    async with connection.transaction():
        for table, (columns, records) in _small_tables(now).items():
            rows[table] = await _copy(connection, table, columns, iter(records))
        leads, hits, facts = _leads(rng, now)
        rows["leads"] = await _copy(connection, "leads", LEAD_COLUMNS, iter(leads))
        rows["lead_hits"] = await _copy(connection, "lead_hits", HIT_COLUMNS, iter(hits))
        conversations, messages = _conversations(rng, now, facts)
        rows["conversations"] = await _copy(
            connection, "conversations", CONVERSATION_COLUMNS, iter(conversations)
        )
        rows["conversation_messages"] = await _copy(
            connection, "conversation_messages", MESSAGE_COLUMNS, iter(messages)
        )
        rows["campaign_daily_counts"] = await _copy(
            connection,
            "campaign_daily_counts",
            CAMPAIGN_COUNT_COLUMNS,
            _campaign_counts(conversations, messages),
        )
        rows["chat_daily_counts"] = await _copy(
            connection, "chat_daily_counts", COUNT_COLUMNS, _daily_counts(rng, now)
        )
        rows["account_events"] = await _copy(
            connection, "account_events", EVENT_COLUMNS, _account_events(rng, now)
        )
        for table in SERIAL_TABLES:
            await connection.execute(
                f"select setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - our names
                f"(select max(id) from {table}))"
            )
    await connection.execute("analyze")  # fresh statistics, as autovacuum would make later
    conversation_ids = [1, CONVERSATIONS // 2, CONVERSATIONS]
    return Seeded(list(range(1, CAMPAIGNS + 1)), conversation_ids, rows)
