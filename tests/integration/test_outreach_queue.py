"""Leads meant for outreach wait for a manager that has not started yet; a parser-only
workspace declares no queue that would fill up with leads nobody reads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from admin.workspace.apply import apply_workspace, read_workspace
from core.bus import UnroutableError
from core.bus.memory import InMemoryBus
from core.db import Database
from core.events import Event, LeadFound
from core.security import SecretBox
from core.topology import MANAGER_LEADS
from parser.handoff_queue import OutreachQueue

WORKSPACE = """\
accounts:
  - {{name: parser-1, role: parser, session: s1}}
  - {{name: manager-1, role: manager, session: s2}}
keyword_sets:
  - {{name: web-dev, keywords: [разработчик]}}
campaigns:
  - name: web
    keyword_sets: [web-dev]
    chats: ["@jobs"]
    parser_accounts: [parser-1]
    manager_accounts: [{managers}]
"""


async def _bus_after_ensure(
    database: Database, secret_box: SecretBox, tmp_path: Path, managers: str
) -> InMemoryBus:
    path = tmp_path / "ws.yaml"
    path.write_text(WORKSPACE.format(managers=managers), encoding="utf-8")
    spec, located = read_workspace(path)
    async with database.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    bus = InMemoryBus(f"memory://outreach-queue-{tmp_path.name}")
    await bus.start()
    await OutreachQueue(database, bus).ensure()
    return bus


def _lead() -> Event:
    payload = LeadFound(
        lead_id=1,
        campaign_id=1,
        telegram_user_id=7,
        chat_id=-100,
        message_id=1,
        text="Ищу разработчика",
        keywords=["разработчик"],
        is_new=True,
    )
    return Event.of(payload)


async def test_a_lead_found_before_the_manager_starts_waits_for_it(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    bus = await _bus_after_ensure(database, secret_box, tmp_path, "manager-1")
    try:
        await bus.publish(_lead())  # no manager yet: still routable, kept in the queue
        got: list[Event] = []

        async def manager(event: Event) -> None:
            got.append(event)

        await bus.subscribe(MANAGER_LEADS, [LeadFound.NAME], manager)
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.02)
        assert [e.payload["lead_id"] for e in got] == [1]
    finally:
        await bus.close()


async def test_a_parser_only_workspace_declares_no_outreach_queue(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    bus = await _bus_after_ensure(database, secret_box, tmp_path, "")
    try:
        with pytest.raises(UnroutableError):
            await bus.publish(_lead())
    finally:
        await bus.close()
