"""Lead alerts carry the second stage's verdict: the score and reason are shown, "✅ Lead" /
"🚫 Not a lead" teach the campaign's model (numbered per line in a group), an unsure lead in an
"ask" campaign is a question, a "maybe" pages nobody; in Russian too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.db.notifier_models import Alert
from core.events import Event, LeadFound
from core.intent import IntentVerdict
from notifier import telegram_html as h
from notifier.buttons import LEAD, NOT_LEAD, AlertPress
from notifier.event_alerts import NewAlert, Settle, lead_found
from notifier.rendering import Rendered, View, render
from notifier.texts import Texts

NOW = datetime(2026, 12, 3, 14, 30, tzinfo=UTC)
LEAD_DATA = {
    "lead_id": 42,
    "person": "Анна Петрова",
    "chat": "Ремонт квартир",
    "campaign": "ремонт",
    "lead_text": "Ищу бригаду на ремонт ванной, бюджет 300 тысяч",
    "keywords": ["ремонт"],
    "intent": "lead",
    "score": 0.8234,
    "reason": "«бюджет» +2.3, «ищу» +1.4",
}


def _alert(kind: str = "lead.new", **values: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": 7,
        "kind": kind,
        "severity": "info",
        "fingerprint": "lead:42",
        "subject": "campaign:1",
        "title": "",
        "text": "",
        "link": None,
        "data": LEAD_DATA,
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


def _shown(rendered: Rendered) -> tuple[str, list[list[str]]]:
    rows = rendered.markup.inline_keyboard if rendered.markup else []
    return h.plain(rendered.html), [[b.text for b in row] for row in rows]


def _presses(rendered: Rendered) -> list[AlertPress]:
    rows = rendered.markup.inline_keyboard if rendered.markup else []
    return [AlertPress.unpack(b.callback_data) for row in rows for b in row if b.callback_data]


def _view(language: str = "en") -> View:
    return View(Texts(language), "http://panel.example", frozenset(), now=NOW)


def test_a_new_lead_shows_its_score_and_reason_with_lead_and_not_a_lead_buttons() -> None:
    rendered = render([_alert()], _view())

    text, rows = _shown(rendered)
    assert text.startswith("🎯 New lead · ремонт")
    assert "Intent: 0.82 · «бюджет» +2.3, «ищу» +1.4" in text
    assert rows == [["✅ Lead", "🚫 Not a lead"], ["Open in panel"]]
    assert [(p.act, p.alert) for p in _presses(rendered)] == [(LEAD, 7), (NOT_LEAD, 7)]
    assert rendered.markup is not None
    assert rendered.markup.inline_keyboard[1][0].url == "http://panel.example/leads/42"


def test_a_marked_lead_says_who_marked_it_and_loses_its_buttons_in_russian() -> None:
    marked = _alert(state="handled", outcome="marked_not_lead", handled_by="оля", handled_at=NOW)

    text, rows = _shown(render([marked], _view("ru")))

    assert "🚫 Отмечено «не лид»: оля, 14:30" in text
    assert "Намерение: 0.82" in text
    assert rows == [["Открыть в панели"]]


def test_a_lead_from_a_campaign_without_the_stage_has_no_verdict_and_no_buttons() -> None:
    plain = LEAD_DATA | {"intent": None, "score": None, "reason": None}

    text, rows = _shown(render([_alert(data=plain)], _view()))

    assert "Intent" not in text
    assert rows == [["Open in panel"]]


def test_an_unsure_lead_asks_the_operator_in_russian() -> None:
    asked = _alert("lead.ask", data=LEAD_DATA | {"intent": "ask", "score": 0.41})

    text, rows = _shown(render([asked], _view("ru")))

    assert text.startswith("❓ Это лид? · ремонт")
    assert "Никто им не напишет, пока вы не скажете, что это лид." in text
    assert rows == [["✅ Лид", "🚫 Не лид"], ["Открыть в панели"]]


def test_grouped_leads_get_a_numbered_pair_of_buttons_each_and_their_scores() -> None:
    leads = [
        _alert(id=n, fingerprint=f"lead:{n}", data=LEAD_DATA | {"lead_id": n, "score": n / 10})
        for n in range(1, 4)
    ]
    leads[1] = _alert(
        id=2,
        data=LEAD_DATA | {"score": 0.2},
        state="handled",
        outcome="marked_lead",
        handled_by="оля",
        handled_at=NOW,
    )

    rendered = render(leads, _view())

    text, rows = _shown(rendered)
    assert text.startswith("🎯 3 new leads in ремонт")
    assert "1. Анна Петрова · Ремонт квартир · 0.10:" in text
    assert "✅ Marked a lead by оля at 14:30" in text
    assert rows[0] == ["✅ 1", "🚫 1", "✅ 3", "🚫 3"]
    assert {p.alert for p in _presses(rendered) if p.act in (LEAD, NOT_LEAD)} == {1, 3}


def _found(intent: IntentVerdict | None, *, is_new: bool = True) -> Event:
    return Event.of(
        LeadFound(
            lead_id=999_999,
            campaign_id=1,
            telegram_user_id=5,
            chat_id=-100,
            message_id=1,
            text="ищу бригаду",
            keywords=["ремонт"],
            is_new=is_new,
            intent=intent,
            score=0.4,
            reason="«ищу» +1.1",
        )
    )


class _NoRows:
    """A session that finds nothing: the alert is built from what the event says."""

    async def get(self, *_: object) -> None:
        return None

    async def scalar(self, *_: object) -> None:
        return None


@pytest.mark.parametrize(
    ("intent", "kind"), [("lead", "lead.new"), ("ask", "lead.ask"), (None, "lead.new")]
)
async def test_a_lead_pages_and_an_unsure_one_asks(intent: IntentVerdict | None, kind: str) -> None:
    [alert] = await lead_found(_NoRows(), _found(intent))  # type: ignore[arg-type]

    assert isinstance(alert, NewAlert) and alert.kind == kind
    assert alert.data["score"] == 0.4 and alert.data["reason"] == "«ищу» +1.1"


async def test_a_maybe_pages_nobody_and_a_later_lead_answers_the_question() -> None:
    assert await lead_found(_NoRows(), _found("maybe")) == []  # type: ignore[arg-type]
    [answered] = await lead_found(_NoRows(), _found("lead", is_new=False))  # type: ignore[arg-type]
    assert await lead_found(_NoRows(), _found("ask", is_new=False)) == []  # type: ignore[arg-type]

    assert isinstance(answered, Settle)
    assert (answered.fingerprint, answered.kinds) == ("lead:999999", ("lead.ask",))
