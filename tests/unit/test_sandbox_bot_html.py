"""The sandbox parses parse_mode=HTML the way Telegram's server does (tdlib's parser, read in its
source): plain text plus entities in UTF-16 units, and refusals in Telegram's words."""

from __future__ import annotations

import html
from typing import Any

import pytest
from aiogram.utils.formatting import (
    BlockQuote,
    Bold,
    Code,
    CustomEmoji,
    ExpandableBlockQuote,
    Italic,
    Spoiler,
    Strikethrough,
    Text,
    TextLink,
    Underline,
)

from sandbox.bot_entities import read_entities
from sandbox.bot_html import Entity, FormattedText, parse_html, utf16_len
from sandbox.bot_links import LinkRefused, check_link, checked_link
from sandbox.bot_text import MAX_TEXT, format_text
from sandbox.errors import BotApiError

LEAD_TEXT = "Анна <a@b.ru> пишет: \"цена < 100$ & скидка > 5%\" 😀 'ок' <script>x</script>"


def spans(formatted: FormattedText) -> list[tuple[Any, ...]]:
    return [
        (e.type, e.offset, e.length, e.url or e.language or e.custom_emoji_id or e.user_id)
        for e in formatted.entities
    ]


def refusal(text: str, parse_mode: str | None = "HTML") -> str:
    with pytest.raises(BotApiError) as refused:
        format_text(text, parse_mode)
    assert refused.value.status == 400
    return refused.value.description


def test_nested_tags_become_plain_text_with_one_entity_per_tag() -> None:
    parsed = format_text("<b>bold <i>both</i></b> <u>u</u><s>s</s>", "HTML")

    assert parsed.text == "bold both us"
    assert spans(parsed) == [
        ("bold", 0, 9, None),
        ("italic", 5, 4, None),
        ("underline", 10, 1, None),
        ("strikethrough", 11, 1, None),
    ]


def test_offsets_count_utf16_units_so_an_emoji_counts_twice() -> None:
    parsed = format_text("😀 <b>Анна 🚀</b> <i>x</i>", "HTML")

    assert parsed.text == "😀 Анна 🚀 x"
    assert spans(parsed) == [("bold", 3, 7, None), ("italic", 11, 1, None)]


def test_every_tag_telegram_knows_gives_its_entity_type() -> None:
    source = (
        "<strong>a</strong><em>b</em><ins>c</ins><strike>d</strike><del>e</del>"
        '<tg-spoiler>f</tg-spoiler><span class="tg-spoiler">g</span><code>h</code><pre>i</pre>'
        '<blockquote>j</blockquote><blockquote expandable>k</blockquote><a href="https://x.io">l</a>'
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>'
    )
    parsed = format_text(source, "HTML")

    assert parsed.text == "abcdefghijkl👍"
    assert [e.type for e in parsed.entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "strikethrough",
        "spoiler",
        "spoiler",
        "code",
        "pre",
        "blockquote",
        "expandable_blockquote",
        "text_link",
        "custom_emoji",
    ]
    assert parsed.entities[-1].custom_emoji_id == "5368324170671202286"
    assert parsed.entities[-1].length == 2


def test_pre_with_a_code_class_is_one_pre_entity_with_its_language() -> None:
    parsed = format_text('<pre><code class="language-python">x = 1</code></pre>', "HTML")

    assert spans(parsed) == [("pre", 0, 5, "python")]


def test_a_language_anywhere_but_code_class_is_ignored_as_by_telegram() -> None:
    # aiogram's Pre(language=...).as_html() writes this; Telegram keeps no language for it
    assert spans(format_text('<pre><code language="language-python">x</code></pre>', "HTML")) == [
        ("pre", 0, 1, None),
        ("code", 0, 1, None),
    ]
    assert spans(format_text('<code class="language-python">x</code>', "HTML")) == [
        ("code", 0, 1, None)
    ]


def test_links_are_stored_normalised_and_unusable_ones_are_dropped() -> None:
    parsed = format_text(
        '<a href="HTTPS://Example.com">a</a> <a href="javascript:alert(1)">b</a> '
        '<a href="tg://user?id=42">c</a> <a>t.me/x?a=1</a> <a href="https://x">d</a>',
        "HTML",
    )

    assert parsed.text == "a b c t.me/x?a=1 d"
    assert spans(parsed) == [
        ("text_link", 0, 1, "https://example.com/"),
        ("text_mention", 4, 1, 42),
        ("text_link", 6, 10, "http://t.me/x?a=1"),
    ]
    assert checked_link("https://host.io:8443/p q") == "https://host.io:8443/p%20q"
    assert checked_link("tg://resolve?domain=x") == "tg://resolve?domain=x"
    assert checked_link("ftp://files.io") is None


def test_escaped_lead_text_with_brackets_ampersands_quotes_and_emoji_comes_back_unchanged() -> None:
    for escaped in (html.escape(LEAD_TEXT, quote=False), html.escape(LEAD_TEXT)):
        parsed = format_text(f"<b>Lead</b>\n<blockquote>{escaped}</blockquote>", "HTML")

        assert parsed.text == f"Lead\n{LEAD_TEXT}"
        assert spans(parsed) == [
            ("bold", 0, 4, None),
            ("blockquote", 5, utf16_len(LEAD_TEXT), None),
        ]


def test_entities_decode_and_an_ampersand_that_starts_none_stays_text_as_in_telegram() -> None:
    parsed = parse_html("&lt;&gt;&amp;&quot; &#65;&#x42;&#128512; &lt &nbsp; AT&T & co")

    assert parsed.text == '<>&" AB😀 < &nbsp; AT&T & co'


def test_aiogram_formatting_as_html_parses_to_the_entities_aiogram_computes() -> None:
    content = Text(
        "Лид 😀 ",
        Bold("Анна <a&b> ", Italic("«ищет» 🚀")),
        " ",
        TextLink("site", url="https://example.com/"),
        " ",
        Code("x<y"),
        Spoiler("s"),
        Underline("u"),
        Strikethrough("st"),
        BlockQuote("q"),
        ExpandableBlockQuote("eq"),
        CustomEmoji("👍", custom_emoji_id="123"),
    )
    expected = content.as_kwargs()

    parsed = format_text(content.as_html(), "HTML")

    assert parsed.text == expected["text"]
    assert [e.model_dump(exclude_none=True) for e in expected["entities"]] == [
        {k: v for k, v in vars_of(e).items() if v is not None} for e in parsed.entities
    ]


def vars_of(entity: Entity) -> dict[str, Any]:
    return {
        "type": entity.type,
        "offset": entity.offset,
        "length": entity.length,
        "url": entity.url,
        "language": entity.language,
        "custom_emoji_id": entity.custom_emoji_id,
    }


def test_surrounding_spaces_and_newlines_are_trimmed_and_entities_follow() -> None:
    parsed = format_text(" \n <b>x</b> y \n\n", "HTML")

    assert parsed == FormattedText("x y", (Entity("bold", 0, 1),))
    assert format_text("  plain <b>tags</b> kept  ", None).text == "plain <b>tags</b> kept"


def test_carriage_returns_vanish_and_tabs_become_spaces_with_entities_following() -> None:
    parsed = format_text("a\r\n<b>b\tc\r\n\u2028d</b> 😀\r<i>e</i>", "HTML")

    assert parsed.text == "a\nb c\nd 😀e"
    assert spans(parsed) == [("bold", 2, 5, None), ("italic", 10, 1, None)]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("price <100 or more", 'Unsupported start tag "100" at byte offset 6'),
        ("Привет <p>x</p>", 'Unsupported start tag "p" at byte offset 13'),
        ("<b/>", 'Unsupported start tag "b/" at byte offset 0'),
        ("a <b", "Unclosed start tag at byte offset 2"),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<b>x</b", "Unclosed end tag at byte offset 4"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<a href="x', "Unclosed start tag at byte offset 0"),
        ("<a href=https://x.io>y</a>", "Unexpected end of name token at byte offset 8"),
        ("<b =x>y</b>", 'Empty attribute name in the tag "b" at byte offset 0'),
        ("<b x", 'Unclosed start tag "b" at byte offset 0'),
        ('<tg-emoji emoji-id="x">y</tg-emoji>', "Invalid custom emoji identifier specified"),
        (
            "&#xD83D;",
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units",
        ),
    ],
)
def test_bad_markup_is_refused_in_telegrams_words(source: str, reason: str) -> None:
    assert refusal(source) == f"Bad Request: can't parse entities: {reason}"


def test_an_unescaped_lead_text_kills_the_message_as_it_would_in_production() -> None:
    assert "can't parse entities: Unsupported start tag" in refusal(f"<b>Lead</b> {LEAD_TEXT}")


def test_empty_text_unknown_parse_modes_and_markdown_are_refused() -> None:
    assert refusal("", None) == "Bad Request: message text is empty"
    assert refusal("<b> </b>\n") == "Bad Request: text must be non-empty"
    assert refusal("x", "XML") == "Bad Request: unsupported parse_mode"
    assert "only parse_mode HTML" in refusal("*x*", "MarkdownV2")
    assert format_text("<b>x</b>", "none").text == "<b>x</b>"
    assert format_text("<b>x</b>", "html").text == "x"


def test_the_length_limit_counts_characters_after_parsing() -> None:
    markup = "<b>" + "я" * MAX_TEXT + "</b>"
    assert len(format_text(markup, "HTML").text) == MAX_TEXT
    assert len(format_text("😀" * MAX_TEXT, None).text) == MAX_TEXT  # characters, not UTF-16

    assert refusal("<b>" + "я" * (MAX_TEXT + 1) + "</b>") == "Bad Request: message is too long"
    assert refusal("x" * ((1 << 15) + 1)) == "Bad Request: text is too long"


def test_explicit_entities_count_only_without_a_parse_mode_and_are_cut_to_the_text() -> None:
    given = read_entities(
        [
            {"type": "italic", "offset": 2, "length": 50},
            {"type": "url", "offset": 0, "length": 1},  # Telegram finds these itself
            {"type": "bold", "offset": "0", "length": 1},
            {"type": "text_link", "offset": 0, "length": 1, "url": "javascript:x"},
        ]
    )

    plain = format_text("ab cd  ", None, given)
    assert spans(plain) == [("bold", 0, 1, None), ("italic", 2, 3, None)]
    assert format_text("<b>x</b>", "HTML", given).entities == (Entity("bold", 0, 1),)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ({"type": "bold"}, "can't parse entities JSON object"),
        (["bold"], "can't parse MessageEntity: expected an Object"),
        ([{"type": "bold", "length": 1}], "can't parse MessageEntity: Can't find field \"offset\""),
        ([{"type": "blink", "offset": 0, "length": 1}], "Unsupported type specified"),
        ([{"type": "text_link", "offset": 0, "length": 1}], 'Can\'t find field "url"'),
        ([{"type": "bold", "offset": -1, "length": 1}], "incorrect offset -1"),
    ],
)
def test_malformed_explicit_entities_are_refused(raw: Any, reason: str) -> None:
    with pytest.raises(BotApiError) as refused:
        read_entities(raw)

    assert refused.value.status == 400 and reason in refused.value.description


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("http://localhost:8000/x", "Wrong HTTP URL"),
        ("happ://add/x", "Unsupported URL protocol"),
        ("https://host.io:0/", "Wrong port number specified in the URL"),
        ("https://ho st.io/", "Disallowed character in URL host"),
        ("https://x.io%zz/", "Wrong percent-encoded symbol in URL host"),
        ("tg://http://x", "Wrong tg URL"),
        ("https:///path", "URL host is empty"),
    ],
)
def test_links_telegram_cannot_check_are_refused_with_its_reason(link: str, reason: str) -> None:
    with pytest.raises(LinkRefused) as refused:
        check_link(link)

    assert str(refused.value) == reason
