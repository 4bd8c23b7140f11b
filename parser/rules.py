"""Load the active keyword rules and each campaign's intent classifier from the database."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.intent_models import CampaignIntentModel
from core.db.models import Campaign
from core.intent import IntentPolicy, policy_of
from parser.intent.classify import IntentClassifier
from parser.intent.defaults import load_default
from parser.intent.model import IntentModel, IntentModelError
from parser.intent_stage import CampaignIntent
from parser.matcher import KeywordSetRules, Matcher

log = logging.getLogger(__name__)

# ("shipped", kind, threshold) or ("campaign", model row id, threshold)
_Key = tuple[str, str | int, float | None]


class CompiledRules:
    """The matcher plus the map from chat reference to chat id that scopes it, and each
    campaign's second stage."""

    def __init__(
        self,
        matcher: Matcher,
        chat_ids: dict[str, int],
        rule_count: int,
        intents: list[CampaignIntent] | None = None,
    ) -> None:
        self.matcher = matcher
        self.chat_ids = chat_ids
        self.rule_count = rule_count
        self.intents = intents or []


class Classifiers:
    """Loaded classifiers kept across reloads: loading a model costs milliseconds and a dense
    weight vector, so campaigns on the same shipped model (and threshold) share one, and a
    reload after an unrelated change loads nothing again."""

    def __init__(self) -> None:
        self._loaded: dict[_Key, IntentClassifier] = {}
        self._used: set[_Key] = set()

    def shipped(self, kind: str, threshold: float | None) -> IntentClassifier:
        key: _Key = ("shipped", kind, threshold)
        if key not in self._loaded:
            self._loaded[key] = IntentClassifier(load_default(kind), threshold=threshold)
        self._used.add(key)
        return self._loaded[key]

    def cached(self, row_id: int, threshold: float | None) -> IntentClassifier | None:
        """A campaign's own model loaded before (stored rows never change: the id names it)."""
        key: _Key = ("campaign", row_id, threshold)
        found = self._loaded.get(key)
        if found is not None:
            self._used.add(key)
        return found

    def retrained(
        self, row_id: int, model: IntentModel, threshold: float | None
    ) -> IntentClassifier:
        key: _Key = ("campaign", row_id, threshold)
        self._loaded[key] = IntentClassifier(model, threshold=threshold)
        self._used.add(key)
        return self._loaded[key]

    def forget_unused(self) -> None:
        """Drop what the last load did not use (called after each full load)."""
        self._loaded = {k: v for k, v in self._loaded.items() if k in self._used}
        self._used = set()


async def load_rules(
    session: AsyncSession, classifiers: Classifiers | None = None
) -> CompiledRules:
    """Every keyword set of every active parser campaign, scoped to that campaign's chats, and
    each campaign's classifier (its own in-use model, else the shipped one its policy names)."""
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
    classifiers = classifiers or Classifiers()
    intents = await _intents(session, campaigns, classifiers)
    classifiers.forget_unused()
    return CompiledRules(Matcher.compile(rules), chat_ids, len(rules), intents)


async def _intents(
    session: AsyncSession, campaigns: Sequence[Campaign], cache: Classifiers
) -> list[CampaignIntent]:
    policies = {c.id: _policy(c) for c in campaigns}
    enabled = [cid for cid, policy in policies.items() if policy.enabled]
    in_use = await _models_in_use(session, enabled)
    intents = []
    for campaign_id in enabled:
        policy = policies[campaign_id]
        classifier = None
        row_id = in_use.get(campaign_id)
        if row_id is not None:
            classifier = await _retrained(session, cache, campaign_id, row_id, policy)
        if classifier is None:
            classifier = cache.shipped(policy.model, policy.threshold)
        intents.append(CampaignIntent(campaign_id, policy, classifier))
    return intents


def _policy(campaign: Campaign) -> IntentPolicy:
    try:
        return policy_of(campaign.intent)
    except ValueError as exc:  # written past the API's validation: the defaults, said loudly
        log.error("campaign %s: its intent policy is invalid, defaults used: %s", campaign.id, exc)
        return IntentPolicy()


async def _models_in_use(session: AsyncSession, campaign_ids: list[int]) -> dict[int, int]:
    """Campaign id → the id of its newest in-use retrained model."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(CampaignIntentModel.campaign_id, CampaignIntentModel.id)
        .where(CampaignIntentModel.in_use, CampaignIntentModel.campaign_id.in_(campaign_ids))
        .order_by(CampaignIntentModel.id)
    )
    return {row.campaign_id: row.id for row in rows}  # in id order: the newest wins


async def _retrained(
    session: AsyncSession,
    cache: Classifiers,
    campaign_id: int,
    row_id: int,
    policy: IntentPolicy,
) -> IntentClassifier | None:
    cached = cache.cached(row_id, policy.threshold)
    if cached is not None:
        return cached
    stored = await session.scalar(
        select(CampaignIntentModel.model).where(CampaignIntentModel.id == row_id)
    )
    try:
        return cache.retrained(row_id, IntentModel.loads(stored or ""), policy.threshold)
    except IntentModelError as exc:  # the shipped model still works
        log.error(
            "campaign %s: retrained model %s cannot be used, the shipped one is: %s",
            campaign_id,
            row_id,
            exc,
        )
        return None
