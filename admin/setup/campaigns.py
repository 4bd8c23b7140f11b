"""Campaigns: save (create or edit) with every outreach setting, start / pause / stop, delete.

Validation is the workspace file's (``CampaignSpec`` with its ``OutreachSpec``), so a campaign
saved here reads back the same in ``coolthing workspace export`` and a file, the API and the
form refuse the same things. Every change is audited and announced (``config.changed``): the
parser recompiles its rules and reassigns chats, the manager picks up waiting leads.

Statuses: ``active`` runs; ``paused`` makes no new leads and opens no new conversations
(conversations already open go on); ``stopped`` also means the manager sends nothing more."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.setup.keyword_sets import SetupError
from admin.workspace.spec import CampaignSpec
from core.access import Actor
from core.audit import record
from core.db.models import Account, Campaign, CampaignAccount, Chat, KeywordSet, Lead
from core.events import ConfigChanged, Event
from core.outbox import add_to_outbox
from core.outreach import OutreachPolicy
from core.security import SecretBox

STATUSES = ("active", "paused", "stopped")
ACTIONS = {"active": "campaign_started", "paused": "campaign_paused", "stopped": "campaign_stopped"}
OUTREACH_FIELDS = frozenset(OutreachPolicy.model_fields)


class CampaignRefused(SetupError):
    """Every field at fault with its reason (``outreach.<field>`` for the outreach block)."""

    def __init__(self, errors: dict[str, str]) -> None:
        field, reason = next(iter(errors.items()))
        super().__init__(reason, field=field)
        self.errors = errors


def parse_campaign(raw: Mapping[str, Any]) -> CampaignSpec:
    """The workspace file's rules; ``CampaignRefused`` names every field at fault, with the
    line of a list (or of a prompt template) where the error is."""
    try:
        return CampaignSpec.model_validate(dict(raw))
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field, reason = _where(error)
            errors.setdefault(field, reason)
        raise CampaignRefused(errors) from None


def _where(error: Any) -> tuple[str, str]:
    loc = [str(part) for part in error["loc"]]
    reason = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "too_short" and len(loc) == 1:
        reason = "choose at least one"
    if error["type"] == "extra_forbidden":
        reason = "is not a setting (a typo?)"
    if loc == ["outreach"] and reason.split(" ")[0] in OUTREACH_FIELDS:
        return f"outreach.{reason.split(' ')[0]}", reason  # a rule between two fields
    if loc[-1].isdigit():  # an item of a list: its line, counted from 1
        return ".".join(loc[:-1]), f"line {int(loc[-1]) + 1}: {reason}"
    return ".".join(loc) or "name", reason


async def save_campaign(
    session: AsyncSession,
    actor: Actor,
    spec: CampaignSpec,
    box: SecretBox,
    *,
    campaign_id: int | None,
    forget_llm_key: bool = False,
) -> Campaign:
    """Write ``spec``; a new campaign starts ``paused`` unless the spec says otherwise through
    the API (the form's campaigns are started with their button)."""
    same_name = await session.scalar(select(Campaign).where(Campaign.name == spec.name))
    if same_name is not None and same_name.id != campaign_id:
        raise CampaignRefused({"name": f"the name {spec.name!r} is taken by another campaign"})
    links = await _account_links(session, spec)
    sets = await _keyword_sets(session, spec.keyword_sets)
    chats = await _chats(session, spec.chats)
    if campaign_id is None:
        campaign = Campaign(name=spec.name, chats=[], keyword_sets=[], account_links=[])
        session.add(campaign)
    else:
        found = await session.get(Campaign, campaign_id)
        if found is None:
            raise SetupError(f"campaign {campaign_id} does not exist", missing=True)
        campaign = found
    campaign.name = spec.name
    campaign.mode = spec.mode
    campaign.status = spec.status
    campaign.outreach = spec.outreach.model_dump(mode="json", exclude_defaults=True)
    campaign.intent = spec.intent.model_dump(mode="json", exclude_defaults=True)
    if spec.llm_api_key is not None:  # absent: keep the stored one, as the workspace file does
        campaign.llm_key_secret = box.encrypt(spec.llm_api_key.get_secret_value())
    elif forget_llm_key:
        campaign.llm_key_secret = None
    campaign.chats = chats
    campaign.keyword_sets = sets
    campaign.account_links = [CampaignAccount(account_id=a, role=r) for a, r in links]
    await session.flush()
    action = "campaign_created" if campaign_id is None else "campaign_changed"
    record(session, action, actor=actor, target=spec.name, status=spec.status)
    await add_to_outbox(session, Event.of(ConfigChanged(reason=f"campaign {spec.name} saved")))
    return campaign


async def _account_links(session: AsyncSession, spec: CampaignSpec) -> list[tuple[int, str]]:
    wanted = [*spec.parser_accounts, *spec.manager_accounts]
    rows = await session.execute(
        select(Account.name, Account.id, Account.role).where(Account.name.in_(wanted))
    )
    accounts = {name: (account_id, role) for name, account_id, role in rows}
    errors: dict[str, str] = {}
    links: list[tuple[int, str]] = []
    for field, role in (("parser_accounts", "parser"), ("manager_accounts", "manager")):
        for name in dict.fromkeys(getattr(spec, field)):
            if name not in accounts:
                errors.setdefault(field, f"unknown account {name!r}")
            elif accounts[name][1] != role:
                reason = f"account {name!r} has role {accounts[name][1]!r}, not {role!r}"
                errors.setdefault(field, reason)
            else:
                links.append((accounts[name][0], role))
    if errors:
        raise CampaignRefused(errors)
    return links


async def _keyword_sets(session: AsyncSession, names: list[str]) -> list[KeywordSet]:
    found = {
        s.name: s
        for s in await session.scalars(select(KeywordSet).where(KeywordSet.name.in_(names)))
    }
    unknown = [name for name in dict.fromkeys(names) if name not in found]
    if unknown:
        raise CampaignRefused({"keyword_sets": f"unknown keyword set {unknown[0]!r}"})
    return [found[name] for name in dict.fromkeys(names)]


async def _chats(session: AsyncSession, refs: list[str]) -> list[Chat]:
    """The chats by reference; one not in the list yet is added, as the workspace file does."""
    found = {c.ref: c for c in await session.scalars(select(Chat).where(Chat.ref.in_(refs)))}
    for ref in dict.fromkeys(refs):
        if ref not in found:
            found[ref] = Chat(ref=ref)
            session.add(found[ref])
    return [found[ref] for ref in dict.fromkeys(refs)]


async def set_status(session: AsyncSession, actor: Actor, campaign_id: int, status: str) -> None:
    """Start (``active``), pause or stop; saying the status it already has changes nothing."""
    if status not in STATUSES:
        raise SetupError(f"{status!r} is not a campaign status", field="status")
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise SetupError(f"campaign {campaign_id} does not exist", missing=True)
    if campaign.status == status:
        return
    was, campaign.status = campaign.status, status
    record(session, ACTIONS[status], actor=actor, target=campaign.name, was=was)
    reason = f"campaign {campaign.name} {status}"
    await add_to_outbox(session, Event.of(ConfigChanged(reason=reason)))


async def delete_campaign(session: AsyncSession, actor: Actor, campaign_id: int) -> None:
    """Refused while it runs, and once it has leads: deleting would take its leads and
    conversations with it; stopping keeps them."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise SetupError(f"campaign {campaign_id} does not exist", missing=True)
    if campaign.status == "active":
        raise SetupError(f"{campaign.name!r} is running: stop it first")
    leads = await session.scalar(select(func.count()).where(Lead.campaign_id == campaign_id))
    if leads:
        raise SetupError(
            f"{campaign.name!r} has {leads} leads, which would go with it: stop it instead "
            "(a stopped campaign keeps its leads and conversations)"
        )
    await session.delete(campaign)
    record(session, "campaign_deleted", actor=actor, target=campaign.name)
    await add_to_outbox(
        session, Event.of(ConfigChanged(reason=f"campaign {campaign.name} deleted"))
    )
