"""The second stage's rules: outcomes below the threshold, verdicts that only go up, the judge."""

from __future__ import annotations

import pytest

from core.intent import IntentPolicy
from parser.intent.classify import IntentClassifier, Verdict
from parser.intent.defaults import load_default
from parser.intent_stage import CampaignIntent, IntentStage
from parser.leads import IntentMark, settle

BUYER = "Нужен разработчик для интернет-магазина, кто возьмётся? Бюджет есть"
SELLER = "Я разработчик, делаю сайты под ключ, пишите в личку"


@pytest.fixture(scope="module")
def classifier() -> IntentClassifier:
    return IntentClassifier(load_default("general"))


def _stage(classifier: IntentClassifier, **policies: IntentPolicy) -> IntentStage:
    return IntentStage(
        CampaignIntent(int(name[1:]), policy, classifier) for name, policy in policies.items()
    )


async def test_below_the_threshold_each_campaign_does_what_its_policy_says(
    classifier: IntentClassifier,
) -> None:
    stage = _stage(
        classifier,
        c1=IntentPolicy(below="drop"),
        c2=IntentPolicy(below="maybe"),
        c3=IntentPolicy(below="ask"),
        c4=IntentPolicy(enabled=False),
    )
    judged = await stage.judge_hits([1, 2, 3, 4, 5], SELLER, None)
    assert {cid: j.outcome for cid, j in judged.items()} == {1: "drop", 2: "maybe", 3: "ask"}
    assert len({j.score for j in judged.values()}) == 1  # one model: scored once, same score
    buyer = await stage.judge_hits([1, 2, 3], BUYER, None)
    assert {j.outcome for j in buyer.values()} == {"lead"}


LEAD = IntentMark("lead", 0.9, "«нужен» +3.0")
MAYBE = IntentMark("maybe", 0.2, "«разработчик» −1.2")


@pytest.mark.parametrize(
    ("current", "new", "expected"),
    [
        (MAYBE, LEAD, LEAD),  # a clear request later: up
        (LEAD, MAYBE, None),  # never down
        (IntentMark("not_lead"), LEAD, None),  # an operator's word stays
        (MAYBE, IntentMark("maybe", 0.3, "b"), IntentMark("maybe", 0.3, "b")),  # better evidence
        (MAYBE, IntentMark("ask", 0.3, "b"), IntentMark("maybe", 0.3, "b")),  # label stays
        (MAYBE, IntentMark("maybe", 0.1, "b"), None),  # weaker evidence: nothing
        (MAYBE, None, None),  # the stage off now: nothing
        (IntentMark(None), MAYBE, None),  # written to already (stage was off): never down
        (IntentMark(None), LEAD, LEAD),
    ],
)
def test_a_repeat_hit_only_raises_a_leads_verdict(
    current: IntentMark, new: IntentMark | None, expected: IntentMark | None
) -> None:
    assert settle(current, new) == expected


async def test_the_judge_is_asked_only_inside_its_band_and_only_when_the_policy_says(
    classifier: IntentClassifier,
) -> None:
    asked: list[tuple[int, str]] = []

    async def judge(campaign_id: int, text: str, bio: str | None, verdict: Verdict) -> Verdict:
        asked.append((campaign_id, text))
        return Verdict(True, 0.6, "LLM: wants a site", ())

    band = IntentPolicy(judge=True, judge_band=(0.0, 0.5))
    stage = _stage(classifier, c1=band, c2=IntentPolicy(judge=False, judge_band=(0.0, 0.5)))
    stage.judge = judge
    judged = await stage.judge_hits([1, 2], SELLER, None)
    assert (judged[1].outcome, judged[1].reason) == ("lead", "LLM: wants a site")
    assert judged[2].outcome == "maybe"
    assert (await stage.judge_hits([1], BUYER, None))[1].reason.startswith("«")
    assert asked == [(1, SELLER)]


async def test_a_judge_that_fails_or_abstains_leaves_the_models_verdict(
    classifier: IntentClassifier,
) -> None:
    async def failing(campaign_id: int, text: str, bio: str | None, verdict: Verdict) -> Verdict:
        raise ConnectionError("no LLM")

    async def abstaining(
        campaign_id: int, text: str, bio: str | None, verdict: Verdict
    ) -> Verdict | None:
        return None

    stage = _stage(classifier, c1=IntentPolicy(judge=True, judge_band=(0.0, 1.0)))
    for judge in (failing, abstaining):
        stage.judge = judge
        [verdict] = (await stage.judge_hits([1], SELLER, None)).values()
        assert verdict.outcome == "maybe" and verdict.reason.startswith("«")
