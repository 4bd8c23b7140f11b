"""Apply a workspace file: check every reference first, then upsert everything in the caller's
transaction, so a file with an error writes nothing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.workspace.spec import AccountSpec, CampaignSpec, WorkspaceSpec
from core.chatref import normalize_chat_ref
from core.db.models import (
    Account,
    Campaign,
    CampaignAccount,
    Chat,
    KeywordSet,
)
from core.events import ConfigChanged, Event
from core.outbox import add_to_outbox
from core.security import SecretBox
from core.yamlspec import (
    LocatedData,
    SpecError,
    SpecProblem,
    read_text,
    read_yaml,
    validate,
)


@dataclass
class ApplySummary:
    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)


def read_workspace(path: Path) -> tuple[WorkspaceSpec, LocatedData]:
    """Parse and validate a workspace file; SpecError names file, line and field of every
    problem at once, duplicate names included even where an item has other errors."""
    return parse_workspace(read_text(path), str(path))


def parse_workspace(text: str, file: str) -> tuple[WorkspaceSpec, LocatedData]:
    """``read_workspace`` for text already in memory (pasted or uploaded in the panel), naming
    ``file`` in its problems."""
    located = read_yaml(text, file)
    return validate(WorkspaceSpec, located, _raw_duplicates(located)), located


async def apply_workspace(
    *, session: AsyncSession, spec: WorkspaceSpec, located: LocatedData, box: SecretBox
) -> ApplySummary:
    """Check references against the file and the database, then upsert. Never commits."""
    accounts = {a.name: a for a in (await session.scalars(select(Account))).all()}
    set_names = set((await session.scalars(select(KeywordSet.name))).all())
    _check(spec, located, accounts, set_names)
    summary = ApplySummary()
    await _upsert_accounts(session, spec.accounts, accounts, box, summary)
    chats = await _upsert_chats(session, spec, summary)
    sets = await _upsert_keyword_sets(session, spec, summary)
    for campaign in spec.campaigns:
        await _upsert_campaign(session, campaign, accounts, chats, sets, summary, box)
    await add_to_outbox(session, Event.of(ConfigChanged(reason="workspace applied")))
    return summary


def _check(
    spec: WorkspaceSpec, located: LocatedData, accounts: dict[str, Account], set_names: set[str]
) -> None:
    problems = [
        *_duplicates(located, "accounts", enumerate(a.name for a in spec.accounts)),
        *_duplicates(located, "chats", enumerate(c.ref for c in spec.chats)),
        *_duplicates(located, "keyword_sets", enumerate(k.name for k in spec.keyword_sets)),
        *_duplicates(located, "campaigns", enumerate(c.name for c in spec.campaigns)),
    ]
    in_file: dict[str, str] = {}  # the first definition counts, as the duplicate problem says
    for acc_spec in spec.accounts:
        in_file.setdefault(acc_spec.name, acc_spec.role)
    roles = {name: acc.role for name, acc in accounts.items()} | in_file
    for i, acc_spec in enumerate(spec.accounts):
        if acc_spec.session is None and acc_spec.name not in accounts:
            problems.append(located.problem(("accounts", i), "a new account needs a session"))
    known_sets = set_names | {k.name for k in spec.keyword_sets}
    for i, campaign in enumerate(spec.campaigns):
        problems += _campaign_problems(located, i, campaign, known_sets, roles)
    if problems:
        raise SpecError(problems)


_KEYS = {"accounts": "name", "chats": "ref", "keyword_sets": "name", "campaigns": "name"}


def _raw_duplicates(located: LocatedData) -> list[SpecProblem]:
    """Duplicate names read from the data before validation, so that an item with another
    error still counts: names stripped, chat references normalized where they parse."""
    data = located.data if isinstance(located.data, dict) else {}
    problems = []
    for section, key in _KEYS.items():
        items = data.get(section)
        names = []
        for i, item in enumerate(items if isinstance(items, list) else []):
            name = item.get(key) if isinstance(item, dict) else None
            if isinstance(name, str) and name.strip():
                names.append((i, _same_chat(name) if section == "chats" else name.strip()))
        problems += _duplicates(located, section, names)
    return problems


def _same_chat(ref: str) -> str:
    try:
        return normalize_chat_ref(ref)
    except ValueError:
        return ref.strip()


def _duplicates(
    located: LocatedData, section: str, names: Iterable[tuple[int, str]]
) -> list[SpecProblem]:
    seen: dict[str, int] = {}
    problems = []
    for i, name in names:
        if name in seen:
            reason = f"'{name}' is already defined in {section}[{seen[name]}]"
            problems.append(located.problem((section, i), reason))
        seen.setdefault(name, i)
    return problems


def _campaign_problems(
    located: LocatedData,
    index: int,
    campaign: CampaignSpec,
    known_sets: set[str],
    roles: dict[str, str],
) -> list[SpecProblem]:
    problems = []
    for j, name in enumerate(campaign.keyword_sets):
        if name not in known_sets:
            known = ", ".join(sorted(known_sets)) or "none"
            reason = f"unknown keyword set '{name}'; known: {known}"
            problems.append(located.problem(("campaigns", index, "keyword_sets", j), reason))
    for section, role in (("parser_accounts", "parser"), ("manager_accounts", "manager")):
        for j, name in enumerate(getattr(campaign, section)):
            path = ("campaigns", index, section, j)
            if name not in roles:
                problems.append(located.problem(path, f"unknown account '{name}'"))
            elif roles[name] != role:
                reason = f"account '{name}' has role '{roles[name]}', not '{role}'"
                problems.append(located.problem(path, reason))
    return problems


async def _upsert_accounts(
    session: AsyncSession,
    specs: list[AccountSpec],
    existing: dict[str, Account],
    box: SecretBox,
    summary: ApplySummary,
) -> None:
    for spec in specs:
        account = existing.get(spec.name)
        if account is None:
            assert spec.session is not None  # noqa: S101 - _check refused new accounts without one
            account = Account(name=spec.name, session_secret="")
            session.add(account)
            existing[spec.name] = account
            summary.created["accounts"] += 1
        else:
            summary.updated["accounts"] += 1
        account.role = spec.role
        account.status = spec.status if account.status in ("active", "paused") else account.status
        if spec.session is not None:
            account.session_secret = box.encrypt(spec.session.get_secret_value())
        if spec.proxy is not None:  # absent: keep the stored one, as with sessions
            account.proxy_secret = box.encrypt(spec.proxy.get_secret_value())
        if spec.phone is not None:  # the number it last logged in with stays until replaced
            account.phone = spec.phone
        account.daily_cap = spec.daily_cap
    await session.flush()


async def _upsert_chats(
    session: AsyncSession, spec: WorkspaceSpec, summary: ApplySummary
) -> dict[str, Chat]:
    chats = {c.ref: c for c in (await session.scalars(select(Chat))).all()}
    titles = {c.ref: c.title for c in spec.chats}
    specs = {c.ref: c for c in spec.chats}
    refs = list(titles) + [ref for c in spec.campaigns for ref in c.chats]
    for ref in dict.fromkeys(refs):
        chat = chats.get(ref)
        if chat is None:
            chat = chats[ref] = Chat(ref=ref)
            session.add(chat)
            summary.created["chats"] += 1
        elif ref in titles:
            summary.updated["chats"] += 1
        if titles.get(ref):
            chat.title = titles[ref]
        if (chat_spec := specs.get(ref)) is not None:
            chat.own = chat_spec.own
            chat.scene_vars = dict(chat_spec.vars)
    await session.flush()
    return chats


async def _upsert_keyword_sets(
    session: AsyncSession, spec: WorkspaceSpec, summary: ApplySummary
) -> dict[str, KeywordSet]:
    sets = {k.name: k for k in (await session.scalars(select(KeywordSet))).all()}
    for set_spec in spec.keyword_sets:
        keyword_set = sets.get(set_spec.name)
        if keyword_set is None:
            keyword_set = sets[set_spec.name] = KeywordSet(name=set_spec.name)
            session.add(keyword_set)
            summary.created["keyword_sets"] += 1
        else:
            summary.updated["keyword_sets"] += 1
        keyword_set.keywords = list(set_spec.keywords)
        keyword_set.exclude = list(set_spec.exclude)
    await session.flush()
    return sets


async def _upsert_campaign(
    session: AsyncSession,
    spec: CampaignSpec,
    accounts: dict[str, Account],
    chats: dict[str, Chat],
    sets: dict[str, KeywordSet],
    summary: ApplySummary,
    box: SecretBox,
) -> None:
    campaign = await session.scalar(select(Campaign).where(Campaign.name == spec.name))
    if campaign is None:
        campaign = Campaign(name=spec.name, chats=[], keyword_sets=[], account_links=[])
        session.add(campaign)
        summary.created["campaigns"] += 1
    else:
        summary.updated["campaigns"] += 1
    campaign.mode = spec.mode
    campaign.status = spec.status
    campaign.outreach = spec.outreach.model_dump(mode="json", exclude_defaults=True)
    campaign.intent = spec.intent.model_dump(mode="json", exclude_defaults=True)
    if spec.llm_api_key is not None:  # absent: keep the stored one, as with sessions
        campaign.llm_key_secret = box.encrypt(spec.llm_api_key.get_secret_value())
    campaign.chats = [chats[ref] for ref in dict.fromkeys(spec.chats)]
    campaign.keyword_sets = [sets[name] for name in dict.fromkeys(spec.keyword_sets)]
    links = [(accounts[n].id, "parser") for n in dict.fromkeys(spec.parser_accounts)]
    links += [(accounts[n].id, "manager") for n in dict.fromkeys(spec.manager_accounts)]
    campaign.account_links = [CampaignAccount(account_id=a, role=r) for a, r in links]
    await session.flush()
