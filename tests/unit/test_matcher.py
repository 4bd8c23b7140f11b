"""The keyword matcher: stems, phrases, minus words, chat scopes, agreement with the baseline."""

from __future__ import annotations

import random

import pytest

from parser.matcher import Hit, KeywordSetRules, Matcher, NaiveMatcher, normalize_keyword
from parser.stemming import StemCache


def rules(
    keywords: list[str],
    exclude: list[str] | None = None,
    *,
    set_id: int = 1,
    name: str = "leads",
    campaign_id: int | None = None,
    chat_ids: frozenset[int] | None = None,
) -> KeywordSetRules:
    return KeywordSetRules(set_id, name, keywords, exclude or [], campaign_id, chat_ids)


def matched(keywords: list[str], text: str, exclude: list[str] | None = None) -> tuple[str, ...]:
    """Keywords of the one set that match ``text`` (empty when it does not match)."""
    hits = Matcher.compile([rules(keywords, exclude)]).match(text)
    assert hits == NaiveMatcher.compile([rules(keywords, exclude)]).match(text)
    return hits[0].keywords if hits else ()


# --- words -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Ищем разработчика", "Нужно 2 разработчиков", "Разработчику"])
def test_word_matches_its_russian_case_forms(text: str) -> None:
    assert matched(["разработчик"], text) == ("разработчик",)


def test_keyword_written_in_another_case_form_still_matches() -> None:
    assert matched(["разработчиков"], "ищу разработчика") == ("разработчиков",)


@pytest.mark.parametrize("text", ["Senior developers wanted", "a DEVELOPER", "developer."])
def test_english_word_matches_its_plural_and_any_case(text: str) -> None:
    assert matched(["developer"], text) == ("developer",)


def test_word_does_not_match_a_different_word_sharing_letters() -> None:
    assert matched(["сайт"], "сайтостроение и сайентология") == ()


def test_case_and_yo_are_ignored() -> None:
    assert matched(["актёр"], "АКТЕРОВ не хватает") == ("актёр",)
    assert matched(["актер"], "Актёры нужны") == ("актер",)


def test_emoji_and_punctuation_around_words_do_not_hide_them() -> None:
    assert matched(["разработчик"], "🔥🔥Разработчик!!!🚀(срочно)") == ("разработчик",)


def test_mixed_language_message_matches_keywords_of_both_languages() -> None:
    text = "Ищу python-разработчика, remote, senior developers welcome 👋"
    assert matched(["разработчик", "developer", "python", "дизайнер"], text) == (
        "разработчик",
        "developer",
        "python",
    )


def test_hyphenated_word_is_two_words() -> None:
    assert matched(["разработчик"], "нужен веб-разработчик") == ("разработчик",)
    assert matched(["веб-разработчик"], "нужен веб разработчик") == ("веб-разработчик",)
    assert matched(["веб-разработчик"], "Веб-разработчики, отзовитесь") == ("веб-разработчик",)


def test_links_mentions_and_emails_are_not_words() -> None:
    text = (
        "пишите @python_dev или dev@developer.io, см. https://example.com/developer и t.me/python"
    )
    assert matched(["developer", "python"], text) == ()


def test_digits_are_words_of_their_own() -> None:
    assert matched(["1С"], "ищу спеца по 1с бухгалтерии") == ("1С",)
    assert matched(["1С"], "работа с клиентами") == ()
    assert matched(["iphone 15"], "продам iPhone 15 pro") == ("iphone 15",)


def test_fancy_letters_and_stress_marks_are_normalised() -> None:
    assert matched(["developer"], "𝐃𝐞𝐯𝐞𝐥𝐨𝐩𝐞𝐫 needed") == ("developer",)
    assert matched(["разработчик"], "ищем разрабо\u0301тчика") == ("разработчик",)


def test_word_mixing_scripts_is_kept_whole_instead_of_mangled() -> None:
    # A Cyrillic "р" inside a Latin word is a homoglyph trick, not the word "python".
    assert matched(["python"], "р\u0443thon курсы") == ()
    assert matched(["рython"], "учу рython") == ("рython",)


# --- phrases ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["Нужно сделать сайт", "кто сделает сайты?", "Сделаю сайт недорого"]
)
def test_phrase_matches_its_words_in_order_in_any_form(text: str) -> None:
    assert matched(["сделать сайт"], text) == ("сделать сайт",)


def test_phrase_does_not_match_out_of_order() -> None:
    assert matched(["сделать сайт"], "сайт сделать") == ()


def test_phrase_does_not_match_split_by_another_word() -> None:
    assert matched(["сделать сайт"], "сделать новый сайт") == ()
    assert matched(["build a website"], "build a new website") == ()


def test_phrase_ignores_punctuation_and_emoji_between_its_words() -> None:
    assert matched(["сделать сайт"], "сделать — 🔥 сайт!") == ("сделать сайт",)


def test_english_phrase_matches_its_word_forms() -> None:
    assert matched(["build a website"], "Building a website for my shop") == ("build a website",)


def test_phrase_found_after_a_false_start() -> None:
    assert matched(["сделать сайт"], "сделать бы... сделать сайт") == ("сделать сайт",)


# --- minus words -----------------------------------------------------------------------------


def test_russian_minus_word_vetoes_the_set() -> None:
    assert matched(["разработчик"], "разработчик бесплатно", exclude=["бесплатный"]) == ()


def test_english_minus_word_vetoes_the_set() -> None:
    assert matched(["developer"], "developer, unpaid internships", exclude=["internship"]) == ()


def test_minus_phrase_vetoes_only_when_the_whole_phrase_is_there() -> None:
    exclude = ["ищу работу"]
    assert matched(["разработчик"], "разработчик, ищу работу", exclude) == ()
    assert matched(["разработчик"], "ищу разработчика на работу", exclude) == ("разработчик",)


def test_second_set_is_not_vetoed_by_the_first_sets_minus_word() -> None:
    sets = [
        rules(["дизайнер"], ["бесплатно"], set_id=1, name="design"),
        rules(["дизайнер"], [], set_id=2, name="any design"),
    ]
    hits = Matcher.compile(sets).match("нужен дизайнер бесплатно")
    assert [hit.set_name for hit in hits] == ["any design"]


# --- results and scope -----------------------------------------------------------------------


def test_message_that_matches_nothing_gives_no_hits() -> None:
    matcher = Matcher.compile([rules(["разработчик", "сделать сайт"])])
    assert matcher.match("Доброе утро всем, как выходные? ☀️") == []
    assert matcher.match("") == []
    assert matcher.match("🙂 !!! ...") == []


def test_hit_lists_matched_keywords_as_written_in_set_order() -> None:
    sets = [rules(["Сделать сайт", "лендинг", "Разработчик"], set_id=7, name="web", campaign_id=3)]
    hits = Matcher.compile(sets).match("разработчики: нужен лендинг, сайт потом")
    assert hits == [
        Hit(set_id=7, set_name="web", campaign_id=3, keywords=("лендинг", "Разработчик"))
    ]


def test_hits_follow_the_order_of_the_sets() -> None:
    sets = [rules(["сайт"], set_id=n, name=f"s{n}") for n in (3, 1, 2)]
    assert [hit.set_id for hit in Matcher.compile(sets).match("сайт")] == [3, 1, 2]


def test_scoped_set_matches_only_in_its_chats() -> None:
    matcher = Matcher.compile([rules(["сайт"], campaign_id=1, chat_ids=frozenset({10, 11}))])
    assert [hit.campaign_id for hit in matcher.match("сайт", chat_id=11)] == [1]
    assert matcher.match("сайт", chat_id=12) == []


@pytest.mark.parametrize("chat_ids", [None, frozenset()])
def test_set_without_chat_scope_matches_in_every_chat(chat_ids: frozenset[int] | None) -> None:
    matcher = Matcher.compile([rules(["сайт"], chat_ids=chat_ids)])
    assert len(matcher.match("сайт", chat_id=-100123)) == 1


def test_several_campaigns_sharing_a_chat_each_get_a_hit() -> None:
    sets = [
        rules(["сайт"], campaign_id=1, chat_ids=frozenset({10})),
        rules(["сайт"], campaign_id=2, chat_ids=frozenset({10, 20})),
        rules(["сайт"], campaign_id=3, chat_ids=frozenset({20})),
        rules(["сайт"], campaign_id=4),
    ]
    matcher = Matcher.compile(sets)
    assert [hit.campaign_id for hit in matcher.match("сайт", chat_id=10)] == [1, 2, 4]
    assert [hit.campaign_id for hit in matcher.match("сайт", chat_id=20)] == [2, 3, 4]


def test_no_chat_id_tries_every_set_whatever_its_scope() -> None:
    sets = [
        rules(["сайт"], campaign_id=1, chat_ids=frozenset({10})),
        rules(["сайт"], campaign_id=2),
    ]
    assert [hit.campaign_id for hit in Matcher.compile(sets).match("сайт")] == [1, 2]


# --- keyword validation ----------------------------------------------------------------------


def test_normalize_keyword_gives_lower_case_words_joined_by_one_space() -> None:
    assert normalize_keyword("  Веб-Разработчик!  ") == "веб разработчик"
    assert normalize_keyword("Build   a WEBSITE") == "build a website"
    assert normalize_keyword("Ёлка") == "елка"


@pytest.mark.parametrize(
    "raw", ["Веб-Разработчик", "1С", "𝐃𝐞𝐯𝐞𝐥𝐨𝐩𝐞𝐫", "разрабо\u0301тчик ⑴", "C++ developer"]
)
def test_normalized_keyword_is_stable_and_matches_what_the_raw_one_matches(raw: str) -> None:
    canonical = normalize_keyword(raw)
    assert normalize_keyword(canonical) == canonical
    assert matched([canonical], f"вот: {raw}!") == (canonical,)
    assert matched([raw], f"вот: {canonical}!") == (raw,)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("!!!", "no letters"),
        ("2024", "no letters"),
        ("@durov", "no words to match"),
        ("https://example.com", "no words to match"),
    ],
)
def test_normalize_keyword_rejects_a_keyword_that_can_never_match(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize_keyword(raw)


def test_compile_names_the_set_of_a_bad_keyword() -> None:
    with pytest.raises(ValueError, match="keyword set 'web': keyword '!!!' has no letters"):
        Matcher.compile([rules(["сайт"], ["!!!"], name="web")])


# --- the stem cache --------------------------------------------------------------------------


def test_stem_cache_serves_repeated_words_without_stemming_again() -> None:
    cache = StemCache()
    words = [f"разработчик{ending}" for ending in ("", "а", "у", "ом", "е", "и", "ов", "ам")] * 5
    stems = cache.stems(words + ["Developers"] * 3)
    assert set(stems) == {"разработчик", "develop"}
    assert cache.misses == 9


def test_stem_cache_stays_bounded_and_keeps_stemming_right() -> None:
    cache = StemCache(max_size=100)
    words = [f"сайт{n}" for n in range(1000)]
    assert cache.stems(words) == tuple(words)
    assert len(cache) <= 50  # the young generation; the old one holds at most as many
    assert cache.stems(["сайтами"]) == ("сайт",)


def test_recompiled_matcher_reuses_the_given_cache_warm() -> None:
    cache = StemCache()
    Matcher.compile([rules(["сайт"])], cache=cache).match("хочу сайт")
    misses = cache.misses
    assert Matcher.compile([rules(["хочу"])], cache=cache).match("хочу сайт") != []
    assert cache.misses == misses


# --- agreement with the baseline -------------------------------------------------------------

_FORMS = [
    *("разработчик разработчика разработчиков дизайнер дизайнера сайт сайта сайты".split()),
    *("сделать сделаю сделаем новый новая нужен нужна ищу ищем срочно бесплатно".split()),
    *("developer developers build building website websites new need free the a".split()),
    *("1с 15 веб-разработчик e-mail".split()),
]
_NOISE = ["", "!", ",", " 🔥", "...", " —", "?", " @someone", " https://t.me/x"]


def _random_keyword(rng: random.Random) -> str:
    words = [rng.choice(_FORMS) for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))]
    return " ".join(words) if not all(w.isdigit() for w in words) else "сайт"


def _random_set(rng: random.Random, set_id: int) -> KeywordSetRules:
    chat_ids = rng.choice([None, frozenset(), frozenset(rng.sample(range(5), rng.randint(1, 3)))])
    return KeywordSetRules(
        set_id=set_id,
        name=f"set{set_id}",
        keywords=[_random_keyword(rng) for _ in range(rng.randint(1, 4))],
        exclude=[_random_keyword(rng) for _ in range(rng.choice((0, 0, 1, 2)))],
        campaign_id=rng.choice([None, set_id % 4]),
        chat_ids=chat_ids,
    )


def _random_message(rng: random.Random) -> str:
    words = [rng.choice(_FORMS) + rng.choice(_NOISE) for _ in range(rng.randint(0, 15))]
    return " ".join(word.upper() if rng.random() < 0.1 else word for word in words)


def test_matcher_agrees_with_naive_matcher_on_generated_messages() -> None:
    rng = random.Random(20240601)
    sets = [_random_set(rng, n) for n in range(40)]
    ours, naive = Matcher.compile(sets), NaiveMatcher.compile(sets)
    hits_seen = 0
    for _ in range(600):
        text, chat_id = _random_message(rng), rng.choice([None, 0, 1, 2, 3, 4, 99])
        expected = naive.match(text, chat_id)
        assert ours.match(text, chat_id) == expected, (text, chat_id)
        hits_seen += len(expected)
    assert hits_seen > 200  # the generator really exercises matches, not only misses
