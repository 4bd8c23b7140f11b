"""/start CODE (link), /subscribe and /unsubscribe (a group), /unlink, /help."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from core.access import Role
from core.db import Database
from core.security import SecretBox
from notifier import subscriptions
from notifier.people import person_for
from notifier.texts import N_, Texts, language_of

HELP = N_(
    "I send CoolThing's alerts: drafts to approve, conversations that need a person, new "
    "leads, account trouble.\n\n"
    "/start CODE — link your panel user (the code is on your profile page, or from "
    "`coolthing users link-telegram LOGIN`)\n"
    "/settings — what you get, quiet hours, language\n"
    "/subscribe — in a group: send alerts here (admins)\n"
    "/unsubscribe — stop alerts in this chat\n"
    "/unlink — forget your Telegram account\n\n"
    "Press a button under an alert to act on it. Reply to a draft with your own text to send "
    "that instead; after taking a conversation over, reply to its messages to answer the lead."
)


def _texts(message: Message) -> Texts:
    user = message.from_user
    return Texts(language_of(user.language_code if user else None))


async def start(message: Message, command: CommandObject, db: Database, box: SecretBox) -> None:
    user = message.from_user
    texts = _texts(message)
    if user is None:
        return
    if message.chat.type != "private":
        await message.reply(texts("Send /start CODE to me in a private chat."))
        return
    if not command.args:
        async with db.session() as session:
            person = await person_for(session, user.id)
        if person is None:
            await message.answer(texts(HELP))
        else:
            await message.answer(texts("You are linked as {login}.", login=person.login))
        return
    name = user.full_name + (f" (@{user.username})" if user.username else "")
    try:
        async with db.transaction() as session:
            linked = await subscriptions.link(
                session,
                box,
                command.args.strip(),
                telegram_user_id=user.id,
                telegram_name=name,
                language_code=user.language_code,
            )
    except subscriptions.LinkRefused as refused:
        await message.answer(texts("Not linked: {reason}", reason=texts(str(refused))))
        return
    await message.answer(
        texts(
            "Linked: you act here as {login}. Alerts come to this chat; /settings changes "
            "what you get.",
            login=linked.login,
        )
    )


async def show_help(message: Message) -> None:
    await message.answer(_texts(message)(HELP))


async def subscribe(message: Message, db: Database) -> None:
    texts = _texts(message)
    if message.chat.type == "private" or message.from_user is None:
        await message.answer(texts("This chat already gets your alerts: see /settings."))
        return
    async with db.transaction() as session:
        person = await person_for(session, message.from_user.id)
        if person is None or not person.may(Role.admin):
            await message.reply(texts("Only a linked admin can send alerts to a group."))
            return
        title = message.chat.title or str(message.chat.id)
        await subscriptions.subscribe_group(session, message.chat.id, title, person.language)
    await message.reply(texts("This group now gets alerts. An admin can change them: /settings."))


async def unsubscribe(message: Message, db: Database) -> None:
    texts = _texts(message)
    if message.from_user is None:
        return
    async with db.transaction() as session:
        person = await person_for(session, message.from_user.id)
        group = message.chat.type != "private"
        if person is None or (group and not person.may(Role.admin)):
            await message.reply(texts("Only a linked admin can stop alerts in a group."))
            return
        await subscriptions.stop_chat(session, message.chat.id, f"unsubscribed by {person.login}")
    await message.reply(
        texts("No more alerts here. /subscribe (groups) or /start brings them back.")
    )


async def unlink(message: Message, db: Database) -> None:
    texts = _texts(message)
    if message.from_user is None or message.chat.type != "private":
        return
    async with db.transaction() as session:
        person = await person_for(session, message.from_user.id)
        done = person is not None and await subscriptions.unlink(session, person.user_id)
    if done:
        await message.answer(texts("Unlinked. Buttons here no longer act for you."))
    else:
        await message.answer(texts("This Telegram account is not linked."))


def router() -> Router:
    """A fresh router: aiogram attaches a router to one parent only."""
    router = Router(name="commands")
    router.message.register(start, CommandStart())
    router.message.register(show_help, Command("help"))
    router.message.register(subscribe, Command("subscribe"))
    router.message.register(unsubscribe, Command("unsubscribe"))
    router.message.register(unlink, Command("unlink"))
    return router
