"""/settings: what this chat gets, as buttons that toggle in place."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import Role
from core.db import Database
from core.db.models import Campaign
from core.db.notifier_models import AlertRecipient
from notifier.alert_kinds import FAMILIES
from notifier.buttons import Button, SettingsPress, keyboard
from notifier.people import Person, person_for
from notifier.subscriptions import DIGEST_MINUTES, NEW_LEADS, QUIET_HOURS, cycle
from notifier.texts import LANGUAGES, N_, Texts

CAMPAIGNS_SHOWN = 24
LANGUAGE_NAMES = {"en": "English", "ru": "Русский"}
LEAD_MODES = {"off": N_("off"), "each": N_("as they come"), "digest": N_("digest")}


async def _allowed(session: AsyncSession, telegram_user_id: int, chat_type: str) -> Person | None:
    person = await person_for(session, telegram_user_id)
    if person is None or (chat_type != "private" and not person.may(Role.admin)):
        return None
    return person


async def show(message: Message, db: Database) -> None:
    if message.from_user is None:
        return
    async with db.session() as session:
        person = await _allowed(session, message.from_user.id, message.chat.type)
        recipient = await _recipient(session, message.chat.id)
        if person is None or recipient is None:
            texts = Texts(person.language if person else "en")
            await message.reply(
                texts(
                    "Only a linked user (an admin, in a group) with alerts in this chat can "
                    "change them."
                )
            )
            return
        text, markup = await _page(session, recipient, "main")
    await message.answer(text, reply_markup=markup)


async def change(query: CallbackQuery, callback_data: SettingsPress, db: Database) -> None:
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        await query.answer()
        return
    async with db.transaction() as session:
        person = await _allowed(session, query.from_user.id, message.chat.type)
        recipient = await _recipient(session, message.chat.id)
        if person is None or recipient is None:
            await query.answer(
                Texts(person.language if person else "en")(N_("Not allowed.")), show_alert=True
            )
            return
        page = _apply(recipient, callback_data)
        text, markup = await _page(session, recipient, page)
    await query.answer()  # first: the button stops spinning even if the edit must wait
    await message.edit_text(text, reply_markup=markup)


async def _recipient(session: AsyncSession, chat_id: int) -> AlertRecipient | None:
    return await session.scalar(
        select(AlertRecipient).where(AlertRecipient.chat_id == chat_id, AlertRecipient.active)
    )


def _apply(recipient: AlertRecipient, press: SettingsPress) -> str:
    """Change one setting; the page to show next."""
    what, value = press.what, press.value
    if what == "f" and value in FAMILIES:
        on = set(recipient.kinds or ())
        on.symmetric_difference_update({value})
        recipient.kinds = [family for family in FAMILIES if family in on]
    elif what == "nl":
        recipient.new_leads = str(cycle(NEW_LEADS, recipient.new_leads))
    elif what == "dm":
        recipient.digest_minutes = int(str(cycle(DIGEST_MINUTES, recipient.digest_minutes)))
    elif what == "q":
        pair = cycle(QUIET_HOURS, (recipient.quiet_from, recipient.quiet_to))
        recipient.quiet_from, recipient.quiet_to = pair  # type: ignore[misc]
    elif what == "lang":
        recipient.language = str(cycle(LANGUAGES, recipient.language))
    elif what == "c":
        if value == "all":
            recipient.campaign_ids = []
        elif value.isdigit():
            chosen = set(recipient.campaign_ids or ())
            chosen.symmetric_difference_update({int(value)})
            recipient.campaign_ids = sorted(chosen)
        return "campaigns"
    elif what == "page":
        return value or "main"
    return "main"


async def _page(
    session: AsyncSession, recipient: AlertRecipient, page: str
) -> tuple[str, InlineKeyboardMarkup | None]:
    texts = Texts(recipient.language, recipient.timezone)
    if page == "campaigns":
        return await _campaigns(session, recipient, texts)
    rows: list[list[Button]] = []
    for family, label in FAMILIES.items():
        mark = "✅" if family in (recipient.kinds or ()) else "⬜"
        rows.append([(f"{mark} {texts(label)}", SettingsPress(what="f", value=family))])
    leads = texts(LEAD_MODES.get(recipient.new_leads, recipient.new_leads))
    rows.append([(texts("New leads: {mode}", mode=leads), SettingsPress(what="nl"))])
    if recipient.new_leads == "digest":
        every = texts("Digest every {minutes} min", minutes=recipient.digest_minutes)
        rows.append([(every, SettingsPress(what="dm"))])
    quiet = (
        texts("Quiet hours: {start}–{end}", start=recipient.quiet_from, end=recipient.quiet_to)
        if recipient.quiet_from
        else texts("Quiet hours: off")
    )
    rows.append([(quiet, SettingsPress(what="q"))])
    language = LANGUAGE_NAMES.get(recipient.language, recipient.language)
    rows.append([(texts("Language: {language}", language=language), SettingsPress(what="lang"))])
    count = len(recipient.campaign_ids or ())
    scope = texts("all") if not count else texts.plural("{count} chosen", "{count} chosen", count)
    rows.append(
        [(texts("Campaigns: {scope}", scope=scope), SettingsPress(what="page", value="campaigns"))]
    )
    title = texts("Alerts in this chat ({zone}). Press to change.", zone=recipient.timezone)
    return title, keyboard(rows)


async def _campaigns(
    session: AsyncSession, recipient: AlertRecipient, texts: Texts
) -> tuple[str, InlineKeyboardMarkup | None]:
    chosen = set(recipient.campaign_ids or ())
    campaigns = (
        await session.execute(
            select(Campaign.id, Campaign.name).order_by(Campaign.name).limit(CAMPAIGNS_SHOWN)
        )
    ).all()
    rows: list[list[Button]] = [
        [
            (
                ("✅ " if not chosen else "⬜ ") + texts("All campaigns"),
                SettingsPress(what="c", value="all"),
            )
        ]
    ]
    for campaign_id, name in campaigns:
        mark = "✅" if campaign_id in chosen else "⬜"
        rows.append([(f"{mark} {name}", SettingsPress(what="c", value=str(campaign_id)))])
    rows.append([(texts("← Back"), SettingsPress(what="page", value="main"))])
    return texts("Alerts about these campaigns:"), keyboard(rows)


def router() -> Router:
    """A fresh router: aiogram attaches a router to one parent only."""
    router = Router(name="settings")
    router.message.register(show, Command("settings"))
    router.callback_query.register(change, SettingsPress.filter())
    return router
