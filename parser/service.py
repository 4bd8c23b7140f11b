"""The parser service: match every incoming chat message, judge the hits' intent per campaign,
record leads, keep the rules and the campaigns' classifiers fresh."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from prometheus_client import Counter, Histogram
from sqlalchemy import select

from core.bus import PermanentError
from core.db import Database
from core.db.models import Campaign
from core.events import Event, LeadReferred, MessageIncoming
from core.outbox import OutboxRelay
from parser.activity import ChatActivity
from parser.intent.classify import IntentClassifier
from parser.intent.model import IntentModel
from parser.intent_stage import CampaignIntent, IntentStage, Judge
from parser.leads import IntentMark, record_batch, record_hits
from parser.matcher import Hit
from parser.rules import Classifiers, CompiledRules, load_rules

log = logging.getLogger(__name__)

MESSAGES = Counter("coolthing_parser_messages_total", "Chat messages matched", ["outcome"])
LEADS = Counter("coolthing_parser_leads_total", "Leads recorded", ["kind"])
INTENT = Counter(
    "coolthing_parser_intent_total",
    "Campaign keyword hits by the second stage's outcome (drop: no lead written)",
    ["outcome"],
)
# The children bound once: the chat stream counts every message.
NO_TEXT, UNKNOWN_CHAT = MESSAGES.labels("no_text"), MESSAGES.labels("unknown_chat")
NO_MATCH, NOT_INTENT, MATCHED = (MESSAGES.labels(o) for o in ("no_match", "not_intent", "match"))
NEW_LEADS, REPEAT_LEADS = LEADS.labels("new"), LEADS.labels("repeat")
REFERRED = IntentMark("lead", None, "handed over by a scene")  # a person already judged them
MATCH_SECONDS = Histogram(
    "coolthing_parser_match_seconds",
    "Time to match one message against every rule",
    buckets=(1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2),
)


class ParserService:
    def __init__(
        self,
        db: Database,
        relay: OutboxRelay,
        activity: ChatActivity | None = None,
        *,
        judge: Judge | None = None,
    ) -> None:
        self._db = db
        self._relay = relay
        self._rules: CompiledRules | None = None
        self._activity = activity  # per-chat counts and samples, flushed in batches
        self._classifiers = Classifiers()  # kept across reloads: models load once
        self._stage = IntentStage((), judge)

    @property
    def stage(self) -> IntentStage:
        return self._stage

    def use_judge(self, judge: Judge | None) -> None:
        """Plug in (or remove) the LLM judge for the uncertain middle (see IntentStage)."""
        self._stage.judge = judge

    def use_model(self, campaign_id: int, model: IntentModel) -> bool:
        """Score ``campaign_id``'s hits with ``model`` from now on (the retrainer's new model,
        before the reload that would load it from its row); False for a campaign not loaded
        or with the stage off."""
        current = self._stage.get(campaign_id)
        if current is None:
            return False
        classifier = IntentClassifier(model, threshold=current.policy.threshold)
        self._stage.replace(CampaignIntent(campaign_id, current.policy, classifier))
        return True

    async def stop(self) -> None:
        """Write the chat activity still in memory."""
        if self._activity is not None:
            await self._activity.stop()

    async def reload(self) -> None:
        """Recompile every active rule; called at start and whenever configuration changes."""
        async with self._db.session() as session:
            self._rules = await load_rules(session, self._classifiers)
        self._stage = IntentStage(self._rules.intents, self._stage.judge)
        log.info("rules compiled", extra={"rules": self._rules.rule_count})

    async def handle_referral(self, event: Event, referral: LeadReferred) -> None:
        """A scene handed a member to a campaign: a lead as if its keywords had matched, with
        the scene's reason as the keyword. An unknown campaign is refused (dead-lettered)."""
        async with self._db.transaction() as session:
            campaign_id = await session.scalar(
                select(Campaign.id).where(Campaign.name == referral.campaign)
            )
            if campaign_id is None:
                raise PermanentError(f"no campaign named {referral.campaign!r} for a referral")
            hit = Hit(0, "scene", campaign_id, (referral.reason,))
            found = await record_hits(
                session,
                referral.message,
                [hit],
                correlation_id=event.id,
                intents={campaign_id: REFERRED},
            )
        if found:
            LEADS.labels("referred").inc()
            self._relay.poke()

    async def handle_message(self, event: Event, message: MessageIncoming) -> None:
        """Match one message; on a hit write the lead and its event in one transaction."""
        await self.handle_batch(event, [message])

    async def handle_batch(self, event: Event, messages: Sequence[MessageIncoming]) -> None:
        """Match a batch of chat messages and write the leads of all its hits in one
        transaction (all or none: a batch that fails is split and tried again in halves)."""
        if self._rules is None:
            await self.reload()
        matched = [(m, hits) for m in messages if (hits := self._match(m))]
        if not matched:
            return
        if self._stage.may_wait and len(matched) > 1:  # an LLM call must not hold the others
            judged = await asyncio.gather(*(self._judge(m, hits) for m, hits in matched))
        else:
            judged = [await self._judge(m, hits) for m, hits in matched]
        kept = [(m, h, i) for (m, _), (h, i) in zip(matched, judged, strict=True) if h]
        if len(kept) < len(matched):
            NOT_INTENT.inc(len(matched) - len(kept))
        if not kept:
            return
        MATCHED.inc(len(kept))
        async with self._db.transaction() as session:
            found = await record_batch(session, kept, correlation_id=event.id)
        for lead in found:
            (NEW_LEADS if lead.is_new else REPEAT_LEADS).inc()
        if found:
            self._relay.poke()

    def _match(self, message: MessageIncoming) -> list[Hit]:
        """The message's keyword hits (none for a DM, an empty text or a chat not watched)."""
        if message.is_private:
            return []  # DMs belong to the manager
        if not message.text:
            NO_TEXT.inc()
            self._note(message, matched=False)
            return []
        rules = self._rules
        assert rules is not None  # noqa: S101 - handle_batch loaded them
        chat_id = rules.chat_ids.get(message.chat_ref or "")
        if chat_id is None:
            UNKNOWN_CHAT.inc()
            self._note(message, matched=False)
            return []
        started = time.perf_counter()
        hits = rules.matcher.match(message.text, chat_id)
        MATCH_SECONDS.observe(time.perf_counter() - started)
        self._note(message, matched=bool(hits))
        if not hits:
            NO_MATCH.inc()
        return hits

    async def _judge(
        self, message: MessageIncoming, hits: list[Hit]
    ) -> tuple[list[Hit], dict[int, IntentMark]]:
        """The second stage on a message's keyword hits (only those reach it): the hits to
        record and each campaign's verdict; hits of campaigns that drop below-threshold ones go."""
        campaigns = dict.fromkeys(h.campaign_id for h in hits if h.campaign_id is not None)
        judged = await self._stage.judge_hits(campaigns, message.text, message.sender.bio)
        for verdict in judged.values():
            INTENT.labels(verdict.outcome).inc()
        dropped = {cid for cid, verdict in judged.items() if verdict.outcome == "drop"}
        kept = [h for h in hits if h.campaign_id not in dropped]
        intents = {cid: v.mark() for cid, v in judged.items() if cid not in dropped}
        return kept, intents

    def _note(self, message: MessageIncoming, *, matched: bool) -> None:
        if self._activity is not None:
            self._activity.note(message, matched=matched)
