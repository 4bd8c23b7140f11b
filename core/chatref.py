"""Chat references as people write them, parsed once and written in one canonical form.

``@Name``, ``name``, ``t.me/Name`` (message and ``t.me/s/`` links too) and ``tg://resolve`` become
``@name``; ``t.me/+hash``, ``t.me/joinchat/hash`` and ``tg://join`` become ``https://t.me/+hash``.
The workspace, the worker and the Telethon adapter all use this module, so a chat has one name.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict

_USERNAME_RE = re.compile(r"^[a-z](?:(?!__)\w){2,30}[a-z\d]$", re.IGNORECASE)
_INVITE_RE = re.compile(r"^[\w-]+$")
_LINK_RE = re.compile(
    r"^(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)/(?P<path>[^?#]*)(?:[?#].*)?$",
    re.IGNORECASE,
)
_TG_RE = re.compile(r"^tg://(?:join\?invite=(?P<invite>[^&]+)|resolve\?domain=(?P<name>[^&]+))")
_NOT_CHATS = frozenset(
    {"proxy", "socks", "share", "addstickers", "addemoji", "addlist", "addtheme", "setlanguage"}
    | {"boost", "invoice", "contact", "login", "iv", "bg"}
)


class ChatRefParsed(BaseModel):
    """A chat reference: a public username (lower case, no @) or an invite hash."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["username", "invite"]
    value: str

    @property
    def ref(self) -> str:
        return f"@{self.value}" if self.kind == "username" else f"https://t.me/+{self.value}"


def parse_chat_ref(ref: str) -> ChatRefParsed:
    """Parse @name, name, t.me/name (message and t.me/s/ links too), t.me/+hash, joinchat, tg://."""
    text = ref.strip()
    if not text:
        raise ValueError("chat ref is empty: expected @username or a t.me link")
    if text.startswith("@"):
        return _username(text[1:])
    if tg := _TG_RE.match(text):
        return _invite(tg["invite"]) if tg["invite"] else _username(tg["name"])
    if link := _LINK_RE.match(text):
        return _from_link_path(link["path"].strip("/"))
    if "/" in text or ":" in text:
        raise ValueError(f"{text!r} is neither a t.me link nor a @username")
    return _username(text)


def _from_link_path(path: str) -> ChatRefParsed:
    if not path:
        raise ValueError("t.me link has no chat in it")
    if path.startswith("+"):
        return _invite(path[1:])
    head, _, rest = path.partition("/")
    head = head.lower()
    if head == "joinchat":
        return _invite(rest)
    if head == "c":
        raise ValueError(
            "t.me/c/… links point inside a private chat; use its invite link (t.me/+…)"
        )
    if head == "s" and rest:  # t.me/s/name is the web preview of a public channel
        head, _, rest = rest.partition("/")
    if head in _NOT_CHATS:
        raise ValueError(f"t.me/{head} links are not chats")
    if rest and not all(part.isdigit() for part in rest.split("/")):
        raise ValueError(f"t.me/{path} is not a chat link: expected t.me/<name>")
    return _username(head)  # a message or topic link (t.me/name/123) names its chat


def _username(name: str) -> ChatRefParsed:
    if not _USERNAME_RE.match(name):
        raise ValueError(
            f"{name!r} is not a valid Telegram username "
            "(4-32 letters, digits or single underscores, starting with a letter)"
        )
    return ChatRefParsed(kind="username", value=name.lower())


def _invite(invite_hash: str) -> ChatRefParsed:
    if invite_hash.isdigit():
        raise ValueError("t.me/+<digits> is a phone-number link, not a chat invite")
    if not _INVITE_RE.match(invite_hash):
        raise ValueError("invite link has no valid hash after t.me/+ or t.me/joinchat/")
    return ChatRefParsed(kind="invite", value=invite_hash)


def normalize_chat_ref(raw: str) -> str:
    """The canonical form of a chat reference; ValueError says what is wrong and what works."""
    try:
        return parse_chat_ref(raw).ref
    except ValueError as exc:
        raise ValueError(
            f"{exc}; use @username, t.me/username or an invite link t.me/+hash"
        ) from None
