"""The stored intent model: plain data, validated on load, never pickled.

A model is what a database row or a shipped file holds: feature settings, the weights that are not
zero (indices and float32 values, base64 of little-endian arrays — compact and exact), the
intercept, the decision threshold and how it was trained. Loading goes through pydantic and a
checksum over everything scoring depends on, so a model from another format version or one edited
by hand is refused with a sentence saying why — loading one never runs code (no pickle, no joblib).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from parser.intent.features import FeatureSettings

# 1: binary features, L2 per block; 2: counts over sqrt(occurrences) per group; 3: + opening words
MODEL_VERSION = 3


class IntentModelError(ValueError):
    """A stored model that this build cannot or must not use."""


class TrainingInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str  # the campaign kind or campaign it was trained for ("general": all kinds)
    examples: int = Field(ge=0)
    leads: int = Field(ge=0)
    seed: int
    held_out: int = Field(default=0, ge=0)  # held-out examples behind the numbers below
    precision: float | None = Field(default=None, ge=0, le=1)
    recall: float | None = Field(default=None, ge=0, le=1)
    f1: float | None = Field(default=None, ge=0, le=1)
    examples_sha256: str = ""  # what it was trained on: tells a stale shipped model
    created_at: datetime


class IntentModel(BaseModel):
    """A linear model over hashed features; ``weights()`` gives the dense vector for scoring."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    features: FeatureSettings
    indices_b64: str  # uint32 little-endian, ascending
    values_b64: str  # float32 little-endian, one per index
    intercept: float
    threshold: float = Field(ge=0, le=1)
    training: TrainingInfo
    checksum: str

    @model_validator(mode="before")
    @classmethod
    def _known_version(cls, data: Any) -> Any:
        # Checked before the fields: a model of another version may have other fields entirely.
        if isinstance(data, dict) and data.get("version") != MODEL_VERSION:
            raise ValueError(
                f"intent model version {data.get('version')!r} is not supported "
                f"(this build reads version {MODEL_VERSION}): retrain the model"
            )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> IntentModel:
        indices, values = _decode(self.indices_b64, self.values_b64)
        if indices.size and (indices[-1] >= self.features.size or np.any(np.diff(indices) <= 0)):
            raise ValueError("weight indices are out of range or not ascending")
        if not (np.all(np.isfinite(values)) and math.isfinite(self.intercept)):
            raise ValueError("weights must be finite numbers")
        if self.checksum != _checksum(self):
            raise ValueError(
                "checksum does not match the weights and settings: the model was altered"
            )
        return self

    def weights(self) -> npt.NDArray[np.float64]:
        indices, values = _decode(self.indices_b64, self.values_b64)
        dense = np.zeros(self.features.size, dtype=np.float64)
        dense[indices] = values
        return dense

    def sparse_weights(self) -> dict[int, float]:
        """Feature index → weight, the non-zero ones: scoring looks words up in it."""
        indices, values = _decode(self.indices_b64, self.values_b64)
        return dict(zip(indices.tolist(), values.tolist(), strict=True))

    def dumps(self) -> str:
        return self.model_dump_json()

    @classmethod
    def loads(cls, raw: str | bytes) -> IntentModel:
        """Parse a stored model; IntentModelError with a person-readable reason if refused."""
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise IntentModelError(f"intent model is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise IntentModelError("intent model is not a JSON object")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "model"
            raise IntentModelError(f"intent model refused: {where}: {first['msg']}") from None


def _decode(
    indices_b64: str, values_b64: str
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    try:
        indices = np.frombuffer(base64.b64decode(indices_b64, validate=True), dtype="<u4")
        values = np.frombuffer(base64.b64decode(values_b64, validate=True), dtype="<f4")
    except ValueError as exc:
        raise ValueError(f"weights are not valid base64 arrays: {exc}") from None
    if indices.size != values.size:
        raise ValueError("weights have a different number of indices and values")
    return indices.astype(np.int64), values.astype(np.float64)


def _checksum(model: IntentModel) -> str:
    return _digest(
        model.features, model.indices_b64, model.values_b64, model.intercept, model.threshold
    )


def _digest(
    features: FeatureSettings, indices_b64: str, values_b64: str, intercept: float, threshold: float
) -> str:
    head = json.dumps(
        [MODEL_VERSION, features.model_dump(), repr(intercept), repr(threshold)], sort_keys=True
    )
    digest = hashlib.sha256(head.encode())
    digest.update(indices_b64.encode())
    digest.update(values_b64.encode())
    return digest.hexdigest()


def build_model(
    *,
    features: FeatureSettings,
    weights: npt.NDArray[np.float64],
    intercept: float,
    threshold: float,
    training: TrainingInfo,
) -> IntentModel:
    """A model from a dense weight vector (zeros are not stored; values kept as float32)."""
    indices = np.flatnonzero(weights.astype(np.float32)).astype("<u4")
    values = weights[indices].astype("<f4")
    indices_b64 = base64.b64encode(indices.tobytes()).decode()
    values_b64 = base64.b64encode(values.tobytes()).decode()
    intercept = float(np.float32(intercept))
    return IntentModel(
        version=MODEL_VERSION,
        features=features,
        indices_b64=indices_b64,
        values_b64=values_b64,
        intercept=intercept,
        threshold=threshold,
        training=training,
        checksum=_digest(features, indices_b64, values_b64, intercept, threshold),
    )
