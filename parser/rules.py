"""Load the active keyword rules from the database into one compiled matcher."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Campaign
from parser.matcher import KeywordSetRules, Matcher


class CompiledRules:
    """The matcher plus the map from chat reference to chat id that scopes it."""

    def __init__(self, matcher: Matcher, chat_ids: dict[str, int], rule_count: int) -> None:
        self.matcher = matcher
        self.chat_ids = chat_ids
        self.rule_count = rule_count


async def load_rules(session: AsyncSession) -> CompiledRules:
    """Every keyword set of every active parser campaign, scoped to that campaign's chats."""
    campaigns = (
        await session.scalars(
            select(Campaign).where(Campaign.status == "active", Campaign.mode == "parser")
        )
    ).all()
    rules: list[KeywordSetRules] = []
    chat_ids: dict[str, int] = {}
    for campaign in campaigns:
        scope = frozenset(chat.id for chat in campaign.chats)
        chat_ids.update({chat.ref: chat.id for chat in campaign.chats})
        rules += [
            KeywordSetRules(
                set_id=keyword_set.id,
                name=keyword_set.name,
                keywords=keyword_set.keywords,
                exclude=keyword_set.exclude,
                campaign_id=campaign.id,
                chat_ids=scope,
            )
            for keyword_set in campaign.keyword_sets
        ]
    return CompiledRules(Matcher.compile(rules), chat_ids, len(rules))
