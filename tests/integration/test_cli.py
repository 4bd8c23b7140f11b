"""The `coolthing` command as people use it: clear one-line errors, exit codes, JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from tests.conftest import warm_starter

WORKSPACE = """\
accounts:
  - {name: parser-1, role: parser, session: s1}
keyword_sets:
  - name: web-dev
    keywords: [разработчик, программист, "сделать сайт", developer, "build a website"]
    exclude: [вакансия, резюме, hiring]
campaigns:
  - {name: web, keyword_sets: [web-dev], chats: ["@jobs_chat"], parser_accounts: [parser-1]}
"""


def _run(
    tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    base = {
        "PATH": "/usr/bin:/bin",
        "COOLTHING_ENV": "test",
        "COOLTHING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}",
        "COOLTHING_SECRET_KEY": Fernet.generate_key().decode(),
    }
    if (warm := warm_starter()) is not None:  # the command's entry, forked without its imports
        return warm.run(list(args), {**base, **(env or {})}, stdin=stdin.encode(), timeout=60)
    return subprocess.run(
        [sys.executable, "-m", "coolthing", *args],
        input=stdin.encode(),
        capture_output=True,
        env={**base, **(env or {})},
        timeout=60,
        check=False,
    )


def test_keywords_test_prints_one_json_line_per_message(tmp_path: Path) -> None:
    (tmp_path / "ws.yaml").write_text(WORKSPACE, encoding="utf-8")
    lines = "Ищу разработчиков на проект 🚀\nВакансия: разработчик в штат\nкотики\n"
    result = _run(tmp_path, "keywords", "test", str(tmp_path / "ws.yaml"), stdin=lines)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [o["matched"] for o in out] == [True, False, False]
    verdict = {k: out[0].pop(k) for k in ("lead", "score", "reason")}
    assert out[0] == {
        "text": "Ищу разработчиков на проект 🚀",
        "matched": True,
        "set": "web-dev",
        "keywords": ["разработчик"],
    }
    assert verdict["lead"] is True and 0.35 <= verdict["score"] <= 1
    assert "«ищу»" in verdict["reason"]
    assert "lead" not in out[2]  # an unmatched line never reaches the second stage


def test_keywords_test_judges_a_matched_line_by_the_campaigns_intent_policy(
    tmp_path: Path,
) -> None:
    seller = "Я разработчик, делаю сайты под ключ, пишите в личку\n"
    (tmp_path / "ws.yaml").write_text(WORKSPACE, encoding="utf-8")
    [judged] = _lines(_run(tmp_path, "keywords", "test", str(tmp_path / "ws.yaml"), stdin=seller))
    assert judged["lead"] is False and judged["score"] < 0.35 and "«" in judged["reason"]

    lenient = ["--model", "web_development", "--threshold", "0.05"]
    command = ["keywords", "test", str(tmp_path / "ws.yaml"), *lenient]
    [forced] = _lines(_run(tmp_path, *command, stdin=seller))
    assert forced["lead"] is (forced["score"] >= 0.05)

    off = WORKSPACE.replace(
        "parser_accounts: [parser-1]}", "parser_accounts: [parser-1], intent: {enabled: false}}"
    )
    (tmp_path / "off.yaml").write_text(off, encoding="utf-8")
    [kept] = _lines(_run(tmp_path, "keywords", "test", str(tmp_path / "off.yaml"), stdin=seller))
    assert (kept["lead"], kept["score"]) == (True, None)


def test_keywords_test_refuses_an_unknown_model_or_threshold_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "ws.yaml").write_text(WORKSPACE, encoding="utf-8")
    for option, said in (
        (["--model", "plumbing"], "no shipped intent model 'plumbing'"),
        (["--threshold", "1.5"], "--threshold: Input should be less than or equal to 0.95"),
    ):
        result = _run(tmp_path, "keywords", "test", str(tmp_path / "ws.yaml"), *option)
        assert result.returncode != 0
        assert said in result.stderr.decode()
        assert "Traceback" not in result.stderr.decode()


def _lines(result: subprocess.CompletedProcess[bytes]) -> list[dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_keywords_test_with_an_unknown_set_says_which_exist(tmp_path: Path) -> None:
    (tmp_path / "ws.yaml").write_text(WORKSPACE, encoding="utf-8")
    result = _run(tmp_path, "keywords", "test", str(tmp_path / "ws.yaml"), "--set", "webdev")
    assert result.returncode != 0
    assert "unknown keyword set 'webdev'" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_workspace_apply_with_a_bad_file_prints_file_line_field_and_writes_nothing(
    tmp_path: Path,
) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(WORKSPACE.replace("[web-dev]", "[webdev]"), encoding="utf-8")
    result = _run(tmp_path, "workspace", "apply", str(bad))
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        f"{bad}:8: campaigns[0].keyword_sets[0]: unknown keyword set 'webdev'; known: web-dev"
    )
    exported = _run(tmp_path, "workspace", "export").stdout.decode()
    assert "web-dev" not in exported


def test_workspace_apply_then_export_round_trips(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    good = tmp_path / "ws.yaml"
    good.write_text(WORKSPACE, encoding="utf-8")
    applied = _run(tmp_path, "workspace", "apply", str(good))
    assert applied.returncode == 0, applied.stderr
    assert "created 1 accounts" in applied.stdout.decode()
    exported = _run(tmp_path, "workspace", "export").stdout.decode()
    assert "build a website" in exported and "s1" not in exported


def test_production_without_a_secret_key_is_a_clear_start_up_error(tmp_path: Path) -> None:
    (tmp_path / "ws.yaml").write_text(WORKSPACE, encoding="utf-8")
    env = {"COOLTHING_ENV": "production", "COOLTHING_SECRET_KEY": ""}
    result = _run(tmp_path, "workspace", "apply", str(tmp_path / "ws.yaml"), env=env)
    assert result.returncode == 2
    assert "COOLTHING_SECRET_KEY" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()


def test_users_are_managed_from_the_command_line_with_passwords_never_in_arguments(
    tmp_path: Path,
) -> None:
    weak = _run(tmp_path, "users", "create", "alice", "--role", "owner", stdin="short\n")
    assert weak.returncode == 2
    assert weak.stderr.decode().strip() == (
        "coolthing users: the password needs at least 10 characters"
    )
    made = _run(tmp_path, "users", "create", "Alice", "--role", "owner", stdin="a long secret\n")
    assert made.returncode == 0 and made.stdout.decode().strip() == "created alice (owner)"
    assert _run(tmp_path, "users", "create", "bob", stdin="another secret\n").returncode == 0
    token = _run(tmp_path, "users", "token", "create", "bob", "--name", "ci")
    assert token.returncode == 0 and token.stdout.decode().startswith("ct_")

    last_owner = _run(tmp_path, "users", "disable", "alice")
    assert last_owner.returncode == 2
    assert "last active owner" in last_owner.stderr.decode()
    listed = _run(tmp_path, "users", "list").stdout.decode()
    assert "alice" in listed and "owner" in listed and "bob" in listed and "viewer" in listed
    assert "Traceback" not in listed + last_owner.stderr.decode()

    assert _run(tmp_path, "users", "set-role", "bob", "operator").returncode == 0
    assert _run(tmp_path, "users", "disable", "bob").returncode == 0
    assert "disabled" in _run(tmp_path, "users", "list").stdout.decode()
    gone = _run(tmp_path, "users", "token", "revoke", "99")
    assert gone.returncode == 2 and "there is no token 99" in gone.stderr.decode()
    help_text = _run(tmp_path, "users", "create", "--help").stdout.decode()
    assert "--password" not in help_text
