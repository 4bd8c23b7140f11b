"""The parser's second stage: each campaign's classifier decides whether a keyword hit is a lead.

It runs only on keyword hits (the service calls it after the matcher found some), once per
campaign hit, and turns the model's score into the campaign's verdict: ``lead`` at or above the
threshold, else what ``IntentPolicy.below`` says (``maybe``/``ask`` keep the lead without a DM,
``drop`` keeps nothing). A campaign whose stage is off gets no verdict at all (NULL, as before).

The LLM judge (another module) plugs in as ``Judge``: for a campaign with ``policy.judge`` on, a
score inside ``policy.judge_band`` is handed to it and its verdict replaces the model's; when it
has no answer (None) or fails, the model's verdict stands — a lead is never lost to an LLM error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from core.intent import IntentPolicy
from parser.intent.classify import IntentClassifier, Verdict
from parser.leads import IntentMark

log = logging.getLogger(__name__)

# (campaign id, the message, the sender's bio, the model's verdict) → the judge's verdict, or None
# to keep the model's. The judge bounds its own time: the message waits for it.
Judge = Callable[[int, str, str | None, Verdict], Awaitable[Verdict | None]]
Outcome = Literal["lead", "maybe", "ask", "drop"]
REASON_LIMIT = 500  # LeadFound.reason's limit


@dataclass(frozen=True, slots=True)
class CampaignIntent:
    """One campaign's second stage: its policy and the classifier it scores with."""

    campaign_id: int
    policy: IntentPolicy
    classifier: IntentClassifier


@dataclass(frozen=True, slots=True)
class Judged:
    """The stage's outcome for one campaign hit."""

    campaign_id: int
    outcome: Outcome
    score: float
    reason: str

    def mark(self) -> IntentMark:
        """What the lead stores (not for ``drop``: nothing is stored)."""
        assert self.outcome != "drop"  # noqa: S101 - the service filters drops out first
        return IntentMark(self.outcome, self.score, self.reason)


class IntentStage:
    """The campaigns' classifiers (swapped whole on reload, one by one by the retrainer)."""

    def __init__(self, campaigns: Iterable[CampaignIntent], judge: Judge | None = None) -> None:
        self._campaigns = {c.campaign_id: c for c in campaigns}
        self.judge = judge

    @property
    def may_wait(self) -> bool:
        """Whether a hit may wait for the judge (some campaign asks it): only then is a batch's
        hits judged side by side instead of one after another."""
        return self.judge is not None and any(c.policy.judge for c in self._campaigns.values())

    def __contains__(self, campaign_id: int) -> bool:
        return campaign_id in self._campaigns

    def get(self, campaign_id: int) -> CampaignIntent | None:
        return self._campaigns.get(campaign_id)

    def replace(self, campaign: CampaignIntent) -> None:
        self._campaigns[campaign.campaign_id] = campaign

    async def judge_hits(
        self, campaign_ids: Iterable[int], text: str, bio: str | None
    ) -> dict[int, Judged]:
        """The outcome per campaign whose stage is on (campaigns with it off are left out).

        Campaigns sharing a classifier share its verdict: the message is scored once per model.
        """
        scored: dict[int, Verdict] = {}  # id(classifier) → its verdict on this message
        verdicts: dict[int, tuple[CampaignIntent, Verdict]] = {}
        for campaign_id in campaign_ids:
            campaign = self._campaigns.get(campaign_id)
            if campaign is None or not campaign.policy.enabled:
                continue
            key = id(campaign.classifier)
            if key not in scored:
                scored[key] = campaign.classifier.classify(text, bio)
            verdicts[campaign_id] = (campaign, scored[key])
        # Campaigns that ask the judge ask it side by side (the message waits for the slowest);
        # the rest, nearly every hit, take no task at all.
        asked = [c for c, v in verdicts.values() if self._asks(c, v)]
        answers = await asyncio.gather(
            *(self._judged(c, verdicts[c.campaign_id][1], text, bio) for c in asked)
        )
        for campaign, answer in zip(asked, answers, strict=True):
            verdicts[campaign.campaign_id] = (campaign, answer)
        return {
            campaign_id: Judged(
                campaign_id,
                "lead" if verdict.lead else campaign.policy.below,
                min(max(verdict.score, 0.0), 1.0),
                verdict.reason[:REASON_LIMIT],
            )
            for campaign_id, (campaign, verdict) in verdicts.items()
        }

    def _asks(self, campaign: CampaignIntent, verdict: Verdict) -> bool:
        low, high = campaign.policy.judge_band
        return self.judge is not None and campaign.policy.judge and low <= verdict.score <= high

    async def _judged(
        self, campaign: CampaignIntent, verdict: Verdict, text: str, bio: str | None
    ) -> Verdict:
        assert self.judge is not None  # noqa: S101 - _asks said so
        try:
            answer = await self.judge(campaign.campaign_id, text, bio, verdict)
        except Exception:  # the model's verdict stands: never lose a lead to the LLM
            log.exception("the intent judge failed", extra={"campaign_id": campaign.campaign_id})
            return verdict
        return verdict if answer is None else answer
