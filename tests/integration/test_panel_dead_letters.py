"""The dead-letter page: the outbox rows the relay gave up on, with the reason, tries, routing
key and a readable body; Retry publishes the event through the real bus and the row leaves the
list; a body that is not an event can only be discarded; a refusal keeps the new reason; only
admins see or touch any of it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from core.access import Role
from core.bus import Bus
from core.db import Database
from core.db.models import AuditEntry, OutboxMessage
from core.events import Event
from core.outbox import OUTBOX
from tests.integration.conftest import Panel
from tests.integration.outbox_harness import ROUTE, SECRET, Broker, eventually, good, open_broker


@pytest.fixture
async def broker(amqp_url: str) -> AsyncIterator[Broker]:
    async with open_broker("rabbit", amqp_url) as opened:
        yield opened


@pytest.fixture
async def panel_bus(broker: Broker) -> Bus:
    """The panel on the real RabbitMQ bus (a fresh exchange)."""
    return await broker.bus()


async def dead_row(
    db: Database, body: str, *, routing_key: str = ROUTE, reason: str = "TimeoutError: confirm"
) -> int:
    """A row as the relay leaves it after its last try."""
    values = {
        "event_id": str(uuid.uuid4()),
        "routing_key": routing_key,
        "body": body,
        "attempts": 5,
        "last_error": reason,
        "dead_at": datetime.now(UTC),
    }
    async with db.transaction() as session:
        return int(await session.scalar(insert(OUTBOX).returning(OUTBOX.c.id), values) or 0)


async def stored(db: Database, letter: int) -> OutboxMessage | None:
    async with db.session() as session:
        return await session.get(OutboxMessage, letter)


async def audited(db: Database, action: str) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(select(func.count()).where(AuditEntry.action == action)) or 0
        )


async def test_retry_republishes_the_event_through_the_bus_and_the_row_leaves_the_list(
    panel: Panel, broker: Broker
) -> None:
    consumer = await broker.consumer()
    event = good(7)
    letter = await dead_row(panel.db, event.model_dump_json())
    browser = await panel.browser()
    page = await browser.get("/dead-letters")
    assert page.status_code == 200
    row = page.text[page.text.index(f'data-letter="{letter}"') :]
    assert ROUTE in row and "TimeoutError: confirm" in row and ">5<" in row
    assert SECRET in row  # the payload, readable: who, n
    assert (await panel.api().get("/dead-letters/outbox")).json()["items"][0]["id"] == letter

    retried = await browser.post(f"/dead-letters/{letter}/retry")
    assert retried.status_code == 200 and "published again" in retried.text
    assert f'data-letter="{letter}"' not in retried.text
    await eventually(consumer.has(7), "the retried event")
    assert consumer.got == [(event.id, 7)]
    kept = await stored(panel.db, letter)
    assert kept is not None and kept.dead_at is None and kept.published_at is not None
    assert await audited(panel.db, "dead_letter_retried") == 1
    again = await browser.post(f"/dead-letters/{letter}/retry")
    assert again.status_code == 404 and "does not exist" in again.text
    assert consumer.got == [(event.id, 7)]


async def test_a_refused_retry_keeps_the_row_dead_with_the_new_reason(panel: Panel) -> None:
    nobody = Event(name="nobody.listens", payload={"n": 1})
    letter = await dead_row(panel.db, nobody.model_dump_json(), routing_key="nobody.listens")
    refused = await panel.api().post(f"/dead-letters/outbox/{letter}/retry")
    assert refused.status_code == 409 and "refused it again" in refused.json()["detail"]
    kept = await stored(panel.db, letter)
    assert kept is not None and kept.dead_at is not None and kept.attempts == 6
    assert kept.last_error is not None and "nobody.listens" in kept.last_error
    assert await audited(panel.db, "dead_letter_retry_failed") == 1


async def test_a_body_that_is_not_an_event_cannot_be_retried_only_discarded(
    panel: Panel,
) -> None:
    letter = await dead_row(panel.db, "not json", reason="not a valid event: Invalid JSON")
    browser = await panel.browser()
    page = await browser.get("/dead-letters")
    row = page.text[page.text.index(f'data-letter="{letter}"') :].split("</tr>")[0]
    assert "not an event" in row and f"/dead-letters/{letter}/retry" not in row
    refused = await browser.post(f"/dead-letters/{letter}/retry")
    assert refused.status_code == 409 and "discard it instead" in refused.text
    assert (await stored(panel.db, letter)) is not None
    discarded = await browser.post(f"/dead-letters/{letter}/discard")
    assert discarded.status_code == 200 and "discarded" in discarded.text
    assert (await stored(panel.db, letter)) is None
    assert await audited(panel.db, "dead_letter_discarded") == 1
    assert (await panel.api().delete(f"/dead-letters/outbox/{letter}")).status_code == 404
    assert (await browser.post(f"/dead-letters/{letter}/discard")).status_code == 404


async def test_the_list_pages_newest_first(panel: Panel) -> None:
    letters = [
        await dead_row(panel.db, json.dumps({"name": "x", "payload": {"n": n}})) for n in range(55)
    ]
    browser = await panel.browser()
    first = await browser.get("/dead-letters")
    assert first.text.count("data-letter=") == 50 and "offset=50" in first.text
    assert first.text.index(f'data-letter="{letters[-1]}"') < first.text.index(
        f'data-letter="{letters[-2]}"'
    )
    second = await browser.get("/dead-letters", params={"offset": 50})
    assert second.text.count("data-letter=") == 5
    assert f'data-letter="{letters[0]}"' in second.text


async def test_only_admins_see_or_touch_dead_letters(panel: Panel) -> None:
    letter = await dead_row(panel.db, good(1).model_dump_json())
    for role in (Role.viewer, Role.operator):
        browser = await panel.browser(role)
        assert (await browser.get("/dead-letters")).status_code == 403
        assert (await browser.post(f"/dead-letters/{letter}/retry")).status_code == 403
        assert (await browser.post(f"/dead-letters/{letter}/discard")).status_code == 403
        api = panel.api(role)
        assert (await api.get("/dead-letters/outbox")).status_code == 403
        assert (await api.delete(f"/dead-letters/outbox/{letter}")).status_code == 403
    assert (await stored(panel.db, letter)) is not None
