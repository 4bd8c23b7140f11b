"""Members' messages in the chats where scenes play: a listen hears them, and every run keeps
them as its engagement (during the run, and for a while after it ended).

Every scripts account in a chat reports what it hears, so one message arrives once per account:
the row (unique per run and message) decides which copy acts. Our own accounts' lines are not
the audience.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import KeywordSet
from core.db.scene_models import RUN_LIVE, SceneChatMessage, SceneRun, SceneRunLine
from core.db.upsert import insert_ignore
from core.events import MessageIncoming, Profile
from parser.matcher import KeywordSetRules, Matcher
from scripts.player import Stage, hear
from scripts.scenario import Clause, ListenAt, clause_matcher

TEXT_LIMIT = 1000  # characters of a member's message kept


class ClauseMatchers:
    """Each clause's test, compiled once per process: words with the parser's matcher, keyword
    sets from the workspace as they were when first needed (a set edited later is seen after a
    restart)."""

    def __init__(self) -> None:
        self._tests: dict[tuple[int, str], Callable[[str], bool]] = {}

    async def test(self, session: AsyncSession, clause: Clause) -> Callable[[str], bool]:
        key = (clause.line, clause.keyword_set or ",".join(clause.words) or clause.kind)
        found = self._tests.get(key)
        if found is None:
            found = self._tests[key] = await self._compile(session, clause)
        return found

    @staticmethod
    async def _compile(session: AsyncSession, clause: Clause) -> Callable[[str], bool]:
        if clause.kind != "keywords":
            return clause_matcher(clause)
        row = await session.scalar(select(KeywordSet).where(KeywordSet.name == clause.keyword_set))
        if row is None:
            return lambda _text: False  # deleted since the scene was saved: never matches
        rules = KeywordSetRules(
            set_id=row.id, name=row.name, keywords=tuple(row.keywords), exclude=tuple(row.exclude)
        )
        matcher = Matcher.compile([rules])
        return lambda text: bool(matcher.match(text))


def member_of(message: MessageIncoming) -> dict[str, Any]:
    sender = message.sender
    name = sender.first_name or (f"@{sender.username}" if sender.username else "friend")
    return {
        "user_id": sender.user_id,
        "name": name,
        "message_id": message.message_id,
        "message": message.model_dump(mode="json"),
    }


async def runs_hearing(
    session: AsyncSession, message: MessageIncoming, now: datetime, engagement: timedelta
) -> list[SceneRun]:
    """Runs in this chat that are live, or ended within the engagement window; locked."""
    where_chat = or_(
        SceneRun.telegram_chat_id == message.chat_id,
        SceneRun.chat_ref == (message.chat_ref or ""),
    )
    recent = or_(
        SceneRun.status.in_(RUN_LIVE),
        SceneRun.ended_at >= now - engagement,
    )
    rows = await session.scalars(
        select(SceneRun).where(where_chat, recent).order_by(SceneRun.id).with_for_update()
    )
    return list(rows)


async def keep_message(
    session: AsyncSession, run: SceneRun, message: MessageIncoming, now: datetime
) -> bool:
    """The member's message as the run's engagement; False when this copy was kept already."""
    if run.telegram_chat_id is None:
        run.telegram_chat_id = message.chat_id
    quoted = None
    if message.reply_to_message_id is not None:
        quoted = await session.scalar(
            select(SceneRunLine.id).where(
                SceneRunLine.run_id == run.id,
                SceneRunLine.telegram_message_id == message.reply_to_message_id,
            )
        )
    sender = message.sender
    name = " ".join(p for p in (sender.first_name, sender.last_name) if p) or sender.username
    made = await insert_ignore(
        session,
        SceneChatMessage,
        {
            "run_id": run.id,
            "telegram_message_id": message.message_id,
            "sender_user_id": sender.user_id,
            "sender_name": (name or str(sender.user_id))[:160],
            "text": message.text[:TEXT_LIMIT],
            "reply_to_line_id": quoted,
            "during": run.status in RUN_LIVE,
            "at": message.date,
        },
        returning=SceneChatMessage.id,
    )
    if made is None:
        return False
    await session.execute(
        update(SceneRun)
        .where(SceneRun.id == run.id)
        .values(
            member_messages=SceneRun.member_messages + 1,
            replies=SceneRun.replies + (1 if quoted is not None else 0),
        )
    )
    return True


async def maybe_hear(
    run: SceneRun, message: MessageIncoming, stage: Stage, matchers: ClauseMatchers
) -> bool:
    """A listening run takes the first clause the message matches; True when one did."""
    if run.status != "playing" or run.state.get("listen_pc") != run.pc:
        return False
    listen = stage.scene.program[run.pc]
    if not isinstance(listen, ListenAt):
        return False
    return await _choose(run, listen, message, stage, matchers)


async def _choose(
    run: SceneRun,
    listen: ListenAt,
    message: MessageIncoming,
    stage: Stage,
    matchers: ClauseMatchers,
) -> bool:
    for clause, target in listen.branches:
        test = await matchers.test(stage.session, clause)
        if test(message.text):
            hear(run, listen, target, member_of(message), stage)
            return True
    return False


class EarlyAnswers:
    """Members' messages kept since the line before a listen appeared in the chat: the listen
    starts from there, not from when that line's confirmation reached us."""

    def __init__(self, matchers: ClauseMatchers) -> None:
        self._matchers = matchers

    async def __call__(self, run: SceneRun, listen: ListenAt, stage: Stage) -> bool:
        session = stage.session
        after = await session.scalar(
            select(func.max(SceneRunLine.telegram_message_id)).where(SceneRunLine.run_id == run.id)
        )
        query = select(SceneChatMessage).where(
            SceneChatMessage.run_id == run.id, SceneChatMessage.during.is_(True)
        )
        if after is not None:
            query = query.where(SceneChatMessage.telegram_message_id > after)
        for kept in await session.scalars(query.order_by(SceneChatMessage.telegram_message_id)):
            if await _choose(run, listen, _as_incoming(run, kept), stage, self._matchers):
                return True
        return False


def _as_incoming(run: SceneRun, kept: SceneChatMessage) -> MessageIncoming:
    """A kept member's message as heard (enough to address them and hand them on)."""
    return MessageIncoming(
        account_id=0,
        chat_id=run.telegram_chat_id or 0,
        chat_ref=run.chat_ref,
        message_id=kept.telegram_message_id,
        text=kept.text,
        date=kept.at,
        sender=Profile(user_id=kept.sender_user_id, first_name=kept.sender_name),
    )
