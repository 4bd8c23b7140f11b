"""One retraining of a campaign's intent model, and whether it replaces the one in use.

Plain functions, synchronous and CPU-bound: the retrainer (``parser.intent_retrainer``) runs
``retrain`` in a thread. The training set is the shipped training examples of the campaign's
model kind plus the operators' examples of the campaign, each counted ``OPERATOR_WEIGHT`` times;
the held-back set is the kind's shipped held-out examples plus every ``HELD_EVERY``-th operator
example (in id order), which is then not trained on. Both models are scored on that same set and
the new one is used only when it does at least as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from parser.intent.defaults import SEED, load_default, training_sets
from parser.intent.evaluation import better_or_equal, evaluate
from parser.intent.examples_set import GENERAL, LabelledExample
from parser.intent.model import IntentModel, IntentModelError

# ~10 consistent marks count as ~30 of the ~500-650 shipped examples: enough to move the verdict
# on messages like them, not enough to outvote everything else (measured: at 5, ten buyers marked
# "not a lead" already replaced a better model).
OPERATOR_WEIGHT = 3
HELD_EVERY = 4  # every 4th operator example (by id) is held back to judge the new model


@dataclass(frozen=True, slots=True)
class OperatorExample:
    """An operator's mark as the retrainer reads it from ``intent_examples``."""

    id: int
    text: str
    bio: str | None
    lead: bool

    def labelled(self) -> LabelledExample:
        return LabelledExample(text=self.text, bio=self.bio, lead=self.lead, category="operator")


@dataclass(frozen=True, slots=True)
class TrainingPlan:
    kind: str  # the shipped examples' kind the campaign starts from
    train: list[LabelledExample]
    held_out: list[LabelledExample]
    operator_trained: int  # operators' examples trained on (before weighting)
    operator_held: int  # operators' examples held back


@dataclass(frozen=True, slots=True)
class Retrained:
    model: IntentModel
    f1: float
    previous_f1: float
    used: bool
    note: str
    plan: TrainingPlan


@cache
def _shipped(kind: str) -> tuple[tuple[LabelledExample, ...], tuple[LabelledExample, ...]]:
    sets = training_sets()
    train, held = sets.get(kind) or sets[GENERAL]
    return tuple(train), tuple(held)


def shipped_kind(kind: str) -> str:
    """``kind`` when the set has examples of it, else the general one (as ``load_default``)."""
    return kind if kind in training_sets() else GENERAL


def split_operator(
    examples: Sequence[OperatorExample],
) -> tuple[list[OperatorExample], list[OperatorExample]]:
    """(trained on, held back): every ``HELD_EVERY``-th by id is held back, the same ones on
    every run, so a mark is either always judged or always learned from."""
    ordered = sorted(examples, key=lambda e: e.id)
    held = ordered[HELD_EVERY - 1 :: HELD_EVERY]
    held_ids = {e.id for e in held}
    return [e for e in ordered if e.id not in held_ids], held


def plan(kind: str, examples: Sequence[OperatorExample]) -> TrainingPlan:
    kind = shipped_kind(kind)
    shipped_train, shipped_held = _shipped(kind)
    trained, held = split_operator(examples)
    weighted = [e.labelled() for e in trained] * OPERATOR_WEIGHT
    return TrainingPlan(
        kind=kind,
        train=[*shipped_train, *weighted],
        held_out=[*shipped_held, *(e.labelled() for e in held)],
        operator_trained=len(trained),
        operator_held=len(held),
    )


def decide(
    new: IntentModel,
    current: IntentModel,
    held_out: Sequence[LabelledExample],
    *,
    threshold: float | None = None,
) -> tuple[float, float, bool]:
    """(new F1, current F1, use the new one) on the same held-back examples, at the campaign's
    threshold when it sets one (the threshold its verdicts are made at), else each model's own."""
    new_f1 = evaluate(new, held_out, threshold=threshold).f1
    current_f1 = evaluate(current, held_out, threshold=threshold).f1
    if threshold is None:
        used = better_or_equal(new, current, held_out)
    else:
        used = bool(held_out) and new_f1 >= current_f1
    return new_f1, current_f1, used


def current_model(stored: str | None, kind: str) -> IntentModel:
    """The model in use: the campaign's stored one, or the shipped one of its kind (also when
    the stored one can no longer be read, as the parser does)."""
    if stored is not None:
        try:
            return IntentModel.loads(stored)
        except IntentModelError:
            pass
    return load_default(kind)


def retrain(
    campaign_id: int,
    kind: str,
    examples: Sequence[OperatorExample],
    *,
    stored: str | None,
    threshold: float | None = None,
    seed: int = SEED,
) -> Retrained:
    """Train on ``plan(kind, examples)`` and compare with the model in use (``stored``, else the
    shipped one). Imports scikit-learn (about a second, once): run it off the event loop."""
    from parser.intent.training import train  # scikit-learn: only here, in the thread

    training = plan(kind, examples)
    model = train(
        training.train, seed=seed, kind=f"campaign:{campaign_id}", held_out=training.held_out
    )
    current = current_model(stored, kind)
    f1, previous_f1, used = decide(model, current, training.held_out, threshold=threshold)
    held = len(training.held_out)
    if used:
        note = (
            f"in use: F1 {f1:.3f} against {previous_f1:.3f} of the model it replaced on {held} "
            f"held-back examples ({training.operator_held} of them operators')"
        )
    else:
        note = (
            f"not used: F1 {f1:.3f} is below {previous_f1:.3f} of the model in use on {held} "
            f"held-back examples ({training.operator_held} of them operators'); that one stays"
        )
    return Retrained(model, f1, previous_f1, used, note, training)
