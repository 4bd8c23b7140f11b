"""The shipped models: one per campaign kind of the labelled set and a general one.

Trained from the set's ``train`` split and committed as JSON in ``parser/intent/models`` (not
trained at start: importing scikit-learn alone takes about a second, and a service should not pay
it to start). ``tests/unit/test_intent_defaults.py`` proves the committed files equal a fresh
training; after the examples change, rebuild them with ``python -m parser.intent.defaults``.

A kind's model learns from every kind's training examples, its own counted ``OWN_WEIGHT`` times:
wanting to buy ("нужен", "посоветуйте", "ищем кого-то") reads alike across trades, and ~80
examples of one kind alone gave a precision near 0.55 (measured), so borrowing the rest is worth
more than purity.
"""

from __future__ import annotations

import json
from pathlib import Path

from parser.intent.examples_set import GENERAL, LabelledExample, load_examples, load_kinds, split
from parser.intent.model import IntentModel

MODELS_DIR = Path(__file__).resolve().parent / "models"
SEED = 20261202
OWN_WEIGHT = 3


def training_sets() -> dict[str, tuple[list[LabelledExample], list[LabelledExample]]]:
    """Kind (and ``general``) → (training examples, held-out examples)."""
    per_kind = {k.name: split(load_examples(k.name)) for k in load_kinds()}
    sets: dict[str, tuple[list[LabelledExample], list[LabelledExample]]] = {}
    for kind, (train, test) in per_kind.items():
        others = [e for other, (t, _) in per_kind.items() if other != kind for e in t]
        sets[kind] = (others + train * OWN_WEIGHT, test)
    sets[GENERAL] = (
        [e for t, _ in per_kind.values() for e in t],
        [e for _, t in per_kind.values() for e in t],
    )
    return sets


def load_default(kind: str) -> IntentModel:
    """The shipped model of ``kind``, or the general one for a kind without examples."""
    path = MODELS_DIR / f"{kind}.json"
    if not path.exists():
        path = MODELS_DIR / f"{GENERAL}.json"
    return IntentModel.loads(path.read_bytes())


def build(seed: int = SEED) -> dict[str, IntentModel]:
    """Train every shipped model (imports scikit-learn)."""
    from parser.intent.training import train

    return {
        kind: train(examples, seed=seed, kind=kind, held_out=held_out)
        for kind, (examples, held_out) in training_sets().items()
    }


def main() -> None:
    MODELS_DIR.mkdir(exist_ok=True)
    for kind, model in build().items():
        (MODELS_DIR / f"{kind}.json").write_text(model.dumps() + "\n", encoding="utf-8")
        info = model.training
        print(json.dumps({"kind": kind, "precision": info.precision, "recall": info.recall}))


if __name__ == "__main__":
    main()
