"""Accounts: add (with a session string, or with the session a phone login produced), edit,
pause and resume, delete (refused while a running campaign uses the account).

Validation is the workspace file's (``AccountSpec``), so an account saved here reads back the same
in ``coolthing workspace export``. Session strings and proxy URLs are write-only: encrypted with
the process's ``SecretBox`` as ``workspace apply`` does, never returned; a blank field on an edit
keeps the stored secret. Every change is audited and announced (``config.changed``)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import SecretStr, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.setup.keyword_sets import SetupError
from admin.workspace.spec import AccountSpec
from core.access import Actor
from core.audit import record
from core.db.models import Account, Campaign, CampaignAccount
from core.events import ConfigChanged, Event
from core.outbox import add_to_outbox
from core.security import SecretBox

CONFIGURED = ("active", "paused")  # what an admin sets; banned and revoked are observed


@dataclass(frozen=True)
class AccountForm:
    """What a person typed, as text (a form) or as JSON values (the API)."""

    name: str
    role: str
    status: str = "active"
    session: str = ""  # blank: keep the stored one (an edit) or log in by phone (new)
    proxy: str = ""  # blank: keep the stored one
    phone: str = ""
    daily_cap: str = ""  # blank: the campaign's


_REASONS = {
    "name": "give the account a name",
    "role": "choose parser, manager or scripts",
    "status": "choose active or paused",
}


def parse_account(form: AccountForm) -> AccountSpec:
    """The workspace file's rules; ``SetupError`` naming the field at fault. The reason never
    repeats a secret."""
    cap = form.daily_cap.strip()
    if cap and not cap.isdigit():
        raise SetupError(
            "a whole number of new DMs a day, or blank for the campaign's", field="daily_cap"
        )
    data: dict[str, object] = {
        "name": form.name.strip(),
        "role": form.role.strip(),
        "status": form.status.strip() or "active",
        "session": SecretStr(form.session.strip()) if form.session.strip() else None,
        "proxy": SecretStr(form.proxy.strip()) if form.proxy.strip() else None,
        "phone": form.phone.strip() or None,
        "daily_cap": int(cap) if cap else None,
    }
    try:
        return AccountSpec.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "name"
        reason = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] in ("too_short", "string_too_short", "literal_error"):
            reason = _REASONS.get(field, reason)
        raise SetupError(reason, field=field) from None


@dataclass(frozen=True)
class Login:
    """A session a phone login produced, with the Telegram user it belongs to."""

    session: str
    telegram_user_id: int | None


async def save_account(
    session: AsyncSession,
    actor: Actor,
    spec: AccountSpec,
    box: SecretBox,
    *,
    account_id: int | None,
    login: Login | None = None,
) -> Account:
    """Create (``account_id`` None) or change an account. A login's session wins over a typed
    one, and brings a revoked account back to active."""
    same_name = await session.scalar(select(Account).where(Account.name == spec.name))
    if same_name is not None and same_name.id != account_id:
        raise SetupError(f"the name {spec.name!r} is taken by another account", field="name")
    secret = login.session if login else (spec.session.get_secret_value() if spec.session else None)
    if account_id is None:
        if secret is None:
            raise SetupError(
                "a new account needs a session string, or log in with its phone number",
                field="session",
            )
        account = Account(name=spec.name, role=spec.role, status=spec.status, session_secret="")
        session.add(account)
    else:
        account = await _account(session, account_id)
        await _check_role_change(session, account, spec.role)
    account.name, account.role = spec.name, spec.role
    if account.status in CONFIGURED:
        account.status = spec.status
    if secret is not None:
        account.session_secret = box.encrypt(secret)
        if account.status == "revoked":  # a new session is what a revoked account needed
            account.status, account.status_reason = "active", None
    if login is not None and login.telegram_user_id is not None:
        account.telegram_user_id = login.telegram_user_id
    if spec.proxy is not None:
        account.proxy_secret = box.encrypt(spec.proxy.get_secret_value())
    account.phone = spec.phone or account.phone
    account.daily_cap = spec.daily_cap
    await session.flush()
    action = "account_created" if account_id is None else "account_changed"
    changed = [n for n, v in (("session", secret), ("proxy", spec.proxy)) if v is not None]
    record(
        session,
        action,
        actor=actor,
        target=spec.name,
        role=spec.role,
        secrets_set=changed,
        by_phone=login is not None,
    )
    await add_to_outbox(session, Event.of(ConfigChanged(reason=f"account {spec.name} saved")))
    return account


async def clear_proxy(session: AsyncSession, actor: Actor, account_id: int) -> None:
    """Work without a proxy from now on (a blank field keeps it; this is the way to remove it)."""
    account = await _account(session, account_id)
    account.proxy_secret = None
    record(session, "account_proxy_removed", actor=actor, target=account.name)
    await add_to_outbox(
        session, Event.of(ConfigChanged(reason=f"account {account.name} proxy removed"))
    )


async def set_status(session: AsyncSession, actor: Actor, account_id: int, status: str) -> Account:
    """Pause or resume; a banned or revoked account is not resumed by a click."""
    account = await _account(session, account_id)
    if status not in CONFIGURED:
        raise SetupError("choose active or paused", field="status")
    if account.status not in CONFIGURED:
        raise SetupError(
            f"the account is {account.status}: "
            + (
                "log in again by phone or paste a new session"
                if account.status == "revoked"
                else "Telegram banned it; it cannot be resumed"
            ),
            field="status",
        )
    account.status = status
    record(
        session,
        f"account_{'resumed' if status == 'active' else 'paused'}",
        actor=actor,
        target=account.name,
    )
    await add_to_outbox(session, Event.of(ConfigChanged(reason=f"account {account.name} {status}")))
    return account


async def running_campaigns(session: AsyncSession, account_id: int) -> list[str]:
    query = (
        select(Campaign.name)
        .join(CampaignAccount, CampaignAccount.campaign_id == Campaign.id)
        .where(CampaignAccount.account_id == account_id, Campaign.status == "active")
        .order_by(Campaign.name)
        .distinct()
    )
    return list(await session.scalars(query))


async def delete_account(session: AsyncSession, actor: Actor, account_id: int) -> str:
    """Refused while a running campaign uses the account; paused ones lose it."""
    account = await _account(session, account_id)
    using = await running_campaigns(session, account_id)
    if using:
        raise SetupError(
            f"the running campaigns {', '.join(using)} use {account.name!r}: "
            "pause them or take the account out of them first"
        )
    name = account.name
    await session.execute(delete(Account).where(Account.id == account_id))
    record(session, "account_deleted", actor=actor, target=name)
    await add_to_outbox(session, Event.of(ConfigChanged(reason=f"account {name} deleted")))
    return name


async def _account(session: AsyncSession, account_id: int) -> Account:
    account = await session.get(Account, account_id)
    if account is None:
        raise SetupError(f"account {account_id} does not exist", missing=True)
    return account


async def _check_role_change(session: AsyncSession, account: Account, role: str) -> None:
    if role == account.role:
        return
    query = (
        select(Campaign.name)
        .join(CampaignAccount, CampaignAccount.campaign_id == Campaign.id)
        .where(CampaignAccount.account_id == account.id)
        .order_by(Campaign.name)
        .distinct()
    )
    using = list(await session.scalars(query))
    if using:
        raise SetupError(
            f"the campaigns {', '.join(using)} use {account.name!r} as a {account.role}: "
            "take it out of them before changing its role",
            field="role",
        )
