"""The labelled lead-intent set's own checks (``parser/intent/examples``).

Every message contains a keyword of its campaign, so keyword matching alone keeps all of them:
telling buyers from sellers, job seekers and chatter is the second stage's job. These checks keep
the set fit for training and for an honest report: balanced labels, both languages in both labels,
every kind of non-lead present, a fixed stratified test split, no duplicates.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from parser.matcher import KeywordSetRules, Matcher

EXAMPLES = Path(__file__).resolve().parents[2] / "parser" / "intent" / "examples"
FIELDS = {"text", "lang", "lead", "category", "split"}
OPTIONAL_FIELDS = {"bio"}
LANGS = {"ru", "en"}
LEAD_CATEGORIES = {"buyer"}
OTHER_CATEGORIES = {
    "seller",
    "agency",
    "job_seeker",
    "vacancy",
    "diy",
    "chatter",
    "news",
    "recommendation",
    "past",
}
SPLITS = {"train", "test"}


@dataclass(frozen=True, slots=True)
class Example:
    where: str  # file:line, for messages a person can follow
    text: str
    lang: str
    lead: bool
    category: str
    split: str


def _campaigns() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((EXAMPLES / "campaigns.yaml").read_text(encoding="utf-8"))
    campaigns: list[dict[str, Any]] = loaded["campaigns"]
    return campaigns


CAMPAIGNS = _campaigns()
KINDS = [str(c["name"]) for c in CAMPAIGNS]


def _raw_lines(kind: str) -> list[tuple[str, str]]:
    path = EXAMPLES / f"{kind}.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(f"{path.name}:{n}", line) for n, line in enumerate(lines, 1)]


def _examples(kind: str) -> list[Example]:
    examples = []
    for where, line in _raw_lines(kind):
        row = json.loads(line)
        examples.append(
            Example(
                where=where,
                text=row["text"],
                lang=row["lang"],
                lead=row["lead"],
                category=row["category"],
                split=row["split"],
            )
        )
    return examples


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def test_campaigns_name_a_description_keywords_and_an_example_file() -> None:
    assert len(KINDS) == len(set(KINDS)), KINDS
    for campaign in CAMPAIGNS:
        assert set(campaign) == {"name", "description", "keywords", "exclude"}, campaign
        assert campaign["description"].strip(), campaign["name"]
        assert campaign["keywords"], campaign["name"]
        assert (EXAMPLES / f"{campaign['name']}.jsonl").is_file(), campaign["name"]


def test_the_whole_set_has_six_kinds_and_at_least_600_messages() -> None:
    assert len(KINDS) >= 6, KINDS
    assert sum(len(_raw_lines(kind)) for kind in KINDS) >= 600


@pytest.mark.parametrize("kind", KINDS)
def test_lines_are_json_objects_with_exactly_the_known_fields(kind: str) -> None:
    for where, line in _raw_lines(kind):
        row = json.loads(line)
        assert isinstance(row, dict), where
        assert FIELDS <= set(row) <= FIELDS | OPTIONAL_FIELDS, f"{where}: fields {sorted(row)}"
        assert isinstance(row["text"], str) and row["text"].strip(), where
        assert row["lang"] in LANGS, f"{where}: lang {row['lang']!r}"
        assert isinstance(row["lead"], bool), f"{where}: lead {row['lead']!r}"
        assert row["split"] in SPLITS, f"{where}: split {row['split']!r}"
        if "bio" in row:
            assert isinstance(row["bio"], str) and row["bio"].strip(), f"{where}: empty bio"
        expected = LEAD_CATEGORIES if row["lead"] else OTHER_CATEGORIES
        assert row["category"] in expected, f"{where}: {row['category']!r} with lead={row['lead']}"


@pytest.mark.parametrize("kind", KINDS)
def test_a_kind_is_about_half_leads_and_both_languages_in_both_labels(kind: str) -> None:
    examples = _examples(kind)
    leads = sum(e.lead for e in examples)
    assert 0.45 <= _share(leads, len(examples)) <= 0.55, f"{kind}: {leads}/{len(examples)} leads"
    for lang in LANGS:
        in_lang = [e for e in examples if e.lang == lang]
        share = _share(len(in_lang), len(examples))
        assert share >= 0.35, f"{kind}: {lang} is {share:.0%} of the messages"
        labels = {e.lead for e in in_lang}
        assert labels == {True, False}, f"{kind}: {lang} has only lead={labels}"


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_of_non_lead_is_present(kind: str) -> None:
    used = Counter(e.category for e in _examples(kind))
    missing = (LEAD_CATEGORIES | OTHER_CATEGORIES) - set(used)
    assert not missing, f"{kind}: no {sorted(missing)}"


@pytest.mark.parametrize("kind", KINDS)
def test_the_test_split_is_a_third_or_less_in_every_language_and_label(kind: str) -> None:
    examples = _examples(kind)
    tested = sum(e.split == "test" for e in examples)
    assert 0.25 <= _share(tested, len(examples)) <= 0.35, f"{kind}: {tested}/{len(examples)}"
    for lang in LANGS:
        for lead in (True, False):
            stratum = [e for e in examples if e.lang == lang and e.lead is lead]
            held = sum(e.split == "test" for e in stratum)
            share = _share(held, len(stratum))
            assert 0.25 <= share <= 0.35, f"{kind} {lang} lead={lead}: {held}/{len(stratum)} test"


def _canonical(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).strip()


def test_no_message_is_repeated_in_any_kind() -> None:
    seen: dict[str, str] = {}
    for kind in KINDS:
        for e in _examples(kind):
            key = _canonical(e.text)
            assert key not in seen, f"{e.where} repeats {seen.get(key)}"
            seen[key] = e.where


def test_no_two_messages_are_near_duplicates() -> None:
    # A template filled in twice teaches the model the template, not the intent.
    words = [
        (e.where, frozenset(re.findall(r"\w+", e.text.lower())))
        for kind in KINDS
        for e in _examples(kind)
    ]
    close = [
        f"{a} ~ {b}"
        for i, (a, wa) in enumerate(words)
        for b, wb in words[i + 1 :]
        if len(wa & wb) >= 0.6 * len(wa | wb)
    ]
    assert not close, "these share most of their words:\n" + "\n".join(close)


@pytest.mark.parametrize("kind", KINDS)
def test_every_message_matches_a_keyword_of_its_campaign(kind: str) -> None:
    campaign = next(c for c in CAMPAIGNS if c["name"] == kind)
    matcher = Matcher.compile(
        [
            KeywordSetRules(
                set_id=1,
                name=kind,
                keywords=campaign["keywords"],
                exclude=campaign["exclude"],
            )
        ]
    )
    missed = [f"{e.where}: {e.text}" for e in _examples(kind) if not matcher.match(e.text)]
    assert not missed, "no keyword (or an exclude word) in:\n" + "\n".join(missed)
