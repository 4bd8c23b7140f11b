"""Applying a workspace writes everything in one transaction, or nothing at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from admin.workspace.apply import apply_workspace, read_workspace
from admin.workspace.export import export_workspace
from admin.workspace.spec import WorkspaceSpec
from core.db import Database
from core.db.models import Account, Campaign, Chat, KeywordSet, OutboxMessage
from core.security import SecretBox
from core.yamlspec import SpecError, load_yaml, validate

WORKSPACE = """\
accounts:
  - {name: parser-1, role: parser, session: "secret-session-1", proxy: "socks5://u:p@127.0.0.1:1080"}
  - {name: parser-2, role: parser, session: "secret-session-2"}
  - {name: manager-1, role: manager, session: "secret-session-3"}
chats:
  - {ref: "@python_jobs", title: Python jobs}
keyword_sets:
  - name: web-dev
    keywords: [разработчик, программист, "сделать сайт", developer, "build a website"]
    exclude: [вакансия, резюме, hiring]
campaigns:
  - name: web-leads
    keyword_sets: [web-dev]
    chats: ["@python_jobs", "t.me/design_chat"]
    parser_accounts: [parser-1, parser-2]
    manager_accounts: [manager-1]
"""


async def _apply(db: Database, box: SecretBox, path: Path) -> None:
    spec, located = read_workspace(path)
    async with db.transaction() as session:
        await apply_workspace(session=session, spec=spec, located=located, box=box)


async def _count(db: Database, model: type) -> int:
    async with db.session() as session:
        return (await session.scalar(select(func.count()).select_from(model))) or 0


async def test_apply_creates_everything_and_encrypts_sessions(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    path = tmp_path / "ws.yaml"
    path.write_text(WORKSPACE, encoding="utf-8")
    await _apply(database, secret_box, path)
    async with database.session() as session:
        accounts = (await session.scalars(select(Account).order_by(Account.id))).all()
        campaign = await session.scalar(select(Campaign))
    assert [a.name for a in accounts] == ["parser-1", "parser-2", "manager-1"]
    assert "secret-session-1" not in accounts[0].session_secret
    assert secret_box.decrypt(accounts[0].session_secret) == "secret-session-1"
    assert campaign is not None
    assert sorted(c.ref for c in campaign.chats) == ["@design_chat", "@python_jobs"]
    assert await _count(database, OutboxMessage) == 1  # config.changed, in the same transaction


async def test_reapplying_the_same_file_changes_nothing(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    path = tmp_path / "ws.yaml"
    path.write_text(WORKSPACE, encoding="utf-8")
    await _apply(database, secret_box, path)
    await _apply(database, secret_box, path)
    assert await _count(database, Account) == 3
    assert await _count(database, Chat) == 2
    assert await _count(database, KeywordSet) == 1
    assert await _count(database, Campaign) == 1


async def test_a_file_with_an_unknown_set_writes_nothing(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    path = tmp_path / "ws.yaml"
    path.write_text(WORKSPACE.replace("keyword_sets: [web-dev]", "keyword_sets: [webdev]"))
    with pytest.raises(SpecError) as caught:
        await _apply(database, secret_box, path)
    assert str(caught.value) == (
        f"{path}:13: campaigns[0].keyword_sets[0]: unknown keyword set 'webdev'; known: web-dev"
    )
    for model in (Account, Chat, KeywordSet, Campaign, OutboxMessage):
        assert await _count(database, model) == 0


async def test_export_round_trips_without_secrets(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    path = tmp_path / "ws.yaml"
    path.write_text(WORKSPACE, encoding="utf-8")
    await _apply(database, secret_box, path)
    async with database.session() as session:
        exported = await export_workspace(session)
    assert "secret-session" not in exported and "socks5" not in exported
    again = tmp_path / "exported.yaml"
    again.write_text(exported, encoding="utf-8")
    await _apply(database, secret_box, again)  # existing accounts keep their stored sessions
    async with database.session() as session:
        account = await session.scalar(select(Account).where(Account.name == "parser-2"))
    assert account is not None
    assert secret_box.decrypt(account.session_secret) == "secret-session-2"


async def test_a_duplicate_account_is_judged_by_its_first_definition(
    database: Database, secret_box: SecretBox
) -> None:
    """Applied without ``read_workspace`` (as the demo does), the duplicate is still refused, and
    the role check reads the definition the duplicate problem points to, not the last one."""
    text = WORKSPACE.replace(
        '  - {name: manager-1, role: manager, session: "secret-session-3"}\n',
        '  - {name: manager-1, role: manager, session: "secret-session-3"}\n'
        '  - {name: parser-1, role: manager, session: "secret-session-4"}\n',
    )
    located = load_yaml(text, "ws.yaml")
    spec = validate(WorkspaceSpec, located)
    with pytest.raises(SpecError) as caught:
        async with database.transaction() as session:
            await apply_workspace(session=session, spec=spec, located=located, box=secret_box)
    assert (
        str(caught.value) == "ws.yaml:5: accounts[3]: 'parser-1' is already defined in accounts[0]"
    )
    assert await _count(database, Account) == 0


async def test_a_name_with_an_escaped_nul_never_reaches_the_database(
    database: Database, secret_box: SecretBox, tmp_path: Path
) -> None:
    path = tmp_path / "ws.yaml"
    path.write_text(WORKSPACE.replace("{name: parser-2,", '{name: "parser\\u00002",'))
    with pytest.raises(SpecError) as caught:
        await _apply(database, secret_box, path)
    assert str(caught.value).startswith(f"{path}:3: accounts[1].name: contains the control char")
    assert await _count(database, Account) == 0
