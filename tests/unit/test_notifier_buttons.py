"""Buttons carry ids, never words: their callback data fits Telegram's 64 bytes."""

from __future__ import annotations

from notifier.buttons import APPROVE, SILENCE, AlertPress, SettingsPress


def test_the_biggest_alert_press_fits_telegrams_64_bytes() -> None:
    for act in (APPROVE, SILENCE):
        packed = AlertPress(act=act, alert=2**63 - 1, hours=24).pack()
        assert len(packed.encode()) <= 64, packed
        assert AlertPress.unpack(packed).alert == 2**63 - 1


def test_settings_presses_fit_too() -> None:
    packed = SettingsPress(what="c", value=str(2**31)).pack()
    assert len(packed.encode()) <= 64
