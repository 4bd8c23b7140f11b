"""Rendering pages: Jinja2 templates with the user's language (Babel catalogues) and time zone.

One ``Jinja2Templates`` for the panel, with the i18n extension; ``render`` installs the viewer's
translations for the request. Dates are shown in the viewer's time zone, with a relative hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from babel.dates import format_datetime, format_timedelta
from babel.support import NullTranslations, Translations
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from admin.pages.navigation import navigation_for
from admin.reads.people_names import display_name
from core.access import Actor, Role

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LOCALES = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = {"en": "English", "ru": "Русский"}


@dataclass(frozen=True)
class Viewer:
    """Who looks at the page and how they read: their language and time zone."""

    actor: Actor | None
    language: str = "en"
    timezone: str = "UTC"

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")


@lru_cache(maxsize=8)
def translations(language: str) -> NullTranslations:
    if language not in LANGUAGES or language == "en":
        return NullTranslations()  # English is the source language
    return Translations.load(str(LOCALES), [language])


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.globals["LANGUAGES"] = LANGUAGES
    env.globals["display_name"] = display_name
    env.globals["shown_total"] = lambda page: f"{page.total}+" if page.more else str(page.total)
    return Jinja2Templates(env=env)


TEMPLATES_ENV = _templates()


def render(
    request: Request, viewer: Viewer, name: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    env = TEMPLATES_ENV.env
    catalog = translations(viewer.language)
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    role = viewer.actor.role if viewer.actor else None
    values = {
        "viewer": viewer,
        "navigation": navigation_for(role),
        "can": lambda needed: role is not None and role.allows(Role(needed)),
        "csrf_token": request.cookies.get("csrftoken", ""),
        "when": lambda moment: local_time(moment, viewer),
        "ago": lambda moment: relative(moment, viewer),
        **context,
    }
    response = TEMPLATES_ENV.TemplateResponse(request, name, values, status_code=status)
    response.headers["Content-Language"] = viewer.language
    return response


def local_time(moment: datetime | None, viewer: Viewer) -> str:
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return format_datetime(aware, "d MMM HH:mm", tzinfo=viewer.zone, locale=viewer.language)


def relative(moment: datetime | None, viewer: Viewer) -> str:
    """ "5 minutes ago" / "in 12 minutes", in the viewer's language."""
    if moment is None:
        return ""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    delta = aware - datetime.now(UTC)
    return format_timedelta(delta, add_direction=True, locale=viewer.language)


def go(request: Request, target: str) -> Response:
    """After a change: htmx navigates (the address bar shows the page), a plain post redirects."""
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
