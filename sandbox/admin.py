"""Test and demo endpoints under ``/_sandbox``: create accounts, users and chats, read what was
posted, make the audience say something, inject faults, tune limits, drive the audience.

They are for loopback use by tests and the demo seeder; nothing here is Telegram's.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from sandbox import accounts
from sandbox.audience import AudienceStart
from sandbox.errors import SandboxError
from sandbox.faults import FaultRequest, apply_fault
from sandbox.http import json_body, ok, parse, parse_as, runtime
from sandbox.limits import LimitsConfig
from sandbox.lively import LivelySettings
from sandbox.responder import CannedResponder
from sandbox.state import Chat, Message, User, World

PREFIX = "/_sandbox"
_FAULT = TypeAdapter[FaultRequest](FaultRequest)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProfileFields(_Body):
    first_name: str = Field("User", min_length=1, max_length=64)
    last_name: str | None = Field(None, max_length=64)
    username: str | None = None
    bio: str | None = Field(None, max_length=170)
    lang: str = "en"


class AccountCreate(ProfileFields):
    session: str | None = Field(
        None, min_length=8, max_length=256, description="use this session string (demo)"
    )


class UserCreate(ProfileFields):
    user_id: int | None = Field(None, gt=0, description="pick the id (e.g. a configured chat id)")

    def create(self, world: World) -> User:
        fields = self.model_dump(include={"last_name", "username", "bio", "lang", "user_id"})
        return world.add_user(self.first_name, **fields)

    def find_or_create(self, world: World) -> User:
        known = world.users.get(self.user_id) if self.user_id is not None else None
        return known or self.create(world)


class ChatCreate(_Body):
    ref: str | None = Field(None, description="public username; absent for a private chat")
    title: str = Field(min_length=1, max_length=128)
    type: Literal["supergroup", "channel"] = "supergroup"
    lively: bool = Field(False, description="members answer accounts' questions (demo scenes)")


class PostRequest(_Body):
    chat: int | str
    text: str = Field(min_length=1, max_length=4096)
    user_id: int | None = Field(None, description="an existing user; a new audience user if absent")
    user: UserCreate | None = Field(None, description="create this user to post")
    reply_to: int | None = Field(None, ge=1, description="the message of the chat it quotes")


class DmRequest(_Body):
    user_id: int = Field(description="the audience user who writes")
    to: int | str = Field(description="the recipient: user id or @username")
    text: str = Field(min_length=1, max_length=4096)


class ResponderSettings(_Body):
    enabled: bool = Field(description="simulated users answer DMs (canned replies, opt-outs)")
    seed: int = 0


class ReadQuery(BaseModel):
    since: int = Field(0, ge=0)
    limit: int = Field(1000, ge=1, le=10_000)


def _int_or_ref(raw: str) -> int | str:
    return int(raw) if raw.lstrip("-").isdigit() else raw


def chat_or_404(world: World, ref: int | str) -> Chat:
    chat = world.chat(ref)
    if chat is None:
        raise SandboxError("NOT_FOUND", f"no chat {ref!r}")
    return chat


def user_or_404(world: World, ref: int | str) -> User:
    user = world.user(ref)
    if user is None:
        raise SandboxError("NOT_FOUND", f"no user {ref!r}")
    return user


def dm_json(message: Message) -> dict[str, Any]:
    assert message.recipient is not None  # noqa: S101 - only DMs come here
    return {
        "message_id": message.message_id,
        "from": message.sender.profile_json(),
        "to": message.recipient.profile_json(),
        "text": message.text,
        "date_ts": message.date,
    }


async def create_account(request: web.Request) -> web.Response:
    body = parse(AccountCreate, await json_body(request))
    fields = body.model_dump(exclude={"first_name"})
    account, session = runtime(request).world.add_account(body.first_name, **fields)
    return ok(user_id=account.user.id, session=session, profile=account.user.profile_json())


async def new_session(request: web.Request) -> web.Response:
    user_id = _int_or_ref(request.match_info["user_id"])
    if not isinstance(user_id, int):
        raise SandboxError("BAD_REQUEST", "user_id must be a number")
    return ok(session=runtime(request).world.new_session(user_id))


async def create_user(request: web.Request) -> web.Response:
    user = parse(UserCreate, await json_body(request)).create(runtime(request).world)
    return ok(profile=user.profile_json())


async def create_chat(request: web.Request) -> web.Response:
    body = parse(ChatCreate, await json_body(request))
    chat = runtime(request).world.add_chat(body.ref, body.title, body.type)
    chat.lively = body.lively
    return ok(chat=chat.info_json())


async def list_chats(request: web.Request) -> web.Response:
    world = runtime(request).world
    chats = [
        c.info_json() | {"members": sorted(c.members), "lively": c.lively}
        for c in world.chats.values()
    ]
    return ok(chats=chats)


async def read_messages(request: web.Request) -> web.Response:
    """Messages of a chat with message_id > ``since``."""
    chat = chat_or_404(runtime(request).world, _int_or_ref(request.query.get("chat", "")))
    query = parse(ReadQuery, {k: v for k, v in request.query.items() if k != "chat"})
    _, items = chat.history.read(query.since, query.limit)
    return ok(messages=[m.incoming_json() for m in items], last_message_id=chat.history.end)


async def read_dms(request: web.Request) -> web.Response:
    """DMs sent or received by a user, from position ``since`` of that user's DM log."""
    world = runtime(request).world
    user = user_or_404(world, _int_or_ref(request.query.get("user", "")))
    query = parse(ReadQuery, {k: v for k, v in request.query.items() if k != "user"})
    log = world.dms.get(user.id)
    start, items = log.read(query.since, query.limit) if log else (0, [])
    return ok(messages=[dm_json(m) for m in items], cursor=start + len(items))


async def post(request: web.Request) -> web.Response:
    rt = runtime(request)
    body = parse(PostRequest, await json_body(request))
    chat = chat_or_404(rt.world, body.chat)
    if body.user_id is not None:
        sender = user_or_404(rt.world, body.user_id)
    elif body.user is not None:
        sender = body.user.find_or_create(rt.world)
    else:
        sender = rt.audience.new_person()
    quoted = None
    if body.reply_to is not None:
        quoted = accounts.replied_message(rt.world, sender, chat, body.reply_to)
    return ok(message=rt.world.post(chat, sender, body.text, reply_to=quoted).incoming_json())


async def send_dm(request: web.Request) -> web.Response:
    """A user writes a DM (tests script a lead's replies with it)."""
    world = runtime(request).world
    body = parse(DmRequest, await json_body(request))
    sender = user_or_404(world, body.user_id)
    recipient = user_or_404(world, body.to)
    return ok(message=dm_json(world.deliver_dm(sender, recipient, body.text)))


async def set_responder(request: web.Request) -> web.Response:
    world = runtime(request).world
    body = parse(ResponderSettings, await json_body(request))
    world.responder = CannedResponder(seed=body.seed) if body.enabled else None
    return ok(enabled=body.enabled)


async def inject_fault(request: web.Request) -> web.Response:
    fault = parse_as(_FAULT, await json_body(request))
    return ok(**apply_fault(runtime(request).world, fault))


async def clear_faults(request: web.Request) -> web.Response:
    account = request.query.get("account")
    if account is not None and not account.isdigit():
        raise SandboxError("BAD_REQUEST", "account must be a user id")
    data = {"kind": "clear", "account": int(account) if account else None}
    apply_fault(runtime(request).world, parse_as(_FAULT, data))
    return ok()


async def get_limits(request: web.Request) -> web.Response:
    return ok(limits=runtime(request).world.limits.model_dump())


async def set_limits(request: web.Request) -> web.Response:
    world = runtime(request).world
    merged = world.limits.model_dump()
    body = await json_body(request)
    if not isinstance(body, dict):
        raise SandboxError("BAD_REQUEST", "body: must be an object")
    for section, values in body.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section].update(values)
        else:
            merged[section] = values
    world.set_limits(parse(LimitsConfig, merged))
    return ok(limits=world.limits.model_dump())


async def audience_start(request: web.Request) -> web.Response:
    rt = runtime(request)
    await rt.audience.start(parse(AudienceStart, await json_body(request)))
    return ok(**rt.audience.status())


async def audience_stop(request: web.Request) -> web.Response:
    rt = runtime(request)
    await rt.audience.stop()
    return ok(**rt.audience.status())


async def audience_status(request: web.Request) -> web.Response:
    return ok(**runtime(request).audience.status())


async def audience_people(request: web.Request) -> web.Response:
    return ok(people=runtime(request).audience.people())


async def set_lively(request: web.Request) -> web.Response:
    lively = runtime(request).lively
    lively.settings = parse(LivelySettings, await json_body(request))
    return ok(**lively.status())


async def lively_status(request: web.Request) -> web.Response:
    return ok(**runtime(request).lively.status())


async def health(request: web.Request) -> web.Response:
    return ok()


def routes() -> list[web.RouteDef]:
    p = PREFIX
    return [
        web.get(f"{p}/health", health),
        web.post(f"{p}/accounts", create_account),
        web.post(f"{p}/accounts/{{user_id}}/sessions", new_session),
        web.post(f"{p}/users", create_user),
        web.post(f"{p}/chats", create_chat),
        web.get(f"{p}/chats", list_chats),
        web.get(f"{p}/messages", read_messages),
        web.get(f"{p}/dms", read_dms),
        web.post(f"{p}/post", post),
        web.post(f"{p}/dm", send_dm),
        web.put(f"{p}/responder", set_responder),
        web.post(f"{p}/faults", inject_fault),
        web.delete(f"{p}/faults", clear_faults),
        web.get(f"{p}/limits", get_limits),
        web.patch(f"{p}/limits", set_limits),
        web.post(f"{p}/audience/start", audience_start),
        web.post(f"{p}/audience/stop", audience_stop),
        web.get(f"{p}/audience", audience_status),
        web.get(f"{p}/audience/people", audience_people),
        web.put(f"{p}/lively", set_lively),
        web.get(f"{p}/lively", lively_status),
    ]
