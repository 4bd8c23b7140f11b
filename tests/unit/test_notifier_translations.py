"""The notifier bot speaks Russian: its Babel catalogue is complete and what it renders for a
Russian operator has no English left from our strings.

The catalogue is compiled by ``make assets`` (``make unit`` runs it first); the extraction command
is in ``notifier/texts.py``.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from core.access import Role
from core.db.notifier_models import Alert
from notifier import telegram_html as h
from notifier.rendering import Rendered, View, render
from notifier.texts import LOCALES, Texts

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = LOCALES / "messages.pot"
RUSSIAN = LOCALES / "ru" / "LC_MESSAGES" / "messages.po"
COMPILED = RUSSIAN.with_suffix(".mo")
NOW = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
LATIN = re.compile(r"[A-Za-z]{2,}")
# Names the Russian text keeps as they are (the panel writes them so too).
NAMES = {"PeerFlood", "FloodWait", "Telegram", "Alertmanager", "API", "CoolThing"}


def _read(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale="ru" if path == RUSSIAN else None)


def _texts(value: object) -> tuple[str, ...]:
    """A message's id or translation: one text, or the (singular, plural) / plural forms."""
    many = value if isinstance(value, tuple | list) else (value,)
    return tuple(str(text or "") for text in many)


def _ids(message: Message) -> tuple[str, ...]:
    return _texts(message.id)


def _forms(message: Message) -> tuple[str, ...]:
    return _texts(message.string)


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _key(message: Message) -> str:
    return _ids(message)[0]


@pytest.fixture(scope="module")
def template() -> Catalog:
    return _read(TEMPLATE)


@pytest.fixture(scope="module")
def russian() -> Catalog:
    return _read(RUSSIAN)


@pytest.fixture(scope="module")
def ru() -> Texts:
    if not COMPILED.exists() or COMPILED.stat().st_mtime < RUSSIAN.stat().st_mtime:
        pytest.fail(f"{COMPILED} is missing or older than its .po: run `make assets`")
    return Texts("ru", "UTC")


def test_every_template_string_has_a_russian_translation_keeping_its_placeholders(
    template: Catalog, russian: Catalog
) -> None:
    problems = []
    for wanted in template:
        if not wanted.id:
            continue
        found = russian.get(wanted.id)
        if found is None:
            problems.append(f"missing: {_key(wanted)!r}")
            continue
        forms = _forms(found)
        if found.fuzzy or not all(forms):
            problems.append(f"fuzzy or empty: {_key(wanted)!r}")
        if isinstance(wanted.id, tuple) and len(forms) != 3:
            problems.append(f"not three plural forms: {_key(wanted)!r}")
        placeholders = set().union(*(_fields(text) for text in _ids(wanted)))
        problems += [
            f"placeholders {sorted(_fields(form))} in {form!r} for {_key(wanted)!r}"
            for form in forms
            if _fields(form) != placeholders
        ]
    assert not problems, "the Russian catalogue is not complete:\n" + "\n".join(problems)


def test_the_russian_plural_forms_follow_russian_numbers(ru: Texts) -> None:
    def leads(count: int) -> str:
        return ru.plural("{count} new lead", "{count} new leads", count)

    assert [leads(n) for n in (1, 3, 5, 11, 21, 22, 25)] == [
        "1 новый лид",
        "3 новых лида",
        "5 новых лидов",
        "11 новых лидов",
        "21 новый лид",
        "22 новых лида",
        "25 новых лидов",
    ]


def _translated_literals(tree: ast.AST) -> Iterator[tuple[int, ast.expr]]:
    """What the code hands to ``texts(...)``, ``view.texts(...)``, ``Texts(...)(...)``,
    ``texts.plural(...)`` and ``N_(...)``: the arguments that are the English text."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "plural":
            yield from ((node.lineno, arg) for arg in node.args[:2])
        elif (
            (isinstance(func, ast.Name) and func.id in ("texts", "N_"))
            or (isinstance(func, ast.Attribute) and func.attr == "texts")
            or isinstance(func, ast.Call)
        ):
            yield node.lineno, node.args[0]


def test_every_string_the_bot_translates_is_in_the_template(template: Catalog) -> None:
    """A string added to the code without re-extracting (or in a place the extractor cannot
    see) would reach a Russian operator in English."""
    known = {text for message in template for text in _ids(message) if text}
    problems = []
    for path in sorted((ROOT / "notifier").rglob("*.py")):
        where = path.relative_to(ROOT)
        for line, arg in _translated_literals(ast.parse(path.read_text(), str(path))):
            if isinstance(arg, ast.JoinedStr):
                problems.append(f"{where}:{line}: an f-string cannot be translated")
            elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                if arg.value not in known:
                    problems.append(f"{where}:{line}: {arg.value!r}")
    assert not problems, "not in notifier/locale/messages.pot (re-extract):\n" + "\n".join(problems)


def _core_link_code_reasons() -> list[str]:
    tree = ast.parse((ROOT / "core" / "telegram_link_codes.py").read_text())
    return [
        str(node.args[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "LinkCodeInvalid"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]


def test_words_known_only_at_run_time_are_russian_too(ru: Texts) -> None:
    """Roles, month names and core's link-code refusals reach ``texts()`` as values."""
    reasons = _core_link_code_reasons()
    assert reasons, "core.telegram_link_codes raises LinkCodeInvalid with a reason"
    months = [
        ru.when(datetime(2026, month, 15, 9, 5, tzinfo=UTC), now=NOW) for month in range(1, 13)
    ]
    values = [*(ru(role.value) for role in Role), *(ru(reason) for reason in reasons), *months]
    english = [value for value in values if LATIN.search(value)]
    assert not english, f"left in English: {english}"
    assert months[11] == "15 дек 09:05"


def _alert(kind: str, **values: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": 7,
        "kind": kind,
        "severity": "warning",
        "fingerprint": f"{kind}:7",
        "subject": "conversation:5",
        "title": "",
        "text": "",
        "link": None,
        "state": "firing",
        "outcome": None,
        "handled_by": None,
        "handled_at": None,
        "resolved_at": None,
        "source": "event",
        "repeats": 0,
        "created_at": NOW - timedelta(minutes=3),
        "last_seen_at": NOW,
    }
    return Alert(**(fields | values))


# Everything that comes from the data is Cyrillic, so any Latin letters left are our strings.
LEAD = {
    "person": "Анна Петрова",
    "chat": "Ремонт квартир",
    "campaign": "ремонт",
    "lead_text": "Подскажите, сколько стоит ремонт ванной?",
    "keywords": ["ремонт", "ванная"],
    "conversation_id": 5,
    "message_id": 11,
}


def _draft(**values: Any) -> Alert:
    data = LEAD | {"reason": "первое сообщение новому человеку"}
    return _alert("draft.pending", text="Здравствуйте! Ванная от 90 тысяч.", data=data, **values)


def _visible(rendered: Rendered) -> tuple[str, list[list[str]]]:
    rows = rendered.markup.inline_keyboard if rendered.markup else []
    return h.plain(rendered.html), [[button.text for button in row] for row in rows]


def _english(rendered: Rendered) -> list[str]:
    text, rows = _visible(rendered)
    words = LATIN.findall(text + " " + " ".join(label for row in rows for label in row))
    return [word for word in words if word not in NAMES]


def _view(ru: Texts, holds: frozenset[int] = frozenset()) -> View:
    return View(texts=ru, panel_url="http://127.0.0.1:8000", holds_conversation=holds, now=NOW)


def test_a_draft_alert_in_russian_has_russian_buttons_and_no_english_left(ru: Texts) -> None:
    rendered = render([_draft()], _view(ru))

    text, rows = _visible(rendered)
    assert rows == [["Одобрить", "Отклонить"], ["Взять себе", "Открыть в панели"]]
    assert text.startswith("📝 Черновик на одобрение · ремонт")
    assert "Почему ждёт: первое сообщение новому человеку" in text
    assert text.endswith("Чтобы изменить, ответьте на это сообщение своим текстом.")
    assert _english(rendered) == []
    assert rendered.markup is not None
    assert rendered.markup.inline_keyboard[1][1].url == "http://127.0.0.1:8000/inbox/5"


def test_a_handled_draft_says_who_approved_it_in_russian(ru: Texts) -> None:
    approved = _draft(state="handled", outcome="approved", handled_by="оля", handled_at=NOW)

    rendered = render([approved], _view(ru))

    text, rows = _visible(rendered)
    assert "✅ Одобрено: оля, 14:30" in text
    assert rows == []
    assert _english(rendered) == []


def test_a_handoff_and_the_leads_reply_speak_russian(ru: Texts) -> None:
    dialogue = [
        {"from": "in", "text": "Хочу поговорить с человеком"},
        {"from": "out", "text": "Да"},
    ]
    handoff = _alert(
        "conversation.handoff", data=LEAD | {"reason": "просит человека", "dialogue": dialogue}
    )
    reply = _alert("conversation.reply", text="Жду звонка", data=LEAD)

    shown = [render([handoff], _view(ru)), render([reply], _view(ru, frozenset({5})))]

    assert [_visible(one)[1] for one in shown] == [
        [["Взять себе"], ["Открыть в панели"]],
        [["Вернуть боту"]],
    ]
    assert "Лид: Хочу поговорить с человеком" in _visible(shown[0])[0]
    assert [_english(one) for one in shown] == [[], []]


def test_grouped_leads_and_account_trouble_speak_russian_with_mute_buttons(ru: Texts) -> None:
    leads = [_alert("lead.new", id=n, severity="info", data=LEAD) for n in range(1, 6)]
    banned = _alert(
        "account.banned",
        severity="critical",
        data={"account": "Маша", "reason": "спам"},
    )
    limited = _alert(
        "account.limited",
        id=8,
        data={"account": "Петя", "until": (NOW + timedelta(days=2)).isoformat()},
        state="resolved",
        resolved_at=NOW,
    )

    shown = [render(leads, _view(ru)), render([banned, limited], _view(ru))]

    texts = [_visible(one)[0] for one in shown]
    assert texts[0].startswith("🎯 5 новых лидов · ремонт")
    assert "Маша заблокирован: спам" in texts[1] and "закончилось 14:30" in texts[1]
    assert _visible(shown[1])[1] == [["Тишина 1 ч", "Тишина 4 ч", "Тишина 24 ч"]]
    assert [_english(one) for one in shown] == [[], []]
