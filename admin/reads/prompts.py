"""A campaign's prompt versions as people compare them: newest first, how many messages each
sent and how many of those conversations answered; a side-by-side diff of two versions; and a
preview of what the model is given for a real lead of the campaign.

The preview builds the prompt's inputs the way the manager does for a first message
(``manager.conversations`` → ``WriteRequest`` → ``manager.writers.llm.chat_messages``): the
campaign's offer, the lead's message, chat and profile snapshot, and what was said so far, through
the pure ``manager.prompts`` and ``manager.spintax`` helpers only."""

from __future__ import annotations

import difflib
import random
from dataclasses import dataclass
from datetime import datetime
from itertools import zip_longest

from sqlalchemy import and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.db.models import Conversation, ConversationMessage, Lead, PromptTemplate
from core.outreach import OutreachPolicy
from manager.prompts import Profile, PromptInputs, Turn, build_messages, template_version
from manager.spintax import expand, fill

PICKABLE_LEADS = 50  # the newest leads offered for a preview
VARIANTS = 4  # variations of each offline template shown
SPOKEN = ("received", "scheduled", "queued", "sent")  # the manager's history (store.history)


@dataclass(frozen=True)
class PromptVersion:
    version: str
    source: str
    created_at: datetime | None  # None: current, never stored yet
    sent: int  # messages written with it that went out
    conversations: int  # conversations it wrote to
    replied: int  # ... of which the lead answered after it

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.conversations if self.conversations else None


async def versions(session: AsyncSession, campaign_id: int, current: str) -> list[PromptVersion]:
    """Every prompt the campaign has had, newest first; the current one even before it is
    stored (a campaign still on the default prompt)."""
    rows = (
        await session.scalars(
            select(PromptTemplate)
            .where(PromptTemplate.campaign_id == campaign_id)
            .order_by(PromptTemplate.created_at.desc(), PromptTemplate.id.desc())
        )
    ).all()
    stats = await _stats(session, campaign_id)
    found = [
        PromptVersion(r.version, r.source, r.created_at, *stats.get(r.version, (0, 0, 0)))
        for r in rows
    ]
    now = template_version(current)
    if all(v.version != now for v in found):
        found.insert(0, PromptVersion(now, current, None, *stats.get(now, (0, 0, 0))))
    return found


async def _stats(session: AsyncSession, campaign_id: int) -> dict[str, tuple[int, int, int]]:
    """Per version: messages sent, conversations written to, conversations answered after it."""
    out = aliased(ConversationMessage)
    first = (
        select(
            out.template_version.label("version"),
            out.conversation_id.label("conversation_id"),
            func.count().label("sent"),
            func.min(out.id).label("first_id"),
        )
        .join(Conversation, Conversation.id == out.conversation_id)
        .where(
            Conversation.campaign_id == campaign_id,
            out.direction == "out",
            out.status == "sent",
            out.template_version.is_not(None),
        )
        .group_by(out.template_version, out.conversation_id)
        .subquery()
    )
    answered = (
        select(ConversationMessage.id)
        .where(
            and_(
                ConversationMessage.conversation_id == first.c.conversation_id,
                ConversationMessage.direction == "in",
                ConversationMessage.id > first.c.first_id,
            )
        )
        .exists()
    )
    query = select(
        first.c.version,
        func.sum(first.c.sent),
        func.count(),
        func.sum(case((answered, 1), else_=0)),
    ).group_by(first.c.version)
    return {
        str(version): (int(sent or 0), int(talks or 0), int(replied or 0))
        for version, sent, talks, replied in await session.execute(query)
    }


@dataclass(frozen=True)
class DiffRow:
    kind: str  # same, changed, removed, added
    left_no: int | None
    left: str
    right_no: int | None
    right: str


def diff(older: str, newer: str) -> list[DiffRow]:
    """Side by side, line by line: what ``newer`` changed in ``older``."""
    left, right = older.splitlines(), newer.splitlines()
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            rows += [
                DiffRow("same", a0 + i + 1, left[a0 + i], b0 + i + 1, right[b0 + i])
                for i in range(a1 - a0)
            ]
            continue
        for a, b in zip_longest(range(a0, a1), range(b0, b1)):
            rows.append(_side_by_side(a, left, b, right))
    return rows


def _side_by_side(a: int | None, left: list[str], b: int | None, right: list[str]) -> DiffRow:
    """One changed line pair, or a line only one side has."""
    if a is None:
        assert b is not None  # noqa: S101 - zip_longest gives at least one side
        return DiffRow("added", None, "", b + 1, right[b])
    if b is None:
        return DiffRow("removed", a + 1, left[a], None, "")
    return DiffRow("changed", a + 1, left[a], b + 1, right[b])


@dataclass(frozen=True)
class LeadChoice:
    id: int
    label: str


async def lead_choices(session: AsyncSession, campaign_id: int) -> list[LeadChoice]:
    leads = await session.scalars(
        select(Lead)
        .where(Lead.campaign_id == campaign_id)
        .order_by(Lead.first_seen_at.desc(), Lead.id.desc())
        .limit(PICKABLE_LEADS)
    )
    return [LeadChoice(lead.id, _label(lead)) for lead in leads]


def _label(lead: Lead) -> str:
    name = profile_of(lead).name or (f"@{lead.username}" if lead.username else "")
    return f"{name or lead.telegram_user_id} — {lead.text[:60]}"


def profile_of(lead: Lead) -> Profile:
    """The lead's profile snapshot as the manager reads it (``manager.conversations._profile``)."""
    raw = lead.profile or {}
    name = " ".join(str(raw.get(k) or "") for k in ("first_name", "last_name")).strip()
    return Profile(
        name=name, username=str(raw.get("username") or ""), bio=str(raw.get("bio") or "")
    )


@dataclass(frozen=True)
class Preview:
    lead: Lead
    messages: list[dict[str, str]]  # what the model is sent: system, then the data
    variants: list[tuple[str, list[str]]]  # each offline template and texts it gives this lead


async def preview(
    session: AsyncSession, policy: OutreachPolicy, prompt: str, lead: Lead
) -> Preview:
    """``prompt`` rendered for ``lead`` (``TemplateProblem`` if it cannot render), and the
    campaign's offline templates filled in for them."""
    history = await _history(session, lead.id)
    inputs = PromptInputs(
        offer=policy.offer,
        lead_message=lead.text,
        chat=lead.chat_ref or "",
        profile=profile_of(lead),
        history=history,
    )
    messages = build_messages(
        system_template=prompt, inputs=inputs, history_limit=policy.history_turns
    )
    return Preview(lead, messages, _variants(policy, lead))


async def _history(session: AsyncSession, lead_id: int) -> tuple[Turn, ...]:
    rows = await session.execute(
        select(ConversationMessage.direction, ConversationMessage.text)
        .join(Conversation, Conversation.id == ConversationMessage.conversation_id)
        .where(Conversation.lead_id == lead_id, ConversationMessage.status.in_(SPOKEN))
        .order_by(ConversationMessage.id)
    )
    return tuple(
        Turn(role="lead" if direction == "in" else "manager", text=text) for direction, text in rows
    )


def _variants(policy: OutreachPolicy, lead: Lead) -> list[tuple[str, list[str]]]:
    """As the template writer fills them (``manager.writers.templates``): a few variations each,
    seeded by the lead, so the same lead shows the same texts."""
    profile = profile_of(lead)
    fields = {
        "name": profile.name,
        "username": profile.username,
        "offer": policy.offer,
        "chat": lead.chat_ref or "",
    }
    shown: list[tuple[str, list[str]]] = []
    for source in (*policy.templates, *policy.follow_ups):
        texts: list[str] = []
        for n in range(VARIANTS * 3):  # a template with few variations repeats: keep distinct
            try:
                text = fill(expand(source, random.Random(lead.id * 1000 + n)), fields).strip()
            except ValueError as exc:
                text = f"⚠ {exc}"
            if text not in texts:
                texts.append(text)
            if len(texts) == VARIANTS:
                break
        shown.append((source, texts))
    return shown
