"""Write the workspace back as YAML that `workspace apply` accepts unchanged (minus secrets)."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account, Campaign, Chat, KeywordSet

HEADER = (
    "# CoolThing workspace. Sessions and proxies are never exported: an account without a\n"
    "# `session` keeps the one stored; add `session:` to replace it.\n"
)


async def export_workspace(session: AsyncSession) -> str:
    accounts = (await session.scalars(select(Account).order_by(Account.id))).all()
    names = {a.id: a.name for a in accounts}
    chats = (await session.scalars(select(Chat).order_by(Chat.id))).all()
    sets = (await session.scalars(select(KeywordSet).order_by(KeywordSet.id))).all()
    campaigns = (await session.scalars(select(Campaign).order_by(Campaign.id))).all()
    document: dict[str, Any] = {
        "accounts": [_account(a) for a in accounts],
        "chats": [_chat(c) for c in chats],
        "keyword_sets": [
            {"name": k.name, "keywords": list(k.keywords), "exclude": list(k.exclude)} for k in sets
        ],
        "campaigns": [_campaign(c, names) for c in campaigns],
    }
    body = yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)
    return HEADER + body


def _account(account: Account) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": account.name,
        "role": account.role,
        "status": _configured_status(account.status),
    }
    if account.phone:
        out["phone"] = account.phone
    if account.daily_cap is not None:
        out["daily_cap"] = account.daily_cap
    return out


def _configured_status(status: str) -> str:
    # banned / revoked are observed states, not configuration; the file keeps what an admin sets.
    return status if status in ("active", "paused") else "active"


def _chat(chat: Chat) -> dict[str, Any]:
    out: dict[str, Any] = {"ref": chat.ref}
    if chat.title:
        out["title"] = chat.title
    if chat.own:
        out["own"] = True
    if chat.scene_vars:
        out["vars"] = dict(chat.scene_vars)
    return out


def _campaign(campaign: Campaign, names: dict[int, str]) -> dict[str, Any]:
    links = campaign.account_links
    return {
        "name": campaign.name,
        "mode": campaign.mode,
        "status": campaign.status,
        "keyword_sets": [k.name for k in campaign.keyword_sets],
        "chats": [c.ref for c in campaign.chats],
        "parser_accounts": [names[x.account_id] for x in links if x.role == "parser"],
        "manager_accounts": [names[x.account_id] for x in links if x.role == "manager"],
        **({"outreach": campaign.outreach} if campaign.outreach else {}),
        **({"intent": campaign.intent} if campaign.intent else {}),
    }
