"""The `coolthing` command as people use it: clear one-line errors, exit codes, JSON lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    assert out[0] == {
        "text": "Ищу разработчиков на проект 🚀",
        "matched": True,
        "set": "web-dev",
        "keywords": ["разработчик"],
    }


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
