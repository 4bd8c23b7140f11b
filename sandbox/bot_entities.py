"""A message's explicit ``entities`` parameter (what aiogram's ``formatting.as_kwargs`` sends),
read as the Bot API reads it: used only without a parse_mode, an entity Telegram would find by
itself (url, mention, hashtag ...) ignored, an unknown type or a missing field refused.
"""

from __future__ import annotations

from typing import Any

from sandbox.bot_html import Entity
from sandbox.bot_links import checked_link
from sandbox.errors import BotApiError

_PLAIN = frozenset(
    "bold italic underline strikethrough spoiler code blockquote expandable_blockquote".split()
)
_FOUND_BY_TELEGRAM = frozenset(
    "mention hashtag cashtag bot_command url email phone_number bank_card_number".split()
)
_MAX_POSITION = 1_000_000


def read_entities(raw: Any) -> tuple[Entity, ...]:
    """The entities given for a text; refused in the Bot API's words when malformed.

    Entities past the text's end are cut by ``bot_html.trim`` like any others."""
    if not isinstance(raw, list):
        raise BotApiError.bad_request("can't parse entities JSON object")
    entities = [entity for entity in map(_entity, raw) if entity is not None and entity.length]
    return tuple(sorted(entities, key=Entity.sort_key))


def _refuse(detail: str) -> BotApiError:
    return BotApiError.bad_request(f"can't parse MessageEntity: {detail}")


def _entity(item: Any) -> Entity | None:
    if not isinstance(item, dict):
        raise _refuse("expected an Object")
    offset, length = _number(item, "offset"), _number(item, "length")
    for name, value in (("offset", offset), ("length", length)):
        if not 0 <= value <= _MAX_POSITION:
            raise BotApiError.bad_request(f"receive an entity with incorrect {name} {value}")
    kind = item.get("type")
    if not isinstance(kind, str) or not kind:
        raise _refuse("Type is not specified")
    if kind in _FOUND_BY_TELEGRAM:
        return None
    if kind in _PLAIN:
        return Entity(kind, offset, length)
    if kind == "pre":
        language = item.get("language")
        return Entity("pre", offset, length, language=language or None)
    if kind == "text_link":
        url = checked_link(_text(item, "url"))
        return Entity(kind, offset, length, url=url) if url else None
    if kind == "text_mention":
        user = item.get("user")
        if not isinstance(user, dict):
            raise _refuse('Can\'t find field "user"')
        return Entity(kind, offset, length, user_id=_number(user, "id"))
    if kind == "custom_emoji":
        return Entity(kind, offset, length, custom_emoji_id=str(_number(item, "custom_emoji_id")))
    raise _refuse("Unsupported type specified")


def _number(item: dict[str, Any], name: str) -> int:
    value = item.get(name)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)  # the Bot API takes numbers written as strings too
    if not isinstance(value, int) or isinstance(value, bool):
        if value is None:
            raise _refuse(f'Can\'t find field "{name}"')
        raise _refuse(f'Field "{name}" must be a Number')
    return value


def _text(item: dict[str, Any], name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str):
        raise _refuse(f'Can\'t find field "{name}"')
    return value
