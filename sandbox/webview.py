"""The sandbox's read-and-click web view at ``/``: a messenger-like page over the world, for a
newcomer who has no Telegram (``coolthing demo``, ``make run``).

The page is static (``webview_static/``: HTML, CSS, a little vanilla JS, nothing from a CDN and no
build step) and reads JSON from ``/_sandbox/view/...``; it polls for what is new since the last
message id it holds. Writing and pressing buttons go through ``webview_actions`` as the chat's
simulated user, the same world functions the ``/_sandbox`` test endpoints use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from sandbox import webview_actions
from sandbox.errors import SandboxError
from sandbox.http import RUNTIME, ok, parse, runtime
from sandbox.state import World
from sandbox.webview_model import (
    PAGE,
    Conversation,
    DmIndex,
    edited_since,
    message_view,
    open_conversation,
    person_json,
    preview,
)

VIEW = "/_sandbox/view"
STATIC = Path(__file__).parent / "webview_static"
_FILES = {
    "webview.css": "text/css",
    "webview.js": "text/javascript",
    "webview_render.js": "text/javascript",
}
PERSONAS = 12  # people offered to write as in a group
# The page needs nothing but itself: no inline script, no other origin, so a message that slips
# into the markup by some bug still cannot run.
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
INDEX: web.AppKey[DmIndex] = web.AppKey("webview_dm_index", DmIndex)


class ReadQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: int | None = Field(None, ge=0, description="only messages newer than this id")
    before: int | None = Field(None, ge=1, description="older than this id (the 'older' link)")
    edited_since: float | None = Field(None, ge=0, description="also messages edited since")
    limit: int = Field(PAGE, ge=1, le=1000)


def dm_index(request: web.Request) -> DmIndex:
    return request.app[INDEX]


def conversation(request: web.Request) -> Conversation:
    world = runtime(request).world
    return open_conversation(world, dm_index(request), request.match_info["key"])


async def page(request: web.Request) -> web.Response:
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    return web.Response(text=html, content_type="text/html", headers=_HEADERS)


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _FILES:  # a fixed list: no path from the URL ever reaches the file system
        raise SandboxError("NOT_FOUND", f"no file {name!r}")
    text = (STATIC / name).read_text(encoding="utf-8")
    return web.Response(text=text, content_type=_FILES[name], headers=_HEADERS)


def _entry(key: str, title: str, subtitle: str, last: Any) -> dict[str, Any]:
    return {"key": key, "title": title, "subtitle": subtitle, "last": preview(last)}


def _recent_first(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: -(e["last"]["date"] if e["last"] else 0))


def _groups(world: World) -> list[dict[str, Any]]:
    return [
        _entry(f"g_{chat.id}", chat.title, f"@{chat.ref}" if chat.ref else chat.kind, newest)
        for chat in world.chats.values()
        for newest in [chat.history.get(chat.history.end - 1)]
    ]


def _account_dialogs(world: World, index: DmIndex) -> list[dict[str, Any]]:
    accounts = []
    for account in world.accounts.values():
        me = account.user
        dialogs = [
            _entry(f"d_{me.id}_{peer}", world.users[peer].full_name, "", messages[-1])
            for peer, messages in index.dialogs(me.id).items()
            if messages and peer in world.users
        ]
        accounts.append(
            {"account": person_json(me), "banned": account.banned, "chats": _recent_first(dialogs)}
        )
    return accounts


def _bot_chats(world: World) -> list[dict[str, Any]]:
    bots = []
    for bot in world.bots.values():
        chats = [
            _entry(f"b_{bot.id}_{uid}", world.users[uid].full_name, "", log.get(log.end - 1))
            for uid, log in bot.chats.items()
            if uid in world.users
        ]
        bots.append({"bot": person_json(bot.user), "chats": _recent_first(chats)})
    return bots


def chat_list(world: World, index: DmIndex) -> dict[str, Any]:
    """The left column: groups in the order they were made, dialogs newest first."""
    return {
        "groups": _groups(world),
        "accounts": _account_dialogs(world, index),
        "bots": _bot_chats(world),
    }


async def list_chats(request: web.Request) -> web.Response:
    world = runtime(request).world
    return ok(**chat_list(world, dm_index(request)), now=world.clock())


def personas(world: World, found: Conversation) -> list[dict[str, Any]]:
    """Whom the page may write as in a group: the people who talk to bots (operators), then
    the group's recent speakers; accounts are left out (the product writes as them)."""
    people = [world.users[uid] for bot in world.bots.values() for uid in bot.started]
    people += [m.sender for m in found.timeline.before(None, PAGE)[::-1]]
    chosen: dict[int, dict[str, Any]] = {}
    for user in people:
        if not user.is_bot and user.id not in world.accounts and len(chosen) < PERSONAS:
            chosen.setdefault(user.id, person_json(user))
    return list(chosen.values())


def typing_now(world: World, found: Conversation) -> list[dict[str, Any]]:
    """Who is typing in this conversation right now: in a group anyone, in an account's DM
    dialog the account (the lead's typing is not recorded)."""
    if found.kind == "group" and found.chat_id is not None:
        where: int | tuple[int, int] = found.chat_id
    elif found.kind == "dm" and found.account is not None and found.me is not None:
        where = (found.account.id, found.me.id)
    else:
        return []
    users = (world.users.get(uid) for uid in world.typing.active(where, world.clock()))
    return [person_json(user) for user in users if user is not None]


def _head(world: World, found: Conversation) -> dict[str, Any]:
    head: dict[str, Any] = {
        "key": found.key,
        "kind": found.kind,
        "title": found.title,
        "subtitle": found.subtitle,
        "me": person_json(found.me) if found.me else None,
    }
    if found.kind == "group":
        head["personas"] = personas(world, found)
    return head


async def read_messages(request: web.Request) -> web.Response:
    """The tail of a conversation, what came after a given id, or a page older than one."""
    world = runtime(request).world
    found = conversation(request)
    query = parse(ReadQuery, dict(request.query))
    gap = False
    if query.after is not None:
        messages, gap = found.timeline.after(query.after, query.limit)
    else:
        messages = found.timeline.before(query.before, query.limit)
    edited = []
    if query.edited_since is not None:
        recent = found.timeline.before(None, query.limit)
        edited = edited_since(recent, query.edited_since)
    oldest = messages[0].message_id if messages else None
    return ok(
        chat=_head(world, found),
        messages=[message_view(m) for m in messages],
        edited=[message_view(m) for m in edited],
        gap=gap,
        has_older=oldest is not None and bool(found.timeline.before(oldest, 1)),
        typing=typing_now(world, found),
        now=world.clock(),
    )


def install(app: web.Application) -> None:
    """Serve the page at ``/`` and its JSON under ``/_sandbox/view`` (after ``RUNTIME`` is set)."""
    app[INDEX] = DmIndex(app[RUNTIME].world)
    app.add_routes(
        [
            web.get("/", page),
            web.get(f"{VIEW}/static/{{name}}", static),
            web.get(f"{VIEW}/chats", list_chats),
            web.get(f"{VIEW}/chats/{{key}}/messages", read_messages),
            *webview_actions.routes(VIEW, conversation),
        ]
    )
