"""`coolthing`: start services, the demo, and the configuration tools.

Heavy imports happen inside the commands, so `coolthing --help` is instant and a service only loads
what it runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from coolthing.scenario_cmd import scenario_app
from core.logging import configure_logging, log_as_service
from core.settings import Settings
from core.yamlspec import SpecError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
keywords_app = typer.Typer(no_args_is_help=True, help="Try keyword sets on sample messages.")
workspace_app = typer.Typer(no_args_is_help=True, help="Configuration as code (YAML).")
app.add_typer(keywords_app, name="keywords")
app.add_typer(workspace_app, name="workspace")
users_app = typer.Typer(no_args_is_help=True, help="People who use the panel and the API.")
token_app = typer.Typer(no_args_is_help=True, help="A user's API tokens.")
users_app.add_typer(token_app, name="token")
app.add_typer(users_app, name="users")
app.add_typer(scenario_app, name="scenario")


def main(args: list[str] | None = None) -> None:
    """The console entry point: known start-up problems become one clear line, not a traceback."""
    from core.security import InsecureSettings, SecretKeyMissing, SecretUnreadable

    try:
        app(args)
    # OSError: e.g. the database or the broker refused the connection, a file cannot be written.
    except (SecretKeyMissing, SecretUnreadable, InsecureSettings, OSError) as exc:
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
    notifier = "notifier"
    scripts = "scripts"
    admin = "admin"
    watchdog = "watchdog"


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
    log_as_service(service.value, account=account)
    mains = {
        Service.sandbox: lambda: services.run_sandbox(settings, audience=audience),
        Service.parser: lambda: services.run_parser(settings),
        Service.manager: lambda: services.run_manager(settings),
        Service.notifier: lambda: services.run_notifier(settings),
        Service.scripts: lambda: services.run_scripts(settings),
        Service.admin: lambda: services.run_admin(settings),
        Service.watchdog: lambda: services.run_watchdog(settings),
        Service.bots: lambda: services.run_bots(settings, account or 0),
    }
    code = asyncio.run(services.run_until_stopped(mains[service]))
    if isinstance(code, int) and code:  # a worker tells the watchdog why it ended
        raise typer.Exit(code)


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
    model: Annotated[
        str | None,
        typer.Option("--model", metavar="KIND", help="the shipped intent model for every set"),
    ] = None,
    threshold: Annotated[
        float | None, typer.Option("--threshold", help="a lead at this score or above (0.05-0.95)")
    ] = None,
) -> None:
    """Read messages, one per line, on stdin; print one JSON line per message. A matched line
    also carries the second stage's lead, score and reason: the intent policy of the campaign
    in FILE using the set (else the general model), --model and --threshold overriding it."""
    from pydantic import ValidationError

    from admin.workspace.apply import read_workspace
    from admin.workspace.spec import shipped_intent_models
    from core.intent import IntentPolicy
    from parser.keywords_cli import IntentTrial
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
    if model is not None and model not in shipped_intent_models():
        known = ", ".join(shipped_intent_models())
        raise _fail(f"--model: no shipped intent model {model!r}; choose one of {known}")
    policies: dict[str, IntentPolicy] = {}
    for campaign in reversed(spec.campaigns):  # the first campaign using a set decides
        policies |= dict.fromkeys(campaign.keyword_sets, campaign.intent)
    try:
        intent = IntentTrial(policies, model=model, threshold=threshold)
    except ValidationError as exc:
        reasons = "; ".join(f"--{e['loc'][-1]}: {e['msg']}" for e in exc.errors())
        raise _fail(reasons) from None
    try:
        for result in run_test(sets, set_name, sys.stdin, intent):
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


class RoleName(StrEnum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"
    owner = "owner"


def _users(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    from admin.access.users import AccessError
    from coolthing.users_cmd import in_transaction

    settings = _settings()
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema upgrades are not news here
    try:
        return asyncio.run(in_transaction(settings, work))
    except AccessError as exc:
        raise _fail(f"coolthing users: {exc}") from None


def _read_password() -> str:
    """From a hidden prompt (asked twice), or the first line of standard input when piped."""
    if sys.stdin.isatty():
        password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        return password
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("create")
def users_create(
    login: str,
    role: Annotated[RoleName, typer.Option(help="what the user may do")] = RoleName.viewer,
    email: Annotated[str | None, typer.Option(help="optional, unique")] = None,
) -> None:
    """Add a user; the password is read from a prompt or from stdin, never from arguments."""
    from coolthing.users_cmd import create
    from core.access import Role

    password = _read_password()
    typer.echo(
        _users(lambda s: create(s, login=login, password=password, role=Role(role), email=email))
    )


@users_app.command("list")
def users_list() -> None:
    from coolthing.users_cmd import listing

    for line in _users(listing):
        typer.echo(line)


@users_app.command("set-role")
def users_set_role(login: str, role: RoleName) -> None:
    from coolthing.users_cmd import set_role
    from core.access import Role

    typer.echo(_users(lambda s: set_role(s, login=login, role=Role(role))))


@users_app.command("disable")
def users_disable(login: str) -> None:
    """Sign the user out everywhere and stop their tokens, at once."""
    from coolthing.users_cmd import disable

    typer.echo(_users(lambda s: disable(s, login=login)))


@users_app.command("enable")
def users_enable(login: str) -> None:
    from coolthing.users_cmd import enable

    typer.echo(_users(lambda s: enable(s, login=login)))


@users_app.command("reset-password")
def users_reset_password(login: str) -> None:
    """A new password (prompt or stdin); the user's sessions end."""
    from coolthing.users_cmd import reset_password

    password = _read_password()
    typer.echo(_users(lambda s: reset_password(s, login=login, password=password)))


@users_app.command("link-telegram")
def users_link_telegram(login: str) -> None:
    """A one-time code (15 minutes) that links LOGIN's Telegram account to the notifier bot."""
    from coolthing.users_cmd import link_telegram
    from core.security import load_secret_box

    box = load_secret_box(_settings())
    issued = _users(lambda s: link_telegram(s, login=login, box=box))
    until = issued.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    typer.echo(f"Link code for {issued.login}, valid until {until} (once):")
    typer.echo(f"  {issued.code}")
    typer.echo("Send this to the notifier bot in Telegram, from the account to link:")
    typer.echo(f"  /start {issued.code}")


class TokenScope(StrEnum):
    full = "full"
    alerts = "alerts"


@token_app.command("create")
def token_create(
    login: str,
    name: Annotated[str, typer.Option(help="what the token is for")] = "cli",
    scope: Annotated[
        TokenScope,
        typer.Option(help="full: what the user's role allows; alerts: only POST /api/v1/alerts"),
    ] = TokenScope.full,
) -> None:
    """Print a new API token for LOGIN; it is shown this once."""
    from coolthing.users_cmd import create_token

    made = _users(lambda s: create_token(s, login=login, name=name, scope=scope.value))
    token_id, token = made
    typer.echo(
        f"token {token_id} for {login}, scope {scope.value} (shown once, keep it safe):", err=True
    )
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(min=1, max=2**31 - 1)],
) -> None:
    from coolthing.users_cmd import revoke_token

    typer.echo(_users(lambda s: revoke_token(s, token_id=token_id)))
