"""`coolthing users link-telegram LOGIN`: a one-time code the notifier bot accepts, the exact
text to send it, and a clear refusal for an unknown or disabled login; and `users token create
--scope alerts`. The typer app runs in this process (CliRunner) against a copy of the
once-migrated SQLite file."""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update
from typer.testing import CliRunner, Result

from coolthing.cli import app
from core.db import Database
from core.db.models import ApiToken, AuditEntry, User
from core.security import SecretBox
from core.telegram_link_codes import read_code
from tests.conftest import add_people

KEY = Fernet.generate_key().decode()


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> str:
    shutil.copyfile(sqlite_template, tmp_path / "cli.db")
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def people() -> None:
        db = Database(url)
        await add_people(db)
        async with db.transaction() as session:
            await session.execute(
                update(User).where(User.login == "viewer").values(disabled_at=datetime.now(UTC))
            )
        await db.close()

    asyncio.run(people())
    return url


def cli(db_url: str, *args: str) -> Result:
    env = {"COOLTHING_ENV": "test", "COOLTHING_DATABASE_URL": db_url, "COOLTHING_SECRET_KEY": KEY}
    return CliRunner().invoke(app, list(args), env=env)


def link(db_url: str, login: str) -> Result:
    return cli(db_url, "users", "link-telegram", login)


async def _audit(db_url: str) -> list[tuple[str, dict[str, object]]]:
    db = Database(db_url)
    async with db.session() as session:
        rows = await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        found = [(r.action, dict(r.detail)) for r in rows]
    await db.close()
    return found


def test_a_code_is_printed_with_the_text_to_send_and_the_bot_accepts_it(db_url: str) -> None:
    result = link(db_url, "Operator")
    assert result.exit_code == 0, result.output
    sent = re.search(r"^  /start (\S+)$", result.stdout, re.MULTILINE)
    assert sent is not None, result.stdout
    code = sent.group(1)
    assert len(code) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", code)  # a deep-link start value
    read = read_code(SecretBox(KEY.encode()), code)
    operator = asyncio.run(_user_id(db_url, "operator"))
    assert read.user_id == operator
    until = re.search(r"valid until (\d{4}-\d\d-\d\d \d\d:\d\d) UTC", result.stdout)
    assert until is not None
    shown = datetime.strptime(until.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert timedelta(minutes=13) < shown - datetime.now(UTC) <= timedelta(minutes=15)
    assert abs(shown - read.expires_at) < timedelta(minutes=1)
    assert asyncio.run(_audit(db_url))[-1] == ("telegram_link_code", {"target": "operator"})


def test_each_call_gives_a_new_code(db_url: str) -> None:
    first, second = link(db_url, "admin"), link(db_url, "admin")
    assert first.exit_code == second.exit_code == 0
    assert first.stdout != second.stdout


def test_an_unknown_login_is_refused_in_one_line(db_url: str) -> None:
    result = link(db_url, "nobody")
    assert result.exit_code == 2
    assert result.stderr.strip() == "coolthing users: there is no user 'nobody'"
    assert "/start" not in result.stdout


def test_a_disabled_login_is_refused_with_what_to_do(db_url: str) -> None:
    result = link(db_url, "viewer")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "coolthing users: viewer is disabled: enable them first (coolthing users enable viewer)"
    )
    assert "/start" not in result.stdout


async def _user_id(db_url: str, login: str) -> int:
    db = Database(db_url)
    async with db.session() as session:
        found = await session.scalar(select(User.id).where(User.login == login))
    await db.close()
    assert found is not None
    return int(found)


def test_a_token_of_scope_alerts_is_made_from_the_command_line(db_url: str) -> None:
    made = cli(db_url, "users", "token", "create", "viewer", "--name", "am", "--scope", "alerts")
    # a disabled user's token is made (it works once they are enabled again)
    assert made.exit_code == 0, made.output
    assert "scope alerts" in made.stderr
    token = made.stdout.strip()
    assert token.startswith("ct_")
    assert asyncio.run(_scope_of(db_url, token)) == "alerts"
    wrong = cli(db_url, "users", "token", "create", "viewer", "--scope", "everything")
    assert wrong.exit_code == 2
    assert "everything" in wrong.stderr and "--scope" in wrong.stderr


async def _scope_of(db_url: str, token: str) -> str | None:
    db = Database(db_url)
    async with db.session() as session:
        scope = await session.scalar(select(ApiToken.scope).where(ApiToken.hint == token[:10]))
    await db.close()
    return scope
