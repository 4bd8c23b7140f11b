"""The intent model as stored data: round trip, refusal of altered or old models, determinism."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from parser.intent.classify import IntentClassifier
from parser.intent.defaults import load_default
from parser.intent.examples_set import LabelledExample
from parser.intent.model import IntentModel, IntentModelError
from parser.intent.training import train

BUYERS = [
    "ищу разработчика на лендинг, бюджет 40к",
    "нужен сайт для кофейни, кто сделает?",
    "посоветуйте верстальщика, макет готов",
    "need a developer for a shopify store, paying well",
    "looking for someone to build a website for my bakery",
    "кто может сделать телеграм бот для записи клиентов?",
]
SELLERS = [
    "я разработчик, делаю сайты под ключ, пишите",
    "делаю лендинги на тильде недорого, портфолио в профиле",
    "верстальщик ищет заказы, опыт 5 лет",
    "I am a web developer, I build websites, DM me",
    "our studio builds bots and sites, free consultation",
    "разрабатываю телеграм боты, обращайтесь",
]


def _examples() -> list[LabelledExample]:
    return [LabelledExample(text=t, lead=True) for t in BUYERS] + [
        LabelledExample(text=t, lead=False) for t in SELLERS
    ]


def test_a_saved_model_loads_back_to_identical_scores() -> None:
    model = load_default("web_development")
    loaded = IntentModel.loads(model.dumps())
    texts = BUYERS + SELLERS
    before = [IntentClassifier(model).score(t) for t in texts]
    assert [IntentClassifier(loaded).score(t) for t in texts] == before


def test_a_model_of_another_version_is_refused_with_a_clear_message() -> None:
    data = json.loads(load_default("general").dumps())
    data["version"] = 0
    with pytest.raises(IntentModelError, match="version 0 is not supported.*retrain"):
        IntentModel.loads(json.dumps(data))


def test_an_altered_weight_is_refused() -> None:
    data = json.loads(load_default("general").dumps())
    data["intercept"] = data["intercept"] + 1.0
    with pytest.raises(IntentModelError, match="checksum.*altered"):
        IntentModel.loads(json.dumps(data))


def test_a_model_that_is_not_json_or_has_unknown_fields_is_refused() -> None:
    with pytest.raises(IntentModelError, match="not JSON"):
        IntentModel.loads(b"\x80\x04 pickle")
    data = json.loads(load_default("general").dumps())
    data["__reduce__"] = "os.system"
    with pytest.raises(IntentModelError, match="__reduce__"):
        IntentModel.loads(json.dumps(data))


def test_training_is_deterministic_for_a_seed() -> None:
    first = train(_examples(), seed=7)
    second = train(_examples(), seed=7)
    assert first.indices_b64 == second.indices_b64
    assert first.values_b64 == second.values_b64
    assert first.checksum == second.checksum


def test_training_needs_both_labels() -> None:
    with pytest.raises(ValueError, match="both"):
        train([LabelledExample(text=t, lead=True) for t in BUYERS], seed=1)


def test_scoring_a_shipped_model_does_not_import_scikit_learn() -> None:
    code = (
        "import sys\n"
        "from parser.intent.classify import IntentClassifier\n"
        "from parser.intent.defaults import load_default\n"
        "from parser.intent.evaluation import evaluate\n"
        "IntentClassifier(load_default('general')).classify('нужен сайт', 'bio')\n"
        "assert 'sklearn' not in sys.modules and 'scipy' not in sys.modules, 'imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
