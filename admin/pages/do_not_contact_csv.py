"""Reading a do-not-contact CSV: a column of Telegram user ids, an optional reason column, an
optional header line. Every row is checked first, with the API's own rules (``DoNotContact``), so
a file with one bad row is refused whole, each problem named by its line."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field

from pydantic import ValidationError

from admin.api.fields import TELEGRAM_ID_MAX
from admin.api.operator_actions import DoNotContact

MAX_ROWS = 10_000
MAX_BYTES = 6 * 1024 * 1024  # 10,000 rows of an id and a 500-character reason fit
_DIGITS = re.compile(r"[0-9]{1,20}")
_DELIMITERS = ",;\t"


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based, as an editor shows it; 0 for the file as a whole
    reason: str


@dataclass
class Reading:
    rows: list[DoNotContact] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line each row came from
    duplicates: int = 0
    problems: list[Problem] = field(default_factory=list)


def read_csv(data: bytes) -> Reading:
    """The valid rows in file order (a repeated id counted once), or every problem found."""
    reading = Reading()
    if len(data) > MAX_BYTES:
        reading.problems.append(Problem(0, f"the file is over {MAX_BYTES // 1024 // 1024} MB"))
        return reading
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        reading.problems.append(Problem(0, f"not UTF-8 text (byte {exc.start + 1})"))
        return reading
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    delimiter = next((d for d in _DELIMITERS if d in first), ",")
    seen: set[int] = set()
    count = 0
    for number, cells in enumerate(csv.reader(lines, delimiter=delimiter), start=1):
        cells = [cell.strip() for cell in cells]
        if not any(cells):
            continue
        if count == 0 and not reading.problems and _is_header(cells[0]):
            continue
        count += 1
        if count > MAX_ROWS:
            reading.problems.append(Problem(number, f"more than {MAX_ROWS:,} rows"))
            break
        row = _row(number, cells, reading)
        if row is None:
            continue
        if row.telegram_user_id in seen:
            reading.duplicates += 1
            continue
        seen.add(row.telegram_user_id)
        reading.rows.append(row)
        reading.lines.append(number)
    if count == 0 and not reading.problems:
        reading.problems.append(Problem(0, "the file has no user ids"))
    return reading


def _is_header(cell: str) -> bool:
    return not any(ch.isdigit() for ch in cell) and any(ch.isalpha() for ch in cell)


def _row(number: int, cells: list[str], reading: Reading) -> DoNotContact | None:
    if len(cells) > 2:
        reading.problems.append(
            Problem(number, f"{len(cells)} columns; expected a user id and an optional reason")
        )
        return None
    user = cells[0]
    if not _DIGITS.fullmatch(user) or not 1 <= int(user) <= TELEGRAM_ID_MAX:
        shown = user if len(user) <= 40 else user[:39] + "…"
        reading.problems.append(Problem(number, f"{shown!r} is not a Telegram user id"))
        return None
    try:
        return parse_entry(user, cells[1] if len(cells) > 1 else "")
    except EntryError as exc:
        reading.problems.append(Problem(number, str(exc)))
        return None


class EntryError(ValueError):
    """What is wrong with one entry, and which field (``telegram_user_id`` or ``reason``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field


def parse_entry(user: str, reason: str) -> DoNotContact:
    """One entry by the API's rules (``EntryError`` says what is wrong with it)."""
    user = user.strip()
    if not _DIGITS.fullmatch(user):
        raise EntryError("telegram_user_id", "a Telegram user id is digits only")
    try:
        return DoNotContact.model_validate(
            {"telegram_user_id": int(user), "reason": reason.strip()}
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        where = str(error["loc"][0]) if error["loc"] else "telegram_user_id"
        label = "user id" if where == "telegram_user_id" else where
        raise EntryError(where, f"{label}: {error['msg']}") from None
