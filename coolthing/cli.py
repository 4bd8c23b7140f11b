"""`coolthing`: start services, the demo, and the configuration tools.

Heavy imports happen inside the commands, so `coolthing --help` is instant and a service only loads
what it runs.
"""

from __future__ import annotations

import asyncio
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from core.logging import configure_logging
from core.settings import Settings
from core.yamlspec import SpecError

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
keywords_app = typer.Typer(no_args_is_help=True, help="Try keyword sets on sample messages.")
workspace_app = typer.Typer(no_args_is_help=True, help="Configuration as code (YAML).")
app.add_typer(keywords_app, name="keywords")
app.add_typer(workspace_app, name="workspace")


def main(args: list[str] | None = None) -> None:
    """The console entry point: known start-up problems become one clear line, not a traceback."""
    from core.security import SecretKeyMissing, SecretUnreadable

    try:
        app(args)
    # OSError: e.g. the database or the broker refused the connection, a file cannot be written.
    except (SecretKeyMissing, SecretUnreadable, OSError) as exc:
        typer.echo(f"coolthing: {exc}", err=True)
        raise SystemExit(2) from None


def run_service(name: str) -> None:
    """``python -m <service> [options]`` is ``coolthing run <service> [options]``."""
    main(["run", name, *sys.argv[1:]])


class Service(StrEnum):
    sandbox = "sandbox"
    bots = "bots"
    parser = "parser"
    manager = "manager"
    admin = "admin"


def _settings() -> Settings:
    settings = Settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return settings


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@app.command()
def demo(
    fresh: Annotated[bool, typer.Option(help="start from an empty demo database")] = True,
    rate: Annotated[float, typer.Option(help="audience messages per second")] = 4.0,
) -> None:
    """Every service in one process: SQLite, in-memory bus, sandbox Telegram, simulated audience."""
    from coolthing.demo import run_demo
    from coolthing.services import run_until_stopped

    settings = _settings()
    asyncio.run(run_until_stopped(lambda: run_demo(settings, fresh=fresh, rate=rate)))


@app.command()
def run(
    service: Service,
    account: Annotated[int | None, typer.Option(help="account id (bots only)")] = None,
    audience: Annotated[bool, typer.Option(help="sandbox: start the simulated audience")] = False,
) -> None:
    """Run one service in the foreground."""
    from coolthing import services

    settings = _settings()
    if service is Service.bots and account is None:
        raise _fail("`coolthing run bots` needs --account ID")
    mains = {
        Service.sandbox: lambda: services.run_sandbox(settings, audience=audience),
        Service.parser: lambda: services.run_parser(settings),
        Service.manager: lambda: services.run_manager(settings),
        Service.admin: lambda: services.run_admin(settings),
        Service.bots: lambda: services.run_bots(settings, account or 0),
    }
    asyncio.run(services.run_until_stopped(mains[service]))


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    from core.db import Database
    from core.db.migrate import upgrade

    async def _migrate() -> None:
        db = Database(_settings().database_url)
        try:
            await upgrade(db)
        finally:
            await db.close()

    asyncio.run(_migrate())
    typer.echo("database is up to date")


@app.command("secret-key")
def secret_key() -> None:
    """Print a new key for COOLTHING_SECRET_KEY."""
    from cryptography.fernet import Fernet

    typer.echo(Fernet.generate_key().decode())


@keywords_app.command("test")
def keywords_test(
    file: Annotated[Path, typer.Argument(help="workspace YAML with keyword_sets")],
    set_name: Annotated[str | None, typer.Option("--set", help="only this keyword set")] = None,
) -> None:
    """Read messages, one per line, on stdin; print one JSON line per message."""
    from admin.workspace.apply import read_workspace
    from parser.keywords_cli import keywords_test as run_test
    from parser.matcher import KeywordSetRules

    try:
        spec, _ = read_workspace(file)
    except SpecError as exc:
        raise _fail(str(exc)) from None
    sets = [
        KeywordSetRules(set_id=i, name=s.name, keywords=s.keywords, exclude=s.exclude)
        for i, s in enumerate(spec.keyword_sets, start=1)
    ]
    try:
        for result in run_test(sets, set_name, sys.stdin):
            typer.echo(json.dumps(result, ensure_ascii=False))
    except ValueError as exc:
        raise _fail(f"{file}: {exc}") from None


@workspace_app.command("apply")
def workspace_apply(file: Path) -> None:
    """Load accounts, chats, keyword sets and campaigns from FILE in one transaction."""
    from coolthing.workspace_cmd import apply_file

    settings = _settings()
    try:
        summary = asyncio.run(apply_file(settings, file))
    except SpecError as exc:
        raise _fail(str(exc)) from None
    created = ", ".join(f"{n} {kind}" for kind, n in summary.created.items()) or "nothing"
    updated = ", ".join(f"{n} {kind}" for kind, n in summary.updated.items()) or "nothing"
    typer.echo(f"applied {file}: created {created}; updated {updated}")


@workspace_app.command("export")
def workspace_export(
    file: Annotated[Path | None, typer.Argument(help="write here instead of stdout")] = None,
) -> None:
    """Write the workspace back as YAML (sessions and proxies are never exported)."""
    from coolthing.workspace_cmd import export_text

    text = asyncio.run(export_text(_settings()))
    if file is None:
        typer.echo(text, nl=False)
    else:
        file.write_text(text, encoding="utf-8")
