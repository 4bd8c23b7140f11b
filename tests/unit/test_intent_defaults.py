"""The committed models in ``parser/intent/models`` are what a fresh training gives.

If this fails after the labelled set changed, rebuild them: ``python -m parser.intent.defaults``.
"""

from __future__ import annotations

import numpy as np

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
        # The same weights up to the last bits of a float32 (the linear algebra's threads round
        # differently from one machine to the next), threshold, settings and numbers.
        assert np.allclose(shipped.weights(), model.weights(), rtol=0, atol=1e-5), stale
        assert abs(shipped.threshold - model.threshold) < 1e-6, stale
        assert shipped.features == model.features, stale
        assert shipped.training.model_dump(exclude={"created_at"}) == model.training.model_dump(
            exclude={"created_at"}
        ), stale
