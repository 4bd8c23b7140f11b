"""Telegram's HTML parse mode: text with tags in, plain text and MessageEntity objects out.

A port of what the real server does (tdlib's ``parse_html``, read in tdlib's source), so a bot
whose markup passes here passes there (``bot_text`` applies it to a message):
- tags b/strong, i/em, u/ins, s/strike/del, tg-spoiler and ``span class="tg-spoiler"``,
  ``a href``, code, pre (with ``code class="language-x"`` inside), blockquote (``expandable``)
  and ``tg-emoji emoji-id``; anything else is refused with Telegram's wording and UTF-8 byte
  offset;
- the entities ``&lt; &gt; &amp; &quot;`` and ``&#NN; &#xNN;`` are decoded; like Telegram, an
  ``&`` that starts no known entity (a bare ``&``, ``&nbsp;``) stays as text — it is a ``<``
  that starts no valid tag that kills a message;
- entity offsets and lengths are in UTF-16 code units, sorted as the Bot API returns them.

Not done: the ``tg-time`` tag (refused as unsupported).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NoReturn

from sandbox.bot_links import checked_link, link_user_id

_TAGS = frozenset(
    "a b strong i em s strike del u ins tg-spoiler tg-emoji span pre code blockquote".split()
)
_SPACE = frozenset(" \t\r\n\v\0")  # tdlib's is_space; "\0" is also its end of text
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
# tdlib's MessageEntity::get_type_priority: the order of entities that start and end together
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}


class MarkupError(Exception):
    """Bad markup; the message is tdlib's, without the "can't parse entities: " prefix."""


@dataclass(frozen=True, slots=True)
class Entity:
    """One MessageEntity; ``user_id`` stands for the ``user`` of a ``text_mention``."""

    type: str
    offset: int
    length: int
    url: str | None = None
    language: str | None = None
    custom_emoji_id: str | None = None
    user_id: int | None = None

    def sort_key(self) -> tuple[int, int, int]:
        """Telegram's order: by offset, the longer first, then by the type's priority."""
        priority = 10 if self.type == "pre" and self.language else _PRIORITY[self.type]
        return (self.offset, -self.length, priority)


@dataclass(frozen=True, slots=True)
class FormattedText:
    text: str
    entities: tuple[Entity, ...] = ()


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def parse_html(source: str) -> FormattedText:
    """Plain text and entities from Telegram's HTML, or MarkupError with Telegram's words."""
    return _Parser(source).run()


def decode_entity(source: str, pos: int) -> tuple[str, int] | None:
    """The character an ``&...`` at ``pos`` stands for and where it ends, or None (kept as is)."""
    end = pos + 1
    if _at(source, end) == "#":
        end += 1
        hexadecimal = _at(source, end) == "x"
        end += hexadecimal
        start, digits = end, _HEX if hexadecimal else _DIGITS
        while _at(source, end) in digits:
            end += 1
        code = int(source[start:end], 16 if hexadecimal else 10) if end > start else 0
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(code)
    else:
        while end < len(source) and source[end].isascii() and source[end].isalpha():
            end += 1
        named = _NAMED.get(source[pos + 1 : end])
        if named is None:
            return None
        char = named
    return char, end + (_at(source, end) == ";")


def _at(source: str, index: int) -> str:
    """The character at ``index``, "\\0" past the end (tdlib reads a NUL-terminated string)."""
    return source[index] if index < len(source) else "\0"


def _ascii_lower(text: str) -> str:
    return "".join(c.lower() if c.isascii() else c for c in text)


def _is_name_char(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in ".-")


@dataclass(slots=True)
class _Open:
    tag: str
    argument: str
    offset: int  # UTF-16 offset in the output where the tag's content starts
    begin: int  # index into the output's characters, for an <a> without href


class _Parser:
    def __init__(self, source: str) -> None:
        self.src = source
        self.out: list[str] = []
        self.utf16 = 0
        self.open: list[_Open] = []
        self.entities: list[Entity] = []

    def run(self) -> FormattedText:
        i, src = 0, self.src
        while i < len(src):
            char = src[i]
            if char == "&" and (decoded := decode_entity(src, i)) is not None:
                self._emit(decoded[0])
                i = decoded[1]
            elif char != "<":
                self._emit(char)
                i += 1
            elif _at(src, i + 1) == "/":
                i = self._end_tag(i)
            else:
                i = self._start_tag(i)
        if self.open:
            self._fail(f'Can\'t find end tag corresponding to start tag "{self.open[-1].tag}"')
        text = "".join(self.out)
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            self._fail(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        entities = [replace(e, language=None) if e.type == "code" else e for e in self.entities]
        return FormattedText(text, tuple(sorted(entities, key=Entity.sort_key)))

    def _emit(self, char: str) -> None:
        self.out.append(char)
        self.utf16 += 2 if ord(char) > 0xFFFF else 1

    def _fail(self, message: str) -> NoReturn:
        raise MarkupError(message)

    def _offset(self, index: int) -> int:
        """Telegram reports positions as UTF-8 byte offsets into the text it was given."""
        return len(self.src[:index].encode("utf-8", "surrogatepass"))

    def _skip_spaces(self, i: int) -> int:
        while _at(self.src, i) != "\0" and _at(self.src, i) in _SPACE:
            i += 1
        return i

    def _start_tag(self, begin: int) -> int:
        src, i, where = self.src, begin + 1, self._offset(begin)
        while _at(src, i) not in _SPACE and src[i] != ">":
            i += 1
        if _at(src, i) == "\0":
            self._fail(f"Unclosed start tag at byte offset {where}")
        tag = _ascii_lower(src[begin + 1 : i])
        if tag not in _TAGS:
            self._fail(f'Unsupported start tag "{tag}" at byte offset {where}')
        argument = ""
        while _at(src, i) != ">":
            i = self._skip_spaces(i)
            if _at(src, i) == ">":
                break
            i, name, value = self._attribute(i, tag, where)
            argument = _argument(tag, name, value, argument)
        if tag == "span" and argument != "spoiler":
            self._fail(f'Tag "span" must have class "tg-spoiler" at byte offset {where}')
        self.open.append(_Open(tag, argument, self.utf16, len(self.out)))
        return i + 1

    def _attribute(self, i: int, tag: str, where: int) -> tuple[int, str, str | None]:
        """One attribute from ``i``: where it ends, its name, its value (None without one)."""
        src, start = self.src, i
        while _at(src, i) not in _SPACE and src[i] not in "=>/\"'":
            i += 1
        name = src[start:i]
        if not name:
            self._fail(f'Empty attribute name in the tag "{tag}" at byte offset {where}')
        i = self._skip_spaces(i)
        if _at(src, i) != "=":
            if _at(src, i) == "\0":
                self._fail(f'Unclosed start tag "{tag}" at byte offset {where}')
            return i, name, None
        i = self._skip_spaces(i + 1)
        if _at(src, i) == "\0":
            self._fail(f'Unclosed start tag "{tag}" at byte offset {where}')
        if src[i] in "'\"":
            i, value = self._quoted(i)
        else:
            token = i
            while _is_name_char(_at(src, i)):
                i += 1
            value = _ascii_lower(src[token:i])
            if _at(src, i) not in _SPACE and src[i] != ">":
                self._fail(f"Unexpected end of name token at byte offset {self._offset(token)}")
        if _at(src, i) == "\0":
            self._fail(f"Unclosed start tag at byte offset {where}")
        return i, name, value

    def _quoted(self, i: int) -> tuple[int, str]:
        """A quoted attribute value (entities decoded); an unclosed quote runs to the end."""
        src, quote, chars = self.src, self.src[i], []
        i += 1
        while _at(src, i) not in (quote, "\0"):
            if src[i] == "&" and (decoded := decode_entity(src, i)) is not None:
                chars.append(decoded[0])
                i = decoded[1]
            else:
                chars.append(src[i])
                i += 1
        return i + (_at(src, i) == quote), "".join(chars)

    def _end_tag(self, begin: int) -> int:
        src, where = self.src, self._offset(begin)
        if not self.open:
            self._fail(f"Unexpected end tag at byte offset {where}")
        i = begin + 2
        while _at(src, i) not in _SPACE and src[i] != ">":
            i += 1
        name = _ascii_lower(src[begin + 2 : i])
        i = self._skip_spaces(i)
        if _at(src, i) != ">":
            self._fail(f"Unclosed end tag at byte offset {where}")
        top = self.open[-1]
        if name and name != top.tag:
            self._fail(
                f'Unmatched end tag at byte offset {where}, expected "</{top.tag}>", '
                f'found "</{name}>"'
            )
        if self.utf16 > top.offset:  # an empty element makes no entity
            self._close(top)
        self.open.pop()
        return i + 1

    def _close(self, top: _Open) -> None:
        offset, length = top.offset, self.utf16 - top.offset
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last.offset, last.length) == (offset, length)
        if top.tag in _SIMPLE:
            self.entities.append(Entity(_SIMPLE[top.tag], offset, length))
        elif top.tag == "tg-emoji":
            emoji = _emoji(top.argument)
            self.entities.append(Entity("custom_emoji", offset, length, custom_emoji_id=emoji))
        elif top.tag == "a":
            self._link(top, offset, length)
        elif top.tag == "blockquote":
            kind = "expandable_blockquote" if top.argument else "blockquote"
            self.entities.append(Entity(kind, offset, length))
        elif top.tag == "pre" and same_span and last and last.type == "code" and last.language:
            self.entities[-1] = replace(last, type="pre")  # <pre><code class=...>: one pre
        elif top.tag == "code" and same_span and last and last.type == "pre" and top.argument:
            self.entities[-1] = replace(last, language=top.argument)
        else:
            language = top.argument if top.tag == "code" else None
            self.entities.append(Entity(top.tag, offset, length, language=language))

    def _link(self, top: _Open, offset: int, length: int) -> None:
        url = top.argument or "".join(self.out[top.begin :])
        user_id = link_user_id(url)
        if user_id is not None:
            self.entities.append(Entity("text_mention", offset, length, user_id=user_id))
        elif (checked := checked_link(url)) is not None:
            self.entities.append(Entity("text_link", offset, length, url=checked))
        # a link Telegram cannot check (javascript:, no dot in the host) is dropped silently


def _argument(tag: str, name: str, value: str | None, current: str) -> str:
    """The one attribute each tag keeps; every other attribute is ignored, as by Telegram."""
    if tag == "blockquote" and name == "expandable":
        return "1"
    if value is None:
        return current
    if tag == "a" and name == "href":
        return value
    if tag == "code" and name == "class" and value.startswith("language-"):
        return value[len("language-") :]
    if tag == "span" and name == "class" and value.startswith("tg-"):
        return value[len("tg-") :]
    if tag == "tg-emoji" and name == "emoji-id":
        return value
    return current


def _emoji(raw: str) -> str:
    """A custom emoji id: a non-zero 64-bit integer, as tdlib's to_integer_safe reads it."""
    digits = raw[1:] if raw.startswith("-") else raw
    if not digits or not set(digits) <= _DIGITS or not -(2**63) <= int(raw) < 2**63 or not int(raw):
        raise MarkupError("Invalid custom emoji identifier specified")
    return str(int(raw))
