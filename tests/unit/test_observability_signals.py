"""What the dashboards and the log store read comes from where things happen: a FloodWait counts
its seconds on its account, a PeerFlood limit counts once, the funnel follows the manager's daily
counts, a first DM planned shows the account's cap and its use (real code on a migrated SQLite
copy, read back from prometheus_client's registry); a service's JSON log lines carry its service,
account, campaign and event ids."""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from prometheus_client import REGISTRY

import core.logging as core_logging
from bots.account_health import record_flood_wait, record_peer_flood
from core.bus.delivery import judge
from core.db import Database
from core.db.models import Account, Campaign
from core.events import Event
from core.logging import configure_logging, log_as_service
from core.outreach import OutreachPolicy
from manager import daily_counts
from manager.scheduling import FIRST, SendPlanner


@pytest.fixture
async def db(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[Database]:
    shutil.copyfile(sqlite_template, tmp_path / "metrics.db")
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'metrics.db'}")
    yield database
    await database.close()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _account(db: Database, name: str, *, created: datetime, cap: int | None = None) -> int:
    async with db.transaction() as session:
        account = Account(
            name=name, role="manager", session_secret="x", daily_cap=cap, created_at=created
        )
        session.add(account)
        await session.flush()
        return account.id


async def _campaign(db: Database, name: str) -> int:
    async with db.transaction() as session:
        campaign = Campaign(name=name)
        session.add(campaign)
        await session.flush()
        return campaign.id


async def test_a_flood_wait_counts_its_seconds_on_its_account(db: Database) -> None:
    account = await _account(db, "flooded", created=datetime.now(UTC))
    label = str(account)
    seconds, waits = (
        sample("coolthing_telegram_flood_wait_seconds_total", account=label),
        sample("coolthing_telegram_flood_waits_total", account=label),
    )
    async with db.transaction() as session:
        await record_flood_wait(session, account, 30)
        await record_flood_wait(session, account, 12)
    assert sample("coolthing_telegram_flood_wait_seconds_total", account=label) == seconds + 42
    assert sample("coolthing_telegram_flood_waits_total", account=label) == waits + 2


async def test_a_peer_flood_limit_counts_once_however_many_sends_hit_it(db: Database) -> None:
    account = await _account(db, "limited", created=datetime.now(UTC))
    before = sample("coolthing_telegram_peer_floods_total", account=str(account))
    for _ in range(3):
        async with db.transaction() as session:
            await record_peer_flood(session, account, timedelta(hours=24), "PEER_FLOOD")
    assert sample("coolthing_telegram_peer_floods_total", account=str(account)) == before + 1


async def test_the_funnel_metrics_follow_the_managers_daily_counts(db: Database) -> None:
    campaign = await _campaign(db, "funnel")
    label = str(campaign)
    # The counters are the process's: other tests in this process count campaigns too.
    dms, opt_outs, replies = (
        sample("coolthing_outreach_first_dms_total", campaign=label),
        sample("coolthing_outreach_opt_outs_total", campaign=label),
        sample("coolthing_outreach_replies_total", campaign=label),
    )
    now = datetime.now(UTC)
    async with db.transaction() as session:
        await daily_counts.first_dms_sent(
            session, [(1, campaign, now, None), (2, campaign, now, "v2"), (3, campaign, now, None)]
        )
        await daily_counts.opted_out(session, [campaign], now=now)
    assert sample("coolthing_outreach_first_dms_total", campaign=label) == dms + 3
    assert sample("coolthing_outreach_opt_outs_total", campaign=label) == opt_outs + 1
    assert sample("coolthing_outreach_replies_total", campaign=label) == replies  # nobody answered


async def test_a_first_dm_planned_shows_the_accounts_cap_and_its_use(db: Database) -> None:
    old = datetime.now(UTC) - timedelta(days=30)  # past the warm-up: the full cap
    account = await _account(db, "capped", created=old, cap=5)
    policy = OutreachPolicy(new_dms_per_day=20, min_gap_seconds=0, max_gap_seconds=0)
    async with db.transaction() as session:
        planner = SendPlanner(session, paced=True, now=datetime.now(UTC))
        times = [
            await planner.send_time(account_id=account, policy=policy, kind=FIRST) for _ in "ab"
        ]
    assert sample("coolthing_outreach_daily_cap", account=str(account)) == 5  # the account's own
    same_day = times[0].date() == times[1].date()  # UTC days: the policy has no quiet hours
    used = sample("coolthing_outreach_first_dms_planned_today", account=str(account))
    assert used == (2 if same_day else 1)


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)
    core_logging._process_fields.clear()  # what log_as_service set for this process


async def test_a_services_json_log_lines_carry_its_service_account_campaign_and_event_ids(
    capsys: pytest.CaptureFixture[str], restored_logging: None
) -> None:
    configure_logging("INFO", json=True)  # here: the streams capsys gives the test itself
    log = logging.getLogger("coolthing.test")
    log.info("a command's line")
    log_as_service("bots", account=7)
    cause = uuid.uuid4()
    event = Event(
        name="lead.found",
        correlation_id=cause,
        payload={"campaign_id": 3, "account_id": 7, "text": "Ищу разработчика"},
    )

    async def handler(_: Event) -> None:
        log.info("handled")

    verdict = await judge(
        handler, event.model_dump_json().encode(), queue="q", deliveries=1, max_deliveries=5
    )
    log.info("between events")
    assert verdict.action == "ack"
    output, errors = capsys.readouterr()
    assert "a command's line" in errors, "a command's stdout is its output: logs go to stderr"
    handled, between = (json.loads(line) for line in output.splitlines())
    assert handled["service"] == "bots" and handled["account"] == 7
    assert handled["campaign"] == 3
    assert handled["correlation_id"] == str(cause)
    assert handled["event_id"] == str(event.id) and handled["event_name"] == "lead.found"
    assert handled["level"] == "info"
    assert "разработчика" not in output, "a payload's text reached the log"
    assert between["service"] == "bots" and "correlation_id" not in between, (
        "an event's ids outlived its handling"
    )


def test_a_message_the_amqp_client_logs_whole_shows_its_type_not_its_text(
    capsys: pytest.CaptureFixture[str], restored_logging: None
) -> None:
    class DeliveredMessage:  # as aiormq's: its repr carries the body
        def __repr__(self) -> str:
            return 'DeliveredMessage(body=b\'{"text": "Ищу разработчика, +7 999 123-45-67"}\')'

    configure_logging("INFO", json=True)
    logging.getLogger("aiormq.channel").error("Unhandled message %r returning", DeliveredMessage())
    logging.getLogger("aiormq.connection").warning("Connection to %s closed: %r", "amqp://h", 5)

    output, errors = capsys.readouterr()
    logged = output + errors
    assert "Unhandled message '<DeliveredMessage>' returning" in logged
    assert "разработчика" not in logged and "999" not in logged, "a chat text reached the log"
    assert "Connection to amqp://h closed: 5" in logged, "the client's own words still read"
