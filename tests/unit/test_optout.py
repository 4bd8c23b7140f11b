"""Opt-out detection: replies that must silence us, and look-alikes that must not."""

from __future__ import annotations

import pytest

from manager.optout import DEFAULT_OPT_OUT_PHRASES, OptOutDetector, normalise_words

DETECTOR = OptOutDetector()


@pytest.mark.parametrize(
    "reply",
    ["stop", "unsubscribe", "opt out", "Please unsubscribe me from this list", "leave me alone"],
)
def test_english_opt_out_replies_are_detected(reply: str) -> None:
    assert DETECTOR.is_opt_out(reply)


@pytest.mark.parametrize(
    "reply",
    ["отписаться", "отпишите", "не пишите", "не пишите мне", "хватит", "стоп", "спам"],
)
def test_russian_opt_out_replies_are_detected(reply: str) -> None:
    assert DETECTOR.is_opt_out(reply)


def test_required_phrases_are_in_the_defaults() -> None:
    required = {
        "stop",
        "unsubscribe",
        "opt out",
        "отписаться",
        "отпишите",
        "не пишите",
        "не пишите мне",
        "хватит",
        "стоп",
        "больше не пишите",
        "спам",
    }
    assert required <= set(DEFAULT_OPT_OUT_PHRASES)


@pytest.mark.parametrize("reply", ["STOP", "Stop", "ОТПИСАТЬСЯ", "Не Пишите"])
def test_case_does_not_matter(reply: str) -> None:
    assert DETECTOR.is_opt_out(reply)


@pytest.mark.parametrize(
    "reply", ["stop!!!", "...стоп.", "«Хватит!»", "Не пишите!!!", "(unsubscribe)"]
)
def test_punctuation_around_words_is_ignored(reply: str) -> None:
    assert DETECTOR.is_opt_out(reply)


@pytest.mark.parametrize("reply", ["🛑 stop 🛑", "хватит😡", "🙅‍♀️не пишите мне🙅‍♀️"])
def test_emoji_are_word_separators_not_noise(reply: str) -> None:
    assert DETECTOR.is_opt_out(reply)


@pytest.mark.parametrize("reply", ["стоооп", "STOOOOP", "хвааатит", "спаааам!!!"])
def test_stretched_letters_are_squeezed(reply: str) -> None:
    assert DETECTOR.is_opt_out(reply)


def test_yo_is_read_as_ye() -> None:
    detector = OptOutDetector(["отстаньте от меня"])
    assert detector.is_opt_out("Отстаньтё от мёня")


@pytest.mark.parametrize(
    "reply",
    [
        "пожалуйста, не пишите мне больше",
        "Добрый день. Больше не пишите, мне это не нужно, спасибо за понимание.",
        "I have told you twice already: do not write to me on this account again",
        "Здравствуйте, подскажите, как отписаться от вашей рассылки? Она мне не нужна",
        "please stop",
        "ну хватит уже",
    ],
)
def test_opt_out_is_found_among_surrounding_words(reply: str) -> None:
    assert DETECTOR.is_opt_out(reply)


@pytest.mark.parametrize(
    "reply",
    [
        "don't stop the project",
        "Don’t stop",
        "set a stop-loss at 5%",
        "нестандартный подход",
        "это не спам",
        "Hi! Sounds interesting, what does it cost?",
        "We need a bot that can stop orders when the stock runs out, can you build that?",
        "Спасибо, пока не интересно",
        "not interested, thanks",
        "Мы писали вам вчера про спам-фильтр для нашего чата, он работает?",
    ],
)
def test_ordinary_replies_and_look_alikes_are_not_opt_outs(reply: str) -> None:
    assert not DETECTOR.is_opt_out(reply)


def test_single_word_phrase_in_a_long_message_does_not_fire() -> None:
    reply = "When the bus stop near our office closes we will need the delivery bot"
    assert not DETECTOR.is_opt_out(reply)


def test_short_message_limit_is_configurable() -> None:
    reply = "ok that is enough, stop it now"
    assert not OptOutDetector(max_short_words=6).is_opt_out(reply)
    assert OptOutDetector(max_short_words=8).is_opt_out(reply)


def test_negation_before_a_single_word_prevents_the_match() -> None:
    assert not DETECTOR.is_opt_out("never stop")
    assert DETECTOR.is_opt_out("just stop")


def test_custom_phrase_list_replaces_the_defaults() -> None:
    detector = OptOutDetector(["basta", "lass mich in ruhe"])
    assert detector.is_opt_out("Basta!")
    assert detector.is_opt_out("Bitte, lass mich in Ruhe.")
    assert not detector.is_opt_out("stop")


def test_custom_phrase_with_stretched_letters_still_matches_itself() -> None:
    detector = OptOutDetector(["all good, goodbye"])
    assert detector.is_opt_out("all good, goodbye")
    assert detector.is_opt_out("alll goood goodbyeee")


@pytest.mark.parametrize("bad", ["", "   ", "!!!", "🙂"])
def test_phrase_without_words_is_rejected_with_its_position(bad: str) -> None:
    with pytest.raises(ValueError, match=r"opt-out phrase #1 .*no words"):
        OptOutDetector(["stop", bad])


def test_empty_phrase_list_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        OptOutDetector([])


def test_normalisation_keeps_hyphenated_words_whole_and_joins_apostrophes() -> None:
    assert normalise_words("Don't STOP-loss, Ёжик!!") == ("dont", "stop-los", "ежик")
