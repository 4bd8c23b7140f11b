"""Telegram HTML for alerts: anything a lead or a sender wrote is escaped, and a message over
Telegram's 4,096 characters is cut with every tag closed."""

from __future__ import annotations

from html.parser import HTMLParser

from notifier import telegram_html as h

HOSTILE = 'a < b & c > d "q" <script>alert(1)</script> &amp; 🚀'


class _Balanced(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open}"
        self.open.pop()


def _balanced(markup: str) -> bool:
    parser = _Balanced()
    parser.feed(markup)
    return parser.open == []


def test_hostile_text_is_escaped_and_reads_back_the_same() -> None:
    shown = h.bold(HOSTILE)
    assert "<script>" not in shown
    assert h.plain(shown) == HOSTILE


def test_a_long_message_is_cut_to_the_limit_with_every_tag_closed() -> None:
    markup = h.bold("title") + "\n" + h.quote(HOSTILE * 200) + "\n" + h.italic("footer")
    cut = h.cut(markup, 4096)
    assert h.units(h.plain(cut)) <= 4096
    assert h.plain(cut).endswith("…")
    assert _balanced(cut)
    assert cut.startswith("<b>title</b>")


def test_the_cut_counts_emoji_as_telegram_does() -> None:
    markup = h.esc("🚀" * 3000)  # 6,000 UTF-16 units
    cut = h.cut(markup, 4096)
    assert h.units(h.plain(cut)) <= 4096
    assert "\ud83d" not in h.plain(cut)  # no half of a pair


def test_a_message_within_the_limit_is_left_alone() -> None:
    markup = h.bold("ok") + " " + h.link("https://example.com/?a=1&b=2", "details")
    assert h.cut(markup) == markup
    assert 'href="https://example.com/?a=1&amp;b=2"' in markup
