"""The panel's leads, inbox and dashboard pages on a big installation: latency through the real
app.

``bench.panel_seed`` fills PostgreSQL (fresh schema, migrations, COPY): 100,000 leads with
300,000 hits and 20,000 conversations with 200,000 messages over a year, a year of daily counts
for 500 chats (182,500 rows) and 20,000 account events. Then the admin app
(``admin.app.create_app`` with the real ``Database``, an in-memory bus, default settings, as
``tests/conftest.py::admin_app``) answers an ``httpx.AsyncClient`` over ``httpx.ASGITransport``,
signed in as an operator through ``POST /login``. Each page is requested ``--runs`` times after a
warm-up; latency is the wall time of one whole request (routing, session check, SQL, template).

Baseline, same run, same number of runs: the queries a first version of each page would run
(``NAIVE``): counts over everything (every lead joined to its hits, leads and conversations by
status over whole tables), and for the inbox the last message of every conversation through a
correlated subquery; for the dashboard every day's numbers over all time (daily counts, leads,
first DMs, replies, opt-outs, tokens, reply rate per version, account events), grouped by day and
cut to the range afterwards. They run straight on the database (no HTTP, no template), which
favours the baseline.

Where the time goes: a few more requests per page with every SQL statement timed (engine events),
so the table shows each page's slowest statement and the share of its ``COUNT(*)`` (the total
shown above the list). CPU: this process's CPU seconds per request (``time.process_time``: app,
client and driver together) and PostgreSQL's, whole server from /proc, per request.

Run: ``python -m bench.panel [--runs 50] [--reuse]`` (PostgreSQL at COOLTHING_BENCH_DATABASE_URL,
else database coolthing_bench on 127.0.0.1; ``--reuse`` keeps the rows of a previous run). The last
line is one JSON object; ``goal_met`` when every page's p95 is under 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import event, func, select, text

from admin.access import users
from admin.app import create_app
from bench.panel_seed import CONVERSATIONS, FILTER_KEYWORD, MESSAGES_PER_CONVERSATION, Seeded, seed
from core.access import Role
from core.bus.factory import make_bus
from core.db import Database
from core.db.models import Campaign, Conversation, Lead, User
from core.security import SecretBox
from core.settings import Settings

DB_URL = os.environ.get(
    "COOLTHING_BENCH_DATABASE_URL",
    "postgresql+asyncpg://coolthing:coolthing@127.0.0.1:5432/coolthing_bench",
)
ROOT = Path(__file__).resolve().parent.parent
LOGIN, PASSWORD = "bench-operator", "bench panel password 2026"
GOAL_P95_MS = 150.0
WARMUP = 5
PROFILED = 10  # requests per page with every statement timed (not in the latency numbers)

NAIVE_LEADS = [
    "select count(*) from leads l join lead_hits h on h.lead_id = l.id {where}",
    "select l.status, count(*) from leads l join lead_hits h on h.lead_id = l.id {where} "
    "group by l.status",
    "select l.*, c.name, (select count(*) from lead_hits h where h.lead_id = l.id) as hit_count "
    "from leads l join campaigns c on c.id = l.campaign_id {where} "
    "order by l.first_seen_at desc, l.id desc limit 50",
]
NAIVE_INBOX = [
    "select status, count(*) from conversations group by status",
    "select c.*, l.profile, cp.name, (select m.text from conversation_messages m "
    "where m.conversation_id = c.id order by m.created_at desc, m.id desc limit 1) as last_text "
    "from conversations c join leads l on l.id = c.lead_id join campaigns cp on cp.id = "
    "c.campaign_id {where} order by c.updated_at desc, c.id desc",
]
NAIVE_DASHBOARD = [
    "select day, sum(messages) from chat_daily_counts {chats} group by day",
    "select date(first_seen_at), count(*) from leads {campaign} group by 1",
    "select date(m.sent_at), count(*) from conversation_messages m join conversations c on "
    "c.id = m.conversation_id where m.kind = 'first' and m.status = 'sent' {and_campaign} "
    "group by 1",
    "select date(m.created_at), count(distinct m.conversation_id), sum(m.prompt_tokens), "
    "sum(m.completion_tokens), sum(m.cost) from conversation_messages m join conversations c on "
    "c.id = m.conversation_id where true {and_campaign} group by 1",
    "select date(updated_at), count(*) from conversations c where status = 'opted_out' "
    "{and_campaign} group by 1",
    "select m.template_version, count(*), count(*) filter (where exists (select 1 from "
    "conversation_messages a where a.conversation_id = m.conversation_id and a.direction = 'in'))"
    " from conversation_messages m join conversations c on c.id = m.conversation_id "
    "where m.kind = 'first' {and_campaign} group by 1",
    "select account_id, kind, date(at), count(*), sum(seconds) from account_events "
    "group by 1, 2, 3",
]
NAIVE_DIALOGUE = [
    "select * from conversation_messages where conversation_id = {conversation} order by id"
]


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    naive: list[str]  # SQL of the baseline


def pages(seeded: Seeded) -> list[Page]:
    campaign, conversation = seeded.campaign_ids[0], seeded.conversation_ids[1]
    keyword = FILTER_KEYWORD.replace(" ", "+")
    like = f"'%\"{FILTER_KEYWORD}\"%'"
    filtered = f"where l.campaign_id = {campaign} and lower(l.keywords::text) like {like}"
    approval = "where c.status in ('awaiting_approval')"
    dialogue = [q.format(conversation=conversation) for q in NAIVE_DIALOGUE]
    return [
        Page("leads", "/leads", [q.format(where="") for q in NAIVE_LEADS]),
        Page(
            "leads_filtered",
            f"/leads?campaign={campaign}&keyword={keyword}",
            [q.format(where=filtered) for q in NAIVE_LEADS],
        ),
        Page(
            "inbox_needs_approval",
            "/inbox?need=needs_approval",
            [q.format(where=approval) for q in NAIVE_INBOX],
        ),
        Page("inbox_all", "/inbox?need=all", [q.format(where="") for q in NAIVE_INBOX]),
        Page(
            "inbox_conversation",
            f"/inbox/{conversation}",
            [q.format(where="") for q in NAIVE_INBOX] + dialogue,
        ),
        Page("dashboard_30d", "/?days=30", _naive_dashboard(None)),
        Page(
            "dashboard_90d_campaign", f"/?days=90&campaign={campaign}", _naive_dashboard(campaign)
        ),
    ]


def _naive_dashboard(campaign: int | None) -> list[str]:
    if campaign is None:
        where = {"chats": "", "campaign": "", "and_campaign": ""}
    else:
        chats = (
            "where telegram_chat_id in (select ch.telegram_chat_id from chats ch join "  # noqa: S608 - an id of ours
            f"campaign_chats cc on cc.chat_id = ch.id where cc.campaign_id = {campaign})"
        )
        where = {
            "chats": chats,
            "campaign": f"where campaign_id = {campaign}",
            "and_campaign": f"and c.campaign_id = {campaign}",
        }
    return [q.format(**where) for q in NAIVE_DASHBOARD]


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def ensure_assets() -> None:
    """The panel serves its built front-end files; build them once if they are missing."""
    if (ROOT / "admin/static/vendor/htmx.min.js").exists():
        return
    log("building the panel's front-end files (./admin/web/build.sh)")
    built = subprocess.run([str(ROOT / "admin/web/build.sh")], cwd=ROOT, check=False)
    if built.returncode != 0:
        raise SystemExit("the panel's assets are missing: run `make assets`, then this again")


def postgres_cpu() -> float:
    """CPU seconds of the PostgreSQL server so far, from /proc (0 where it is missing): every
    live ``postgres`` process, plus what the postmaster collected from the backends and parallel
    workers that have ended (``cutime``, ``cstime``). The whole server, not only this run's
    share: nothing else should run meanwhile."""
    ticks = 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() != "postgres":
                continue
            fields = (comm.parent / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


@dataclass
class Timing:
    ms: list[float]
    cpu_s: float  # this process, all runs
    pg_cpu_s: float  # PostgreSQL (whole server), all runs

    def summary(self) -> dict[str, float]:
        runs = len(self.ms)
        return {
            "p50_ms": round(percentile(self.ms, 50), 1),
            "p95_ms": round(percentile(self.ms, 95), 1),
            "cpu_ms_per_request": round(self.cpu_s * 1000 / runs, 2),
            "pg_cpu_ms_per_request": round(self.pg_cpu_s * 1000 / runs, 2),
        }


async def timed(call: Any, runs: int) -> Timing:
    """``runs`` awaits of ``call()``, each timed; CPU of this process and of PostgreSQL."""
    for _ in range(WARMUP):
        await call()
    ms: list[float] = []
    cpu, pg = time.process_time(), postgres_cpu()
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        ms.append((time.perf_counter() - started) * 1000)
    pg_spent = postgres_cpu() - pg
    return Timing(ms, time.process_time() - cpu, pg_spent)


@contextmanager
def statement_timer(db: Database) -> Iterator[list[tuple[str, float]]]:
    """Every SQL statement run meanwhile, with its time in ms (first line of its text)."""
    spent: list[tuple[str, float]] = []
    engine = db.engine.sync_engine

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        started = conn.info["bench_started"].pop()
        spent.append((" ".join(statement.split()), (time.perf_counter() - started) * 1000))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield spent
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


@dataclass(frozen=True)
class Breakdown:
    request_ms: float  # median of the profiled requests
    sql_ms: float  # all statements of one request, median
    slowest: str  # the statement that took longest, shortened
    slowest_ms: float
    count_ms: float  # the page's SELECT count(*) statements


async def breakdown(http: httpx.AsyncClient, db: Database, url: str) -> Breakdown:
    requests: list[float] = []
    sql: list[float] = []
    count: list[float] = []
    by_statement: dict[str, list[float]] = {}
    for _ in range(PROFILED):
        with statement_timer(db) as spent:
            started = time.perf_counter()
            await get(http, url)
            requests.append((time.perf_counter() - started) * 1000)
        sql.append(sum(ms for _, ms in spent))
        count.append(sum(ms for s, ms in spent if s.lower().startswith("select count(*)")))
        for statement, ms in spent:
            by_statement.setdefault(statement, []).append(ms)
    medians = {s: statistics.median(ms) for s, ms in by_statement.items()}
    slowest = max(medians, key=lambda s: medians[s])
    return Breakdown(
        statistics.median(requests),
        statistics.median(sql),
        slowest[:110],
        medians[slowest],
        statistics.median(count),
    )


async def get(http: httpx.AsyncClient, url: str) -> None:
    answer = await http.get(url)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url}: {answer.status_code} {answer.text[:300]}")


async def naive(db: Database, statements: list[str]) -> None:
    async with db.session() as session:
        for statement in statements:
            (await session.execute(text(statement))).all()


async def operator(db: Database) -> None:
    async with db.transaction() as session:
        if await session.scalar(select(User.id).where(User.login == LOGIN)) is None:
            await users.create_user(
                session=session, login=LOGIN, password=PASSWORD, role=Role.operator
            )


async def reused(db: Database) -> Seeded:
    """The ids and row counts of rows a previous run seeded."""
    async with db.session() as session:
        campaigns = list(await session.scalars(select(Campaign.id).order_by(Campaign.id)))
        rows = {
            "leads": await session.scalar(select(func.count()).select_from(Lead)) or 0,
            "conversations": await session.scalar(select(func.count()).select_from(Conversation))
            or 0,
        }
    return Seeded(campaigns, [1, CONVERSATIONS // 2, CONVERSATIONS], rows)


@dataclass
class Measured:
    page: Page
    ours: Timing
    base: Timing
    parts: Breakdown


async def measure(db: Database, seeded: Seeded, runs: int) -> list[Measured]:
    await operator(db)
    bus = make_bus("memory://")
    app = create_app(db=db, bus=bus, settings=Settings(), box=SecretBox(Fernet.generate_key()))
    transport = httpx.ASGITransport(app=app)
    results = []
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        signed = await http.post("/login", data={"login": LOGIN, "password": PASSWORD})
        if signed.status_code != 303:
            raise RuntimeError(f"sign-in refused: {signed.status_code} {signed.text[:300]}")
        for page in pages(seeded):
            log(f"{page.name}: GET {page.url} × {runs}, then the naive queries × {runs}")
            ours = await timed(lambda url=page.url: get(http, url), runs)
            base = await timed(lambda sql=page.naive: naive(db, sql), runs)
            parts = await breakdown(http, db, page.url)
            results.append(Measured(page, ours, base, parts))
    await bus.close()
    return results


def table(results: list[Measured]) -> str:
    lines = [
        f"{'page':<22}{'p50 ms':>8}{'p95 ms':>8}{'naive p50':>10}{'naive p95':>10}"
        f"{'SQL ms':>8}{'count ms':>9}{'cpu ms/req':>11}{'pg cpu':>8}",
    ]
    for r in results:
        ours, base, parts = r.ours.summary(), r.base.summary(), r.parts
        lines.append(
            f"{r.page.name:<22}{ours['p50_ms']:>8.1f}{ours['p95_ms']:>8.1f}{base['p50_ms']:>10.1f}"
            f"{base['p95_ms']:>10.1f}{parts.sql_ms:>8.1f}{parts.count_ms:>9.1f}"
            f"{ours['cpu_ms_per_request']:>11.1f}{ours['pg_cpu_ms_per_request']:>8.1f}"
        )
    lines.append("slowest statement per page (median of the profiled requests):")
    lines += [f"  {r.page.name}: {r.parts.slowest_ms:.1f} ms  {r.parts.slowest}" for r in results]
    return "\n".join(lines)


def summary(results: list[Measured], seeded: Seeded, runs: int, seed_s: float) -> dict[str, Any]:
    ours = max(r.ours.summary()["p95_ms"] for r in results)
    base = max(r.base.summary()["p95_ms"] for r in results)
    per_page: dict[str, Any] = {}
    for r in results:
        parts = r.parts
        per_page[r.page.name] = r.ours.summary() | {
            "url": r.page.url,
            "baseline_p50_ms": r.base.summary()["p50_ms"],
            "baseline_p95_ms": r.base.summary()["p95_ms"],
            "sql_ms": round(parts.sql_ms, 1),
            "count_share": round(parts.count_ms / parts.request_ms, 3),
            "slowest_statement_ms": round(parts.slowest_ms, 1),
        }
    return {
        "bench": "panel",
        "ours": ours,
        "baseline": base,
        "ratio": round(base / ours, 2) if ours else 0.0,
        "unit": "ms (p95, worst page)",
        "runs": runs,
        "pages": per_page,
        "rows": seeded.rows,
        "messages_in_conversation": MESSAGES_PER_CONVERSATION,
        "seed_seconds": round(seed_s, 1),
        "goal_met": all(r.ours.summary()["p95_ms"] < GOAL_P95_MS for r in results),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    ensure_assets()
    started = time.perf_counter()
    if args.reuse:
        db = Database(DB_URL)
        seeded = await reused(db)
    else:
        log("fresh schema, migrations, seeding")
        seeded = await seed(DB_URL)
        db = Database(DB_URL)
    seed_s = time.perf_counter() - started
    log(f"data ready in {seed_s:.1f} s: {seeded.rows}")
    try:
        results = await measure(db, seeded, args.runs)
    finally:
        await db.close()
    print(table(results))
    return summary(results, seeded, args.runs, seed_s)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.panel", description=__doc__)
    parser.add_argument("--runs", type=int, default=50, help="requests per page (at least 50)")
    parser.add_argument("--reuse", action="store_true", help="keep the previous run's rows")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
