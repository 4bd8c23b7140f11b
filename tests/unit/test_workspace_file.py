"""Workspace files: bad input gets one line per problem naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from admin.workspace.apply import read_workspace
from core.yamlspec import SpecError

GOOD = """\
accounts:
  - name: parser-1
    role: parser
    session: s1
chats:
  - ref: "@python_jobs"
keyword_sets:
  - name: web-dev
    keywords: [разработчик, программист, "сделать сайт", developer, "build a website"]
    exclude: [вакансия, резюме, hiring]
campaigns:
  - name: web-leads
    keyword_sets: [web-dev]
    chats: ["@python_jobs", "https://t.me/Design_Chat"]
    parser_accounts: [parser-1]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workspace.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SpecError) as caught:
        read_workspace(_write(tmp_path, text))
    return str(caught.value).splitlines()


def test_the_issue_example_file_is_read_unchanged(tmp_path: Path) -> None:
    spec, _ = read_workspace(_write(tmp_path, GOOD))
    assert spec.keyword_sets[0].keywords == [
        "разработчик",
        "программист",
        "сделать сайт",
        "developer",
        "build a website",
    ]
    assert spec.campaigns[0].chats == ["@python_jobs", "@design_chat"]


def test_empty_phrase_names_file_line_and_field(tmp_path: Path) -> None:
    text = GOOD.replace('"сделать сайт"', '"  "')
    [problem] = _problems(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'workspace.yaml'}:9: keyword_sets[0].keywords[2]:")
    assert "empty" in problem


def test_bad_indent_is_reported_as_yaml_error_with_line(tmp_path: Path) -> None:
    text = GOOD.replace("    role: parser", "   role: parser")
    [problem] = _problems(tmp_path, text)
    assert problem.endswith(":3: bad YAML: the indentation does not line up with the lines above")


def test_tab_indentation_is_named(tmp_path: Path) -> None:
    [problem] = _problems(tmp_path, GOOD.replace("    role: parser", "\trole: parser"))
    assert ":3: bad YAML: a tab; indent with spaces" in problem


def test_unknown_field_is_named(tmp_path: Path) -> None:
    text = GOOD.replace("    exclude:", "    exlude:")
    [problem] = _problems(tmp_path, text)
    assert problem.endswith(":10: keyword_sets[0].exlude: unknown field")


def test_duplicate_key_is_an_error_not_silently_overwritten(tmp_path: Path) -> None:
    text = GOOD.replace("    role: parser\n", "    role: parser\n    role: manager\n")
    [problem] = _problems(tmp_path, text)
    assert problem.endswith(":4: accounts[0].role: duplicate key")


def test_bad_chat_reference_explains_the_accepted_forms(tmp_path: Path) -> None:
    text = GOOD.replace('ref: "@python_jobs"', 'ref: "python jobs!"')
    [problem] = _problems(tmp_path, text)
    assert ":6: chats[0].ref:" in problem
    assert "@username" in problem


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace("role: parser", "role: spammer").replace("[web-dev]", "[]")
    problems = _problems(tmp_path, text)
    assert len(problems) == 2
    assert any("accounts[0].role" in p for p in problems)
    assert any("campaigns[0].keyword_sets" in p for p in problems)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        read_workspace(tmp_path / "nope.yaml")


def test_a_prompt_template_that_cannot_render_is_refused_with_its_line(tmp_path: Path) -> None:
    outreach = """\
    outreach:
      offer: Sites in a month
      prompt: |
        You write to people about {{ offer }}.
        {% if profile.name %}Greet {{ profile.name }}.
        Be brief.
"""
    [problem] = _problems(tmp_path, GOOD + outreach)
    assert problem.startswith(f"{tmp_path / 'workspace.yaml'}:18: campaigns[0].outreach.prompt:")
    assert "prompt template, line 2:" in problem and "endif" in problem


def test_an_outreach_setting_out_of_range_is_named(tmp_path: Path) -> None:
    outreach = """\
    outreach:
      templates: ["{Hi|Hello {name}!"]
      timezone: Mars/Olympus
"""
    problems = _problems(tmp_path, GOOD + outreach)
    assert any("timezone" in p and "unknown time zone 'Mars/Olympus'" in p for p in problems)
