"""Linking a Telegram account to a panel user, and the chats that take alerts with their
settings. The notifier owns these rows; the panel shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import User
from core.db.notifier_models import AlertRecipient, TelegramLink, TelegramTakeover
from core.security import SecretBox
from core.telegram_link_codes import LinkCodeInvalid, read_code
from notifier.routing import ALL_FAMILIES
from notifier.texts import N_, language_of

NEW_LEADS = ("off", "each", "digest")
DIGEST_MINUTES = (15, 60, 240)
QUIET_HOURS = ((None, None), ("22:00", "08:00"), ("23:00", "07:00"), ("00:00", "09:00"))


@dataclass(frozen=True)
class Linked:
    login: str
    relinked: bool  # this Telegram account was linked to someone before


class LinkRefused(Exception):
    """The code cannot link this account; the message is for the person."""


async def link(
    session: AsyncSession,
    box: SecretBox,
    code: str,
    *,
    telegram_user_id: int,
    telegram_name: str,
    language_code: str | None,
) -> Linked:
    """Link the code's user to this Telegram account and subscribe their private chat."""
    try:
        issued = read_code(box, code)
    except LinkCodeInvalid as exc:
        raise LinkRefused(str(exc)) from None
    if await session.scalar(select(TelegramLink.id).where(TelegramLink.code_nonce == issued.nonce)):
        raise LinkRefused(N_("this link code was already used: get a new one"))
    user = await session.get(User, issued.user_id)
    if user is None or user.disabled_at is not None:
        raise LinkRefused(N_("the panel user of this code no longer exists or is disabled"))
    # One Telegram account per user and one user per Telegram account: a new link replaces both.
    replaced = await session.execute(
        delete(TelegramLink).where(
            (TelegramLink.user_id == user.id) | (TelegramLink.telegram_user_id == telegram_user_id)
        )
    )
    session.add(
        TelegramLink(
            user_id=user.id,
            telegram_user_id=telegram_user_id,
            telegram_name=telegram_name[:160],
            code_nonce=issued.nonce,
            linked_at=datetime.now(UTC),
        )
    )
    await _private_recipient(session, user, telegram_user_id, telegram_name, language_code)
    return Linked(user.login, relinked=bool(getattr(replaced, "rowcount", 0)))


async def _private_recipient(
    session: AsyncSession,
    user: User,
    chat_id: int,
    title: str,
    language_code: str | None,
) -> None:
    existing = await session.scalar(select(AlertRecipient).where(AlertRecipient.chat_id == chat_id))
    language = user.language if user.language in ("en", "ru") else language_of(language_code)
    if existing is not None:
        existing.user_id, existing.active, existing.stopped_reason = user.id, True, None
        existing.title = title[:160]
        return
    session.add(
        AlertRecipient(
            chat_id=chat_id,
            kind="user",
            user_id=user.id,
            title=title[:160],
            language=language,
            timezone=user.timezone or "UTC",
            kinds=list(ALL_FAMILIES),
            campaign_ids=[],
            new_leads="each",
            digest_minutes=15,
            active=True,
        )
    )


async def unlink(session: AsyncSession, user_id: int) -> bool:
    """Forget the user's Telegram account; their private chat takes no more alerts."""
    link_row = await session.scalar(select(TelegramLink).where(TelegramLink.user_id == user_id))
    if link_row is None:
        return False
    await session.execute(delete(TelegramLink).where(TelegramLink.id == link_row.id))
    await session.execute(
        update(AlertRecipient)
        .where(AlertRecipient.chat_id == link_row.telegram_user_id)
        .values(active=False, stopped_reason="unlinked")
    )
    await session.execute(delete(TelegramTakeover).where(TelegramTakeover.user_id == user_id))
    return True


async def subscribe_group(
    session: AsyncSession, chat_id: int, title: str, language: str
) -> AlertRecipient:
    existing = await session.scalar(select(AlertRecipient).where(AlertRecipient.chat_id == chat_id))
    if existing is not None:
        existing.active, existing.stopped_reason, existing.title = True, None, title[:160]
        return existing
    recipient = AlertRecipient(
        chat_id=chat_id,
        kind="group",
        title=title[:160],
        language=language,
        timezone="UTC",
        kinds=list(ALL_FAMILIES),
        campaign_ids=[],
        new_leads="each",
        digest_minutes=15,
        active=True,
    )
    session.add(recipient)
    await session.flush()
    return recipient


async def stop_chat(session: AsyncSession, chat_id: int, reason: str) -> None:
    await session.execute(
        update(AlertRecipient)
        .where(AlertRecipient.chat_id == chat_id)
        .values(active=False, stopped_reason=reason[:160])
    )


def cycle(values: tuple[object, ...], current: object) -> object:
    """The value after ``current`` (the first after the last)."""
    try:
        return values[(values.index(current) + 1) % len(values)]
    except ValueError:
        return values[0]
