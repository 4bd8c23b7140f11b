"""Keyword sets: list, save (create or edit), delete (refused while a campaign uses the set), and
"try it": which words of a message match which keyword, by which stem, and what vetoes it; and
how many messages of the parser's recent sample (``chat_samples``) the set would have matched.

Validation is the workspace file's (``KeywordSetSpec``), so a set saved here reads back the same
in ``coolthing workspace export``; every change is audited and announced (``config.changed``) so
the parser recompiles its rules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.workspace.spec import KeywordSetSpec
from core.access import Actor
from core.audit import record
from core.db.models import Campaign, CampaignKeywordSet, Chat, ChatSample, KeywordSet
from core.events import ConfigChanged, Event
from core.outbox import add_to_outbox
from parser.matcher import KeywordSetRules, Matcher
from parser.stemming import stem_token, stem_tokens, tokenize

SAMPLE_LIMIT = 2000  # the newest sampled messages a "try it" reads: a keystroke's worth of work
EXAMPLES = 3


class SetupError(Exception):
    """A change refused with a reason a person can act on; ``field`` names the input at fault."""

    def __init__(self, reason: str, *, field: str | None = None, missing: bool = False) -> None:
        super().__init__(reason)
        self.field = field
        self.missing = missing


@dataclass(frozen=True)
class SetInUse:
    keyword_set: KeywordSet
    campaigns: list[str]


async def keyword_sets(session: AsyncSession) -> list[SetInUse]:
    sets = list(await session.scalars(select(KeywordSet).order_by(KeywordSet.name)))
    rows = await session.execute(
        select(CampaignKeywordSet.keyword_set_id, Campaign.name).join(
            Campaign, Campaign.id == CampaignKeywordSet.campaign_id
        )
    )
    users: dict[int, list[str]] = {}
    for set_id, campaign in rows:
        users.setdefault(set_id, []).append(campaign)
    return [SetInUse(s, sorted(users.get(s.id, []))) for s in sets]


def parse_set(name: str, keywords: Sequence[str], exclude: Sequence[str]) -> KeywordSetSpec:
    """The workspace file's rules; ``SetupError`` naming the field (and the line) at fault."""
    try:
        return KeywordSetSpec.model_validate(
            {
                "name": name.strip(),
                "keywords": [k for k in keywords if k.strip()],
                "exclude": [k for k in exclude if k.strip()],
            }
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = [str(part) for part in error["loc"]]
        field = where[0]
        line = f"line {int(where[1]) + 1}: " if len(where) > 1 and where[1].isdigit() else ""
        reason = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] in ("too_short", "string_too_short"):
            reason = (
                "give the set a name" if field == "name" else "write at least one, one per line"
            )
        raise SetupError(f"{line}{reason}", field=field) from None


async def save_set(
    session: AsyncSession, actor: Actor, spec: KeywordSetSpec, *, set_id: int | None
) -> KeywordSet:
    same_name = await session.scalar(select(KeywordSet).where(KeywordSet.name == spec.name))
    if same_name is not None and same_name.id != set_id:
        raise SetupError(f"the name {spec.name!r} is taken by another keyword set", field="name")
    if set_id is None:
        keyword_set = KeywordSet(name=spec.name)
        session.add(keyword_set)
    else:
        found = await session.get(KeywordSet, set_id)
        if found is None:
            raise SetupError(f"keyword set {set_id} does not exist", missing=True)
        keyword_set = found
    keyword_set.name = spec.name
    keyword_set.keywords = list(spec.keywords)
    keyword_set.exclude = list(spec.exclude)
    await session.flush()
    action = "keyword_set_created" if set_id is None else "keyword_set_changed"
    record(session, action, actor=actor, target=spec.name, keywords=len(spec.keywords))
    await add_to_outbox(session, Event.of(ConfigChanged(reason=f"keyword set {spec.name} saved")))
    return keyword_set


async def delete_set(session: AsyncSession, actor: Actor, set_id: int) -> None:
    keyword_set = await session.get(KeywordSet, set_id)
    if keyword_set is None:
        raise SetupError(f"keyword set {set_id} does not exist", missing=True)
    using = list(
        await session.scalars(
            select(Campaign.name)
            .join(CampaignKeywordSet, CampaignKeywordSet.campaign_id == Campaign.id)
            .where(CampaignKeywordSet.keyword_set_id == set_id)
            .order_by(Campaign.name)
        )
    )
    if using:
        raise SetupError(
            f"the campaigns {', '.join(using)} use {keyword_set.name!r}: take it out of them first"
        )
    await session.delete(keyword_set)
    record(session, "keyword_set_deleted", actor=actor, target=keyword_set.name)
    await add_to_outbox(
        session, Event.of(ConfigChanged(reason=f"keyword set {keyword_set.name} deleted"))
    )


@dataclass(frozen=True)
class WordMatch:
    keyword: str
    words: tuple[str, ...]  # the message's words that matched, as written
    stems: tuple[str, ...]  # the stems they share with the keyword


@dataclass(frozen=True)
class Trial:
    matched: bool
    matches: list[WordMatch]
    vetoes: list[WordMatch]


def _matcher(spec: KeywordSetSpec) -> Matcher:
    """The parser's own matcher for the set alone, unscoped (it answers for any chat)."""
    return Matcher.compile(
        [KeywordSetRules(set_id=0, name=spec.name, keywords=spec.keywords, exclude=spec.exclude)]
    )


def try_text(spec: KeywordSetSpec, text: str) -> Trial:
    """What the parser would decide for ``text``, and why, word by word."""
    matcher = _matcher(spec)
    said = [(word, stem) for word in tokenize(text) if (stem := stem_token(word))]
    words = [word for word, _ in said]
    stems = tuple(stem for _, stem in said)
    return Trial(
        matched=bool(matcher.match(text)),
        matches=[m for k in spec.keywords if (m := _find(k, words, stems)) is not None],
        vetoes=[m for k in spec.exclude if (m := _find(k, words, stems)) is not None],
    )


def _find(keyword: str, words: list[str], stems: tuple[str, ...]) -> WordMatch | None:
    wanted = stem_tokens(tokenize(keyword))
    if not wanted:
        return None
    for start in range(len(stems) - len(wanted) + 1):
        if stems[start : start + len(wanted)] == wanted:
            return WordMatch(keyword, tuple(words[start : start + len(wanted)]), wanted)
    return None


@dataclass(frozen=True)
class Example:
    chat: str  # the chat's reference or title, as the panel knows it
    text: str


@dataclass(frozen=True)
class SampleTrial:
    matched: int
    total: int  # sampled messages tried (the newest ``SAMPLE_LIMIT`` at most)
    chats: int  # chats they came from
    examples: list[Example]


async def try_sample(session: AsyncSession, spec: KeywordSetSpec) -> SampleTrial:
    """How many of the newest sampled chat messages the set would have matched, with a few."""
    rows = list(
        await session.execute(
            select(ChatSample.telegram_chat_id, ChatSample.text)
            .order_by(ChatSample.id.desc())
            .limit(SAMPLE_LIMIT)
        )
    )
    matcher = _matcher(spec)
    hits = [(chat_id, text) for chat_id, text in rows if matcher.match(text)]
    shown = hits[:EXAMPLES]
    names = await _chat_names(session, {chat_id for chat_id, _ in shown})
    examples = [Example(names.get(chat_id, str(chat_id)), text) for chat_id, text in shown]
    return SampleTrial(len(hits), len(rows), len({chat_id for chat_id, _ in rows}), examples)


async def _chat_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    found = await session.execute(
        select(Chat.telegram_chat_id, Chat.title, Chat.ref).where(Chat.telegram_chat_id.in_(ids))
    )
    return {chat_id: title or ref for chat_id, title, ref in found if chat_id is not None}
