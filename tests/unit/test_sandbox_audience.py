"""The simulated audience: deterministic by seed, the right share of leads, fast enough to flood."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections import Counter

import pytest
from nltk.stem.snowball import SnowballStemmer

from sandbox import corpus
from sandbox.audience import Audience, AudienceStart
from sandbox.corpus import MessageGenerator, Template
from sandbox.responder import CannedResponder
from sandbox.state import World

_RU, _EN = SnowballStemmer("russian"), SnowballStemmer("english")
_WORD = re.compile(r"[a-zа-яё]+")
KEYWORDS = {
    "web-dev": ["разработчик", "программист", "сделать сайт", "developer", "build a website"],
    "design": ["дизайнер", "логотип", "фирменный стиль", "designer", "logo"],
}
MINUS = {"web-dev": ["вакансия", "резюме", "hiring"], "design": ["курс", "course"]}


def stems(text: str) -> list[str]:
    words = _WORD.findall(text.lower().replace("ё", "е"))
    return [_RU.stem(w) if re.search("[а-я]", w) else _EN.stem(w) for w in words]


def has(text_stems: list[str], phrase: str) -> bool:
    wanted = stems(phrase)
    span = len(wanted)
    return any(text_stems[i : i + span] == wanted for i in range(len(text_stems) - span + 1))


def classify(text: str) -> str:
    """What a stemming keyword matcher (like the parser's) makes of a message."""
    found = stems(text)
    hits = [topic for topic, words in KEYWORDS.items() if any(has(found, w) for w in words)]
    if not hits:
        return "chatter"
    if all(any(has(found, m) for m in MINUS[topic]) for topic in hits):
        return "excluded"
    return "lead"


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


def test_about_a_fifth_of_messages_hit_a_keyword_set_and_some_of_those_are_excluded() -> None:
    generator = MessageGenerator(seed=11)
    kinds = Counter(classify(generator.next().text) for _ in range(5000))

    matching = (kinds["lead"] + kinds["excluded"]) / 5000
    assert 0.15 <= matching <= 0.25
    assert 0.12 <= kinds["lead"] / 5000 <= 0.22
    assert 0.02 <= kinds["excluded"] / 5000 <= 0.08


def test_every_generated_message_is_what_its_label_says() -> None:
    generator = MessageGenerator(seed=3)
    for _ in range(3000):
        said = generator.next()
        assert classify(said.text) == said.kind, said


@pytest.mark.parametrize(
    ("templates", "kind"),
    [
        (corpus.CHATTER_RU + corpus.CHATTER_EN + corpus.CHATTER_MIXED, "chatter"),
        ([t for group in corpus.LEAD.values() for t in group], "lead"),
        ([t for group in corpus.EXCLUDED.values() for t in group], "excluded"),
    ],
)
def test_no_template_can_produce_a_message_of_another_kind(templates: list[str], kind: str) -> None:
    for source in templates:
        for text in expansions(source):
            assert classify(text) == kind, text


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
