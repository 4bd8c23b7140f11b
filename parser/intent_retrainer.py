"""The parser's background retrainer: after operators mark leads of a campaign that learns, and
a quiet moment without more marks, it retrains that campaign's intent model from its examples.

One campaign at a time, in one worker thread (training is CPU-bound and imports scikit-learn),
bounded by the newest ``max_examples`` operator examples and a time limit. Every training is
stored as a ``CampaignIntentModel`` row with its numbers and a note; only one at least as good as
the model in use on the held-back examples is marked in use, after which this parser reloads and
a ``config.changed`` tells the other parser instances to reload too.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select, update

from core.db import Database
from core.db.intent_models import CampaignIntentModel, IntentExample
from core.db.models import Campaign
from core.events import ConfigChanged, Event
from core.intent import policy_of
from core.outbox import OutboxRelay, add_to_outbox
from parser.intent_retraining import OperatorExample, Retrained, retrain

log = logging.getLogger(__name__)


class IntentRetrainer:
    def __init__(
        self,
        db: Database,
        relay: OutboxRelay,
        *,
        reload: Callable[[], Awaitable[None]],
        delay: float,
        timeout: float,
        max_examples: int,
    ) -> None:
        self._db = db
        self._relay = relay
        self._reload = reload
        self._delay = delay
        self._timeout = timeout
        self._max_examples = max_examples
        self._due: dict[int, float] = {}  # campaign id → loop time its quiet moment ends
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intent-retrain")

    def mark(self, campaign_id: int) -> None:
        """A campaign got a mark: retrain it once no more marks came for ``delay`` seconds."""
        self._due[campaign_id] = asyncio.get_running_loop().time() + self._delay
        self._wake.set()

    async def start(self) -> None:
        """Begin, with the campaigns marked since their last training (a stop in between)."""
        for campaign_id in await self.behind():
            self.mark(campaign_id)
        self._task = asyncio.create_task(self._run(), name="intent-retrainer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        # A training under way is not waited for: its result is dropped (no row, nothing used).
        self._thread.shutdown(wait=False, cancel_futures=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            if not self._due:
                await self._wake.wait()
                continue
            campaign_id, due = min(self._due.items(), key=lambda item: item[1])
            if due > loop.time():
                try:
                    await asyncio.wait_for(self._wake.wait(), due - loop.time())
                except TimeoutError:
                    pass
                continue  # a new mark may have moved the moment
            del self._due[campaign_id]
            try:
                await self.retrain(campaign_id)
            except Exception:  # the next mark of the campaign tries again
                log.exception("retraining campaign %s's intent model failed", campaign_id)

    async def retrain(self, campaign_id: int) -> CampaignIntentModel | None:
        """Train, store the row and use the model when it is as good; None when the campaign
        is gone, does not learn, has no examples, or the time limit passed."""
        async with self._db.session() as session:
            campaign = await session.get(Campaign, campaign_id)
            if campaign is None or not policy_of(campaign.intent).learn:
                return None
            policy = policy_of(campaign.intent)
            rows = await session.execute(
                select(IntentExample.id, IntentExample.text, IntentExample.bio, IntentExample.label)
                .where(IntentExample.campaign_id == campaign_id)
                .order_by(IntentExample.created_at.desc(), IntentExample.id.desc())
                .limit(self._max_examples)
            )
            examples = [OperatorExample(r.id, r.text, r.bio, r.label) for r in rows]
            stored = await session.scalar(
                select(CampaignIntentModel.model)
                .where(
                    CampaignIntentModel.campaign_id == campaign_id,
                    CampaignIntentModel.in_use.is_(True),
                )
                .order_by(CampaignIntentModel.id.desc())
                .limit(1)
            )
        if not examples:
            return None
        loop = asyncio.get_running_loop()
        work = loop.run_in_executor(
            self._thread,
            lambda: retrain(
                campaign_id, policy.model, examples, stored=stored, threshold=policy.threshold
            ),
        )
        try:
            result = await asyncio.wait_for(work, self._timeout)
        except TimeoutError:
            log.warning(
                "retraining campaign %s's intent model took over %g s: dropped, the model in "
                "use stays",
                campaign_id,
                self._timeout,
            )
            return None
        row = await self._store(campaign_id, result)
        if result.used:
            self._relay.poke()  # config.changed: the other parser instances reload too
            await self._reload()
        log.info(
            "intent model retrained for campaign %s: %d operator examples, F1 %.3f -> %.3f, %s",
            campaign_id,
            result.plan.operator_trained,
            result.previous_f1,
            result.f1,
            "used" if result.used else "not used",
        )
        return row

    async def _store(self, campaign_id: int, result: Retrained) -> CampaignIntentModel:
        async with self._db.transaction() as session:
            # One decision per campaign at a time, whichever parser instance makes it.
            await session.execute(
                select(Campaign.id).where(Campaign.id == campaign_id).with_for_update()
            )
            if result.used:
                await session.execute(
                    update(CampaignIntentModel)
                    .where(
                        CampaignIntentModel.campaign_id == campaign_id,
                        CampaignIntentModel.in_use.is_(True),
                    )
                    .values(in_use=False)
                )
            row = CampaignIntentModel(
                campaign_id=campaign_id,
                model=result.model.dumps(),
                examples=result.plan.operator_trained,
                held_out=len(result.plan.held_out),
                f1=result.f1,
                previous_f1=result.previous_f1,
                in_use=result.used,
                note=result.note,
            )
            session.add(row)
            if result.used:
                reason = f"campaign {campaign_id}: retrained intent model in use"
                await add_to_outbox(session, Event.of(ConfigChanged(reason=reason)))
        return row

    async def behind(self) -> list[int]:
        """Campaigns with a mark newer than their newest trained model."""
        async with self._db.session() as session:
            newest_model = (
                select(
                    CampaignIntentModel.campaign_id,
                    func.max(CampaignIntentModel.created_at).label("at"),
                )
                .group_by(CampaignIntentModel.campaign_id)
                .subquery()
            )
            query = (
                select(IntentExample.campaign_id)
                .outerjoin(newest_model, newest_model.c.campaign_id == IntentExample.campaign_id)
                .group_by(IntentExample.campaign_id, newest_model.c.at)
                .having(
                    (newest_model.c.at.is_(None))
                    | (func.max(IntentExample.created_at) > newest_model.c.at)
                )
            )
            return list(await session.scalars(query))
