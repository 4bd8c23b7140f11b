"""A campaign's prompt and offline templates: save a new prompt (or bring back an earlier one)
with the workspace file's validation (``OutreachSpec``: the template line and the reason), keep
its version as the manager does (``prompt_templates``, by content hash), audit the change and
announce it (``config.changed``) so the manager writes with it from the next message on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.api.fields import has_control
from admin.setup.keyword_sets import SetupError
from admin.workspace.spec import OutreachSpec
from core.access import Actor
from core.audit import record
from core.db.models import Campaign, PromptTemplate
from core.db.upsert import insert_ignore
from core.events import ConfigChanged, Event
from core.outbox import add_to_outbox
from core.outreach import OutreachPolicy
from manager.prompts import template_version


async def campaign_of(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise SetupError(f"campaign {campaign_id} does not exist", missing=True)
    return campaign


def policy_of(campaign: Campaign) -> OutreachPolicy:
    """The campaign's outreach settings as the manager reads them (defaults filled in);
    ``SetupError`` for settings stored before a rule existed, which the manager refuses too."""
    try:
        return OutreachPolicy.model_validate(campaign.outreach or {})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "outreach"
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise SetupError(
            f"the campaign {campaign.name} has invalid outreach settings ({where}: {reason}); "
            "fix them on the campaign's page or in the workspace file"
        ) from None


def parse_prompt(
    campaign: Campaign, prompt: str, templates: Sequence[str] | None = None
) -> OutreachSpec:
    """The campaign's outreach block with the new prompt (and templates, when given), checked
    by the workspace file's rules; ``SetupError`` naming the field and the template line."""
    if not prompt.strip():
        raise SetupError("write the prompt: the instructions the model follows", field="prompt")
    # Before anything stores it: PostgreSQL refuses a NUL (a 500 before), and no other control
    # character but line breaks and tabs belongs in instructions a person typed.
    if has_control(prompt) or any(has_control(t) for t in templates or ()):
        field = "prompt" if has_control(prompt) else "templates"
        raise SetupError(
            "a control character (not a line break or tab) cannot be typed here; remove it",
            field=field,
        )
    raw: dict[str, Any] = {**(campaign.outreach or {}), "prompt": prompt.replace("\r\n", "\n")}
    if templates is not None:
        raw["templates"] = [t for t in templates if t.strip()]
    try:
        return OutreachSpec.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        reason = str(error["msg"]).removeprefix("Value error, ")
        field = str(error["loc"][0]) if error["loc"] else ""
        if not field:  # a rule across fields: the one it names
            field = "templates" if reason.startswith("templates") else "prompt"
        if field not in ("prompt", "templates"):  # stored settings the form does not show
            reason = f"the campaign's {field}: {reason}"
        shown = field if field in ("prompt", "templates") else "prompt"
        raise SetupError(reason, field=shown) from None


async def save_prompt(
    session: AsyncSession,
    actor: Actor,
    campaign: Campaign,
    spec: OutreachSpec,
    *,
    action: str = "prompt_changed",
) -> str:
    """Store the prompt as current, record its version; returns the version."""
    version = template_version(spec.prompt)
    before = template_version(policy_of(campaign).prompt)
    # The one the campaign had until now gets its row too, so "use this version" can bring it
    # back even when no message was written with it (the default prompt, say).
    await _remember(session, campaign.id, policy_of(campaign).prompt)
    await _remember(session, campaign.id, spec.prompt)
    campaign.outreach = spec.model_dump(mode="json", exclude_defaults=True)
    await session.flush()
    record(session, action, actor=actor, target=campaign.name, version=version, before=before)
    reason = f"campaign {campaign.name} prompt {version}"
    await add_to_outbox(session, Event.of(ConfigChanged(reason=reason)))
    return version


async def _remember(session: AsyncSession, campaign_id: int, source: str) -> None:
    """The manager's own idempotent insert (``manager.store.remember_template``)."""
    values = {"campaign_id": campaign_id, "version": template_version(source), "source": source}
    await insert_ignore(session, PromptTemplate, values)


async def stored_version(session: AsyncSession, campaign_id: int, version: str) -> PromptTemplate:
    found = await session.scalar(
        select(PromptTemplate).where(
            PromptTemplate.campaign_id == campaign_id, PromptTemplate.version == version
        )
    )
    if found is None:
        raise SetupError(f"campaign {campaign_id} has no prompt version {version!r}", missing=True)
    return found


async def use_version(session: AsyncSession, actor: Actor, campaign_id: int, version: str) -> str:
    """Make an earlier prompt current again (a saved change like any other)."""
    campaign = await campaign_of(session, campaign_id)
    earlier = await stored_version(session, campaign_id, version)
    spec = parse_prompt(campaign, earlier.source)
    return await save_prompt(session, actor, campaign, spec, action="prompt_restored")


async def version_source(session: AsyncSession, campaign: Campaign, version: str) -> str:
    """The text of one of the campaign's versions, the current one included."""
    current = policy_of(campaign).prompt
    if version == template_version(current):
        return current
    return (await stored_version(session, campaign.id, version)).source
