"""The scenario language's parser: what a valid scene becomes, and every error at its position."""

from __future__ import annotations

import pytest

from scripts.scenario import (
    Choice,
    JumpTo,
    Lead,
    LeadAt,
    Listen,
    ListenAt,
    Say,
    SayAt,
    ScenarioError,
    ScenarioInvalid,
    Stop,
    StopAt,
    Text,
    Var,
    Wait,
    check_scene,
    clause_matcher,
    parse_scene,
)

PRODUCT_QA = """\
// A product Q&A that seeds a new group. Whole-line comments start with //.
title: Product Q&A
roles: host, expert, guest
vars: product = CoolThing, link

host: {Hi|Hello|Hey} everyone, welcome to the {product} group!
wait 20-40s
guest [id question]: {So|Ok so} what does {product} {actually |}do?
wait 5-15s
expert [reply question, typing 6s]: It answers people who ask for what you sell. Docs: {link}
expert [photo https://example.com/screen.png]: This is the dashboard.
wait 1m
host: Any questions? {!Ask away|Don't be shy|We're all ears}
listen 5m
  when "price", "how much", "cost"
    expert [reply member]: Good question, {member}! Plans start at $10.
  when keywords pricing
    expert [reply member]: {member}, see {link}
    lead Outreach
  when anything
    host [reply member]: Thanks {member}!
  when silent
    guest: I'll try it this week then.
    stop
end
host: Thanks everyone!
"""


def errors_of(source: str) -> list[tuple[int, int, str]]:
    scene, errors = check_scene(source)
    assert scene is None
    return [(e.line, e.column, e.message) for e in errors]


def positions(source: str) -> list[tuple[int, int]]:
    return [(line, column) for line, column, _ in errors_of(source)]


def scene_with(body: str, header: str = "roles: host, guest\nvars: product\n") -> str:
    return header + body


def test_the_product_qa_example_parses_with_its_header_and_registries() -> None:
    scene = parse_scene(PRODUCT_QA)
    assert scene.title == "Product Q&A"
    assert scene.roles == ("host", "expert", "guest")
    assert scene.variables == {"product": "CoolThing", "link": None}
    assert scene.keyword_sets == ("pricing",)
    assert scene.campaigns == ("Outreach",)
    assert [say.line for say in scene.lines()] == [6, 8, 10, 11, 13, 16, 18, 21, 23, 26]


def test_a_line_of_dialogue_keeps_its_options_and_template() -> None:
    scene = parse_scene(PRODUCT_QA)
    says = list(scene.lines())
    question, answer, photo = says[1], says[2], says[3]
    assert question.id == "question" and question.role == "guest"
    assert answer == Say(
        role="expert",
        text=Text(("It answers people who ask for what you sell. Docs: ", Var("link"))),
        line=10,
        column=1,
        reply="question",
        typing=6.0,
    )
    assert photo.photo == "https://example.com/screen.png" and photo.sticker is None
    hello = says[0].text.parts[0]
    assert isinstance(hello, Choice)
    assert hello.kind == "random" and (hello.line, hello.column) == (6, 7)
    assert [option.parts for option in hello.options] == [("Hi",), ("Hello",), ("Hey",)]
    maybe = list(question.text.choices())[1]
    assert (maybe.options, maybe.line, maybe.column) == ((Text(("actually ",)), Text()), 8, 53)


def test_steps_form_a_tree_with_waits_in_seconds_and_clauses_in_order() -> None:
    steps = parse_scene(PRODUCT_QA).steps
    assert steps[1] == Wait(20.0, 40.0, 7)
    assert steps[6] == Wait(60.0, 60.0, 12)
    listen = steps[8]
    assert isinstance(listen, Listen)
    assert listen.timeout == 300.0 and listen.line == 14
    kinds = [(c.kind, c.words, c.keyword_set, c.line) for c in listen.clauses]
    assert kinds == [
        ("words", ("price", "how much", "cost"), None, 15),
        ("keywords", (), "pricing", 17),
        ("anything", (), None, 20),
        ("silent", (), None, 22),
    ]
    assert listen.clauses[1].steps[1] == Lead("Outreach", 19)
    assert listen.clauses[3].steps[1] == Stop(24)


def test_program_lays_clause_blocks_after_their_listen_with_jumps_past_the_end() -> None:
    program = parse_scene(PRODUCT_QA).program
    listen = program[8]
    assert isinstance(listen, ListenAt)
    assert [pc for _, pc in listen.branches] == [9, 11, 14]
    assert (listen.silent, listen.after) == (16, 18)
    assert [type(i) for i in program[9:]] == [
        SayAt,
        JumpTo,
        SayAt,
        LeadAt,
        JumpTo,
        SayAt,
        JumpTo,
        SayAt,
        StopAt,
        SayAt,
    ]
    assert [i.target for i in program if isinstance(i, JumpTo)] == [18, 18, 18]
    assert isinstance(program[17], StopAt)  # the silent block ends in stop: no jump after it


def test_nested_listens_jump_to_their_own_end_then_the_outer_one() -> None:
    scene = parse_scene(
        scene_with(
            "listen 1m\n"
            "  when anything\n"
            "    host: outer\n"
            "    listen 30s\n"
            '      when "yes"\n'
            "        guest: inner yes\n"
            "      when silent\n"
            "        guest: inner silent\n"
            "    end\n"
            "    host: after inner\n"
            "end\n"
            "host: the end\n"
        )
    )
    program = scene.program
    outer, inner = program[0], program[2]
    assert isinstance(outer, ListenAt) and isinstance(inner, ListenAt)
    assert ([pc for _, pc in outer.branches], outer.silent, outer.after) == ([1], None, 9)
    assert ([pc for _, pc in inner.branches], inner.silent, inner.after) == ([3], 5, 7)
    assert program[4] == JumpTo(7) and program[6] == JumpTo(7)
    assert isinstance(program[7], SayAt) and program[7].say.line == 12
    assert program[8] == JumpTo(9)
    assert isinstance(program[9], SayAt) and program[9].say.line == 14
    assert len(program) == 10


def test_an_empty_listen_and_an_empty_clause_still_lead_past_the_end() -> None:
    scene = parse_scene(scene_with("listen 10s\nend\nlisten 10s\n  when silent\nend\nhost: hi\n"))
    assert scene.program[0] == ListenAt(10.0, 3, (), None, 1)
    assert scene.program[1] == ListenAt(10.0, 5, (), 2, 3)
    assert scene.program[2] == JumpTo(3)


@pytest.mark.parametrize(
    ("written", "low", "high"),
    [
        ("20s", 20, 20),
        ("2m", 120, 120),
        ("1h", 3600, 3600),
        ("1m30s", 90, 90),
        ("1.5s", 1.5, 1.5),
        ("500ms", 0.5, 0.5),
        ("20-90s", 20, 90),
        ("1-2m", 60, 120),
        ("30s-2m", 30, 120),
        ("20 - 40s", 20, 40),
        ("24h", 86400, 86400),
    ],
)
def test_waits_read_every_duration_form(written: str, low: float, high: float) -> None:
    scene = parse_scene(scene_with(f"wait {written}\nhost: hi\n"))
    assert scene.steps[0] == Wait(low, high, 3)


def test_keywords_and_roles_are_case_insensitive_and_indentation_is_free() -> None:
    scene = parse_scene("Roles: Host\n   HOST: hi\n\tWAIT 1s\n\n// note\nhost:hello\n")
    assert [say.role for say in scene.lines()] == ["host", "host"]
    assert scene.steps[1] == Wait(1.0, 1.0, 3)


def test_escapes_become_literal_characters_and_a_top_level_bar_is_text() -> None:
    scene = parse_scene(scene_with(r"host: \{a\|b\} \\ one\ntwo | three" + "\n"))
    [say] = scene.lines()
    assert say.text == Text(("{a|b} \\ one\ntwo | three",))


def test_a_photo_line_may_have_no_text_and_typing_can_be_switched_off() -> None:
    scene = parse_scene(scene_with("host [sticker hello.webp, typing off]:\n"))
    [say] = scene.lines()
    assert say.text == Text() and say.sticker == "hello.webp" and say.typing_off


def test_words_clause_matcher_uses_the_parsers_stems_and_phrases() -> None:
    scene = parse_scene(PRODUCT_QA)
    listen = scene.steps[8]
    assert isinstance(listen, Listen)
    words, keywords, anything, _ = listen.clauses
    matches = clause_matcher(words)
    assert matches("What are your PRICES?")
    assert matches("so how much is it")
    assert not matches("much how")
    assert clause_matcher(anything)("whatever")
    with pytest.raises(ValueError, match="no matcher"):
        clause_matcher(keywords)


def test_parse_scene_raises_with_every_error_in_its_message() -> None:
    with pytest.raises(ScenarioInvalid) as caught:
        parse_scene("roles: host\nbob: hi\nwait 5\n")
    assert caught.value.errors == [
        ScenarioError(2, 1, "unknown role 'bob': the roles are host"),
        ScenarioError(3, 6, "5 needs a unit: write 5s, 5m or 5h"),
    ]
    assert str(caught.value).splitlines()[1] == "3:6: 5 needs a unit: write 5s, 5m or 5h"
