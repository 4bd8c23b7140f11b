"""Rendering a line: variations (nested, once per chat, shuffled), variables, member, escapes."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

import pytest

from scripts.scenario import (
    Choice,
    NoHistory,
    Rendered,
    Text,
    VariantHistory,
    VariationExhausted,
    parse_scene,
    render,
    typing_seconds,
)

VALUES = {"product": "CoolThing", "link": "https://x.io"}


class History:
    """A chat's memory of picks, as the coordinator keeps it."""

    def __init__(self) -> None:
        self.picks: dict[str, list[int]] = {}

    def used(self, key: str) -> Sequence[int]:
        return self.picks.get(key, [])

    def keep(self, rendered: Rendered) -> None:
        for key, index in rendered.picks:
            self.picks.setdefault(key, []).append(index)


def template(text: str, *, heard: bool = False) -> Text:
    header = "roles: host\nvars: product = CoolThing, link\n"
    body = f"listen 1m\nwhen anything\nhost: {text}\nend\n" if heard else f"host: {text}\n"
    [say] = parse_scene(header + body).lines()
    return say.text


def one(
    text: Text, seed: int = 0, *, member: str | None = None, history: VariantHistory | None = None
) -> Rendered:
    return render(
        text,
        rng=random.Random(seed),
        variables=VALUES,
        member=member,
        history=history or NoHistory(),
    )


def test_variables_and_escapes_render_as_written() -> None:
    rendered = one(template(r"Try {product} at {link} \{not a var\}\nbye"))
    assert rendered == Rendered("Try CoolThing at https://x.io {not a var}\nbye", ())


def test_a_missing_variable_raises_key_error_with_its_name() -> None:
    with pytest.raises(KeyError, match="link"):
        render(
            template("see {link}"),
            rng=random.Random(0),
            variables={"product": "x"},
            member=None,
            history=NoHistory(),
        )


def test_member_is_the_heard_name_or_someone_when_nobody_was_heard() -> None:
    text = template("Thanks {member}!", heard=True)
    assert text.has_member()
    assert one(text, member="Maria").text == "Thanks Maria!"
    assert one(text, member=None).text == "Thanks someone!"
    assert not template("Thanks all").has_member()


def test_nested_variations_reach_every_combination_and_report_each_pick() -> None:
    text = template("{Hi|Hello {all|everyone}}!")
    outer = text.parts[0]
    assert isinstance(outer, Choice)
    inner = outer.options[1].parts[1]
    assert isinstance(inner, Choice)
    seen = {one(text, seed).text for seed in range(60)}
    assert seen == {"Hi!", "Hello all!", "Hello everyone!"}
    for seed in range(20):
        rendered = one(text, seed)
        if rendered.text == "Hi!":
            assert rendered.picks == ((outer.key, 0),)
        else:
            index = 0 if rendered.text == "Hello all!" else 1
            assert rendered.picks == ((outer.key, 1), (inner.key, index))


def test_empty_options_are_allowed() -> None:
    text = template("very {very |}good")
    assert {one(text, seed).text for seed in range(30)} == {"very very good", "very good"}


def test_same_seed_renders_the_same_line() -> None:
    text = template("{a|b|c|d} {e|f|g} {h|i}")
    assert [one(text, 7).text for _ in range(5)] == [one(text, 7).text] * 5


def test_once_per_chat_uses_each_option_once_then_refuses_the_run() -> None:
    text = template("{!one|two|three}")
    history = History()
    said = []
    for seed in range(3):
        rendered = one(text, seed, history=history)
        history.keep(rendered)
        said.append(rendered.text)
    assert sorted(said) == ["one", "three", "two"]
    with pytest.raises(VariationExhausted) as refused:
        one(text, 99, history=history)
    choice = text.parts[0]
    assert isinstance(choice, Choice)
    assert (refused.value.key, refused.value.line, refused.value.column) == (choice.key, 3, 7)
    assert str(refused.value) == (
        "every option of the variation at line 3, column 7 was already used in this chat"
    )


def test_once_per_chat_counts_a_pick_made_earlier_in_the_same_line() -> None:
    text = template("{!a|b} and {!a|b}")
    assert {one(text, seed).text for seed in range(20)} == {"a and b", "b and a"}


def test_shuffle_uses_every_option_before_any_repeats() -> None:
    text = template("{~red|green|blue}")
    history = History()
    said = []
    for seed in range(9):
        rendered = one(text, seed, history=history)
        history.keep(rendered)
        said.append(rendered.text)
    for start in (0, 3, 6):
        assert sorted(said[start : start + 3]) == ["blue", "green", "red"]


def test_plain_variations_pick_evenly() -> None:
    text = template("{a|b|c}")
    counts = Counter(one(text, seed).text for seed in range(3000))
    assert set(counts) == {"a", "b", "c"}
    assert min(counts.values()) > 900


def test_a_choice_key_depends_only_on_its_own_text() -> None:
    first = parse_scene("roles: host\nhost: hi\nhost: {!a|b}\n")
    edited = parse_scene("roles: host\nhost: hello, {x|y}\nwait 1s\nhost: oh {!a|b}\n")
    keys = [[c.key for say in s.lines() for c in say.text.choices()] for s in (first, edited)]
    assert keys[0][0] == keys[1][1]
    assert len(keys[0][0]) == 12 and keys[1][0] != keys[1][1]


def test_typing_time_grows_with_length_and_is_capped() -> None:
    assert typing_seconds("") == 1.5
    assert typing_seconds("x" * 70) == pytest.approx(11.5)
    assert typing_seconds("x" * 7000) == 12.0
