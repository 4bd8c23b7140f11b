"""Importing a workspace file from the panel or the API: the CLI's reading and checks
(``parse_workspace``, ``apply_workspace``: the same file/line/field errors), a dry run that says
what would be created and updated and writes nothing, and the real thing in one transaction,
audited. A file with any error writes nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.workspace.apply import ApplySummary, apply_workspace, parse_workspace
from admin.workspace.spec import WorkspaceSpec
from core.access import Actor
from core.audit import record
from core.db import Database
from core.db.models import Account, Campaign, Chat, KeywordSet
from core.security import SecretBox
from core.yamlspec import MAX_BYTES, SpecError, SpecProblem

SECRET_FIELDS = ("session", "proxy", "llm_api_key")
_SECRET_VALUE = re.compile(rf"\b({'|'.join(SECRET_FIELDS)})(\s*:\s*)([^,}}\n#]+)")


def decode(raw: bytes, file: str) -> str:
    """An uploaded file as text, refused like ``core.yamlspec.read_text`` refuses a file."""
    if len(raw) > MAX_BYTES:
        line = raw.count(b"\n", 0, MAX_BYTES) + 1
        reason = f"the file is {len(raw):,} bytes, over the {MAX_BYTES:,}-byte limit"
        raise SpecError([SpecProblem(file, line, "", reason)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise SpecError([SpecProblem(file, line, "", "not UTF-8 text")]) from None


def masked(line: str) -> str:
    """A line of the file as the panel may show it: secret values hidden."""
    return _SECRET_VALUE.sub(lambda m: f"{m[1]}{m[2]}•••", line)


@dataclass
class Plan:
    """What a file does to the workspace, by kind: the names made and the names changed."""

    created: dict[str, list[str]] = field(default_factory=dict)
    updated: dict[str, list[str]] = field(default_factory=dict)
    summary: ApplySummary = field(default_factory=ApplySummary)
    applied: bool = False


async def import_workspace(
    db: Database, box: SecretBox, actor: Actor, text: str, file: str, *, dry_run: bool
) -> Plan:
    """Check ``text`` whole (``SpecError`` with every problem), then apply it — or, for a dry
    run, apply it in a transaction that is rolled back."""
    spec, located = parse_workspace(text, file)
    if dry_run:
        async with db.session() as session:
            try:
                plan = await _names(session, spec)
                plan.summary = await apply_workspace(
                    session=session, spec=spec, located=located, box=box
                )
            finally:
                await session.rollback()
        return plan
    async with db.transaction() as session:
        plan = await _names(session, spec)
        plan.summary = await apply_workspace(session=session, spec=spec, located=located, box=box)
        plan.applied = True
        record(
            session,
            "workspace_applied",
            actor=actor,
            target=file,
            created=dict(plan.summary.created),
            updated=dict(plan.summary.updated),
        )
    return plan


async def _names(session: AsyncSession, spec: WorkspaceSpec) -> Plan:
    """Which of the file's names exist already (read before anything is written)."""
    known = {
        "accounts": set(await session.scalars(select(Account.name))),
        "chats": set(await session.scalars(select(Chat.ref))),
        "keyword_sets": set(await session.scalars(select(KeywordSet.name))),
        "campaigns": set(await session.scalars(select(Campaign.name))),
    }
    named = {
        "accounts": [a.name for a in spec.accounts],
        "chats": [c.ref for c in spec.chats] + [r for c in spec.campaigns for r in c.chats],
        "keyword_sets": [k.name for k in spec.keyword_sets],
        "campaigns": [c.name for c in spec.campaigns],
    }
    plan = Plan()
    declared_chats = {c.ref for c in spec.chats}
    for kind, names in named.items():
        for name in dict.fromkeys(names):
            if name not in known[kind]:
                plan.created.setdefault(kind, []).append(name)
            elif kind != "chats" or name in declared_chats:  # a campaign's chat is only named
                plan.updated.setdefault(kind, []).append(name)
    return plan
