"""Inline buttons: callback data small enough for Telegram's 64 bytes (ids, not words)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from notifier.texts import Texts

APPROVE, REJECT, TAKE_OVER, HAND_BACK, SILENCE = "ap", "rj", "to", "hb", "si"
LEAD, NOT_LEAD = "ld", "nl"  # an operator's word on a lead: teaches the campaign's second stage
SILENCE_HOURS = (1, 4, 24)


class AlertPress(CallbackData, prefix="a"):
    """A press on an alert's button: what to do, to which alert (and for how long, silences)."""

    act: str
    alert: int
    hours: int = 0


class SettingsPress(CallbackData, prefix="s"):
    """A press in /settings: which setting, which value."""

    what: str
    value: str = ""


Button = tuple[str, str | CallbackData]  # a label and a callback, or a URL


def keyboard(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    """Rows of buttons as an inline keyboard; None when there are none (Telegram then shows
    none, and an edit without a keyboard removes the old one)."""
    built = [[_button(label, target) for label, target in row] for row in rows if row]
    return InlineKeyboardMarkup(inline_keyboard=built) if built else None


def _button(label: str, target: str | CallbackData) -> InlineKeyboardButton:
    if isinstance(target, CallbackData):
        return InlineKeyboardButton(text=label, callback_data=target.pack())
    return InlineKeyboardButton(text=label, url=target)


def silence_row(texts: Texts, alert_id: int) -> list[Button]:
    return [
        (texts("Mute {hours} h", hours=hours), AlertPress(act=SILENCE, alert=alert_id, hours=hours))
        for hours in SILENCE_HOURS
    ]
