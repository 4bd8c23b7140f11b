"""Spintax templates and the offline writer: variations, fields, validation, stages, checks."""

from __future__ import annotations

import random

import pytest

from core.outreach import DEFAULT_TEMPLATES, OutreachPolicy
from core.settings import Settings
from manager.prompts import Profile, Turn, template_version
from manager.spintax import SpintaxError, expand, fill, validate_template
from manager.writers import TemplateWriter, WriteRequest, make_writer

OFFER = "We build websites in two weeks."


# ---- spintax -----------------------------------------------------------------------------------


def test_expand_picks_one_option_of_every_group_including_nested_ones() -> None:
    seen = {expand("{Hi|Hello {there|friend}}", random.Random(seed)) for seed in range(200)}
    assert seen == {"Hi", "Hello there", "Hello friend"}


def test_expand_is_deterministic_for_a_seed_and_varies_across_seeds() -> None:
    text = "{Hi|Hello|Hey} {there|friend}, {how are you|what's up}?"
    assert expand(text, random.Random(7)) == expand(text, random.Random(7))
    assert len({expand(text, random.Random(seed)) for seed in range(50)}) > 3


def test_expand_leaves_fields_and_text_outside_braces_alone() -> None:
    text = expand("{Hi|Hi}, {name}! a|b stays", random.Random(1))
    assert text == "Hi, {name}! a|b stays"


def test_a_lead_name_that_looks_like_spintax_is_inserted_verbatim() -> None:
    text = fill(expand("{Hi|Hi}, {name}!", random.Random(1)), {"name": "{Evil|Bad}"})
    assert text == "Hi, {Evil|Bad}!"


def test_fill_replaces_every_known_field() -> None:
    fields = {"name": "Anna", "username": "anna_k", "offer": OFFER, "chat": "Startups"}
    text = fill("Hi {name} (@{username}), saw you in {chat}. {offer}", fields)
    assert text == f"Hi Anna (@anna_k), saw you in Startups. {OFFER}"


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi, {name}!", "Hi!"),
        ("Hi {name}, how are you?", "Hi, how are you?"),
        ("Hello, {name}, how are you?", "Hello, how are you?"),
        ("Thanks {name} for writing.", "Thanks for writing."),
        ("{name}, thanks for the reply.", "Thanks for the reply."),
        ("Good. {name}, see you.", "Good. See you."),
        ("Здравствуйте, {name}! Как дела?", "Здравствуйте! Как дела?"),
        ("Hi @{username}!", "Hi!"),
        ("Hi, {name}!", "Hi!"),
    ],
)
def test_an_empty_field_collapses_with_its_separator(template: str, expected: str) -> None:
    text = fill(template, {"name": "  ", "username": ""})
    assert text == expected
    assert ", !" not in text and "  " not in text


def test_fill_names_an_unknown_field() -> None:
    with pytest.raises(ValueError, match=r"unknown field \{nmae\}"):
        fill("Hi {nmae}", {"name": "Anna"})


@pytest.mark.parametrize(
    ("template", "position", "reason"),
    [
        ("Hi {there|friend", 3, "never closed"),
        ("Hi} there", 2, "without a matching"),
        ("{Hi|Hello}, {nmae}!", 12, "unknown field {nmae}"),
        ("{Hi|{Hello|Hey} {frend}}", 16, "unknown field {frend}"),
        ("Well {Hi there} you", 5, "without '|'"),
        ("{}", 0, "without '|'"),
    ],
)
def test_validate_template_says_where_and_why(template: str, position: int, reason: str) -> None:
    with pytest.raises(SpintaxError) as caught:
        validate_template(template)
    assert caught.value.position == position
    assert reason in str(caught.value) and f"position {position}" in str(caught.value)


def test_the_default_templates_are_valid() -> None:
    for text in DEFAULT_TEMPLATES:
        validate_template(text)
    validate_template("{Hi|Hello {there|friend}}, {name}! {offer} Seen in {chat} @{username}")


# ---- TemplateWriter ----------------------------------------------------------------------------


def _request(**changes: object) -> WriteRequest:
    policy = changes.pop("policy", OutreachPolicy(offer=OFFER))
    base: dict[str, object] = {
        "policy": policy,
        "lead_message": "Ищу разработчика для сайта",
        "chat": "Startups",
        "profile": Profile(name="Анна", username="anna_k"),
        "seed": 42,
    }
    return WriteRequest.model_validate({**base, **changes})


async def test_first_message_fills_a_template_and_starts_at_the_first_stage() -> None:
    request = _request()
    draft = await TemplateWriter().write(request)
    assert draft.problems == ()
    assert draft.stage == request.policy.stages[0]
    assert draft.writer == "template"
    assert draft.template_version == template_version(DEFAULT_TEMPLATES[0])
    assert "Анна" in draft.text and OFFER in draft.text
    assert not {"{", "}", "|"} & set(draft.text)
    assert draft.prompt_tokens == 0 and draft.cost == 0.0


async def test_the_same_seed_writes_the_same_text_and_other_seeds_vary() -> None:
    writer = TemplateWriter()
    same = {(await writer.write(_request(seed=5))).text for _ in range(3)}
    assert len(same) == 1
    varied = {(await writer.write(_request(seed=seed))).text for seed in range(30)}
    assert len(varied) > 3


async def test_an_empty_name_leaves_no_dangling_punctuation() -> None:
    draft = await TemplateWriter().write(_request(profile=Profile()))
    assert draft.problems == ()
    assert ", !" not in draft.text and "  " not in draft.text
    assert draft.text.startswith(("Здравствуйте!", "Добрый день!"))


async def test_a_follow_up_advances_one_stage_in_the_leads_language() -> None:
    history = (
        Turn(role="manager", text="Здравствуйте! Мы делаем сайты за две недели. Интересно?"),
        Turn(role="lead", text="Да, расскажите подробнее"),
    )
    draft = await TemplateWriter().write(_request(history=history, stage="introduction"))
    assert draft.problems == ()
    assert draft.stage == "qualification"
    assert "Спасибо" in draft.text or "Благодарю" in draft.text

    english = (Turn(role="manager", text="Hi!"), Turn(role="lead", text="Sure, tell me more"))
    draft = await TemplateWriter().write(_request(history=english, stage="qualification"))
    assert draft.stage == "offer"
    assert draft.text.startswith(("Thanks", "Thank you"))


async def test_a_follow_up_never_moves_past_the_last_stage() -> None:
    history = (Turn(role="manager", text="Hi!"), Turn(role="lead", text="ok"))
    draft = await TemplateWriter().write(_request(history=history, stage="end"))
    assert draft.stage == "end"


async def test_a_follow_up_without_a_known_stage_counts_our_turns() -> None:
    history = (Turn(role="manager", text="Hi!"), Turn(role="lead", text="ok"))
    draft = await TemplateWriter().write(_request(history=history, stage=None))
    assert draft.stage == "qualification"


async def test_the_output_checks_hold_a_template_with_a_link_for_approval() -> None:
    policy = OutreachPolicy(offer=OFFER, templates=("{Hi|Hello}, {name}! See evil.com for more",))
    draft = await TemplateWriter().write(_request(policy=policy))
    assert draft.text and any("evil.com" in problem for problem in draft.problems)

    allowed = policy.model_copy(update={"allowed_links": ("https://evil.com/",)})
    assert (await TemplateWriter().write(_request(policy=allowed))).problems == ()


async def test_a_campaigns_own_follow_ups_go_in_order_one_per_turn() -> None:
    follow_ups = (
        "{Отлично|Хорошо}, {name}! Пришлю примеры работ сегодня.",
        "Спасибо, {name}! Созвонимся завтра в обед?",
    )
    policy = OutreachPolicy(offer=OFFER, follow_ups=follow_ups)
    history: tuple[Turn, ...] = (
        Turn(role="manager", text="Первое сообщение"),
        Turn(role="lead", text="Да"),
    )
    draft = await TemplateWriter().write(_request(policy=policy, history=history))
    assert draft.problems == ()
    assert draft.text.endswith("Анна! Пришлю примеры работ сегодня.")

    history += (Turn(role="manager", text=draft.text), Turn(role="lead", text="Хорошо"))
    second = await TemplateWriter().write(_request(policy=policy, history=history))
    assert second.text == "Спасибо, Анна! Созвонимся завтра в обед?"


async def test_naming_the_leads_own_chat_passes_but_another_mention_is_held() -> None:
    policy = OutreachPolicy(offer=OFFER, templates=("Hi {name}! Saw your post in {chat}.",))
    draft = await TemplateWriter().write(_request(policy=policy, chat="@python_jobs"))
    assert "@python_jobs" in draft.text and draft.problems == ()

    other = OutreachPolicy(offer=OFFER, templates=("Hi {name}! Write to @somebody_else now.",))
    held = await TemplateWriter().write(_request(policy=other, chat="@python_jobs"))
    assert any("@somebody_else" in problem for problem in held.problems)


async def test_the_output_checks_hold_a_too_short_text() -> None:
    policy = OutreachPolicy(offer=OFFER, templates=("{Hi|Yo}",), min_length=10)
    draft = await TemplateWriter().write(_request(policy=policy))
    assert any("too short" in problem for problem in draft.problems)


async def test_a_broken_template_becomes_a_draft_with_problems_not_an_exception() -> None:
    policy = OutreachPolicy(offer=OFFER, templates=("Hi {nmae}, {offer}",))
    draft = await TemplateWriter().write(_request(policy=policy))
    assert draft.text == ""
    assert draft.problems and "nmae" in draft.problems[0]


async def test_a_campaign_with_its_own_endpoint_uses_the_llm_even_when_settings_have_none() -> None:
    writer = make_writer(Settings(llm_base_url=None, llm_attempts=1, llm_timeout=2))
    try:
        offline = await writer.write(_request())
        assert offline.writer == "template" and offline.problems == ()
        own = OutreachPolicy(offer=OFFER, llm_base_url="http://127.0.0.1:9/v1", llm_model="m1")
        refused = await writer.write(_request(policy=own, api_key="campaign-key"))
        assert refused.writer == "llm:m1"
        assert refused.text == "" and refused.problems  # nothing listens there: held, not lost
    finally:
        await writer.close()
