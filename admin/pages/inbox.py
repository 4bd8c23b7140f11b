"""The inbox: one list across every manager account, a conversation with its dialogue and
context, and the operator's decisions (approve, edit, reject, take over, write, hand back).

Decisions go to the manager as ``OperatorCommand``s, exactly as the JSON API sends them; the
actor is the signed-in user. Each answer re-renders the conversation fragment
(``inbox/_conversation.html``), the same template as on first load.
"""

from __future__ import annotations

from typing import Annotated, Any, get_args

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from admin.access.deps import Operator, Viewer
from admin.api.fields import DB_INT_MAX
from admin.pages.errors import page_error
from admin.pages.rendering import render, translations
from admin.pages.viewers import viewer_for
from admin.reads.choices import campaign_choices, manager_account_choices
from admin.reads.guardrail_state import GuardrailState, guardrail_state
from admin.reads.inbox import (
    ConversationView,
    InboxFilter,
    Need,
    conversation_view,
    inbox_page,
    needs_counts,
)
from admin.reads.paging import PAGE_SIZE
from core.access import Actor
from core.db import Database
from core.db.models import ConversationMessage
from core.operator_commands import Action, OperatorCommand, send_operator_command
from core.outreach import OutreachPolicy

router = APIRouter(include_in_schema=False)
Id = Annotated[int, Path(ge=1, le=DB_INT_MAX)]
OptionalId = Annotated[int | None, Query(ge=1, le=DB_INT_MAX)]
NEEDS = get_args(Need)


@router.get("/inbox")
async def inbox(
    actor: Viewer,
    request: Request,
    need: Annotated[Need, Query()] = "needs_approval",
    campaign: OptionalId = None,
    account: OptionalId = None,
    q: Annotated[str, Query(max_length=200)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    wanted = InboxFilter(need, campaign, account, q, offset)
    return await _page(request, actor, wanted, selected=None)


@router.get("/inbox/{conversation_id}")
async def conversation(actor: Viewer, request: Request, conversation_id: Id) -> Response:
    if request.headers.get("hx-target") == "dialogue":
        return await _dialogue(request, actor, conversation_id)
    return await _page(request, actor, InboxFilter(need="all"), selected=conversation_id)


async def _page(
    request: Request, actor: Actor, wanted: InboxFilter, selected: int | None
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        page = await inbox_page(session, wanted)
        counts = await needs_counts(session)
        view = await conversation_view(session, selected) if selected else None
        state = await _state(session, view) if view else None
        campaigns = await campaign_choices(session)
        accounts = await manager_account_choices(session)
    if selected is not None and view is None:
        return page_error(request, 404, f"conversation {selected} does not exist")
    context = {
        "page": page,
        "counts": counts,
        "view": view,
        "state": state,
        "needs": NEEDS,
        "campaigns": campaigns,
        "accounts": accounts,
        "page_size": PAGE_SIZE,
        "problems": [],
        "typed": "",
        "notice": "",
        "query": request.url.query,
    }
    return render(request, viewer, "inbox/page.html", context)


async def _dialogue(
    request: Request,
    actor: Actor,
    conversation_id: int,
    *,
    problems: list[str] | None = None,
    typed: str = "",
    notice: str = "",
    status: int = 200,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        view = await conversation_view(session, conversation_id)
        state = await _state(session, view) if view else None
    if view is None:
        return page_error(request, 404, f"conversation {conversation_id} does not exist")
    context = {
        "view": view,
        "state": state,
        "problems": problems or [],
        "typed": typed,
        "notice": notice,
    }
    return render(request, viewer, "inbox/_conversation.html", context, status=status)


async def _decide(
    request: Request,
    actor: Actor,
    shown: int,
    action: Action,
    *,
    typed: str = "",
    **fields: Any,
) -> Response:
    """Run one operator command and answer with the conversation as it is now: a refusal
    (already decided by someone, checks failed, manager not answering) is shown in place."""
    bus = request.app.state.bus
    result = await send_operator_command(bus, OperatorCommand(action=action, actor=actor, **fields))
    if result.outcome == "done":
        return await _dialogue(request, actor, shown)
    viewer = await viewer_for(request, actor)
    _ = translations(viewer.language).gettext
    problems = list(result.problems) or [result.detail]
    if result.outcome == "checks_failed":
        problems.append(_('Fix the text, or tick "send anyway" to override the checks.'))
    status = {"missing": 404, "conflict": 409, "unavailable": 503}.get(result.outcome, 422)
    return await _dialogue(request, actor, shown, problems=problems, typed=typed, status=status)


async def _state(session: AsyncSession, view: ConversationView) -> GuardrailState | None:
    """What would stop or delay the next message; None when the campaign's settings no longer
    read (a workspace edited by hand): the page still shows the conversation."""
    try:
        policy = OutreachPolicy.model_validate(view.campaign.outreach)
    except ValidationError:
        return None
    return await guardrail_state(session, view.conversation, view.account, policy)


async def _conversation_of(request: Request, message_id: int) -> int | None:
    db: Database = request.app.state.db
    async with db.session() as session:
        message = await session.get(ConversationMessage, message_id)
    return message.conversation_id if message else None


@router.post("/inbox/drafts/{message_id}/approve")
async def approve(
    actor: Operator,
    request: Request,
    message_id: Id,
    text: Annotated[str, Form(max_length=4096)] = "",
    override: Annotated[bool, Form()] = False,
) -> Response:
    conversation_id = await _conversation_of(request, message_id)
    if conversation_id is None:
        return page_error(request, 404, f"draft {message_id} does not exist")
    edited = text.strip() or None
    return await _decide(
        request,
        actor,
        conversation_id,
        "approve",
        typed=text,
        message_id=message_id,
        text=edited,
        override_checks=override,
    )


@router.post("/inbox/drafts/{message_id}/reject")
async def reject(actor: Operator, request: Request, message_id: Id) -> Response:
    conversation_id = await _conversation_of(request, message_id)
    if conversation_id is None:
        return page_error(request, 404, f"draft {message_id} does not exist")
    return await _decide(request, actor, conversation_id, "reject", message_id=message_id)


@router.post("/inbox/{conversation_id}/takeover")
async def take_over(actor: Operator, request: Request, conversation_id: Id) -> Response:
    return await _decide(
        request, actor, conversation_id, "take_over", conversation_id=conversation_id
    )


@router.post("/inbox/{conversation_id}/handback")
async def hand_back(actor: Operator, request: Request, conversation_id: Id) -> Response:
    return await _decide(
        request, actor, conversation_id, "hand_back", conversation_id=conversation_id
    )


@router.post("/inbox/{conversation_id}/reply")
async def reply(
    actor: Operator,
    request: Request,
    conversation_id: Id,
    text: Annotated[str, Form(max_length=4096)] = "",
    override: Annotated[bool, Form()] = False,
) -> Response:
    if not text.strip():
        viewer = await viewer_for(request, actor)
        _ = translations(viewer.language).gettext
        problem = _("Write the message first.")
        return await _dialogue(request, actor, conversation_id, problems=[problem], status=422)
    return await _decide(
        request,
        actor,
        conversation_id,
        "write",
        typed=text,
        conversation_id=conversation_id,
        text=text.strip(),
        override_checks=override,
    )
