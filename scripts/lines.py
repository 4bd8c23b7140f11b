"""A scene's line made concrete and queued: which variant, which account, what it quotes, how
long it types — then ``command.send`` through the outbox in the transaction that records it.

Pacing lives here: an account's lines keep the minimum gap and the hourly cap across every run
(a line that would break them waits), a limited account's line waits for the limit, and the same
text is never queued twice in one chat within the repeat window (another variant is drawn; when
every draw repeats, the line is skipped and the history says why).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import Account
from core.db.scene_models import SceneRun, SceneRunLine, SceneVariantUse
from core.events import Event, SceneDelivery, SendMessage, account_routing_key, as_utc
from core.outbox import add_to_outbox
from core.scene_variants import seen_variants
from scripts.scenario import Rendered, Say, SayAt, Scene, VariationExhausted, render
from scripts.scenario import typing_seconds as default_typing

REROLLS = 12  # draws tried for a text not sent in the chat within the window
MAX_TYPING = 60.0  # SceneDelivery's bound


@dataclass(frozen=True)
class Pacing:
    scale: float  # the scene time scale
    min_gap: float  # seconds between an account's lines (before scaling)
    per_hour: int
    repeat_window: timedelta


@dataclass(frozen=True)
class Queued:
    line: SceneRunLine


@dataclass(frozen=True)
class Later:
    until: datetime
    why: str  # for the history: "flood_wait", "gap", "hourly"
    detail: str


@dataclass(frozen=True)
class Skipped:
    reason: str


@dataclass(frozen=True)
class Broken:
    reason: str  # the run cannot go on


Outcome = Queued | Later | Skipped | Broken


def text_hash(text: str) -> str:
    folded = " ".join(text.casefold().split())
    return hashlib.sha1(folded.encode()).hexdigest()[:16]  # noqa: S324 - a key, not a secret


async def _recent_hashes(
    session: AsyncSession, chat_id: int, since: datetime, hashes: list[str]
) -> set[str]:
    rows = await session.scalars(
        select(SceneRunLine.text_hash).where(
            SceneRunLine.chat_id == chat_id,
            SceneRunLine.text_hash.in_(hashes),
            SceneRunLine.status != "failed",
            SceneRunLine.due_at >= since,
        )
    )
    return set(rows)


async def _draw(
    session: AsyncSession, run: SceneRun, say: Say, pc: int, now: datetime, pacing: Pacing
) -> Rendered | Skipped | Broken:
    kept = [c.key for c in say.text.choices() if c.kind != "random"]
    history = await seen_variants(session, run.chat_id, kept)
    member = (run.state.get("member") or {}).get("name")
    # Other draws only matter when the first one may be refused for repeating a recent text.
    varies = next(say.text.choices(), None) is not None
    draws = REROLLS if varies and pacing.repeat_window > timedelta(0) else 1
    drafts: list[Rendered] = []
    try:
        for attempt in range(draws):
            rng = random.Random(f"{run.seed}:{pc}:{attempt}")
            drafts.append(
                render(say.text, rng=rng, variables=run.variables, member=member, history=history)
            )
    except VariationExhausted as exc:
        return Broken(str(exc))
    except KeyError as exc:
        return Broken(f"variable {{{exc.args[0]}}} has no value in this run")
    if pacing.repeat_window <= timedelta(0) or not drafts[0].text.strip():
        return drafts[0]
    seen = await _recent_hashes(
        session, run.chat_id, now - pacing.repeat_window, [text_hash(d.text) for d in drafts]
    )
    fresh = next((d for d in drafts if text_hash(d.text) not in seen), None)
    if fresh is None:
        hours = pacing.repeat_window.total_seconds() / 3600
        return Skipped(f"every variant of line {say.line} went out in this chat in {hours:g} h")
    return fresh


async def _account_ready(
    session: AsyncSession, account: Account | None, now: datetime, pacing: Pacing
) -> Later | Broken | None:
    if account is None:
        return Broken("the account of this role no longer exists")
    if account.status != "active":
        reason = f": {account.status_reason}" if account.status_reason else ""
        return Broken(f"account {account.name} is {account.status}{reason}")
    if account.flood_until is not None and as_utc(account.flood_until) > now:
        until = as_utc(account.flood_until)
        return Later(until, "flood_wait", f"account {account.name} is in a FloodWait")
    # One look at the account's latest lines answers both: the gap after the last one, and
    # whether the last hour already holds its cap.
    hour = timedelta(hours=1) * pacing.scale
    recent = [
        as_utc(due)
        for due in await session.scalars(
            select(SceneRunLine.due_at)
            .where(
                SceneRunLine.account_id == account.id,
                SceneRunLine.status != "failed",
                SceneRunLine.due_at > now - hour,
            )
            .order_by(SceneRunLine.due_at.desc())
            .limit(pacing.per_hour)
        )
    ]
    gap = timedelta(seconds=pacing.min_gap * pacing.scale)
    if recent and recent[0] + gap > now:
        return Later(recent[0] + gap, "gap", f"account {account.name} keeps its gap")
    if len(recent) >= pacing.per_hour:
        until = recent[-1] + hour
        return Later(until, "hourly", f"account {account.name} reached {pacing.per_hour} an hour")
    return None


async def _quoted(session: AsyncSession, run: SceneRun, say: Say, scene: Scene) -> int | None:
    """The Telegram message the line quotes: the member's, or an earlier line of this run (none
    when that line was on a branch not taken)."""
    if say.reply is None:
        return None
    if say.reply == "member":
        member: dict[str, Any] = run.state.get("member") or {}
        message_id = member.get("message_id")
        return int(message_id) if message_id is not None else None
    pc = next(
        (
            i
            for i, ins in enumerate(scene.program)
            if isinstance(ins, SayAt) and ins.say.id == say.reply
        ),
        None,
    )
    if pc is None:
        return None
    found = await session.scalar(
        select(SceneRunLine.telegram_message_id).where(
            SceneRunLine.run_id == run.id, SceneRunLine.pc == pc
        )
    )
    return int(found) if found is not None else None


def _typing(say: Say, text: str, scale: float) -> float:
    if say.typing_off:
        return 0.0
    seconds = say.typing if say.typing is not None else default_typing(text)
    return min(MAX_TYPING, seconds * scale)


async def queue_line(
    session: AsyncSession,
    run: SceneRun,
    scene: Scene,
    say: Say,
    now: datetime,
    pacing: Pacing,
    *,
    due: datetime,
) -> Outcome:
    """Record the run's line at its position and queue it, or say why not now (or not at all).
    ``due`` is when the scene wanted it (its typing starts then); the line keeps it as due_at."""
    account_id = int(run.cast[say.role])
    account = await session.get(Account, account_id)
    if (not_yet := await _account_ready(session, account, now, pacing)) is not None:
        return not_yet
    assert account is not None  # noqa: S101 - checked above
    retry = None
    if run.state.get("retry_pc") == run.pc:
        retry = await session.scalar(
            select(SceneRunLine).where(SceneRunLine.run_id == run.id, SceneRunLine.pc == run.pc)
        )
    if retry is not None:  # handed back after a long FloodWait: the same text, a new key
        retry.attempts += 1
        retry.idempotency_key = f"s{run.id}-p{run.pc}-t{retry.attempts}"
        retry.status, retry.due_at, retry.account_id = "queued", due, account_id
        await _send(session, run, retry)
        return Queued(retry)
    drawn = await _draw(session, run, say, run.pc, now, pacing)
    if isinstance(drawn, Skipped | Broken):
        return drawn
    attachment = None
    if say.photo or say.sticker:
        kind = "photo" if say.photo else "sticker"
        attachment = {"kind": kind, "ref": say.photo or say.sticker}
    line = SceneRunLine(
        run_id=run.id,
        chat_id=run.chat_id,
        pc=run.pc,
        line=say.line,
        role=say.role,
        account_id=account_id,
        text=drawn.text,
        text_hash=text_hash(drawn.text),
        reply_to=await _quoted(session, run, say, scene),
        attachment=attachment,
        typing_seconds=_typing(say, drawn.text, pacing.scale),
        picks=[list(pick) for pick in drawn.picks],
        idempotency_key=f"s{run.id}-p{run.pc}-t0",
        attempts=0,
        status="queued",
        due_at=due,
    )
    session.add(line)
    await session.flush()
    kept = {c.key for c in say.text.choices() if c.kind != "random"}
    for key, variant in drawn.picks:
        if key in kept:
            session.add(
                SceneVariantUse(
                    chat_id=run.chat_id,
                    scenario_id=run.scenario_id,
                    choice_key=key,
                    variant=variant,
                    run_id=run.id,
                    used_at=now,
                )
            )
    await _send(session, run, line)
    return Queued(line)


async def _send(session: AsyncSession, run: SceneRun, line: SceneRunLine) -> None:
    attachment: dict[str, Any] = line.attachment or {}
    command = SendMessage(
        idempotency_key=line.idempotency_key,
        account_id=line.account_id,
        campaign_id=0,
        conversation_id=0,
        message_id=line.id,
        peer_user_id=0,
        text=line.text,
        scene=SceneDelivery(
            run_id=run.id,
            chat_id=run.telegram_chat_id,
            chat_ref=run.chat_ref,
            reply_to=line.reply_to,
            attachment_kind=attachment.get("kind"),
            attachment_ref=attachment.get("ref"),
            typing_seconds=line.typing_seconds,
        ),
    )
    key = account_routing_key(line.account_id, SendMessage.NAME)
    await add_to_outbox(session, Event.of(command), routing_key=key)
