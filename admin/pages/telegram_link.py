"""Linking one's Telegram account to the notifier bot: a fresh one-time code to send as
``/start CODE`` (signed, valid 15 minutes, nothing stored here), the current link, and Unlink.
An owner sees and unlinks anyone's (from the users page). The notifier owns the links: an unlink
is an event through the outbox (``telegram.unlink``), audited here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from admin.access import users
from admin.access.deps import CurrentUser, Owner
from admin.pages.errors import page_error
from admin.pages.rendering import render
from admin.pages.viewers import viewer_for
from admin.reads.alerts import telegram_link
from core.access import Actor
from core.audit import record
from core.db import Database
from core.events import Event, TelegramUnlink
from core.outbox import add_to_outbox
from core.security import SecretBox
from core.telegram_link_codes import CODE_TTL, new_code

router = APIRouter(include_in_schema=False)
Login = Annotated[str, Path(min_length=1, max_length=64)]


async def _page(
    request: Request,
    actor: Actor,
    login: str,
    *,
    code: tuple[str, datetime] | None = None,
    unlinking: bool = False,
) -> Response:
    viewer = await viewer_for(request, actor)
    db: Database = request.app.state.db
    async with db.session() as session:
        try:
            person = await users.get_user(session, login)
        except users.AccessError:
            return page_error(request, 404, f"there is no user {login}")
        link = await telegram_link(session, person.id)
    context = {
        "person": person,
        "own": person.id == actor.user_id,
        "link": link,
        "code": code,
        "minutes": int(CODE_TTL.total_seconds() // 60),
        # the notifier owns the link and drops it when it reads the event: a moment later
        "unlinking": unlinking,
    }
    return render(request, viewer, "telegram/page.html", context)


@router.get("/me/telegram")
async def my_telegram(actor: CurrentUser, request: Request) -> Response:
    return await _page(request, actor, actor.login)


@router.post("/me/telegram/code")
async def issue_code(actor: CurrentUser, request: Request) -> Response:
    """A fresh code for oneself; each press gives another, every one valid until it expires
    or one of them links."""
    box: SecretBox = request.app.state.box
    db: Database = request.app.state.db
    async with db.transaction() as session:
        person = await users.get_user(session, actor.login)
        code = new_code(box, person.id)
        record(session, "telegram_link_code", actor=actor, target=person.login)
    return await _page(request, actor, actor.login, code=code)


@router.post("/me/telegram/unlink")
async def unlink_mine(actor: CurrentUser, request: Request) -> Response:
    return await _unlink(request, actor, actor.login)


@router.get("/users/{login}/telegram")
async def telegram_of(actor: Owner, request: Request, login: Login) -> Response:
    return await _page(request, actor, login)


@router.post("/users/{login}/telegram/unlink")
async def unlink_theirs(actor: Owner, request: Request, login: Login) -> Response:
    return await _unlink(request, actor, login)


async def _unlink(request: Request, actor: Actor, login: str) -> Response:
    db: Database = request.app.state.db
    async with db.transaction() as session:
        try:
            person = await users.get_user(session, login)
        except users.AccessError:
            return page_error(request, 404, f"there is no user {login}")
        await add_to_outbox(session, Event.of(TelegramUnlink(user_id=person.id, by=actor.login)))
        record(session, "telegram_unlinked", actor=actor, target=person.login)
    return await _page(request, actor, login, unlinking=True)
