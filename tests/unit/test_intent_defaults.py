"""The committed models in ``parser/intent/models`` are what a fresh training gives.

If this fails after the labelled set changed, rebuild them: ``python -m parser.intent.defaults``.
"""

from __future__ import annotations

from parser.intent.defaults import MODELS_DIR, build
from parser.intent.model import IntentModel


def test_committed_models_equal_a_fresh_training() -> None:
    fresh = build()
    committed = {p.stem for p in MODELS_DIR.glob("*.json")}
    assert committed == set(fresh), "rebuild with: python -m parser.intent.defaults"
    for kind, model in fresh.items():
        shipped = IntentModel.loads((MODELS_DIR / f"{kind}.json").read_bytes())
        stale = f"{kind}: stale, rebuild with: python -m parser.intent.defaults"
        assert shipped.training.examples_sha256 == model.training.examples_sha256, stale
        # Everything but the creation time: weights, threshold, settings and numbers.
        assert shipped.checksum == model.checksum, stale
        assert shipped.training.model_dump(exclude={"created_at"}) == model.training.model_dump(
            exclude={"created_at"}
        ), stale
