"""What a user account may do, Telegram-style: sessions, joins, sends, with limits and faults.

The order of checks is deliberate: injected faults first (tests decide), then hard refusals
(membership cap, privacy, write bans), then rate limits, so a refused call never spends a token.
"""

from __future__ import annotations

from sandbox.errors import SandboxError
from sandbox.limits import retry_seconds
from sandbox.state import Account, Chat, Media, Message, User, World, normalize_ref

SESSION_SCHEME = "Session "


def authenticate(world: World, authorization: str | None) -> Account:
    """``Authorization: Session <s>`` → the live, unbanned account that owns the session."""
    if not authorization or not authorization.startswith(SESSION_SCHEME):
        raise SandboxError("AUTH_KEY_UNREGISTERED", "send 'Authorization: Session <session>'")
    session = authorization.removeprefix(SESSION_SCHEME).strip()
    if session in world.revoked:
        raise SandboxError("SESSION_REVOKED", "the session was revoked; log in again")
    user_id = world.sessions.get(session)
    if user_id is None:
        raise SandboxError("AUTH_KEY_UNREGISTERED", "unknown session")
    account = world.accounts[user_id]
    if account.banned:
        raise SandboxError("USER_DEACTIVATED_BAN", "the account was banned")
    return account


def join(world: World, account: Account, ref: str) -> Chat:
    """Join a public chat by ref; joining one the account is already in changes nothing."""
    chat = world.chat(ref) if normalize_ref(ref) else None
    if chat is None:
        raise SandboxError("CHAT_NOT_FOUND", f"no public chat {ref!r}")
    if chat.id in account.chats:
        return chat
    world.faults.check(account.user.id, "join")
    limits = world.limits.account
    if len(account.chats) >= limits.max_channels:
        raise SandboxError(
            "CHANNELS_TOO_MUCH", f"the account is already in {limits.max_channels} chats"
        )
    wait = world.account_limiter.join(account.user.id)
    if wait:
        raise SandboxError.flood_wait(retry_seconds(wait))
    account.chats.add(chat.id)
    chat.members.add(account.user.id)
    return chat


def leave(world: World, account: Account, chat_id: int) -> None:
    chat = world.chats.get(chat_id)
    if chat is None:
        raise SandboxError("CHAT_NOT_FOUND", f"no chat {chat_id}")
    account.chats.discard(chat_id)
    chat.members.discard(account.user.id)


def resolve_peer(world: World, peer: int | str) -> Chat | User:
    """A negative id is a chat; a positive id or @username a user; a ref may name a chat."""
    if isinstance(peer, int) and peer < 0:
        chat = world.chats.get(peer)
        if chat is None:
            raise SandboxError("CHAT_NOT_FOUND", f"no chat {peer}")
        return chat
    user = world.user(peer)
    if user is not None:
        return user
    chat = world.chat(peer) if isinstance(peer, str) else None
    if chat is not None:
        return chat
    raise SandboxError("PEER_ID_INVALID", f"no user or chat {peer!r}")


def check_can_write(world: World, account: Account, target: Chat | User) -> None:
    if isinstance(target, Chat):
        if target.kind == "channel":
            raise SandboxError("CHAT_ADMIN_REQUIRED", "only the channel's admins can post")
        if target.id not in account.chats:
            raise SandboxError("CHAT_WRITE_FORBIDDEN", "join the chat before writing to it")
        if world.faults.write_forbidden(target.id, account.user.id):
            raise SandboxError("CHAT_WRITE_FORBIDDEN", "you can't write in this chat")
        return
    if target.id == account.user.id:
        raise SandboxError("PEER_ID_INVALID", "an account cannot DM itself here")
    if target.id in world.faults.private:
        raise SandboxError("USER_PRIVACY_RESTRICTED", "the user's privacy settings forbid DMs")


def replied_message(world: World, me: User, target: Chat | User, message_id: int) -> Message:
    """The message ``message_id`` of this dialog, to quote; ``REPLY_MESSAGE_ID_INVALID`` when it
    is not there (never was, was deleted, or belongs to another dialog)."""
    found: Message | None = None
    if isinstance(target, Chat):
        found = target.history.get(message_id - 1)  # a chat's ids are its positions + 1
    elif (log := world.dms.get(me.id)) is not None:
        for position in range(log.end - 1, log.start - 1, -1):
            message = log.get(position)
            if message is None or message.message_id < message_id:
                break  # one dialog's ids only grow: older ones cannot match
            between = {message.sender.id, message.recipient.id if message.recipient else 0}
            if message.message_id == message_id and between == {me.id, target.id}:
                found = message
                break
    if found is None or found.deleted:
        raise SandboxError("REPLY_MESSAGE_ID_INVALID", f"no message {message_id} to reply to")
    return found


def send(
    world: World,
    account: Account,
    peer: int | str,
    text: str,
    *,
    reply_to: int | None = None,
    media: Media | None = None,
) -> Message:
    target = resolve_peer(world, peer)
    me = account.user.id
    world.faults.check(me, "send")
    check_can_write(world, account, target)
    quoted = replied_message(world, account.user, target, reply_to) if reply_to else None
    stranger = isinstance(target, User) and target.id not in account.contacts
    if stranger and world.account_limiter.new_dialog(me):
        raise SandboxError("PEER_FLOOD", "the account may not write to strangers for a while")
    group = isinstance(target, Chat)
    wait = world.account_limiter.group_wait(me, target.id) if group else 0.0
    if not wait:
        wait = world.account_limiter.message(me)
    if wait:
        raise SandboxError.flood_wait(retry_seconds(wait))
    if isinstance(target, Chat):
        world.account_limiter.count_group_message(me, target.id)
        return world.post(target, account.user, text, reply_to=quoted, attachment=media)
    if stranger:
        world.account_limiter.count_new_dialog(me)
        account.contacts.add(target.id)
    return world.deliver_dm(account.user, target, text, reply_to=quoted, attachment=media)


def typing(world: World, account: Account, peer: int | str) -> None:
    """Show "typing…" in the chat (or the DM) for ``TYPING_SECONDS``, as Telegram does."""
    target = resolve_peer(world, peer)
    check_can_write(world, account, target)
    where = target.id if isinstance(target, Chat) else (account.user.id, target.id)
    world.typing.start(where, account.user.id, world.clock())
