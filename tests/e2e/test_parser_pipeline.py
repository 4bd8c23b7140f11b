"""Parser mode end to end: sandbox, two account workers, parser and admin as separate processes over
RabbitMQ and PostgreSQL. The audience posts 300 messages; exactly the matching ones become leads,
each once, even when a worker is SIGKILLed mid-run and restarted."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from parser.matcher import KeywordSetRules, Matcher
from tests.conftest import Stack, sandbox_call, wait_for
from tests.e2e.conftest import boot_parser_mode

pytestmark = pytest.mark.e2e

CHATS = ["python_jobs", "freelance_ru", "design_talk"]
WEB = (
    ["разработчик", "программист", "сделать сайт", "developer", "build a website"],
    ["вакансия", "резюме", "hiring"],
)
DESIGN = (["дизайнер", "логотип", "фирменный стиль", "designer", "logo"], ["курс", "course"])
CAMPAIGNS = {  # campaign id (in apply order) → keyword set and chats
    1: (WEB, ["python_jobs", "freelance_ru"]),
    2: (DESIGN, ["freelance_ru", "design_talk"]),
}


def _workspace(sessions: list[str]) -> str:
    def words(items: list[str]) -> str:
        return "[" + ", ".join(f'"{w}"' for w in items) + "]"

    return f"""\
accounts:
  - {{name: parser-1, role: parser, session: "{sessions[0]}"}}
  - {{name: parser-2, role: parser, session: "{sessions[1]}"}}
keyword_sets:
  - {{name: web-dev, keywords: {words(WEB[0])}, exclude: {words(WEB[1])}}}
  - {{name: design, keywords: {words(DESIGN[0])}, exclude: {words(DESIGN[1])}}}
campaigns:
  - {{name: web, keyword_sets: [web-dev], chats: ["@python_jobs", "@freelance_ru"],
      parser_accounts: [parser-1, parser-2]}}
  - {{name: design, keyword_sets: [design], chats: ["@freelance_ru", "@design_talk"],
      parser_accounts: [parser-1, parser-2]}}
"""


async def _expected_leads(http: httpx.AsyncClient, stack: Stack) -> Counter[tuple[int, int]]:
    """(campaign id, user id) → matching messages, from what the sandbox says was posted."""
    matchers = {
        cid: Matcher.compile([KeywordSetRules(set_id=cid, name=str(cid), keywords=kw, exclude=ex)])
        for cid, ((kw, ex), _) in CAMPAIGNS.items()
    }
    expected: Counter[tuple[int, int]] = Counter()
    for chat in CHATS:
        messages = (await sandbox_call(http, stack, f"/_sandbox/messages?chat={chat}&limit=10000"))[
            "messages"
        ]
        for message in messages:
            for cid, (_, chats) in CAMPAIGNS.items():
                if chat in chats and matchers[cid].match(message["text"]):
                    expected[(cid, message["sender"]["user_id"])] += 1
    return expected


async def _leads(http: httpx.AsyncClient, stack: Stack) -> Counter[tuple[int, int]]:
    page = (await http.get(f"{stack.api_url}/api/v1/leads?limit=500")).json()
    return Counter(
        {(lead["campaign_id"], lead["telegram_user_id"]): lead["hits"] for lead in page["items"]}
    )


async def test_matching_messages_become_leads_exactly_once_despite_a_killed_worker(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    await boot_parser_mode(stack, http, CHATS, _workspace)

    audience = {"rate": 40, "count": 300, "seed": 7, "chats": CHATS}
    await sandbox_call(http, stack, "/_sandbox/audience/start", audience)

    async def posted(n: int) -> bool:
        status = await sandbox_call(http, stack, "/_sandbox/audience")
        return int(status["posted"]) >= n

    await wait_for(lambda: posted(100), seconds=30, what="100 posts")
    stack.kill("bots-1")
    await wait_for(lambda: posted(160), seconds=30, what="posts while the worker is down")
    stack.start("bots-1b", "bots", "--account", "1")
    await wait_for(lambda: posted(300), seconds=60, what="all 300 posts")

    expected = await _expected_leads(http, stack)
    assert 20 < len(expected) < 150, "the audience should produce a realistic share of leads"

    async def leads_match() -> bool:
        return await _leads(http, stack) == expected

    try:
        await wait_for(leads_match, seconds=60, what="leads to settle")
    except AssertionError:
        got = await _leads(http, stack)
        missing = expected - got
        extra = got - expected
        raise AssertionError(
            f"missing {dict(missing)}, extra {dict(extra)}\n{stack.log_tail()}"
        ) from None

    # 300 chat messages went through workers and the parser: none of them is in a service log.
    texts = {
        message["text"]
        for chat in CHATS
        for message in (await sandbox_call(http, stack, f"/_sandbox/messages?chat={chat}"))[
            "messages"
        ]
        if len(message["text"]) >= 12  # a short text may be a word any log has
    }
    logs = stack.service_logs(exclude=("sandbox",))
    leaked = sorted(t for t in texts if any(t in log for log in logs.values()))
    assert len(texts) > 50 and leaked == []
