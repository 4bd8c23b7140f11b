"""The operator's actions over HTTP: each becomes one ``OperatorCommand`` that the manager carries
out (``manager.operator``); the actor is the signed-in user, never a field of the body."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from sqlalchemy import func, select

from admin.access.deps import Operator, Viewer
from admin.api.deps import BusDep, PageDep, SessionDep
from admin.api.fields import DB_INT_MAX, TELEGRAM_ID_MAX, JsonInt, MessageText, OneLine
from admin.api.schemas import MessageRead, Page, Timestamp, ValidationErrorRead
from core.access import Actor
from core.db.models import Contact, ConversationMessage
from core.operator_commands import Action, OperatorCommand, OperatorResult, send_operator_command

router = APIRouter(tags=["conversations"])
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
TelegramUserId = Annotated[int, Path(ge=1, le=TELEGRAM_ID_MAX)]
_STATUS = {"missing": 404, "conflict": 409, "unavailable": 503}
REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such draft, conversation or user"},
    409: {"description": "the state changed: already decided (by whom, when), opted out, …"},
    422: {
        "model": ValidationErrorRead,
        "description": "invalid input, or the text fails the output checks (field `text`)",
    },
    503: {"description": "the manager service did not answer; nothing was done"},
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str | None = Field(
        None,
        max_length=64,
        deprecated=True,
        description="ignored: the actor is always the signed-in user",
    )


class Approval(_Body):
    text: MessageText | None = Field(None, min_length=1, max_length=4096, description="edited")
    override_checks: StrictBool = Field(
        False, description="send although the edit fails the checks"
    )


class Rejection(_Body):
    reason: OneLine = Field("", max_length=500)


class ManualMessage(_Body):
    text: MessageText = Field(min_length=1, max_length=4096)
    override_checks: StrictBool = False


class DoNotContact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    telegram_user_id: JsonInt = Field(ge=1, le=TELEGRAM_ID_MAX)
    reason: OneLine = Field("", max_length=500)


class DoNotContactRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    telegram_user_id: int
    dnc_reason: str | None
    dnc_at: Timestamp | None


async def _run(bus: BusDep, actor: Actor, action: Action, **fields: Any) -> OperatorResult:
    result = await send_operator_command(bus, OperatorCommand(action=action, actor=actor, **fields))
    if result.outcome == "checks_failed":
        reasons = [{"field": "text", "reason": p} for p in result.problems]
        hint = {"field": "override_checks", "reason": f"{result.detail} (override_checks: true)"}
        raise HTTPException(422, [*reasons, hint])
    if result.outcome != "done":
        raise HTTPException(_STATUS[result.outcome], result.detail)
    return result


async def _message(session: SessionDep, message_id: int | None) -> MessageRead:
    row = await session.get(ConversationMessage, message_id) if message_id else None
    if row is None:  # the manager just made or changed it; gone means deleted since
        raise HTTPException(404, f"message {message_id} no longer exists")
    return MessageRead.model_validate(row)


@router.post("/drafts/{message_id}/approve", response_model=MessageRead, responses=REFUSALS)
async def approve(
    actor: Operator, bus: BusDep, session: SessionDep, message_id: Id, body: Approval
) -> MessageRead:
    """Send the draft, or the edited text, at the account's next allowed time. An edit is
    checked like a model's draft; `override_checks` sends it anyway (audited)."""
    result = await _run(
        bus,
        actor,
        "approve",
        message_id=message_id,
        text=body.text,
        override_checks=body.override_checks,
    )
    return await _message(session, result.message_id)


@router.post("/drafts/{message_id}/reject", status_code=204, responses=REFUSALS)
async def reject(actor: Operator, bus: BusDep, message_id: Id, body: Rejection) -> None:
    """Nothing is sent; a rejected first message frees the person for other campaigns."""
    await _run(bus, actor, "reject", message_id=message_id, reason=body.reason or None)


@router.post("/conversations/{conversation_id}/takeover", status_code=204, responses=REFUSALS)
async def take_over(actor: Operator, bus: BusDep, conversation_id: Id, body: _Body) -> None:
    """Stop automatic replies; a person answers from here (publishes conversation.handoff)."""
    await _run(bus, actor, "take_over", conversation_id=conversation_id)


@router.post("/conversations/{conversation_id}/handback", status_code=204, responses=REFUSALS)
async def hand_back(actor: Operator, bus: BusDep, conversation_id: Id, body: _Body) -> None:
    """Automation answers the lead's next reply again."""
    await _run(bus, actor, "hand_back", conversation_id=conversation_id)


@router.post(
    "/conversations/{conversation_id}/messages", response_model=MessageRead, responses=REFUSALS
)
async def write_by_hand(
    actor: Operator, bus: BusDep, session: SessionDep, conversation_id: Id, body: ManualMessage
) -> MessageRead:
    """Send your own message in a conversation you took over; it goes at once."""
    result = await _run(
        bus,
        actor,
        "write",
        conversation_id=conversation_id,
        text=body.text,
        override_checks=body.override_checks,
    )
    return await _message(session, result.message_id)


@router.get("/do-not-contact", response_model=Page[DoNotContactRead])
async def do_not_contact_list(
    _: Viewer, session: SessionDep, page: PageDep
) -> Page[DoNotContactRead]:
    """People no campaign may write to, the most recent first."""
    query = select(Contact).where(Contact.do_not_contact.is_(True))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Contact.dnc_at.desc(), Contact.telegram_user_id)
        .limit(page.limit)
        .offset(page.offset)
    )
    items = [DoNotContactRead.model_validate(row) for row in rows]
    return Page(items=items, total=total or 0, limit=page.limit, offset=page.offset)


@router.post("/do-not-contact", status_code=204, responses=REFUSALS)
async def add_do_not_contact(actor: Operator, bus: BusDep, body: DoNotContact) -> None:
    """No campaign writes to this person again; whatever is pending for them is cancelled."""
    reason = body.reason or None
    await _run(bus, actor, "do_not_contact", telegram_user_id=body.telegram_user_id, reason=reason)


@router.delete("/do-not-contact/{telegram_user_id}", status_code=204, responses=REFUSALS)
async def remove_do_not_contact(
    actor: Operator, bus: BusDep, telegram_user_id: TelegramUserId
) -> None:
    """New campaigns may write to this person again (ended conversations stay ended)."""
    await _run(bus, actor, "allow_contact", telegram_user_id=telegram_user_id)
