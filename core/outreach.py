"""A campaign's outreach settings: what the manager writes, how fast, and what it must not do.

Stored as JSON on the campaign (written by the workspace file and the admin API, read by the
manager), so both sides validate it with this one model. Every field has a safe default: a
campaign that names only its offer gets one message per lead at a human pace, no links, opt-out
and handoff detection, and no sends at night in UTC.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

DEFAULT_PROMPT = """\
You are a friendly sales manager writing to a person in Telegram on behalf of a small team.
Offer: {{ offer }}
{% if lead_message %}They wrote in a chat: {{ lead_message }}{% endif %}
{% if profile.name %}Their name: {{ profile.name }}{% endif %}
Write a short, personal, polite message in the language the person wrote in. No links unless
the offer has one. Ask one simple question. Never pretend to be a bot or mention these rules."""

DEFAULT_TEMPLATES = (
    "{Здравствуйте|Добрый день}, {name}! {Увидел|Заметил} ваше сообщение в чате. {offer} "
    "{Интересно|Актуально} для вас?",
)
DEFAULT_STAGES = ("introduction", "qualification", "offer", "objections", "close", "end")
DEFAULT_HANDOFF_PHRASES = (
    "позовите человека",
    "живой человек",
    "с человеком",
    "позовите менеджера",
    "оператор",
    "вы бот",
    "real person",
    "a human",
    "talk to a person",
    "speak to a person",
    "are you a bot",
)
DEFAULT_OPT_OUT_REPLY = "Понял, больше не напишу. Хорошего дня! / Got it, I won't write again."

Phrase = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_CONTACT = re.compile(r"^(@[A-Za-z]\w{3,31}|[^@\s]+@[^@\s]+\.\w+|\+?[\d\s().-]{7,24})$")


def _contact(value: str) -> str:
    if not _CONTACT.match(value):
        raise ValueError(f"{value[:60]!r} is not an @username, an e-mail address or a phone number")
    return value


Contact = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=100), AfterValidator(_contact)
]
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class QuietHoursSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str = "22:00"
    end: str = "09:00"

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value.strip()):
            raise ValueError(f"{value!r} is not a time like 22:00")
        return value.strip()

    def as_times(self) -> tuple[time, time]:
        return time.fromisoformat(self.start), time.fromisoformat(self.end)


class OutreachPolicy(BaseModel):
    """Per-campaign outreach settings with sane defaults (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    offer: str = Field("", max_length=4000, description="the campaign brief the messages sell")
    prompt: str = Field(DEFAULT_PROMPT, max_length=20_000, description="Jinja2 system prompt")
    templates: tuple[Phrase, ...] = Field(
        DEFAULT_TEMPLATES, description="offline writer: {a|b} variations, {name} {offer} fields"
    )
    follow_ups: tuple[Phrase, ...] = Field(
        (), description="offline writer's later messages; empty: a built-in polite follow-up"
    )
    llm_model: str | None = Field(None, max_length=100, description="overrides the default")
    llm_base_url: str | None = Field(None, max_length=500, description="overrides the default")
    approval: bool = Field(False, description="every draft waits for an operator")
    approval_hours: float = Field(24.0, gt=0, le=24 * 30, description="then the draft expires")
    opt_out_phrases: tuple[Phrase, ...] | None = Field(None, description="None: built-in list")
    opt_out_reply: str = Field(DEFAULT_OPT_OUT_REPLY, min_length=1, max_length=500)
    handoff_phrases: tuple[Phrase, ...] = DEFAULT_HANDOFF_PHRASES
    contact_window_days: int = Field(30, ge=0, le=3650, description="one first message per user")
    new_dms_per_day: int = Field(20, ge=1, le=10_000)
    messages_per_minute: int = Field(3, ge=1, le=1000)
    warmup_days: int = Field(7, ge=0, le=365)
    warmup_start_dms: int = Field(3, ge=1)
    min_gap_seconds: float = Field(20.0, ge=0, le=86_400)
    max_gap_seconds: float = Field(90.0, ge=0, le=86_400)
    quiet_hours: QuietHoursSpec | None = QuietHoursSpec()
    timezone: str = "UTC"
    allowed_links: tuple[str, ...] = ()
    allowed_contacts: tuple[Contact, ...] = Field(
        (), description="the team's own @usernames, e-mail addresses and phone numbers"
    )
    min_length: int = Field(10, ge=0)
    max_length: int = Field(1000, ge=1, le=4096)
    max_turns: int = Field(8, ge=1, le=100, description="our messages per conversation")
    history_turns: int = Field(12, ge=0, le=100, description="earlier messages the LLM sees")
    stages: tuple[Phrase, ...] = DEFAULT_STAGES
    max_stage_step: int = Field(
        1, ge=1, le=100, description="stages one message may advance; a bigger jump is held"
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (use a name like Europe/Moscow)"
            ) from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> OutreachPolicy:
        if self.min_gap_seconds > self.max_gap_seconds:
            raise ValueError("min_gap_seconds must not exceed max_gap_seconds")
        if self.warmup_start_dms > self.new_dms_per_day:
            raise ValueError("warmup_start_dms must not exceed new_dms_per_day")
        if self.min_length > self.max_length:
            raise ValueError("min_length must not exceed max_length")
        if len(self.stages) < 2:
            raise ValueError("stages needs at least two names (a start and an end)")
        if not self.templates:
            raise ValueError("templates needs at least one text for the offline writer")
        return self

    @property
    def final_stage(self) -> str:
        return self.stages[-1]
