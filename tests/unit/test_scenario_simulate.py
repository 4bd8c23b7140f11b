"""`simulate` and `coolthing scenario`: one reproducible timeline, checked against the budget."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from coolthing.scenario_cmd import scenario_app
from scripts.scenario import Budget, parse_scene, simulate
from tests.unit.test_scenario_parser import PRODUCT_QA

CAST = {"host": "anna", "expert": "bob", "guest": "carl"}
LINK = {"link": "https://x.io"}


def test_the_same_seed_gives_the_same_timeline_and_another_seed_another() -> None:
    scene = parse_scene(PRODUCT_QA)
    first = simulate(scene, seed=11, cast=CAST, variables=LINK)
    assert simulate(scene, seed=11, cast=CAST, variables=LINK) == first
    others = {simulate(scene, seed=s, cast=CAST, variables=LINK).entries for s in range(12, 20)}
    assert any(entries != first.entries for entries in others)


def test_a_full_cast_with_every_variable_has_no_problems() -> None:
    timeline = simulate(parse_scene(PRODUCT_QA), seed=1, cast=CAST, variables=LINK)
    assert timeline.problems == ()
    says = [e for e in timeline.entries if e.kind == "say"]
    assert says[0].account == "anna" and says[0].role == "host"
    assert says[0].text is not None and "CoolThing" in says[0].text
    assert timeline.duration == timeline.entries[-1].at


def test_lines_are_sent_after_their_typing_and_waits_are_drawn_within_range() -> None:
    scene = parse_scene("roles: host\nhost [typing 2s]: hi\nwait 10-20s\nhost [typing off]: ok\n")
    for seed in range(20):
        hi, wait, ok = simulate(scene, seed=seed, cast={"host": "anna"}).entries
        assert (hi.at, hi.typing, wait.at) == (2.0, 2.0, 2.0)
        assert 12.0 <= ok.at <= 22.0 and ok.typing == 0.0
        assert wait.detail.startswith("10s–20s → ")


def test_a_role_without_an_account_is_played_by_its_name_and_reported() -> None:
    scene = parse_scene(PRODUCT_QA)
    timeline = simulate(scene, seed=1, cast={"host": "anna"}, variables=LINK)
    assert timeline.problems[:2] == ("role expert has no account", "role guest has no account")
    assert {e.account for e in timeline.entries if e.role == "expert"} == {"expert"}


def test_one_account_in_two_roles_and_a_stray_cast_entry_are_reported() -> None:
    scene = parse_scene("roles: host, guest\nhost: a\nwait 10s\nguest: b\n")
    timeline = simulate(scene, seed=1, cast={"host": "anna", "guest": "anna", "dj": "bob"})
    assert timeline.problems == (
        "the cast names role 'dj', which the scene does not declare",
        "account anna plays both host and guest",
    )


def test_a_variable_without_value_or_default_is_a_problem_and_shows_as_its_name() -> None:
    timeline = simulate(parse_scene(PRODUCT_QA), seed=1, cast=CAST)
    assert "variable {link} has no value and no default" in timeline.problems
    texts = [e.text for e in timeline.entries if e.line == 10]
    assert texts == ["It answers people who ask for what you sell. Docs: {link}"]


def test_lines_too_close_together_for_one_account_break_the_min_gap() -> None:
    scene = parse_scene("roles: host\nhost [typing 1s]: a\nhost [typing 1s]: b\n")
    timeline = simulate(scene, seed=1, cast={"host": "anna"})
    assert timeline.problems == (
        "anna: line 3 is sent 1.0s after its line 2; the budget is at least 3s between lines",
    )


def test_a_scene_too_fast_throughout_lists_ten_lines_then_a_count() -> None:
    scene = parse_scene("roles: host\n" + "host [typing 1s]: hi\n" * 15)
    problems = simulate(scene, seed=1, cast={"host": "anna"}).problems
    assert len(problems) == 11
    assert problems[0].startswith("anna: line 3 is sent 1.0s after its line 2")
    assert problems[-1] == "anna: 4 more lines too close to the previous one"


def test_more_lines_in_an_hour_than_the_budget_is_a_problem_once() -> None:
    scene = parse_scene("roles: host\n" + "host [typing 1s]: hi\nwait 10s\n" * 6)
    budget = Budget(min_gap=3.0, per_hour=4)
    timeline = simulate(scene, seed=1, cast={"host": "anna"}, budget=budget)
    assert timeline.problems == (
        "anna: line 10 is its 5th line within an hour; the budget is 4 an hour",
    )
    spread = parse_scene("roles: host\n" + "host [typing 1s]: hi\nwait 20m\n" * 6)
    assert simulate(spread, seed=1, cast={"host": "anna"}, budget=budget).problems == ()


def test_time_scale_compresses_the_timeline_without_changing_the_problems() -> None:
    scene = parse_scene(PRODUCT_QA)
    real = simulate(scene, seed=5, cast={"host": "anna"}, variables=LINK)
    fast = simulate(scene, seed=5, cast={"host": "anna"}, variables=LINK, time_scale=0.01)
    assert fast.duration == pytest.approx(real.duration * 0.01)
    assert fast.problems == real.problems
    assert [e.text for e in fast.entries] == [e.text for e in real.entries]


def test_a_listen_follows_one_clause_with_an_invented_member() -> None:
    scene = parse_scene(PRODUCT_QA)
    outcomes = set()
    for seed in range(40):
        entries = simulate(scene, seed=seed, cast=CAST, variables=LINK).entries
        kinds = [e.kind for e in entries]
        heard = [e for e in entries if e.kind == "heard"]
        if heard:
            answer = entries[kinds.index("heard") + 1]
            member = heard[0].account
            assert answer.text is not None and member is not None and member in answer.text
            outcomes.add(heard[0].line)
            if heard[0].line == 15:
                assert heard[0].text is not None
                assert any(w in heard[0].text for w in ("price", "how much", "cost"))
            if heard[0].line == 17:
                assert kinds[kinds.index("heard") + 2] == "lead"
        else:
            assert kinds[-3:] == ["silent", "say", "stop"]
            outcomes.add(22)
    assert outcomes == {15, 17, 20, 22}


def test_a_simulated_message_goes_to_the_first_clause_that_hears_it() -> None:
    scene = parse_scene(
        'roles: host\nlisten 1m\n when "price"\n  host: first\n when "price list"\n  host: second\n'
        " when silent\n  host: nobody\nend\n"
    )
    answers = set()
    for seed in range(30):
        entries = simulate(scene, seed=seed, cast={"host": "anna"}).entries
        answers.add(next(e.text for e in entries if e.kind == "say"))
        heard = [e for e in entries if e.kind == "heard"]
        assert all(e.line == 3 for e in heard)  # "price list" contains "price"
    assert answers == {"first", "nobody"}


def test_a_used_up_once_variation_ends_the_simulation_with_the_refusal() -> None:
    scene = parse_scene("roles: host\nhost: {!a|b}\nwait 5s\nhost: {!a|b}\nwait 5s\nhost: {!a|b}\n")
    timeline = simulate(scene, seed=1, cast={"host": "anna"})
    assert [e.text for e in timeline.entries if e.kind == "say"] in (["a", "b"], ["b", "a"])
    assert timeline.problems == (
        "line 6: the run would be refused: every option of the variation at line 6, "
        "column 7 was already used in this chat",
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "qa.scene"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_prints_ok_for_a_valid_scene(tmp_path: Path) -> None:
    result = CliRunner().invoke(scenario_app, ["check", str(write(tmp_path, PRODUCT_QA))])
    assert result.exit_code == 0
    assert result.output.endswith("qa.scene: ok: 10 lines for host, expert, guest\n")


def test_check_prints_each_error_as_file_line_column_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, "roles: host\nbob: hi\nwait 5\nhost: ok\n")
    result = CliRunner().invoke(scenario_app, ["check", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{path}:2:1: unknown role 'bob': the roles are host",
        f"{path}:3:6: 5 needs a unit: write 5s, 5m or 5h",
    ]


def test_simulate_prints_an_aligned_timeline_and_exits_0_without_problems(tmp_path: Path) -> None:
    path = write(tmp_path, "roles: host, guest\nhost: {Hi|Hello} all\nwait 20-40s\nguest: hey\n")
    args = ["simulate", str(path), "--seed", "3", "--cast", "host=anna", "--cast", "guest=carl"]
    result = CliRunner().invoke(scenario_app, args)
    assert result.exit_code == 0, result.output
    rows = result.output.splitlines()
    # "Hi all": 6 characters typed in 1.5 + 6/7 s
    assert rows[0].startswith("+0:00:02.3  host (@anna)")
    assert rows[0].endswith('typing 2.4s  "Hi all"  variant 1 of 2 at 2:7')
    assert rows[1].split()[1] == "wait" and "20s–40s → " in rows[1]
    assert rows[0].index('"') == rows[2].index('"')  # text column aligned
    assert rows[3].startswith("ends at +0:00:")


def test_simulate_lists_problems_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, "roles: host\nvars: link\nhost: see {link}\n")
    result = CliRunner().invoke(scenario_app, ["simulate", str(path), "--seed", "1"])
    assert result.exit_code == 1
    assert result.output.splitlines()[-2:] == [
        "problem: role host has no account",
        "problem: variable {link} has no value and no default",
    ]
    given = ["simulate", str(path), "--seed", "1", "--cast", "host=a", "--var", "link=x.io"]
    result = CliRunner().invoke(scenario_app, given)
    assert result.exit_code == 0 and '"see x.io"' in result.output


def test_simulate_refuses_a_cast_that_is_not_role_equals_account(tmp_path: Path) -> None:
    path = write(tmp_path, "roles: host\nhost: hi\n")
    result = CliRunner().invoke(
        scenario_app, ["simulate", str(path), "--seed", "1", "--cast", "anna"]
    )
    assert result.exit_code == 2
    assert "--cast takes NAME=VALUE, not 'anna'" in result.output
