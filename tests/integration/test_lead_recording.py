"""A matching message makes one lead per user per campaign; the event is written with it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from admin.workspace.apply import apply_workspace, read_workspace
from core.bus.memory import InMemoryBus
from core.db import Database
from core.db.models import Chat, Lead, LeadHit, OutboxMessage
from core.events import Event, MessageIncoming, Profile
from core.outbox import OutboxRelay
from core.security import SecretBox
from parser.service import ParserService

WORKSPACE = """\
accounts:
  - {name: parser-1, role: parser, session: s1}
keyword_sets:
  - {name: web-dev, keywords: [разработчик, "сделать сайт"], exclude: [вакансия]}
  - {name: design, keywords: [дизайнер], exclude: []}
campaigns:
  - {name: web, keyword_sets: [web-dev], chats: ["@jobs_chat"], parser_accounts: [parser-1]}
  - {name: art, keyword_sets: [design], chats: ["@jobs_chat"], parser_accounts: [parser-1]}
  - {name: other, keyword_sets: [web-dev], chats: ["@other_chat"], parser_accounts: [parser-1]}
"""


async def _service(db: Database, box: SecretBox, tmp_path: Path) -> ParserService:
    path = tmp_path / "ws.yaml"
    path.write_text(WORKSPACE, encoding="utf-8")
    spec, located = read_workspace(path)
    async with db.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=box)
    service = ParserService(db, OutboxRelay(db, InMemoryBus()))
    await service.reload()
    return service


def _message(message_id: int, text: str, *, user: int = 7, chat: str = "@jobs_chat") -> Event:
    payload = MessageIncoming(
        account_id=1,
        chat_id=-100500,
        chat_ref=chat,
        message_id=message_id,
        text=text,
        date=datetime.now(UTC),
        link=f"https://t.me/{chat[1:]}/{message_id}",
        sender=Profile(user_id=user, username="anna", first_name="Анна", bio="Кофе"),
    )
    return Event.of(payload)


async def _handle(service: ParserService, event: Event) -> None:
    await service.handle_message(event, event.payload_as(MessageIncoming))


async def _leads(db: Database) -> list[Lead]:
    async with db.session() as session:
        return list((await session.scalars(select(Lead).order_by(Lead.campaign_id))).all())


async def _lead_events(db: Database) -> list[dict[str, object]]:
    async with db.session() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.routing_key == "lead.found")
        )
        return [json.loads(r.body)["payload"] for r in rows]


async def test_second_hit_by_same_user_extends_the_lead_instead_of_creating_one(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    await _handle(service, _message(1, "Ищу разработчика на проект"))
    await _handle(service, _message(2, "Кто может сделать сайт быстро?"))
    [lead] = await _leads(database)
    assert lead.hits == 2
    assert lead.keywords == ["разработчик", "сделать сайт"]
    assert [e["is_new"] for e in await _lead_events(database)] == [True, False]


async def test_redelivered_message_is_counted_once(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    event = _message(1, "Ищу разработчика")
    await _handle(service, event)
    await _handle(service, event)
    [lead] = await _leads(database)
    assert lead.hits == 1
    async with database.session() as session:
        assert len((await session.scalars(select(LeadHit))).all()) == 1
    assert len(await _lead_events(database)) == 1


async def test_minus_word_and_foreign_chat_make_no_lead(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    await _handle(service, _message(1, "Вакансия: ищем разработчика в штат"))
    await _handle(service, _message(2, "Ищу дизайнера", chat="@unknown_chat"))
    assert await _leads(database) == []
    assert await _lead_events(database) == []


async def test_one_message_can_be_a_lead_for_each_campaign_watching_the_chat(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    service = await _service(database, secret_box, tmp_path)
    await _handle(service, _message(1, "Нужен разработчик и дизайнер для лендинга"))
    leads = await _leads(database)
    async with database.session() as session:
        chat = await session.scalar(select(Chat).where(Chat.ref == "@jobs_chat"))
    assert chat is not None
    assert sorted(lead.keywords[0] for lead in leads) == ["дизайнер", "разработчик"]
    assert all(lead.link == "https://t.me/jobs_chat/1" for lead in leads)
