"""What the API accepts, said the same way to the validator and in the OpenAPI document: ids within
the database's integer range, text without control characters, RFC 3339 times with their offset.

Control characters are Unicode's Cc (C0, DEL, C1: escapes, carriage returns, NUL) and Cf (invisible
format characters: bidi overrides, zero-width spaces, tag characters), as Python's Unicode tables
have them (tests/unit/test_api_fields.py compares). Unassigned and private-use code points are not
controls and pass: an emoji newer than the server's tables must not be refused as one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

DB_INT_MAX = 2**31 - 1  # ids and counts are 32-bit columns on PostgreSQL
# Telegram ids have at most 52 significant bits; 2**53 - 1 is also the largest integer a JSON
# number holds exactly, so every client reads the bound the same way.
TELEGRAM_ID_MAX = 2**53 - 1


def _json_number(value: Any) -> Any:
    # JSON Schema's integer is a number without a fraction (34 or 34.0); pydantic would also take
    # "34" and true.
    if isinstance(value, str | bool):
        raise ValueError("a JSON number without a fraction, not a string or a boolean")
    return value


JsonInt = Annotated[int, BeforeValidator(_json_number)]  # in a body; path and query are text

CONTROL_RANGES: tuple[tuple[int, int], ...] = (
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
# What str.strip() removes, controls aside: a name must have something else.
SPACES = " \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
SPACES += "\u2028\u2029\u202f\u205f\u3000"
MESSAGE_CONTROLS = "\n\t\u200d"  # line breaks, tabs and the joiner of composed emoji


def _char(code: int) -> str:
    # \uXXXX reads the same in ECMA-262, Python and Rust regexes; there is no common escape above
    # the BMP, so those characters stand for themselves.
    return f"\\u{code:04X}" if code <= 0xFFFF else chr(code)


def _class(ranges: tuple[tuple[int, int], ...], *, allowed: str = "") -> str:
    """A regex character class body: the code points of ``ranges`` except ``allowed``."""
    codes = sorted({c for low, high in ranges for c in range(low, high + 1)} - {*map(ord, allowed)})
    parts: list[str] = []
    start = previous = codes[0]
    for code in [*codes[1:], -1]:
        if code != previous + 1:
            parts.append(_char(start) if start == previous else f"{_char(start)}-{_char(previous)}")
            start = code
        previous = code
    return "".join(parts)


_CONTROLS = _class(CONTROL_RANGES)
_MESSAGE_CONTROLS = _class(CONTROL_RANGES, allowed=MESSAGE_CONTROLS)
_SPACES = "".join(_char(ord(c)) for c in SPACES)
_EMAIL_CHAR = f"[^@{_CONTROLS}{_SPACES}]"
_TYPED_CONTROL = re.compile(f"[{_MESSAGE_CONTROLS}]")


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character a person could not have typed in a box
    (line breaks and tabs pass, as in a message)."""
    return _TYPED_CONTROL.search(text) is not None


@dataclass(frozen=True)
class _Pattern:
    """Validates a string against ``pattern`` and puts the pattern in its JSON schema; what a
    mismatch is called comes from ``explain`` (a regex dump would help nobody)."""

    pattern: str
    explain: Callable[[str], str]

    def check(self, value: str) -> str:
        if re.fullmatch(self.pattern.removeprefix("^").removesuffix("$"), value) is None:
            raise ValueError(self.explain(value))
        return value

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(core_schema), "pattern": self.pattern}


def _control_in(forbidden: str) -> Callable[[str], str]:
    def explain(value: str) -> str:
        found = re.search(f"[{forbidden}]", value)
        if found is None:
            return "must not be blank"
        return f"control character U+{ord(found[0]):04X} is not allowed here"

    return explain


_ONE_LINE = _Pattern(f"^[^{_CONTROLS}]*$", _control_in(_CONTROLS))
_NAME = _Pattern(f"^[^{_CONTROLS}]*[^{_CONTROLS}{_SPACES}][^{_CONTROLS}]*$", _control_in(_CONTROLS))
_MESSAGE = _Pattern(f"^[^{_MESSAGE_CONTROLS}]*$", _control_in(_MESSAGE_CONTROLS))
_EMAIL = _Pattern(
    f"^{_EMAIL_CHAR}{{1,64}}@{_EMAIL_CHAR}{{1,189}}\\.{_EMAIL_CHAR}{{1,63}}$",
    lambda value: f"{value!r} is not an e-mail address (name@example.com)",
)

_KEYWORD = _Pattern(
    f"^[^{_CONTROLS}]*[^\\W\\d_][^{_CONTROLS}]*$",
    lambda value: f"keyword {value!r} has no letters, or is more than one line",
)

OneLine = Annotated[str, AfterValidator(_ONE_LINE.check), _ONE_LINE]
KeywordText = Annotated[str, AfterValidator(_KEYWORD.check), _KEYWORD]  # one line, a letter
Name = Annotated[str, AfterValidator(_NAME.check), _NAME]  # one line, not blank
MessageText = Annotated[str, AfterValidator(_MESSAGE.check), _MESSAGE]  # also \n, \t and ZWJ
Email = Annotated[str, AfterValidator(_EMAIL.check), _EMAIL]

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([Zz])|([+-])(\d\d):(\d\d))"
)
_EXAMPLE = "2024-05-01T09:30:00+03:00"


def _rfc3339(value: Any) -> Any:
    """RFC 3339 only (pydantic alone takes numbers as Unix times, and more). A leap second
    (23:59:60 in UTC) is read as the moment after 23:59:59."""
    if not isinstance(value, str):
        return value
    parts = _RFC3339.fullmatch(value)
    if parts is None:
        raise ValueError(f"an RFC 3339 date-time with its offset, like {_EXAMPLE}")
    year, month, day, hour, minute, second = (int(p) for p in parts.groups()[:6])
    fraction, zulu, sign, off_hours, off_minutes = parts.groups()[6:]
    offset = 0 if zulu else (int(off_hours) * 60 + int(off_minutes)) * (-1 if sign == "-" else 1)
    if not zulu and (int(off_hours) > 23 or int(off_minutes) > 59):
        raise ValueError(f"the offset {sign}{off_hours}:{off_minutes} is not one (at most ±23:59)")
    leap = second == 60 and (hour * 60 + minute - offset) % 1440 == 23 * 60 + 59
    try:
        zone = timezone(timedelta(minutes=offset))
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        moment = datetime(year, month, day, hour, minute, 59 if leap else second, micro, zone)
        return moment + timedelta(seconds=1) if leap else moment
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a valid date-time ({exc})") from None


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is out of range once converted to UTC") from None


RFC3339Time = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_in_utc)]
