"""The login port's words for the admin: phone numbers as people type them, and Telethon's refusals
translated into errors that name the field to change (Telethon's errors are constructible)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from telethon import errors

from admin.setup.account_login import flow_factory
from bots.login_telethon import translate
from core.settings import Settings
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


async def test_the_real_telegram_needs_the_api_id_before_any_code_is_asked() -> None:
    make = flow_factory(Settings(telegram_backend="telethon"))
    with pytest.raises(LoginUnavailable, match="COOLTHING_TELEGRAM_API_ID"):
        make(None)


async def test_a_login_never_goes_around_a_proxy_it_cannot_use() -> None:
    settings = Settings(
        telegram_backend="telethon", telegram_api_id=1, telegram_api_hash=SecretStr("h" * 32)
    )
    with pytest.raises(LoginError, match="proxy port") as refused:
        flow_factory(settings)("socks5://user:pw@127.0.0.1:99999")
    assert refused.value.field == "proxy" and "pw" not in str(refused.value)
    flow = flow_factory(settings)("socks5://user:pw@127.0.0.1:1080")  # built, not connected
    await flow.close()
