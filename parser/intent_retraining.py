"""One retraining of a campaign's intent model, and whether it replaces the one in use.

Plain functions, synchronous and CPU-bound: the retrainer (``parser.intent_retrainer``) runs
``retrain`` in a thread. The training set is the shipped training examples of the campaign's
model kind plus the operators' examples of the campaign, each counted ``OPERATOR_WEIGHT`` times;
the held-back set is the kind's shipped held-out examples plus every ``HELD_EVERY``-th operator
example (in id order), which is then not trained on.

Both models are scored on the same held-back examples, in two parts: the shipped ones (what a
lead is in general: F1) and the operators' (what a lead is for this campaign: how many it gets
right). The new model is used when it is at least as good on both — or when it gets more of the
operators' examples right while losing at most ``GENERAL_TOLERANCE`` of F1 on the shipped ones.
That margin is what lets a campaign learn its own notion of a lead (ten "not a lead" marks on
co-founder requests cost a generic model a wrong call or two elsewhere), while marks that fight
the general examples (buyers marked "not a lead" by the dozen) cost more and are not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from parser.intent.classify import IntentClassifier
from parser.intent.defaults import SEED, load_default, training_sets
from parser.intent.evaluation import evaluate
from parser.intent.examples_set import GENERAL, LabelledExample
from parser.intent.model import IntentModel, IntentModelError

# ~10 consistent marks count as ~30 of the ~600-800 shipped training examples: enough to move
# the verdict on messages like them, not enough to outvote everything else (measured: at 5, ten
# buyers marked "not a lead" already replaced a better model).
OPERATOR_WEIGHT = 3
HELD_EVERY = 4  # every 4th operator example (by id) is held back to judge the new model
GENERAL_TOLERANCE = 0.02  # F1 on the shipped held-out a campaign's own gains may cost


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
    held_out: list[LabelledExample]  # shipped_held + operator_held_out
    shipped_held: list[LabelledExample]
    operator_held_out: list[LabelledExample]
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
    own_held = [e.labelled() for e in held]
    return TrainingPlan(
        kind=kind,
        train=[*shipped_train, *weighted],
        held_out=[*shipped_held, *own_held],
        shipped_held=list(shipped_held),
        operator_held_out=own_held,
        operator_trained=len(trained),
        operator_held=len(held),
    )


@dataclass(frozen=True, slots=True)
class Decision:
    f1: float  # the new model's F1 on every held-back example (stored, shown)
    previous_f1: float  # the model in use, on the same
    used: bool
    why: str


def decide(
    new: IntentModel,
    current: IntentModel,
    training: TrainingPlan,
    *,
    threshold: float | None = None,
) -> Decision:
    """Whether ``new`` replaces ``current`` (see the module's rule), judged at the campaign's
    threshold when it sets one (the threshold its verdicts are made at), else each model's own."""
    if not training.held_out:
        return Decision(0.0, 0.0, False, "nothing held back to prove it on")
    new_all, current_all = (
        evaluate(m, training.held_out, threshold=threshold).f1 for m in (new, current)
    )
    new_general, current_general = (
        evaluate(m, training.shipped_held, threshold=threshold).f1 for m in (new, current)
    )
    new_own, current_own = (
        _right(m, training.operator_held_out, threshold) for m in (new, current)
    )
    own = len(training.operator_held_out)
    scores = (
        f"general F1 {new_general:.3f} against {current_general:.3f}, "
        f"operators' {new_own}/{own} against {current_own}/{own} right"
    )
    if new_general >= current_general and new_own >= current_own:
        return Decision(new_all, current_all, True, f"as good or better ({scores})")
    if new_own > current_own and new_general >= current_general - GENERAL_TOLERANCE:
        return Decision(new_all, current_all, True, f"better on the campaign's own ({scores})")
    return Decision(new_all, current_all, False, f"worse ({scores})")


def _right(model: IntentModel, examples: Sequence[LabelledExample], threshold: float | None) -> int:
    classifier = IntentClassifier(model)
    cut = classifier.threshold if threshold is None else threshold
    return sum((classifier.score(e.text, e.bio) >= cut) == e.lead for e in examples)


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
    decision = decide(model, current, training, threshold=threshold)
    f1, previous_f1, used = decision.f1, decision.previous_f1, decision.used
    held = len(training.held_out)
    verb = "in use" if used else "not used, the model in use stays"
    note = (
        f"{verb}: {decision.why}; F1 {f1:.3f} against {previous_f1:.3f} on all {held} held-back "
        f"examples ({training.operator_held} of them operators')"
    )
    return Retrained(model, f1, previous_f1, used, note, training)
