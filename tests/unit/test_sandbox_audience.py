"""The simulated audience: deterministic by seed, the right share of keyword hits, buyers and
people who say the same keywords without wanting to buy, fast enough to flood."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import Counter

import pytest

from parser.intent.examples_set import load_examples, load_kinds
from parser.matcher import KeywordSetRules, Matcher
from sandbox import corpus, corpus_roles
from sandbox.audience import Audience, AudienceStart
from sandbox.corpus import Generated, MessageGenerator, Template
from sandbox.corpus_roles import Role
from sandbox.responder import CannedResponder
from sandbox.state import World

KEYWORDS = {
    "web-dev": ["разработчик", "программист", "сделать сайт", "developer", "build a website"],
    "design": ["дизайнер", "логотип", "фирменный стиль", "designer", "logo"],
}
MINUS = {"web-dev": ["вакансия", "резюме", "hiring"], "design": ["курс", "course"]}
_WITH_MINUS = Matcher.compile(
    KeywordSetRules(set_id=n, name=topic, keywords=KEYWORDS[topic], exclude=MINUS[topic])
    for n, topic in enumerate(KEYWORDS)
)
_KEYWORDS_ONLY = Matcher.compile(
    KeywordSetRules(set_id=n, name=topic, keywords=KEYWORDS[topic], exclude=[])
    for n, topic in enumerate(KEYWORDS)
)
# What the parser's keyword stage makes of each kind: a buyer's lead and a lookalike both hit.
MATCHED = {"lead": "hit", "lookalike": "hit", "excluded": "excluded", "chatter": "chatter"}
LOOKALIKE_ROLES = {"seller", "agency", "job_seeker", "recruiter", "learner", "news"}


def classify(text: str) -> str:
    """What the parser's keyword matcher makes of a message, with the demo's keyword sets."""
    if not _KEYWORDS_ONLY.match(text):
        return "chatter"
    return "hit" if _WITH_MINUS.match(text) else "excluded"


def expansions(source: str) -> list[str]:
    """Every text a template can produce (the emoji slot as empty)."""
    parts = [
        (["" if part == ["E"] else c for c in part] if isinstance(part, list) else [part])
        for part in Template(source).parts
    ]
    return ["".join(combo) for combo in itertools.product(*parts)]


def test_the_same_seed_gives_the_same_messages_and_another_seed_others() -> None:
    one, two, other = MessageGenerator(5), MessageGenerator(5), MessageGenerator(6)

    texts = [one.next().text for _ in range(500)]

    assert texts == [two.next().text for _ in range(500)]
    assert texts != [other.next().text for _ in range(500)]


def test_about_a_third_of_messages_hit_a_keyword_set_and_a_third_of_hits_are_not_buyers() -> None:
    generator = MessageGenerator(seed=11)
    said = [generator.next() for _ in range(5000)]
    matched = Counter(classify(g.text) for g in said)
    kinds = Counter(g.kind for g in said)

    assert 0.25 <= (matched["hit"] + matched["excluded"]) / 5000 <= 0.35
    assert 0.02 <= matched["excluded"] / 5000 <= 0.08
    hits = kinds["lead"] + kinds["lookalike"]
    assert 0.25 <= kinds["lookalike"] / hits <= 0.45


def test_every_generated_message_is_what_its_label_says() -> None:
    generator = MessageGenerator(seed=3)
    for _ in range(3000):
        said = generator.next()
        assert classify(said.text) == MATCHED[said.kind], said
        assert (said.role == "buyer") == (said.kind == "lead"), said
        assert (said.role == "chatter") == (said.kind == "chatter"), said


def _templates(groups: dict[tuple[str, str], dict[corpus_roles.Role, list[str]]]) -> list[str]:
    return [t for roles in groups.values() for items in roles.values() for t in items]


@pytest.mark.parametrize(
    ("templates", "kind"),
    [
        (corpus.CHATTER_RU + corpus.CHATTER_EN + corpus.CHATTER_MIXED, "chatter"),
        ([t for group in corpus.LEAD.values() for t in group], "hit"),
        (_templates(corpus_roles.LOOKALIKE), "hit"),
        (_templates(corpus.EXCLUDED), "excluded"),
    ],
)
def test_no_template_can_produce_a_message_of_another_kind(templates: list[str], kind: str) -> None:
    for source in templates:
        for text in expansions(source):
            assert classify(text) == kind, text


def test_lookalikes_come_from_every_role_in_both_languages_and_vary() -> None:
    generator = MessageGenerator(seed=2)
    lookalikes = [g for g in (generator.next() for _ in range(20_000)) if g.kind == "lookalike"]
    texts_by_role: dict[str, set[str]] = {}
    for said in lookalikes:
        texts_by_role.setdefault(said.role, set()).add(said.text)

    assert set(texts_by_role) == LOOKALIKE_ROLES
    assert {g.lang for g in lookalikes} == {"ru", "en"}
    assert {g.topic for g in lookalikes} == {"web-dev", "design"}
    for role, texts in texts_by_role.items():
        assert len(texts) >= 20, role  # fillers, not one fixed sentence


def test_no_audience_message_is_a_labelled_example_of_the_intent_classifier() -> None:
    labelled = {
        _plain(example.text) for kind in load_kinds() for example in load_examples(kind.name)
    }
    groups = [t for group in corpus.LEAD.values() for t in group]
    groups += _templates(corpus_roles.LOOKALIKE)
    copied = [text for source in groups for text in expansions(source) if _plain(text) in labelled]

    assert copied == []


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def test_the_stream_mixes_languages_word_forms_and_emoji() -> None:
    generator = MessageGenerator(seed=1)
    texts = " ".join(generator.next().text for _ in range(3000))

    for form in ("разработчика", "разработчиков", "developers", "дизайнера", "логотип"):
        assert form in texts
    assert any(e in texts for e in corpus.EMOJI)
    assert "developer на React" in texts or "разработчик who" in texts


async def test_the_audience_posts_what_the_seed_says_in_every_supergroup() -> None:
    async def run(seed: int) -> list[tuple[str, str, str]]:
        world = World()
        for ref in ("python_ru", "design_chat"):
            world.add_chat(ref, ref)
        world.add_chat("news", "News", "channel")
        audience = Audience(world)
        await audience.start(AudienceStart(rate=5000, count=300, seed=seed))
        await asyncio.wait_for(audience.wait(), 5)
        return [
            (str(chat.ref), m.sender.full_name, m.text)
            for chat in world.chats.values()
            for m in chat.history.read(0, 1000)[1]
        ]

    posted = await run(9)

    assert len(posted) == 300 and posted == await run(9)
    assert {ref for ref, _, _ in posted} == {"python_ru", "design_chat"}  # never the channel
    assert posted != await run(10)


async def test_a_crowd_given_by_role_all_speak_and_each_says_only_what_their_role_says() -> None:
    world = World()
    world.add_chat("webdev_chat", "Web")
    audience = Audience(world)
    roles: dict[Role, int] = {"buyer": 10, "seller": 5, "job_seeker": 5}
    config = AudienceStart(
        rate=5000,
        count=60,
        seed=4,
        roles=roles,
        lead_share=0.5,
        lookalike_share=0.5,
        excluded_share=0,
    )

    await audience.start(config)
    await asyncio.wait_for(audience.wait(), 5)

    people = {p["user_id"]: p["role"] for p in audience.people()}
    assert Counter(people.values()) == Counter(roles)
    assert audience.status()["roles"] == roles
    chat = world.chat("webdev_chat")
    assert chat is not None
    posted = chat.history.read(0, 1000)[1]
    replay = MessageGenerator(4, lead_share=0.5, lookalike_share=0.5, roles=roles)
    said: list[tuple[int, Generated]] = [(m.sender.id, replay.next()) for m in posted]
    assert [m.text for m in posted] == [g.text for _, g in said]
    assert {g.role for _, g in said} == {"buyer", "seller", "job_seeker"}  # nobody else
    assert all(people[sender] == g.role for sender, g in said)
    assert {sender for sender, _ in said} == set(people)  # everyone had their turn


async def test_the_default_crowd_is_a_third_non_buyers_among_those_who_say_keywords() -> None:
    world = World()
    world.add_chat("python_ru", "Python")
    audience = Audience(world)

    await audience.start(AudienceStart(rate=20_000, count=3000, seed=1, population=200))
    await asyncio.wait_for(audience.wait(), 5)

    status = audience.status()
    assert sum(status["roles"].values()) == 200
    assert set(status["roles"]) == set(corpus_roles.ROLES)
    kinds = status["kinds"]
    assert 0.25 <= kinds["lookalike"] / (kinds["lead"] + kinds["lookalike"]) <= 0.45
    bios = {p.bio for p in world.users.values() if audience.roles.get(p.id) == "seller" and p.bio}
    seller_bios = corpus_roles.BIOS["seller"]
    assert bios and bios <= set(seller_bios["ru"] + seller_bios["en"])


def test_a_crowd_without_buyers_or_too_large_shares_is_refused_or_speaks_no_leads() -> None:
    with pytest.raises(ValueError, match="must not exceed 1"):
        AudienceStart(lead_share=0.7, lookalike_share=0.4)
    with pytest.raises(ValueError, match="roles"):
        AudienceStart(roles={"buyer": 0})
    generator = MessageGenerator(1, lead_share=0.5, lookalike_share=0.5, roles={"seller": 3})

    assert {g.kind for g in (generator.next() for _ in range(300))} == {"lookalike", "chatter"}


async def test_the_audience_sustains_two_thousand_messages_a_second() -> None:
    world = World()
    world.add_chat("python_ru", "Python")
    audience = Audience(world)
    loop = asyncio.get_running_loop()
    started = loop.time()

    await audience.start(AudienceStart(rate=4000, count=4000, seed=1))
    await asyncio.wait_for(audience.wait(), 10)

    assert audience.posted == 4000
    assert 4000 / (loop.time() - started) >= 2000


async def test_stop_ends_an_endless_audience() -> None:
    world = World()
    world.add_chat("python_ru", "Python")
    audience = Audience(world)
    await audience.start(AudienceStart(rate=100))
    await asyncio.sleep(0.1)

    await audience.stop()
    posted = audience.posted
    await asyncio.sleep(0.1)

    assert not audience.running and posted > 0 and audience.posted == posted


def test_canned_replies_follow_the_senders_language_and_some_users_opt_out() -> None:
    world = World()
    manager = world.add_user("Manager")
    people = [world.add_user(f"Person {n}") for n in range(400)]
    responder = CannedResponder(seed=4, opt_out_share=0.2, silent_share=0.1)

    russian = [responder.reply(p, manager, "Здравствуйте! Актуально?") for p in people]
    answered = [r for r in russian if r is not None]

    assert 0.05 <= 1 - len(answered) / len(people) <= 0.15
    opt_outs = [r for r in answered if r.text in corpus_opt_outs()]
    assert 0.12 <= len(opt_outs) / len(people) <= 0.28
    assert all(re.search("[а-я]", r.text.lower()) for r in answered)
    english = responder.reply(people[0], manager, "Hi there")
    assert english is None or not re.search("[а-я]", english.text.lower())
    again = CannedResponder(seed=4, opt_out_share=0.2, silent_share=0.1)
    assert [again.reply(p, manager, "Здравствуйте! Актуально?") for p in people] == russian


def corpus_opt_outs() -> set[str]:
    from sandbox.responder import OPT_OUT

    return {text for texts in OPT_OUT.values() for text in texts}
