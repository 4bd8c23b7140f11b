"""Telegram's HTML parse mode: escaping what we did not write, and cutting a long message to
Telegram's 4,096 characters without breaking its markup (the cut closes every open tag).

Telegram counts the text after parsing, in UTF-16 code units, so that is what is counted here.
"""

from __future__ import annotations

import html
from html.parser import HTMLParser

TELEGRAM_LIMIT = 4096
ELLIPSIS = "…"


def esc(text: object) -> str:
    """Text as Telegram shows it: ``<``, ``>`` and ``&`` escaped (quotes are fine outside tags)."""
    return html.escape(str(text), quote=False)


def bold(text: object) -> str:
    return f"<b>{esc(text)}</b>"


def italic(text: object) -> str:
    return f"<i>{esc(text)}</i>"


def code(text: object) -> str:
    return f"<code>{esc(text)}</code>"


def link(url: str, text: object) -> str:
    return f'<a href="{html.escape(url, quote=True)}">{esc(text)}</a>'


def quote(text: object) -> str:
    return f"<blockquote>{esc(text)}</blockquote>"


def units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji is often two)."""
    return len(text.encode("utf-16-le")) // 2


def shorten(text: str, limit: int) -> str:
    """Plain text cut to ``limit`` characters with an ellipsis (before escaping)."""
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


class _Cutter(HTMLParser):
    def __init__(self, budget: int) -> None:
        super().__init__(convert_charrefs=True)
        self.budget = budget
        self.out: list[str] = []
        self.open: list[str] = []
        self.full = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.full:
            return
        rendered = "".join(f' {k}="{html.escape(v or "", quote=True)}"' for k, v in attrs)
        self.out.append(f"<{tag}{rendered}>")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.full or tag not in self.open:
            return
        while self.open:
            last = self.open.pop()
            self.out.append(f"</{last}>")
            if last == tag:
                break

    def handle_data(self, data: str) -> None:
        if self.full:
            return
        size = units(data)
        if size <= self.budget:
            self.out.append(esc(data))
            self.budget -= size
            return
        kept = data
        while kept and units(kept) > self.budget:
            kept = kept[: len(kept) - max(1, units(kept) - self.budget)]
        self.out.append(esc(kept))
        self.budget = 0
        self.full = True


def cut(markup: str, limit: int = TELEGRAM_LIMIT) -> str:
    """``markup`` (valid Telegram HTML) whose visible text fits ``limit``; when it is cut, the text
    ends with an ellipsis and every tag opened before the cut is closed."""
    parser = _Cutter(limit)
    parser.feed(markup)
    parser.close()
    if not parser.full:
        return markup
    # Start again with room for the ellipsis, so the ellipsis itself never overflows.
    parser = _Cutter(limit - units(ELLIPSIS))
    parser.feed(markup)
    parser.close()
    closing = "".join(f"</{tag}>" for tag in reversed(parser.open))
    return "".join(parser.out) + ELLIPSIS + closing


def plain(markup: str) -> str:
    """The visible text of ``markup`` (sent without parse mode if Telegram ever refuses ours)."""
    parts: list[str] = []

    class _Text(HTMLParser):
        def handle_data(self, data: str) -> None:
            parts.append(data)

    reader = _Text(convert_charrefs=True)
    reader.feed(markup)
    reader.close()
    return "".join(parts)
