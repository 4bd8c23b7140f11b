"""A bot message's text as Telegram stores it: parsed, cleaned, trimmed, checked for length.

The steps of the real Bot API server (``get_formatted_text`` in telegram-bot-api, then tdlib's
``fix_formatted_text``): input over 32 KiB is refused before anything else; the parse_mode is
applied (``bot_html``), or the explicit ``entities`` are taken; control characters become
spaces and ``\\r`` (and a few invisible marks) disappear, entities following the characters
they cover; spaces and newlines at both ends are dropped; what is left must be non-empty and at
most 4,096 characters. Refusals are Telegram's 400 texts.

Not done: entities Telegram finds by itself (urls, @mentions, hashtags, commands), Markdown,
and merging overlapping entities of one type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sandbox.bot_html import Entity, FormattedText, MarkupError, parse_html, utf16_len
from sandbox.errors import BotApiError

MAX_TEXT = 4096  # characters (code points) after parsing: tdlib counts them with utf8_length
MAX_RAW_BYTES = 1 << 15  # the Bot API refuses longer input before parsing it
# tdlib's clean_input_string: line and paragraph separators, bidi embeddings and three
# combining marks are removed, "\r" too; other control characters become spaces
_REMOVED = frozenset("\r\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u0333\u033f\u030a")


def format_text(raw: str, parse_mode: str | None, explicit: Sequence[Entity] = ()) -> FormattedText:
    """A message's text as Telegram stores it, or Telegram's 400 for what it refuses.

    ``explicit`` entities (the ``entities`` parameter) count only without a parse_mode."""
    if not raw:
        raise BotApiError.bad_request("message text is empty")
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_RAW_BYTES:
        raise BotApiError.bad_request("text is too long")
    mode = (parse_mode or "").lower()
    if mode in ("", "none"):
        formatted = FormattedText(raw, tuple(sorted(explicit, key=Entity.sort_key)))
    elif mode == "html":
        try:
            formatted = parse_html(raw)
        except MarkupError as exc:
            raise BotApiError.bad_request(f"can't parse entities: {exc}") from None
    elif mode in ("markdown", "markdownv2"):
        # Telegram accepts these; the sandbox does not parse them, and says so plainly
        raise BotApiError.bad_request(f"the sandbox parses only parse_mode HTML, not {parse_mode}")
    else:
        raise BotApiError.bad_request("unsupported parse_mode")
    final = trim(clean(formatted))
    if not final.text:
        raise BotApiError.bad_request("text must be non-empty")
    if len(final.text) > MAX_TEXT:
        raise BotApiError.bad_request("message is too long")
    return final


def clean(formatted: FormattedText) -> FormattedText:
    """Control characters to spaces, invisible ones dropped; entities keep covering their text."""
    kept: list[str] = []
    moved = [0]  # moved[k]: where UTF-16 position k of the input lands in the output
    for char in formatted.text:
        removed = char in _REMOVED
        if not removed:
            kept.append(" " if ord(char) < 32 and char != "\n" else char)
        for _ in range(2 if ord(char) > 0xFFFF else 1):  # one step per UTF-16 unit
            moved.append(moved[-1] + (0 if removed else 1))
    if len(kept) == len(formatted.text):
        return FormattedText("".join(kept), formatted.entities)
    entities = []
    for entity in formatted.entities:
        start = moved[min(entity.offset, len(moved) - 1)]
        end = moved[min(entity.offset + entity.length, len(moved) - 1)]
        if end > start:
            entities.append(replace(entity, offset=start, length=end - start))
    return FormattedText("".join(kept), tuple(sorted(entities, key=Entity.sort_key)))


def trim(formatted: FormattedText) -> FormattedText:
    """Drop trailing spaces and newlines, then leading ones before the first entity."""
    text = formatted.text.rstrip(" \n")
    size = utf16_len(text)
    entities = [
        replace(e, length=min(e.length, size - e.offset))
        for e in formatted.entities
        if e.offset < size
    ]
    first = entities[0].offset if entities else len(text)
    cut = 0
    while cut < first and text[cut] in " \n":
        cut += 1
    shifted = [replace(e, offset=e.offset - cut) for e in entities]
    return FormattedText(text[cut:], tuple(sorted(shifted, key=Entity.sort_key)))
