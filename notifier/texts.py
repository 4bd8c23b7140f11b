"""The bot's words in the recipient's language (English source, Russian catalogue via Babel).

Every string the bot writes goes through ``Texts``; the catalogue lives in ``notifier/locale``
and is compiled by ``make assets`` (``pybabel compile -d notifier/locale``).

After adding or changing a string, re-extract and update the Russian catalogue (in ``notifier/``)::

    ../.venv/bin/pybabel extract -F babel.cfg -k N_ -k texts -k plural:1,2 -o locale/messages.pot .
    ../.venv/bin/pybabel update -i locale/messages.pot -d locale

then translate what is new or fuzzy in ``locale/ru/LC_MESSAGES/messages.po``
(``tests/unit/test_notifier_translations.py`` fails until it is complete). ``plural:1,2`` is how
Babel finds ``texts.plural(singular, plural, count)``: it matches the called name. Strings only
known at run time (roles, months, reasons from ``core``) are listed in ``texts_extra.py``.
"""

from __future__ import annotations

import gettext
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOCALES = Path(__file__).parent / "locale"
LANGUAGES = ("en", "ru")


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


@lru_cache(maxsize=8)
def _catalogue(language: str) -> gettext.NullTranslations:
    return gettext.translation("messages", LOCALES, languages=[language], fallback=True)


def language_of(code: str | None) -> str:
    """Ours from a Telegram ``language_code`` ("ru", "ru-RU", "en-GB", None)."""
    short = (code or "en").split("-")[0].lower()
    return short if short in LANGUAGES else "en"


class Texts:
    """Translation and local time for one recipient."""

    def __init__(self, language: str = "en", timezone: str = "UTC") -> None:
        self.language = language if language in LANGUAGES else "en"
        self._catalogue = _catalogue(self.language)
        try:
            self.zone: ZoneInfo = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.zone = ZoneInfo("UTC")

    def __call__(self, message: str, **values: object) -> str:
        text = self._catalogue.gettext(message)
        return text.format(**values) if values else text

    def plural(self, singular: str, plural: str, count: int, **values: object) -> str:
        text = self._catalogue.ngettext(singular, plural, count)
        return text.format(count=count, **values)

    def when(self, at: datetime | None, *, now: datetime | None = None) -> str:
        """``14:05`` today, ``3 Dec 14:05`` on another day, in the recipient's time zone."""
        if at is None:
            return "—"
        local = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(self.zone)
        today = (now or datetime.now(UTC)).astimezone(self.zone).date()
        if local.date() == today:
            return local.strftime("%H:%M")
        return f"{local.day} {self(local.strftime('%b'))} {local.strftime('%H:%M')}"
