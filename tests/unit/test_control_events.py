"""Control events are checked against their contract before anything acts on them: a
``config.changed`` with fields nobody defined is refused for good (dead-lettered), not obeyed."""

from __future__ import annotations

import pytest

from core.bus import PermanentError
from core.bus.memory import InMemoryBus
from core.db import Database
from core.events import Event
from core.outbox import OutboxRelay
from manager.conversations import Conversations
from manager.delivery import Delivery
from manager.dispatcher import Dispatcher
from manager.handlers import ManagerHandlers
from manager.operator import OperatorDesk
from manager.writers import TemplateWriter
from parser.assignments import ChatAssigner
from parser.handlers import ParserHandlers
from parser.handoff_queue import OutreachQueue
from parser.lead_marks import LeadMarks
from parser.service import ParserService

FORGED = [
    Event(name="config.changed", payload={"reason": "applied", "drop_all": True}),
    Event(name="account.banned", payload={"account_id": "all"}),
]


@pytest.fixture
def parts() -> tuple[Database, InMemoryBus, OutboxRelay]:
    db = Database("sqlite+aiosqlite://")  # never reached: the checks come first
    bus = InMemoryBus()
    return db, bus, OutboxRelay(db, bus)


@pytest.mark.parametrize("event", FORGED, ids=lambda e: e.name)
async def test_the_parser_refuses_a_malformed_control_event(
    parts: tuple[Database, InMemoryBus, OutboxRelay], event: Event
) -> None:
    db, bus, relay = parts
    handlers = ParserHandlers(
        ParserService(db, relay),
        ChatAssigner(db, bus, relay),
        OutreachQueue(db, bus),
        LeadMarks(db, relay),
    )
    with pytest.raises(PermanentError, match=f"malformed {event.name}"):
        await handlers.on_config_changed(event)


@pytest.mark.parametrize("event", FORGED, ids=lambda e: e.name)
async def test_the_manager_refuses_a_malformed_control_event(
    parts: tuple[Database, InMemoryBus, OutboxRelay], event: Event
) -> None:
    db, bus, relay = parts
    conversations = Conversations(db, relay, TemplateWriter())
    dispatcher = Dispatcher(db, bus, relay)
    handlers = ManagerHandlers(
        conversations,
        Delivery(db, conversations),
        OperatorDesk(db, wake=dispatcher.poke),
    )
    with pytest.raises(PermanentError, match=f"malformed {event.name}"):
        await handlers.on_control(event)
    await conversations.close()
