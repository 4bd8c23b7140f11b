"""Hostile workspace files are refused by the loader's own limits: one line per problem naming
file and line, fast, and without the memory a naive loader would spend on them."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from admin.workspace.apply import read_workspace
from core.yamlspec import MAX_BYTES, MAX_DEPTH, MAX_NODES, SpecError, load_yaml

ACCOUNT = """\
accounts:
  - name: parser-1
    role: parser
    session: s1
"""


@contextmanager
def _cheap() -> Iterator[None]:
    """The block runs well under a second and allocates under 10 MB at its peak."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < 1.0, f"took {elapsed:.2f} s"
    assert peak < 10_000_000, f"allocated {peak:,} bytes"


def _refused(tmp_path: Path, content: str | bytes) -> list[str]:
    path = tmp_path / "workspace.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with _cheap(), pytest.raises(SpecError) as caught:
        read_workspace(path)
    return [line.removeprefix(f"{path}:") for line in str(caught.value).splitlines()]


def test_a_billion_laughs_alias_bomb_is_refused_at_its_first_alias(tmp_path: Path) -> None:
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        bomb += f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]\n"
    assert len(bomb) < 400
    [problem] = _refused(tmp_path, bomb)
    assert problem.startswith("2: bad YAML: an alias ('*a'): aliases are not supported")


def test_a_self_referencing_alias_is_refused(tmp_path: Path) -> None:
    [problem] = _refused(tmp_path, "accounts: &loop\n  - *loop\n")
    assert problem.startswith("2: bad YAML: an alias ('*loop')")


def test_five_thousand_nested_brackets_are_refused_at_the_depth_limit(tmp_path: Path) -> None:
    [problem] = _refused(tmp_path, "accounts:\n  - " + "[" * 5000 + "]" * 5000 + "\n")
    assert problem == f"2: bad YAML: nested more than {MAX_DEPTH} levels deep"


def test_deep_block_nesting_is_refused_too(tmp_path: Path) -> None:
    deep = "".join(f"{'  ' * level}k{level}:\n" for level in range(200)) + "  " * 200 + "x: 1\n"
    [problem] = _refused(tmp_path, deep)
    assert problem == f"{MAX_DEPTH}: bad YAML: nested more than {MAX_DEPTH} levels deep"


def test_a_five_megabyte_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    line = "# " + "x" * 61 + "\n"  # 64 bytes
    [problem] = _refused(tmp_path, ACCOUNT + line * (5 * 1024 * 1024 // 64))
    first_line_over = (MAX_BYTES - len(ACCOUNT)) // 64 + 5
    assert problem == (
        f"{first_line_over}: the file is {len(ACCOUNT) + 5 * 1024 * 1024:,} bytes, "
        f"over the {MAX_BYTES:,}-byte limit (reached on this line)"
    )


def test_text_over_the_limit_is_refused_by_the_loader_as_well() -> None:
    with _cheap(), pytest.raises(SpecError, match=r"^demo.yaml:\d+: the file is"):
        load_yaml("# é\n" * (MAX_BYTES // 4), "demo.yaml")


def test_a_nul_byte_is_reported_with_its_line_and_column(tmp_path: Path) -> None:
    [problem] = _refused(tmp_path, ACCOUNT.replace("parser-1", "parser\x00-1"))
    assert problem == "2: the control character U+0000 in column 17; remove it"


def test_every_line_with_a_control_character_is_reported(tmp_path: Path) -> None:
    problems = _refused(tmp_path, ACCOUNT.replace("parser", "pa\x01r\x02ser"))
    assert [p.split(":")[0] for p in problems] == ["2", "3"]
    assert "U+0001" in problems[0]


def test_an_escaped_nul_in_a_name_is_refused_before_the_database(tmp_path: Path) -> None:
    [problem] = _refused(tmp_path, ACCOUNT.replace("parser-1", '"parser\\u0000-1"'))
    assert problem == (
        "2: accounts[0].name: contains the control character U+0000; "
        "only tabs and line breaks may be in text"
    )


@pytest.mark.parametrize("escape", ["\\e", "\\x07", "\\ud800"])
def test_other_escaped_controls_in_any_text_are_refused(tmp_path: Path, escape: str) -> None:
    [problem] = _refused(tmp_path, ACCOUNT.replace("session: s1", f'session: "s{escape}1"'))
    assert problem.startswith("4: accounts[0].session: contains ")


def test_a_tab_or_line_break_in_a_name_is_refused(tmp_path: Path) -> None:
    problems = _refused(tmp_path, ACCOUNT.replace("parser-1", '"parser\\t1"'))
    assert problems == [
        "2: accounts[0].name: a name is one line of text; U+0009 is not allowed in it"
    ]


def test_a_typo_in_a_key_on_line_one_is_reported_on_line_one(tmp_path: Path) -> None:
    [problem] = _refused(tmp_path, ACCOUNT.replace("accounts:", "acounts:"))
    assert problem == "1: acounts: unknown field"


def test_a_duplicate_name_is_reported_beside_a_type_error_of_the_same_item(
    tmp_path: Path,
) -> None:
    second = "  - name: parser-1\n    role: [manager]\n    session: s2\n"
    problems = _refused(tmp_path, ACCOUNT + second)
    assert problems[0] == "5: accounts[1]: 'parser-1' is already defined in accounts[0]"
    assert problems[1].startswith("6: accounts[1].role: ")
    assert len(problems) == 2


def test_a_chat_listed_twice_in_two_spellings_is_a_duplicate(tmp_path: Path) -> None:
    chats = 'chats:\n  - ref: "@python_jobs"\n  - {ref: "t.me/Python_Jobs", title: [x]}\n'
    problems = _refused(tmp_path, ACCOUNT + chats)
    assert problems[0] == "7: chats[1]: '@python_jobs' is already defined in chats[0]"
    assert problems[1].startswith("7: chats[1].title: ")


def test_values_yaml_cannot_build_are_named_not_raised(tmp_path: Path) -> None:
    text = ACCOUNT.replace("parser-1", "2024-02-30").replace("s1", "1" * 5000)
    problems = _refused(tmp_path, text + "    proxy: !!binary AAAA\n    status: !!python/none x\n")
    assert problems[0] == (
        "2: accounts[0].name: '2024-02-30' is not valid as a date; quote it if it is text"
    )
    assert problems[1].startswith("4: accounts[0].session: '11111")
    assert problems[1].endswith("is not valid as a number; quote it if it is text")
    assert problems[2] == "5: accounts[0].proxy: binary values are not supported"
    assert problems[3].startswith("6: accounts[0].status: bad YAML: could not determine")


def test_bytes_that_are_not_utf8_are_reported_with_their_line(tmp_path: Path) -> None:
    [problem] = _refused(tmp_path, ACCOUNT.encode() + b"  - name: \xff\n")
    assert problem == "5: not UTF-8 text"


def test_a_mapping_as_a_key_is_refused(tmp_path: Path) -> None:
    [problem] = _refused(tmp_path, "? {a: 1}\n: x\n")
    assert problem == "1: a key must be plain text, not a list or mapping"


def test_unreadable_values_are_reported_with_the_validation_errors(tmp_path: Path) -> None:
    text = ACCOUNT.replace("parser-1", '"parser\\u0000-1"').replace("role:", "rol:")
    text += "  - name: parser-1\n    role: parser\n    role: manager\n"
    problems = _refused(tmp_path, text)
    assert problems == [
        "2: accounts[0].name: contains the control character U+0000; "
        "only tabs and line breaks may be in text",
        "2: accounts[0].role: Field required",
        "3: accounts[0].rol: unknown field",
        "7: accounts[1].role: duplicate key",
    ]


def test_hundreds_of_problems_are_summed_up_after_the_first_twenty(tmp_path: Path) -> None:
    problems = _refused(tmp_path, "accounts:\n" + "  - {name: a, role: x}\n" * 100)
    assert len(problems) == 21
    assert problems[-1] == " and 179 more problems"  # 100 bad roles, 99 duplicate names


def test_a_file_of_too_many_values_is_refused_at_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "workspace.yaml"
    items = ",".join(["a"] * MAX_NODES)  # 100 KB, far under the size limit
    path.write_text(f"keyword_sets:\n  - name: k\n    keywords: [{items}]\n", encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        read_workspace(path)
    assert str(caught.value) == (
        f"{path}:3: bad YAML: more than {MAX_NODES:,} values and keys; split the file in several"
    )


def test_a_file_full_of_nul_bytes_lists_twenty_lines_and_stops(tmp_path: Path) -> None:
    problems = _refused(tmp_path, "\x00\n" * 500_000)
    assert len(problems) == 21
    assert problems[19] == "20: the control character U+0000 in column 1; remove it"
    assert problems[20] == " and more lines like these"


def test_text_longer_than_its_database_column_is_refused(tmp_path: Path) -> None:
    chats = f'chats:\n  - ref: "t.me/+{"a" * 300}"\n    title: "{"t" * 256}"\n'
    problems = _refused(tmp_path, ACCOUNT + chats)
    assert problems == [
        "6: chats[0].ref: a chat reference is at most 255 characters, this one is 314",
        "7: chats[0].title: String should have at most 255 characters",
    ]
