"""Chats: add one by link or @username (written in the one canonical form of
``core.chatref``), rename it, delete it while no campaign reads it.

Validation is the workspace file's (``ChatSpec``), so a chat added here reads back the same in
``coolthing workspace export``; every change is audited and announced (``config.changed``) so the
parser hands the chat to a parser account (or lets it go)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.setup.keyword_sets import SetupError
from admin.workspace.spec import ChatSpec
from core.access import Actor
from core.audit import record
from core.db.models import Campaign, CampaignChat, Chat
from core.events import ConfigChanged, Event
from core.outbox import add_to_outbox


def parse_chat(
    ref: str,
    title: str | None = None,
    *,
    own: bool = False,
    variables: Mapping[str, str] | None = None,
) -> ChatSpec:
    """The workspace file's rules; ``SetupError`` naming the field with the reason in words.
    ``own``: the operator's own community, where scenes may play with ``variables``."""
    raw = {
        "ref": ref,
        "title": (title or "").strip() or None,
        "own": own,
        "vars": dict(variables or {}),
    }
    try:
        return ChatSpec.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "ref"
        reason = str(error["msg"]).removeprefix("Value error, ")
        if field == "vars" and len(error["loc"]) > 1:
            reason = f"{error['loc'][1]}: {reason}"
        elif field == "vars":
            reason = f"at most 50 variables: {reason}"
        elif error["type"] == "string_too_long":
            reason = "a title is at most 255 characters"
        raise SetupError(reason, field=field) from None


async def save_chat(
    session: AsyncSession, actor: Actor, spec: ChatSpec, *, chat_id: int | None
) -> Chat:
    same_ref = await session.scalar(select(Chat).where(Chat.ref == spec.ref))
    if same_ref is not None and same_ref.id != chat_id:
        raise SetupError(f"{spec.ref} is already in the list", field="ref")
    if chat_id is None:
        chat = Chat(ref=spec.ref)
        session.add(chat)
    else:
        found = await session.get(Chat, chat_id)
        if found is None:
            raise SetupError(f"chat {chat_id} does not exist", missing=True)
        chat = found
        if chat.ref != spec.ref:
            chat.telegram_chat_id = None  # another chat now: the parser resolves it afresh
    chat.ref = spec.ref
    chat.title = spec.title
    chat.own = spec.own
    chat.scene_vars = dict(spec.vars)
    await session.flush()
    action = "chat_added" if chat_id is None else "chat_changed"
    record(session, action, actor=actor, target=spec.ref, own=spec.own)
    await add_to_outbox(session, Event.of(ConfigChanged(reason=f"chat {spec.ref} saved")))
    return chat


async def campaigns_reading(session: AsyncSession, chat_id: int) -> list[tuple[str, str]]:
    """(name, status) of the campaigns that read the chat, by name."""
    rows = await session.execute(
        select(Campaign.name, Campaign.status)
        .join(CampaignChat, CampaignChat.campaign_id == Campaign.id)
        .where(CampaignChat.chat_id == chat_id)
        .order_by(Campaign.name)
    )
    return [(name, status) for name, status in rows]


async def delete_chat(session: AsyncSession, actor: Actor, chat_id: int) -> None:
    """Refused while a campaign reads the chat: a running one would lose it silently, and a
    paused one would be left without a chat the workspace file requires."""
    chat = await session.get(Chat, chat_id)
    if chat is None:
        raise SetupError(f"chat {chat_id} does not exist", missing=True)
    using = await campaigns_reading(session, chat_id)
    running = [name for name, status in using if status == "active"]
    if running:
        raise SetupError(
            f"the running campaigns {', '.join(running)} read {chat.ref}: "
            "take it out of them (or stop them) first"
        )
    if using:
        names = ", ".join(name for name, _ in using)
        raise SetupError(f"the campaigns {names} read {chat.ref}: take it out of them first")
    await session.delete(chat)
    record(session, "chat_deleted", actor=actor, target=chat.ref)
    await add_to_outbox(session, Event.of(ConfigChanged(reason=f"chat {chat.ref} deleted")))
