"""The labelled lead-intent set shipped in ``parser/intent/examples`` (one JSON-lines file a kind).

Each line: ``{"text", "lang", "lead", "category", "bio"?, "split": "train"|"test"}``. The same
shape is what an operator's teaching will store per campaign (without ``split``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"
GENERAL = "general"  # the model trained on every kind, for a campaign without examples of its own


class LabelledExample(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    lead: bool
    lang: str = ""
    category: str = ""
    bio: str | None = None
    split: Literal["train", "test"] = "train"


class CampaignKind(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    name: str
    description: str = ""
    keywords: list[str]
    exclude: list[str] = []


def load_kinds(directory: Path = EXAMPLES_DIR) -> list[CampaignKind]:
    """The campaign kinds that have a file of examples (the set is written kind by kind)."""
    loaded = yaml.safe_load((directory / "campaigns.yaml").read_text(encoding="utf-8"))
    kinds = [CampaignKind.model_validate(c) for c in loaded["campaigns"]]
    return [k for k in kinds if (directory / f"{k.name}.jsonl").exists()]


def load_examples(kind: str, directory: Path = EXAMPLES_DIR) -> list[LabelledExample]:
    path = directory / f"{kind}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [LabelledExample.model_validate_json(line) for line in lines if line.strip()]


def split(
    examples: Iterable[LabelledExample],
) -> tuple[list[LabelledExample], list[LabelledExample]]:
    """(train, test) by each example's own ``split`` field: the set fixes it, not a random draw."""
    train: list[LabelledExample] = []
    test: list[LabelledExample] = []
    for example in examples:
        (test if example.split == "test" else train).append(example)
    return train, test


def fingerprint(examples: Sequence[LabelledExample]) -> str:
    """SHA-256 of the examples as trained on: a shipped model records it to tell it is stale."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(example.model_dump_json().encode())
        digest.update(b"\n")
    return digest.hexdigest()
