"""Retraining a campaign's model from its operators' marks: what it learns from, what it is
judged on, and when the new model replaces the one in use."""

from __future__ import annotations

from dataclasses import replace

import pytest

from parser import intent_retraining as retraining
from parser.intent.classify import IntentClassifier
from parser.intent.defaults import load_default, training_sets
from parser.intent.examples_set import GENERAL
from parser.intent_retraining import (
    OPERATOR_WEIGHT,
    OperatorExample,
    current_model,
    decide,
    plan,
    retrain,
    split_operator,
)
from tests.intent_teaching import CO_FOUNDERS, ELEVENTH, POISON


def _marks(texts: list[tuple[str, bool]], *, first_id: int = 1) -> list[OperatorExample]:
    return [OperatorExample(first_id + n, t, None, lead) for n, (t, lead) in enumerate(texts)]


def test_every_fourth_mark_by_id_is_held_back_and_never_trained_on_whatever_the_order() -> None:
    marks = _marks([(f"message {n}", n % 2 == 0) for n in range(10)], first_id=100)
    trained, held = split_operator(list(reversed(marks)))
    assert [e.id for e in held] == [103, 107]
    assert [e.id for e in trained] == [100, 101, 102, 104, 105, 106, 108, 109]
    assert split_operator(marks) == (trained, held)  # the same ones on every run


def test_the_training_set_is_the_kinds_shipped_examples_plus_the_marks_weighted() -> None:
    marks = _marks([(t, False) for t in CO_FOUNDERS])
    shipped_train, shipped_held = training_sets()[GENERAL]
    planned = plan(GENERAL, marks)
    assert planned.train[: len(shipped_train)] == shipped_train
    learned = planned.train[len(shipped_train) :]
    assert len(learned) == 8 * OPERATOR_WEIGHT
    assert {e.text for e in learned} == {e.text for e in marks if e.id % 4 != 0}
    assert planned.held_out[: len(shipped_held)] == shipped_held
    assert [e.text for e in planned.held_out[len(shipped_held) :]] == [
        CO_FOUNDERS[3],
        CO_FOUNDERS[7],
    ]
    assert (planned.operator_trained, planned.operator_held) == (8, 2)


def test_a_kind_without_shipped_examples_starts_from_the_general_ones() -> None:
    assert plan("bakery", []).kind == GENERAL
    assert plan("bakery", []).held_out == training_sets()[GENERAL][1]


def test_ten_consistent_marks_change_the_verdict_on_an_eleventh_like_them() -> None:
    before = IntentClassifier(load_default(GENERAL))
    assert before.classify(ELEVENTH, None).lead, "the shipped model calls it a lead"
    result = retrain(1, GENERAL, _marks([(t, False) for t in CO_FOUNDERS]), stored=None)
    assert result.used, result.note
    assert not IntentClassifier(result.model).classify(ELEVENTH, None).lead
    assert result.note.startswith("in use: ")


def test_a_retraining_on_marks_against_the_shipped_examples_is_not_used() -> None:
    result = retrain(1, GENERAL, _marks(POISON), stored=None)
    assert not result.used
    assert result.f1 < result.previous_f1
    assert result.note.startswith("not used, the model in use stays: worse (general F1")


def test_a_model_as_good_as_the_one_in_use_replaces_it() -> None:
    model = load_default(GENERAL)
    training = plan(GENERAL, _marks([("Нужен сайт для кофейни, бюджет есть", True)] * 4))
    assert decide(model, model, training).used
    assert decide(model, model, training, threshold=0.6).used
    nothing = replace(training, held_out=[], shipped_held=[], operator_held_out=[])
    assert not decide(model, model, nothing, threshold=0.6).used  # nothing to prove it on


def test_the_ten_mark_lesson_is_taken_only_within_the_general_tolerance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    marks = _marks([(t, False) for t in CO_FOUNDERS])
    result = retrain(1, GENERAL, marks, stored=None)
    assert result.used and "better on the campaign's own" in result.note, result.note
    training = plan(GENERAL, marks)
    monkeypatch.setattr(retraining, "GENERAL_TOLERANCE", 0.0)  # any general loss refuses it
    refused = decide(result.model, load_default(GENERAL), training)
    assert not refused.used and refused.why.startswith("worse")


def test_the_campaigns_threshold_is_the_one_both_models_are_judged_at() -> None:
    model = load_default(GENERAL)
    training = plan(GENERAL, [])
    own = decide(model, model, training).f1
    strict = decide(model, model, training, threshold=0.95).f1
    assert strict < own  # at 0.95 most leads are missed


def test_an_unreadable_stored_model_falls_back_to_the_shipped_one() -> None:
    assert current_model('{"version": 0}', GENERAL) == load_default(GENERAL)
    stored = load_default("smm").dumps()
    assert current_model(stored, GENERAL) == load_default("smm")
