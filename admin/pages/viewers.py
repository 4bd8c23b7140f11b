"""Who views a page: the signed-in user's language and time zone, or the browser's for pages
anyone may open (sign-in, errors)."""

from __future__ import annotations

from fastapi import Request

from admin.pages.rendering import LANGUAGES, Viewer
from core.access import Actor
from core.db import Database
from core.db.models import User

LANGUAGE_COOKIE = "lang"  # so the sign-in and error pages speak the user's language too


async def viewer_for(request: Request, actor: Actor) -> Viewer:
    db: Database = request.app.state.db
    async with db.session() as session:
        user = await session.get(User, actor.user_id) if actor.user_id is not None else None
    if user is None:
        return Viewer(actor=actor, language=browser_language(request))
    return Viewer(actor=actor, language=user.language, timezone=user.timezone)


def anonymous(request: Request) -> Viewer:
    return Viewer(actor=None, language=browser_language(request))


def browser_language(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    accepted = request.headers.get("accept-language", "").lower()
    return "ru" if accepted.startswith("ru") else "en"
