"""The login port's words for the admin: phone numbers as people type them, and Telethon's refusals
translated into errors that name the field to change (Telethon's errors are constructible)."""

from __future__ import annotations

import pytest
from telethon import errors

from bots.login_telethon import translate
from core.telegram_login import (
    BadPhone,
    CodeExpired,
    LoginError,
    LoginFloodWait,
    LoginUnavailable,
    WrongCode,
    WrongPassword,
    normalize_phone,
)


@pytest.mark.parametrize(
    ("typed", "phone"),
    [
        ("+7 (999) 123-45-67", "+79991234567"),
        ("  +44 7700 900123 ", "+447700900123"),
        ("0049 30 1234567", "+49301234567"),
    ],
)
def test_a_phone_number_is_read_as_people_write_it(typed: str, phone: str) -> None:
    assert normalize_phone(typed) == phone


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("", "write the phone number with its country code"),
        ("8 999 123 45 67", "start the number with +"),
        ("+7 999", "is not a phone number"),
        ("+0 999 123 45 67", "is not a phone number"),
        ("+7 999 abc 45 67", "is not a phone number"),
    ],
)
def test_a_number_that_is_not_one_says_why(typed: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        normalize_phone(typed)


@pytest.mark.parametrize(
    ("telethon_error", "ours", "field"),
    [
        (errors.PhoneNumberInvalidError(request=None), BadPhone, "phone"),
        (errors.PhoneNumberBannedError(request=None), BadPhone, "phone"),
        (errors.PhoneNumberUnoccupiedError(request=None), BadPhone, "phone"),
        (errors.PhoneCodeInvalidError(request=None), WrongCode, "code"),
        (errors.PhoneCodeExpiredError(request=None), CodeExpired, "code"),
        (errors.PasswordHashInvalidError(request=None), WrongPassword, "password"),
        (errors.FloodWaitError(request=None, capture=120), LoginFloodWait, "phone"),
        (ConnectionError("reset"), LoginUnavailable, None),
        (errors.PhoneNumberFloodError(request=None), BadPhone, "phone"),
    ],
)
def test_telethons_refusals_name_the_field_to_change(
    telethon_error: Exception, ours: type[LoginError], field: str | None
) -> None:
    translated = translate(telethon_error)
    assert type(translated) is ours
    assert translated.field == field


def test_a_flood_wait_says_how_long_in_minutes_too() -> None:
    translated = translate(errors.FloodWaitError(request=None, capture=3600))
    assert isinstance(translated, LoginFloodWait) and translated.seconds == 3600
    assert str(translated) == "Telegram asks to wait 3600 s (about 60 min) before the next attempt"
