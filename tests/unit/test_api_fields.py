"""The API's input types say in the OpenAPI document exactly what their validators accept."""

from __future__ import annotations

import sys
import unicodedata
from typing import Any

import jsonschema_rs
import pytest
from pydantic import TypeAdapter, ValidationError

from admin.api.fields import CONTROL_RANGES, Email, MessageText, Name, OneLine, has_control

SAMPLES = [
    "Привет, мир",
    "plain ascii",
    "",
    "   ",
    "\u3000",
    "line\nbreak",
    "tab\there",
    "carriage\rreturn",
    "escape \x1b[31m",
    "nul \x00",
    "bidi \u202e override",
    "zero\u200bwidth",
    "👩‍💻 joined emoji",
    "tag \U000e0041 smuggled",
    "private \ue000 use",
    "unassigned \U00042bd5",
    "soft\u00adhyphen",
    "a@b.cc",
    "a b@c.de",
    "x@y",
    " name ",
]


def test_control_characters_are_unicodes_cc_and_cf() -> None:
    listed = {code for low, high in CONTROL_RANGES for code in range(low, high + 1)}
    expected = {
        code
        for code in range(sys.maxunicode + 1)
        if unicodedata.category(chr(code)) in ("Cc", "Cf")
    }
    assert listed == expected, f"Unicode {unicodedata.unidata_version} moved: update the list"


@pytest.mark.parametrize("kind", [OneLine, Name, MessageText, Email])
def test_the_documented_pattern_accepts_what_the_validator_accepts(kind: Any) -> None:
    adapter: TypeAdapter[str] = TypeAdapter(kind)
    documented = jsonschema_rs.validator_for(adapter.json_schema())
    for sample in SAMPLES:
        try:
            adapter.validate_python(sample)
            accepted = True
        except ValidationError:
            accepted = False
        assert documented.is_valid(sample) == accepted, repr(sample)


def test_a_refusal_names_the_character() -> None:
    with pytest.raises(ValidationError, match="control character U\\+202E"):
        TypeAdapter(OneLine).validate_python("bidi \u202e override")
    with pytest.raises(ValidationError, match="must not be blank"):
        TypeAdapter(Name).validate_python("\u3000 ")


def test_what_a_person_cannot_type_is_a_control_but_line_breaks_and_emoji_are_not() -> None:
    assert has_control("web\x00dev") and has_control("a\u202eb") and has_control("x\x1b[31m")
    assert not has_control("two\nlines\tand a 👩‍💻 ёлка")
