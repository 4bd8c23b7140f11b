"""``keywords test``: one result per input line, which set matched and with which keywords."""

from __future__ import annotations

import pytest

from core.intent import IntentPolicy
from parser.keywords_cli import STAGE_OFF, IntentTrial, keywords_test
from parser.matcher import KeywordSetRules

SETS = [
    KeywordSetRules(1, "web", ["сделать сайт", "лендинг"], ["бесплатно"], chat_ids=frozenset({5})),
    KeywordSetRules(2, "devs", ["разработчик", "developer"], []),
    KeywordSetRules(3, "devs", ["разработчик", "developer"], [], campaign_id=9),
]


def test_each_line_gets_one_result_without_its_newline() -> None:
    results = list(keywords_test(SETS, None, ["нужен лендинг\n", "привет всем\r\n", ""]))
    assert results == [
        {"text": "нужен лендинг", "matched": True, "set": "web", "keywords": ["лендинг"]},
        {"text": "привет всем", "matched": False, "set": None, "keywords": []},
        {"text": "", "matched": False, "set": None, "keywords": []},
    ]


def test_several_matching_sets_report_the_first_and_list_them_all_once() -> None:
    [result] = keywords_test(SETS, None, ["Разработчики, сделаем сайт?\n"])
    assert result == {
        "text": "Разработчики, сделаем сайт?",
        "matched": True,
        "set": "web",
        "keywords": ["сделать сайт"],
        "sets": ["web", "devs"],
    }


def test_one_set_used_by_several_campaigns_is_not_several_sets() -> None:
    [result] = keywords_test(SETS, None, ["senior developers"])
    assert result == {
        "text": "senior developers",
        "matched": True,
        "set": "devs",
        "keywords": ["developer"],
    }


def test_named_set_is_the_only_one_tried() -> None:
    results = list(keywords_test(SETS, "devs", ["сделать сайт, разработчик", "нужен лендинг"]))
    assert results == [
        {
            "text": "сделать сайт, разработчик",
            "matched": True,
            "set": "devs",
            "keywords": ["разработчик"],
        },
        {"text": "нужен лендинг", "matched": False, "set": None, "keywords": []},
    ]


def test_minus_word_makes_the_line_not_match() -> None:
    [result] = keywords_test(SETS, "web", ["лендинг бесплатно"])
    assert result["matched"] is False


def test_unknown_set_is_refused_at_once_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"^unknown keyword set 'seo'; known: web, devs$"):
        keywords_test(SETS, "seo", iter(()))


def test_a_matched_line_carries_the_verdict_of_its_sets_campaign_policy() -> None:
    trial = IntentTrial({"web": IntentPolicy(enabled=False), "devs": IntentPolicy(threshold=0.9)})
    buyer, seller = "Нужен разработчик, кто возьмётся? Бюджет есть", "Я разработчик, пишите"
    results = list(keywords_test(SETS, None, [buyer, seller, "нужен лендинг", "привет"], trial))
    assert [r.get("lead") for r in results] == [True, False, True, None]
    assert isinstance(results[0]["score"], float) and "«нужен»" in str(results[0]["reason"])
    assert (results[2]["score"], results[2]["reason"]) == (None, STAGE_OFF)
    assert "score" not in results[3]  # no keyword: the second stage never sees it


def test_the_options_override_every_sets_policy() -> None:
    trial = IntentTrial({"devs": IntentPolicy(threshold=0.9)}, threshold=0.05)
    [result] = keywords_test(SETS, "devs", ["Ищу разработчика на проект"], trial)
    assert 0.05 <= float(str(result["score"])) < 0.9  # a lead only by the option's threshold
    assert result["lead"] is True
